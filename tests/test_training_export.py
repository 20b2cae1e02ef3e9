"""ONNX export: ONNX Runtime matches torch, with and without flip TTA, for ensembles, and in int8."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from fer_fixtures import export_tiny_model, face

from facemoji.classifier import EmotionClassifier, center_crop
from facemoji.emotions import EMOTIONS
from facemoji.training.export import MIN_INT8_AGREEMENT, export_onnx
from facemoji.training.models import ModelConfig, build_model, list_models

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
        "members": 1,
        "int8": False,
    }


def _tiny(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(ModelConfig(width=4)).eval()


def test_ensemble_averages_its_members_and_their_mirrors(tmp_path: Path) -> None:
    members = [_tiny(1), _tiny(2)]
    path = export_onnx(members, ModelConfig(width=4), tmp_path / "ensemble.onnx", flip=True)
    got = EmotionClassifier(path).predict(FACES)

    x = torch.from_numpy(center_crop(FACES, 40))
    with torch.no_grad():
        want = sum(m(v).softmax(1) for m in members for v in (x, x.flip(-1))) / 4
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    assert EmotionClassifier(path).info.config["width"] == 4


def test_int8_export_keeps_the_answers_and_says_so(tmp_path: Path) -> None:
    calibration = center_crop(np.stack([face(s) for s in range(96)]), 40)
    model = _tiny(3)
    float_path = export_onnx(model, ModelConfig(width=4), tmp_path / "float.onnx")
    int8_path = export_onnx(model, ModelConfig(width=4), tmp_path / "int8.onnx", calibration=calibration)

    faces = np.stack([face(s) for s in range(96)])
    want, got = EmotionClassifier(float_path).predict(faces), EmotionClassifier(int8_path).predict(faces)
    assert (want.argmax(1) == got.argmax(1)).mean() >= MIN_INT8_AGREEMENT
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-2)
    proto = onnx.load(int8_path)
    graph = proto.graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)
    float_weights = {w.name for w in graph.initializer if w.data_type == onnx.TensorProto.FLOAT}
    float_convs = [n.name for n in graph.node if n.op_type == "Conv" and n.input[1] in float_weights]
    assert float_convs == ["/members.0/members.0.1/members.0.1.0/Conv"]  # only the one-channel first layer
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["facemoji"])
    assert meta["int8"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.onnx", "int8.onnx"]


def test_mismatch_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    class Noisy(torch.nn.Module):  # differs on every call, as a broken export would
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.randn(x.shape[0], len(EMOTIONS))

    path = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError, match="ONNX export differs from torch"):
        export_onnx(Noisy(), ModelConfig(width=4), path)
    assert not list(tmp_path.iterdir())


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    taken = tmp_path / "model.onnx"
    taken.mkdir()  # the final rename onto a folder fails
    with pytest.raises(OSError):
        export_tiny_model(taken)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_a_fifo_is_not_replaced_by_the_model(tmp_path: Path) -> None:
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="it exists and is not a regular file"):
        export_tiny_model(fifo)
    assert not fifo.is_file() and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
