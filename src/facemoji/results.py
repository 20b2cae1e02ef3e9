"""Typed results: what facemoji found in an image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facemoji.emotions import EMOTIONS, Emotion


@dataclass(frozen=True)
class Box:
    """Axis-aligned rectangle in pixels of the input image (top-left corner, width, height): a face box or a tile."""

    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Pose:
    """Head rotation in degrees: ``yaw`` turns left/right, ``pitch`` nods, ``roll`` tilts (clockwise positive)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class DetectedFace:
    """One face from the landmarker, before its expression is read."""

    box: Box
    # not compared: == on arrays is elementwise; faces compare by box, blendshapes and pose
    landmarks: np.ndarray = field(compare=False)  # (478, 3) float32: x, y in pixels, z in MediaPipe's depth units
    blendshapes: dict[str, float]  # the 52 ARKit-style coefficients, 0..1, by MediaPipe's names
    pose: Pose


@dataclass(frozen=True)
class Face:
    """One face with its expression.

    ``scores`` holds a probability for each of the 7 emotions (they sum to 1); ``emotion`` is the
    most probable one. ``track_id`` is set in video mode and stays the same for the same person.
    """

    box: Box
    emotion: Emotion
    scores: dict[Emotion, float]
    landmarks: np.ndarray = field(repr=False, compare=False)
    blendshapes: dict[str, float] = field(repr=False)
    pose: Pose
    track_id: int | None = None

    @classmethod
    def from_detection(cls, det: DetectedFace, probs: np.ndarray, track_id: int | None = None) -> Face:
        scores = {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}
        return cls(
            det.box, max(scores, key=scores.__getitem__), scores, det.landmarks, det.blendshapes, det.pose, track_id
        )

    def to_dict(self) -> dict:
        """JSON-ready form (no landmarks): box, emotion, scores, pose, blendshapes, track_id."""
        return {
            "box": self.box.as_list(),
            "emotion": self.emotion.value,
            "scores": {e.value: round(s, 4) for e, s in self.scores.items()},
            "pose": {  # + 0.0 turns a rounded -0.0 into 0.0
                "yaw": round(self.pose.yaw, 1) + 0.0,
                "pitch": round(self.pose.pitch, 1) + 0.0,
                "roll": round(self.pose.roll, 1) + 0.0,
            },
            "blendshapes": {k: round(v, 4) for k, v in self.blendshapes.items()},
            "track_id": self.track_id,
        }
