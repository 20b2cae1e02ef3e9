"""The pipeline: image -> faces (MediaPipe) -> aligned crops -> emotions (our CNN) -> :class:`Face` results."""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from facemoji.align import align_face
from facemoji.classifier import FACE_SIZE, EmotionClassifier
from facemoji.faces import MAX_FACES, FaceFinder, FaceFinderOptions
from facemoji.imageio import DEFAULT_MAX_PIXELS, ImageSource, load_image
from facemoji.results import DetectedFace, Face
from facemoji.tracking import FaceTracker

MAX_THREADS = 256  # ONNX Runtime spends minutes setting up a pool of a million threads


@dataclass(frozen=True)
class EmojifierOptions:
    """How an :class:`Emojifier` runs.

    ``video=True`` makes it a stream engine (:meth:`Emojifier.process`): faces are tracked across
    frames and their scores smoothed. ``threads`` is the emotion model's CPU thread count.
    """

    max_faces: int = 10
    min_detection_confidence: float = 0.5
    video: bool = False
    landmarker_path: str | Path | None = None
    emotion_model_path: str | Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("max_faces", "max_pixels", "threads"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.max_faces > MAX_FACES:
            raise ValueError(f"max_faces must be at most {MAX_FACES:,}, got {self.max_faces!r}")
        if self.threads > MAX_THREADS:
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {self.threads!r}")
        confidence = self.min_detection_confidence
        if not isinstance(confidence, numbers.Real) or isinstance(confidence, bool) or not 0.0 <= confidence <= 1.0:
            raise ValueError(f"min_detection_confidence must be a number in 0..1, got {confidence!r}")
        for name in ("landmarker_path", "emotion_model_path"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (str, os.PathLike)) or not str(value)):
                raise ValueError(f"{name} must be None (the default model) or a file path, got {value!r}")


class Emojifier:
    """Finds every face in an image and reads its expression.

    Still images::

        with Emojifier() as fm:
            for face in fm.analyze("party.jpg"):
                print(face.box, face.emotion, face.scores[face.emotion])

    A stream (webcam, video file), with track ids and smoothed scores::

        with Emojifier(EmojifierOptions(video=True)) as fm:
            faces = fm.process(frame_rgb, timestamp_ms)

    Models load on first use, or at :meth:`load`. Raises ``LandmarkerModelError`` / ``ModelError``
    when a model file is missing, ``ImageError`` for unreadable input and ``ValueError`` when the
    wrong mode's method is called.
    """

    def __init__(self, options: EmojifierOptions | None = None) -> None:
        self.options = options or EmojifierOptions()
        self._finder: FaceFinder | None = None
        self._classifier: EmotionClassifier | None = None
        self._tracker = FaceTracker() if self.options.video else None

    def analyze(self, image: ImageSource) -> list[Face]:
        """Every face in a still image (path, encoded bytes, RGB numpy array or PIL image), left to right.

        No face gives an empty list.
        """
        if self.options.video:
            raise ValueError("this Emojifier was created for video (options.video=True); use process(frame, ts)")
        rgb = load_image(image, self.options.max_pixels)
        detections = self._faces().find(rgb)
        probs = self._emotions(rgb, detections)
        return [Face.from_detection(d, p) for d, p in zip(detections, probs, strict=True)]

    def process(self, frame: np.ndarray, timestamp_ms: int) -> list[Face]:
        """Faces in one video frame (RGB uint8); ``timestamp_ms`` must increase from call to call."""
        if self._tracker is None:
            raise ValueError("this Emojifier was created for still images; pass EmojifierOptions(video=True)")
        rgb = load_image(frame, self.options.max_pixels)
        detections = self._faces().find_in_frame(rgb, timestamp_ms)
        probs = self._emotions(rgb, detections)
        tracked = self._tracker.update([d.box for d in detections], probs, timestamp_ms)
        return [Face.from_detection(d, p, track_id) for d, (track_id, p) in zip(detections, tracked, strict=True)]

    def load(self) -> None:
        """Load both models now rather than on first use, so that a missing or broken model fails
        before any input is read. Raises ``LandmarkerModelError`` / ``ModelError`` as analysis would."""
        self._faces()
        self._emotion_model()

    def _faces(self) -> FaceFinder:
        if self._finder is None:
            o = self.options
            opts = FaceFinderOptions(o.max_faces, o.min_detection_confidence, model_path=o.landmarker_path)
            self._finder = FaceFinder(opts, video=o.video)
        return self._finder

    def _emotion_model(self) -> EmotionClassifier:
        if self._classifier is None:
            self._classifier = EmotionClassifier(self.options.emotion_model_path, self.options.threads)
        return self._classifier

    def _emotions(self, rgb: np.ndarray, detections: list[DetectedFace]) -> np.ndarray:
        classifier = self._emotion_model()
        if not detections:
            return classifier.predict(np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8))
        crops = np.stack([align_face(rgb, d.landmarks) for d in detections])  # each turns its own part gray
        return classifier.predict(crops)

    def close(self) -> None:
        """Release the models; a later call starts afresh (for video: new tracks, timestamps from any value)."""
        if self._finder is not None:
            self._finder.close()
            self._finder = None
        self._classifier = None
        if self._tracker is not None:
            self._tracker = FaceTracker()

    def __enter__(self) -> Emojifier:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


_default: Emojifier | None = None


def analyze(image: ImageSource) -> list[Face]:
    """Every face in ``image`` with its expression, using a shared default :class:`Emojifier`.

    >>> import facemoji
    >>> faces = facemoji.analyze("photo.jpg")  # doctest: +SKIP
    >>> [(f.emotion.value, round(f.scores[f.emotion], 2)) for f in faces]  # doctest: +SKIP
    [('happy', 0.93)]

    Raises ``ImageError`` for unreadable input and ``LandmarkerModelError`` / ``ModelError`` when a
    model is missing.
    """
    global _default
    if _default is None:
        _default = Emojifier()
    return _default.analyze(image)
