"""FaceTracker: identities across frames, time-based score smoothing, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from facemoji.results import Box
from facemoji.tracking import HALF_LIFE_MS, MAX_GAP_MS, FaceTracker

HAPPY, SAD = np.eye(7)[3], np.eye(7)[4]


def test_a_face_keeps_its_id_and_its_scores_move_by_half_life() -> None:
    tracker = FaceTracker()
    ((first, scores),) = tracker.update([Box(10, 10, 50, 50)], HAPPY[None], 0)
    assert np.array_equal(scores, HAPPY)
    ((again, scores),) = tracker.update([Box(12, 10, 50, 50)], SAD[None], HALF_LIFE_MS)
    assert again == first
    np.testing.assert_allclose(scores, (HAPPY + SAD) / 2)
    ((new, _),) = tracker.update([Box(300, 10, 50, 50)], SAD[None], 2 * HALF_LIFE_MS)  # elsewhere: someone else
    assert new != first


def test_two_faces_keep_their_ids_whatever_order_they_come_in() -> None:
    tracker = FaceTracker()
    left, right = Box(0, 0, 50, 50), Box(200, 0, 50, 50)
    (a, _), (b, _) = tracker.update([left, right], np.stack([HAPPY, SAD]), 0)
    (b2, right_scores), (a2, left_scores) = tracker.update([right, left], np.stack([SAD, HAPPY]), 40)
    assert (a2, b2) == (a, b) and a != b
    assert right_scores.argmax() == 4 and left_scores.argmax() == 3


def test_one_track_goes_to_one_box_only() -> None:
    tracker = FaceTracker()
    ((first, _),) = tracker.update([Box(0, 0, 100, 100)], HAPPY[None], 0)
    # both overlap the track; the one overlapping more keeps its id, the other is someone new
    (near, _), (far, _) = tracker.update([Box(5, 0, 100, 100), Box(40, 0, 100, 100)], np.stack([HAPPY, SAD]), 40)
    assert near == first and far != first


def test_a_face_gone_longer_than_the_gap_comes_back_as_someone_new() -> None:
    tracker = FaceTracker()
    box = Box(10, 10, 50, 50)
    ((first, _),) = tracker.update([box], HAPPY[None], 0)
    ((soon, _),) = tracker.update([box], HAPPY[None], MAX_GAP_MS)
    ((late, scores),) = tracker.update([box], SAD[None], 2 * MAX_GAP_MS + 1)
    assert soon == first and late != first
    assert np.array_equal(scores, SAD)  # a new track starts from its own first scores


def test_bad_input_is_refused() -> None:
    tracker = FaceTracker()
    with pytest.raises(ValueError, match="one row of finite probabilities per box: 2 boxes, 1 rows"):
        tracker.update([Box(0, 0, 9, 9), Box(20, 0, 9, 9)], HAPPY[None], 0)
    with pytest.raises(ValueError, match="finite probabilities"):
        tracker.update([Box(0, 0, 9, 9)], np.full((1, 7), np.nan), 0)
    with pytest.raises(ValueError, match="timestamps must be finite"):
        tracker.update([Box(0, 0, 9, 9)], HAPPY[None], float("nan"))
    tracker.update([Box(0, 0, 9, 9)], HAPPY[None], 1000)
    with pytest.raises(ValueError, match="timestamps must increase: got 500 ms after 1000 ms"):
        tracker.update([Box(0, 0, 9, 9)], HAPPY[None], 500)
    with pytest.raises(ValueError, match="timestamps must increase: got 1000 ms after 1000 ms"):
        tracker.update([Box(0, 0, 9, 9)], HAPPY[None], 1000)
