"""Training augmentation: without randomness it is exactly the inference crop; with it, it stays in range."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from facemoji.classifier import center_crop
from facemoji.training.augment import AugmentConfig, augment

STILL = AugmentConfig(
    rotate_deg=0.0, scale=(1.0, 1.0), shift=0.0, flip=False, brightness=0.0, contrast=0.0, erase_p=0.0
)


def _faces(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_without_randomness_it_is_the_inference_crop() -> None:
    faces = _faces(4)
    out = augment(torch.from_numpy(faces), 40, STILL).numpy()
    np.testing.assert_allclose(out, center_crop(faces, 40), atol=1e-5)


def test_flip_mirrors_about_half_the_faces() -> None:
    torch.manual_seed(0)
    faces = np.repeat(_faces(1), 400, axis=0)
    out = augment(torch.from_numpy(faces), 40, replace(STILL, flip=True)).numpy()
    crop = center_crop(faces[:1], 40)[0]
    mirrored = np.array([np.allclose(o, crop[..., ::-1], atol=1e-5) for o in out])
    assert all(m or np.allclose(o, crop, atol=1e-5) for m, o in zip(mirrored, out, strict=True))
    assert 150 < mirrored.sum() < 250


def test_default_augmentation_keeps_shape_and_range_and_changes_faces() -> None:
    torch.manual_seed(0)
    faces = torch.from_numpy(_faces(64))
    out = augment(faces, 40, AugmentConfig())
    assert out.shape == (64, 1, 40, 40) and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    still = torch.from_numpy(center_crop(faces.numpy(), 40))
    changed = (out - still).abs().flatten(1).amax(1) > 0.05
    assert changed.all()
