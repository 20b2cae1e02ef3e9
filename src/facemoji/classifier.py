"""Expression classifier: 48x48 grayscale face crops in, probabilities over the 7 emotions out.

Runs the ONNX model that ships in ``facemoji/models`` with ONNX Runtime. The model file carries
its own preprocessing settings (crop size, classes) in its metadata, written at export time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from facemoji.emotions import EMOTIONS

FACE_SIZE = 48  # side of the aligned grayscale crop every model consumes (FER-2013's)


class ModelError(RuntimeError):
    """The emotion model is missing, unreadable or not a facemoji model."""


def shipped_model_path() -> Path:
    return Path(str(resources.files("facemoji") / "models" / "emotion.onnx"))


def center_crop(faces: np.ndarray, size: int) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, 1, size, size) float32 in [0, 1]: the preprocessing used in training."""
    off = (faces.shape[-1] - size) // 2
    crop = faces[:, off : off + size, off : off + size]
    return (crop.astype(np.float32) / 255.0)[:, None]


@dataclass(frozen=True)
class ModelInfo:
    """What an exported model says about itself (ONNX metadata ``facemoji``)."""

    input_size: int
    classes: tuple[str, ...]
    config: dict
    flip_tta: bool  # the mirrored face is scored too and averaged in, inside the graph
    members: int  # networks averaged (an ensemble when more than 1)
    int8: bool  # weights and activations quantized


class EmotionClassifier:
    """Scores aligned face crops.

    >>> clf = EmotionClassifier()
    >>> probs = clf.predict(np.full((1, 48, 48), 128, np.uint8))
    >>> probs.shape
    (1, 7)

    Raises:
        ModelError: the model file is missing or is not a facemoji emotion model; from
            ``predict``, the model returned scores that are not probabilities.
    """

    def __init__(self, model_path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(model_path) if model_path else shipped_model_path()
        try:
            if model_path and not path.is_file():
                kind = "a folder" if path.is_dir() else "missing" if not path.exists() else "not a regular file"
                raise ModelError(f"emotion model {path} is {kind}; pass a .onnx file made by facemoji train or export")
            if not path.is_file():
                raise ModelError(f"the shipped emotion model is missing from {path}; reinstall facemoji")
            with open(path, "rb"):  # says "permission denied" where ONNX Runtime gives an error number
                pass
        except OSError as e:
            raise ModelError(f"cannot read the emotion model {path} ({e.strerror or e})") from e
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # fatal only: what goes wrong reaches the user as a ModelError
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(_ort_source(path), opts, providers=["CPUExecutionProvider"])
            meta = json.loads(self._session.get_modelmeta().custom_metadata_map["facemoji"])
            self.info = ModelInfo(
                int(meta["input_size"]), tuple(meta["classes"]), meta.get("config", {}),
                bool(meta.get("flip_tta", False)), int(meta.get("members", 1)), bool(meta.get("int8", False)),
            )  # fmt: skip
        except KeyError as e:
            raise ModelError(f"{path} is not a facemoji emotion model: its metadata lacks {e}") from e
        except Exception as e:  # ORT raises its own untyped errors for corrupt files
            raise ModelError(f"{path} is not a facemoji emotion model: {e}") from e
        if self.info.classes != tuple(e.value for e in EMOTIONS):
            raise ModelError(f"{path} predicts {self.info.classes}, expected {[e.value for e in EMOTIONS]}")
        self._check_graph(path)
        self._input = self._session.get_inputs()[0].name
        self.path = path
        self.predict(np.full((2, FACE_SIZE, FACE_SIZE), 128, np.uint8))  # a graph can fit the checks and still not

    def _check_graph(self, path: Path) -> None:
        """The graph must take what ``predict`` feeds it and return one probability per emotion."""
        s, n = self.info.input_size, len(EMOTIONS)
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        # A whole-number first dimension is a fixed batch; predict passes every face of a photo at once.
        if (
            not 1 <= s <= FACE_SIZE
            or [(i.type, i.shape[1:]) for i in inputs] != [("tensor(float)", [1, s, s])]
            or isinstance(inputs[0].shape[0], int)
        ):
            got = "; ".join(f"{i.type} {i.shape}" for i in inputs)
            expected = f"one float input of shape (N, 1, {s}, {s}) with N free, {s} <= {FACE_SIZE}"
            raise ModelError(f"{path} takes {got}; expected {expected}")
        if [(o.type, o.shape[1:]) for o in outputs] != [("tensor(float)", [n])]:
            got = "; ".join(f"{o.type} {o.shape}" for o in outputs)
            raise ModelError(f"{path} returns {got}; expected one float output of shape (N, {n})")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 aligned faces -> (N, 7) float32 probabilities (rows sum to 1)."""
        if faces.ndim != 3 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE):
            raise ValueError(f"expected faces of shape (N, {FACE_SIZE}, {FACE_SIZE}), got {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        try:
            (probs,) = self._session.run(None, {self._input: center_crop(faces, self.info.input_size)})
        except Exception as e:  # ORT's own untyped errors: a graph that cannot take this many faces, ...
            n = f"{len(faces)} face{'s' * (len(faces) != 1)}"
            raise ModelError(f"{self.path} failed on {n}: {str(e).strip().splitlines()[0]}") from e
        if probs.shape != (len(faces), len(EMOTIONS)):
            raise ModelError(f"{self.path} returned shape {probs.shape} for {len(faces)} faces")
        # NaN fails both comparisons, and infinity the second (15 us with np.isfinite and np.allclose, 3 us so)
        if not (probs.min() >= 0 and np.abs(probs.sum(axis=1) - 1).max() <= 1e-3):
            raise ModelError(f"{self.path} returned scores that are not probabilities (each row summing to 1)")
        return probs


def _ort_source(path: Path) -> str | bytes:
    """What ONNX Runtime loads: the path (a model with external data files needs it), or the
    file's bytes when the path is not valid UTF-8, which ONNX Runtime cannot take."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return path.read_bytes()
    return str(path)
