"""ONNX export: ONNX Runtime matches torch, with and without flip test-time augmentation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from fer_fixtures import export_tiny_model, face

from facemoji.classifier import EmotionClassifier, center_crop
from facemoji.emotions import EMOTIONS
from facemoji.training.export import export_onnx
from facemoji.training.models import ModelConfig, list_models

FACES = np.stack([face(s) for s in range(6)])


@pytest.mark.parametrize("arch", list_models())
@pytest.mark.parametrize("flip", [False, True])
def test_onnx_matches_torch(tmp_path: Path, arch: str, flip: bool) -> None:
    path = tmp_path / "model.onnx"
    model = export_tiny_model(path, flip=flip, arch=arch)
    got = EmotionClassifier(path).predict(FACES)

    x = torch.from_numpy(center_crop(FACES, ModelConfig().input_size))
    with torch.no_grad():
        want = model(x).softmax(1)
        if flip:
            want = (want + model(x.flip(-1)).softmax(1)) / 2
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    assert not list(tmp_path.glob("*.tmp*"))


def test_metadata_describes_the_model(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    export_tiny_model(path, flip=True)
    meta = json.loads({p.key: p.value for p in onnx.load(path).metadata_props}["facemoji"])
    assert meta == {
        "input_size": 40,
        "classes": [e.value for e in EMOTIONS],
        "config": {"arch": "vgg", "input_size": 40, "width": 4, "dropout": 0.3},
        "flip_tta": True,
    }


def test_mismatch_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    class Noisy(torch.nn.Module):  # differs on every call, as a broken export would
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.randn(x.shape[0], len(EMOTIONS))

    path = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError, match="ONNX export differs from torch"):
        export_onnx(Noisy(), ModelConfig(width=4), path)
    assert not list(tmp_path.iterdir())
