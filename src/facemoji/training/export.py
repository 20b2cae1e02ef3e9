"""Export trained networks to one ONNX model with its preprocessing metadata, checked against torch.

One network or a small ensemble (their probabilities averaged), optionally with the mirrored face
averaged in (flip test-time augmentation), optionally quantized to int8 with ONNX Runtime's static
quantization. The graph always takes (N, 1, S, S) float faces and returns (N, 7) probabilities.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facemoji.emotions import EMOTIONS
from facemoji.files import make_folder, write_atomic
from facemoji.training.models import ModelConfig

# An int8 model must pick the same class as its float original on this share of real faces.
MIN_INT8_AGREEMENT = 0.97


class _Probabilities(nn.Module):
    """Softmax over the classes, averaged over the members and, with ``flip``, the mirrored face."""

    def __init__(self, models: Sequence[nn.Module], flip: bool) -> None:
        super().__init__()
        self.members, self.flip = nn.ModuleList(models), flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, S, S) -> (N, 7)
        n = x.shape[0]
        views = torch.cat([x, x.flip(-1)]) if self.flip else x  # one batch for both views
        probs = torch.stack([m(views).softmax(1) for m in self.members]).mean(0)
        return (probs[:n] + probs[n:]) / 2 if self.flip else probs


def export_onnx(
    models: nn.Module | Sequence[nn.Module],
    config: ModelConfig,
    path: Path,
    flip: bool = False,
    calibration: np.ndarray | None = None,
    atol: float = 1e-4,
) -> Path:
    """Write ``models`` as one ONNX graph with metadata; verify ONNX Runtime against torch.

    ``config`` describes the members (they share it, at least the input size). With
    ``calibration`` ((N, 1, S, S) float faces, a few hundred training faces) the weights and
    activations are quantized to int8, and the int8 graph must pick the float graph's class on at
    least ``MIN_INT8_AGREEMENT`` of those faces. Nothing is written at ``path`` unless the checks pass.

    Raises:
        RuntimeError: the exported graph's outputs differ from torch's, or int8 changed too many answers.
    """
    import onnx
    import onnxruntime as ort

    members = [models] if isinstance(models, nn.Module) else list(models)
    wrapped = _Probabilities([m.float().eval() for m in members], flip).eval()
    s = config.input_size
    sample = torch.rand(4, 1, s, s)
    make_folder(path.parent)
    # Scratch files in a folder of their own: ONNX Runtime takes only paths that are valid UTF-8, and
    # a killed export leaves nothing in the user's folder.
    with tempfile.TemporaryDirectory(prefix="facemoji-export-") as scratch:
        tmp = Path(scratch) / "model.onnx"
        torch.onnx.export(
            wrapped, sample, tmp, input_names=["faces"], output_names=["probs"],
            dynamic_axes={"faces": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False,
        )  # fmt: skip
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"faces": sample.numpy()})
        with torch.no_grad():
            want = wrapped(sample).numpy()
        if not np.allclose(got, want, atol=atol):
            raise RuntimeError(f"ONNX export differs from torch by {np.abs(got - want).max():.2e} (> {atol})")
        if calibration is not None:
            _quantize(tmp, calibration)
        proto = onnx.load(tmp)
        meta = {
            "input_size": s, "classes": [e.value for e in EMOTIONS], "config": config.to_dict(),
            "flip_tta": flip, "members": len(members), "int8": calibration is not None,
        }  # fmt: skip
        entry = proto.metadata_props.add()
        entry.key, entry.value = "facemoji", json.dumps(meta)
        write_atomic(path, proto.SerializeToString())  # which also refuses to replace a device or a FIFO
    return path


def _quantize(path: Path, calibration: np.ndarray) -> None:
    """Replace the float ONNX graph at ``path`` by its int8 version (QDQ, per-channel weights)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = iter(np.array_split(calibration, max(1, len(calibration) // 32)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {"faces": batch.astype(np.float32)}

    prepared, quantized = path.with_suffix(".pre.onnx"), path.with_suffix(".int8.onnx")
    try:
        quant_pre_process(str(path), str(prepared))
        quantize_static(
            str(prepared), str(quantized), Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "Relu", "MaxPool", "Gemm"],  # the softmax and averaging stay float
            nodes_to_exclude=_grayscale_input_convs(prepared),
        )  # fmt: skip
        scores = [
            ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"faces": calibration})[0]
            for p in (path, quantized)
        ]
        agreement = float((scores[0].argmax(1) == scores[1].argmax(1)).mean())
        if agreement < MIN_INT8_AGREEMENT:
            raise RuntimeError(f"int8 picks the float model's class on only {agreement:.1%} of calibration faces")
        quantized.replace(path)
    finally:
        prepared.unlink(missing_ok=True)
        quantized.unlink(missing_ok=True)


def _grayscale_input_convs(path: Path) -> list[str]:
    """Names of the convolutions that read a one-channel input: the first layer of each member.

    ONNX Runtime's int8 convolution with a single input channel takes a slow path: 0.28 of the
    1.4 ms per face of the width-32 model, for under 1% of its multiply-adds. In float, with the
    quantization of its output, it costs about 0.1 ms.
    """
    import onnx

    graph = onnx.load(path).graph
    weights = {w.name: list(w.dims) for w in graph.initializer}

    def reads_one_channel(node: onnx.NodeProto) -> bool:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        return node.op_type == "Conv" and weights.get(node.input[1], [])[1:2] == [1] and group == 1

    return [n.name for n in graph.node if reads_one_channel(n)]
