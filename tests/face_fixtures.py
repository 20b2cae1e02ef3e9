"""Faces built by hand, with landmarks where a test wants them, for rendering tests."""

from __future__ import annotations

import numpy as np

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.results import Box, Face, Pose


def make_face(
    cx: float, cy: float, w: float, h: float, roll: float = 0.0, emotion: Emotion = Emotion.HAPPY, score: float = 0.87
) -> Face:
    """A face whose 478 landmarks fill a w x h rectangle centred on (cx, cy), tilted clockwise by ``roll``."""
    u, v = np.meshgrid(np.linspace(-w / 2, w / 2, 22), np.linspace(-h / 2, h / 2, 22))
    grid = np.stack([u.ravel(), v.ravel()], axis=1)[:478]
    t = np.radians(roll)
    clockwise = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])  # y points down
    points = grid @ clockwise.T + (cx, cy)
    landmarks = np.concatenate([points, np.zeros((478, 1))], axis=1).astype(np.float32)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    rest = (1 - score) / 6
    scores = {e: (score if e is emotion else rest) for e in EMOTIONS}
    box = Box(round(x0), round(y0), round(x1 - x0), round(y1 - y0))
    return Face(box, emotion, scores, landmarks, {}, Pose(yaw=0.0, pitch=0.0, roll=roll))
