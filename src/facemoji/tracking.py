"""Video-only: keep each person's identity across frames and smooth their emotion scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facemoji.results import Box


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
    """Greedy IoU matching of this frame's boxes to live tracks, with time-based score smoothing.

    ``half_life_ms`` is how long a past frame keeps half its weight in the smoothed scores; a track
    unseen for ``max_gap_ms`` is dropped.
    """

    def __init__(self, half_life_ms: float = 150.0, max_gap_ms: int = 1000, min_iou: float = 0.3) -> None:
        if not half_life_ms > 0 or not max_gap_ms >= 0 or not 0 <= min_iou <= 1:
            raise ValueError(f"expected half_life_ms > 0, max_gap_ms >= 0, min_iou in 0..1, got "
                             f"{half_life_ms}, {max_gap_ms}, {min_iou}")  # fmt: skip
        self.half_life_ms, self.max_gap_ms, self.min_iou = half_life_ms, max_gap_ms, min_iou
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_ms: int | None = None

    def update(self, boxes: list[Box], probs: np.ndarray, timestamp_ms: int) -> list[tuple[int, np.ndarray]]:
        """Returns ``(track_id, smoothed_probs)`` for each box, in the order given.

        Raises:
            ValueError: not one row of finite probabilities per box, or a timestamp before the last one.
        """
        if len(probs) != len(boxes) or not np.isfinite(probs).all():
            raise ValueError(f"expected one row of finite probabilities per box: {len(boxes)} boxes, {len(probs)} rows")
        if self._last_ms is not None and timestamp_ms < self._last_ms:
            raise ValueError(f"timestamps must not go back: got {timestamp_ms} ms after {self._last_ms} ms")
        self._last_ms = timestamp_ms
        self._tracks = [t for t in self._tracks if timestamp_ms - t.last_ms <= self.max_gap_ms]
        pairs = sorted(
            ((_iou(b, t.box), i, j) for i, b in enumerate(boxes) for j, t in enumerate(self._tracks)), reverse=True
        )
        match: dict[int, _Track] = {}
        used: set[int] = set()
        for iou, i, j in pairs:
            if iou < self.min_iou:
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
                keep = 0.5 ** ((timestamp_ms - track.last_ms) / self.half_life_ms)
                track.scores = keep * track.scores + (1 - keep) * probs[i]
                track.box, track.last_ms = box, timestamp_ms
            out.append((track.id, track.scores.copy()))
        return out
