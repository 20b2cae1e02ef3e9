"""Video-only: keep each person's identity across frames and smooth their emotion scores."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facemoji.results import Box

HALF_LIFE_MS = 150.0  # a past frame keeps half its weight in the smoothed scores this long
MAX_GAP_MS = 1000  # a track unseen this long is dropped: a face back after that is someone new
MIN_IOU = 0.3  # a box overlapping a track's last box less than this starts a new track


@dataclass
class _Track:
    id: int
    box: Box
    scores: np.ndarray  # (7,) smoothed probabilities
    last_ms: int


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Greedy IoU matching of this frame's boxes to live tracks, with time-based score smoothing
    (:data:`HALF_LIFE_MS`, :data:`MAX_GAP_MS`, :data:`MIN_IOU`)."""

    def __init__(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_ms: int | None = None

    def update(self, boxes: list[Box], probs: np.ndarray, timestamp_ms: int) -> list[tuple[int, np.ndarray]]:
        """Returns ``(track_id, smoothed_probs)`` for each box, in the order given.

        Raises:
            ValueError: not one row of finite probabilities per box, or a timestamp that is not a
                finite number after the last one.
        """
        if len(probs) != len(boxes) or not np.isfinite(probs).all():
            raise ValueError(f"expected one row of finite probabilities per box: {len(boxes)} boxes, {len(probs)} rows")
        if not math.isfinite(timestamp_ms):
            raise ValueError(f"timestamps must be finite numbers of milliseconds, got {timestamp_ms}")
        if self._last_ms is not None and timestamp_ms <= self._last_ms:
            raise ValueError(f"timestamps must increase: got {timestamp_ms} ms after {self._last_ms} ms")
        self._last_ms = timestamp_ms
        self._tracks = [t for t in self._tracks if timestamp_ms - t.last_ms <= MAX_GAP_MS]
        pairs = sorted(
            ((_iou(b, t.box), i, j) for i, b in enumerate(boxes) for j, t in enumerate(self._tracks)), reverse=True
        )
        match: dict[int, _Track] = {}
        used: set[int] = set()
        for iou, i, j in pairs:
            if iou < MIN_IOU:
                break
            if i not in match and j not in used:
                match[i] = self._tracks[j]
                used.add(j)
        out = []
        for i, box in enumerate(boxes):
            track = match.get(i)
            if track is None:
                track = _Track(self._next_id, box, probs[i].copy(), timestamp_ms)
                self._next_id += 1
                self._tracks.append(track)
            else:
                keep = 0.5 ** ((timestamp_ms - track.last_ms) / HALF_LIFE_MS)
                track.scores = keep * track.scores + (1 - keep) * probs[i]
                track.box, track.last_ms = box, timestamp_ms
            out.append((track.id, track.scores.copy()))
        return out
