"""FaceTracker: identities across frames, time-based score smoothing, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from facemoji.results import Box
from facemoji.tracking import FaceTracker

HAPPY, SAD = np.eye(7)[3], np.eye(7)[4]


def test_a_face_keeps_its_id_and_its_scores_move_by_half_life() -> None:
    tracker = FaceTracker(half_life_ms=100)
    ((first, scores),) = tracker.update([Box(10, 10, 50, 50)], HAPPY[None], 0)
    assert np.array_equal(scores, HAPPY)
    ((again, scores),) = tracker.update([Box(12, 10, 50, 50)], SAD[None], 100)  # one half-life later
    assert again == first
    np.testing.assert_allclose(scores, (HAPPY + SAD) / 2)
    ((new, _),) = tracker.update([Box(300, 10, 50, 50)], SAD[None], 200)  # elsewhere: someone else
    assert new != first


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="expected half_life_ms > 0"):
        FaceTracker(half_life_ms=0)
    tracker = FaceTracker()
    with pytest.raises(ValueError, match="one row of finite probabilities per box: 2 boxes, 1 rows"):
        tracker.update([Box(0, 0, 9, 9), Box(20, 0, 9, 9)], HAPPY[None], 0)
    with pytest.raises(ValueError, match="finite probabilities"):
        tracker.update([Box(0, 0, 9, 9)], np.full((1, 7), np.nan), 0)
    tracker.update([Box(0, 0, 9, 9)], HAPPY[None], 1000)
    with pytest.raises(ValueError, match="timestamps must not go back: got 500 ms after 1000 ms"):
        tracker.update([Box(0, 0, 9, 9)], HAPPY[None], 500)
