"""Small generated datasets in the layouts facemoji.training.data reads (Kaggle tree, zip, CSV)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# Kaggle's folder names, in the order they appear on disk (not label order)
KAGGLE_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def face(seed: int) -> np.ndarray:
    """A 48x48 uint8 test image: a smooth gradient plus noise, different for every seed."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, 48)[None, :] * rng.uniform(0.3, 1.0) + rng.uniform(0, 50)
    return np.clip(ramp + rng.normal(0, 20, (48, 48)), 0, 255).astype(np.uint8)


def write_kaggle_tree(root: Path, per_class: int = 3, suffix: str = ".png") -> Path:
    """``root/train/<class>/Training_*.png`` and ``root/test/<class>/{PublicTest,PrivateTest}_*.png``.

    Each class gets ``per_class`` train, public and private images.
    """
    seed = 0
    for cls in KAGGLE_CLASSES:
        for folder, prefix in (("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")):
            d = root / folder / cls
            d.mkdir(parents=True, exist_ok=True)
            for _ in range(per_class):
                seed += 1
                Image.fromarray(face(seed)).save(d / f"{prefix}_{seed}{suffix}")
    return root


def zip_tree(root: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    return zip_path


def csv_row(label: int | str, pixels: np.ndarray | str, usage: str) -> str:
    text = pixels if isinstance(pixels, str) else " ".join(str(v) for v in pixels.ravel())
    return f"{label},{text},{usage}\n"


def export_tiny_model(path: Path, flip: bool = False, arch: str = "vgg", seed: int = 0):
    """Export a random-weight ``width=4`` network to ``path``; returns the torch model (eval mode)."""
    import torch

    from facemoji.training.export import export_onnx
    from facemoji.training.models import ModelConfig, build_model

    torch.manual_seed(seed)
    config = ModelConfig(arch=arch, width=4)
    model = build_model(config).eval()
    for m in model.modules():  # non-trivial batch-norm statistics, so the export is really tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    export_onnx(model, config, path, flip=flip)
    return model
