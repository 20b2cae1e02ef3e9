"""Export a trained network to ONNX with its preprocessing metadata, and check it against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facemoji.emotions import EMOTIONS
from facemoji.training.models import ModelConfig


class _Probabilities(nn.Module):
    """Softmax over the classes, averaged with the mirrored face when ``flip`` is set."""

    def __init__(self, model: nn.Module, flip: bool) -> None:
        super().__init__()
        self.model, self.flip = model, flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, S, S) -> (N, 7)
        if not self.flip:
            return self.model(x).softmax(1)
        n = x.shape[0]
        probs = self.model(torch.cat([x, x.flip(-1)])).softmax(1)  # one batch for both views
        return (probs[:n] + probs[n:]) / 2


def export_onnx(model: nn.Module, config: ModelConfig, path: Path, flip: bool = False, atol: float = 1e-4) -> Path:
    """Write ``model`` as ONNX with metadata and verify ONNX Runtime matches torch within ``atol``.

    Raises:
        RuntimeError: the exported graph's outputs differ from torch's.
    """
    import onnx
    import onnxruntime as ort

    wrapped = _Probabilities(model.float().eval(), flip).eval()
    s = config.input_size
    sample = torch.rand(4, 1, s, s)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        wrapped, sample, tmp, input_names=["faces"], output_names=["probs"],
        dynamic_axes={"faces": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    proto = onnx.load(tmp)
    meta = {"input_size": s, "classes": [e.value for e in EMOTIONS], "config": config.to_dict(), "flip_tta": flip}
    entry = proto.metadata_props.add()
    entry.key, entry.value = "facemoji", json.dumps(meta)
    onnx.save(proto, tmp)

    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"faces": sample.numpy()})
    with torch.no_grad():
        want = wrapped(sample).numpy()
    if not np.allclose(got, want, atol=atol):
        tmp.unlink()
        raise RuntimeError(f"ONNX export differs from torch by {np.abs(got - want).max():.2e} (> {atol})")
    tmp.replace(path)
    return path
