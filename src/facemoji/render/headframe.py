"""Where a face is and how big, measured along the head's own axes rather than the image's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facemoji.results import Face


@dataclass(frozen=True)
class HeadFrame:
    """A face's centre (``cx``, ``cy``, image pixels), its ``width`` and ``height`` measured after
    undoing the head's ``roll``, and that roll (degrees, clockwise positive)."""

    cx: float
    cy: float
    width: float
    height: float
    roll: float = 0.0


def head_frame(face: Face) -> HeadFrame:
    """The frame of ``face``'s landmarks.

    Measuring the landmarks after undoing the roll keeps the size steady when the head tilts,
    where the axis-aligned box would grow. A roll that is not a finite number counts as 0.

    Raises:
        ValueError: the face has no landmarks, or they are not finite pixel coordinates.
    """
    if face.landmarks.size == 0:
        raise ValueError("the face has no landmarks to place a drawing by (faces from analyze() have 478)")
    roll = float(face.pose.roll) if math.isfinite(face.pose.roll) else 0.0
    turn = clockwise(roll)
    with np.errstate(invalid="ignore", over="ignore"):  # bad landmarks are reported just below
        upright = face.landmarks[:, :2] @ turn  # row vectors times the rotation undo it
        low, high = upright.min(axis=0), upright.max(axis=0)
        cx, cy = (low + high) / 2 @ turn.T
        width, height = high - low
    if not np.isfinite([cx, cy, width, height]).all():  # NaN landmarks, or so far apart they overflow
        raise ValueError("the face's landmarks must be finite pixel coordinates")
    return HeadFrame(float(cx), float(cy), float(width), float(height), roll)


def clockwise(degrees: float) -> np.ndarray:
    """2x2 matrix turning column vectors clockwise on screen (y points down) by ``degrees``."""
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
