"""Measure an exported emotion model on a labelled dataset, through ONNX Runtime only (no torch).

Accuracy, balanced accuracy (mean recall over the classes present), per-class precision, recall,
F1 and support, and the confusion matrix (rows: true class, columns: predicted class, both in
:data:`facemoji.emotions.EMOTIONS` order). Also the per-face latency used in model cards and
benchmarks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facemoji.classifier import FACE_SIZE, EmotionClassifier
from facemoji.emotions import EMOTIONS
from facemoji.files import write_atomic
from facemoji.timing import Latency, median_latency
from facemoji.training.data import FaceDataset

BATCH = 256


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # faces of this class in the data


@dataclass(frozen=True)
class Evaluation:
    """How well a model read the faces of one dataset split."""

    model: str
    data: str
    split: str
    n: int
    skipped: int  # undecodable files of the split, left out
    accuracy: float
    balanced_accuracy: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]  # [true][predicted]

    @classmethod
    def from_predictions(
        cls, labels: np.ndarray, predicted: np.ndarray, model: str, data: str, split: str, skipped: int = 0
    ) -> Evaluation:
        """Score predicted class indices against true ones (both index EMOTIONS)."""
        k = len(EMOTIONS)
        confusion = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
        tp = np.diag(confusion).astype(float)
        support, predicted_count = confusion.sum(1), confusion.sum(0)
        precision = np.divide(tp, predicted_count, out=np.zeros(k), where=predicted_count > 0)
        recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
        per_class = {
            e.value: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, e in enumerate(EMOTIONS)
        }
        return cls(
            model=model,
            data=data,
            split=split,
            n=len(labels),
            skipped=skipped,
            accuracy=float(tp.sum() / max(len(labels), 1)),
            balanced_accuracy=float(recall[support > 0].mean()) if (support > 0).any() else 0.0,
            per_class=per_class,
            confusion=confusion.tolist(),
        )

    def to_dict(self) -> dict:
        return asdict(self)


def predict_classes(classifier: EmotionClassifier, images: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N,) predicted class indices, scored in batches."""
    batches = [classifier.predict(images[i : i + BATCH]).argmax(1) for i in range(0, len(images), BATCH)]
    return np.concatenate(batches) if batches else np.zeros(0, np.int64)


def evaluate(classifier: EmotionClassifier, dataset: FaceDataset) -> Evaluation:
    """Score ``classifier`` on every face of ``dataset``."""
    predicted = predict_classes(classifier, dataset.images)
    return Evaluation.from_predictions(
        dataset.labels, predicted, str(classifier.path), dataset.source, dataset.split, dataset.skipped
    )


def save_json(obj: dict, path: Path) -> Path:
    """Write ``obj`` as indented JSON through a temp file in the same folder, so no half file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(obj, indent=2) + "\n")


def time_per_face(model_path: Path | None = None, runs: int = 1000, warmup: int = 50) -> Latency:
    """Milliseconds to score one face: ONNX Runtime on one thread, batch 1, preprocessing included.

    Raises:
        ModelError: the model is missing or not a facemoji model.
    """
    classifier = EmotionClassifier(model_path, threads=1)
    face = np.random.default_rng(0).integers(0, 256, (1, FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    return median_latency(lambda _: classifier.predict(face), runs, warmup)
