from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from face_fixtures import make_face
from PIL import Image

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render.overlay import EMOTION_COLORS, OVERLAY_SCALE, Mode, draw_emoji_over_face, render
from facemoji.results import Pose

GRAY = 128


def gray(h: int = 240, w: int = 320) -> np.ndarray:
    return np.full((h, w, 3), GRAY, np.uint8)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 0


def test_overlay_covers_the_face_and_nothing_far_from_it() -> None:
    image = gray()
    face = make_face(160, 120, 60, 80)
    out = render(image, [face], Mode.OVERLAY)
    assert out.shape == image.shape and out.dtype == np.uint8
    diff = changed(image, out)
    inside = diff[face.box.y : face.box.y + face.box.h, face.box.x : face.box.x + face.box.w]
    assert inside.mean() > 0.9
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    radius = 80 * OVERLAY_SCALE / 2
    assert not diff[np.hypot(xx - 160, yy - 120) > radius + 2].any()
    assert np.array_equal(image, gray())  # the input is left alone


def dark_centroid(out: np.ndarray, cx: float, cy: float) -> tuple[float, float]:
    """Centroid of the emoji's dark-brown features (eyes, mouth) relative to the face centre."""
    ys, xs = np.nonzero(out.sum(axis=2) < 250)
    return xs.mean() - cx, ys.mean() - cy


def test_overlay_turns_with_the_head_roll_clockwise() -> None:
    image = np.full((240, 320, 3), 255, np.uint8)
    upright = dark_centroid(render(image, [make_face(160, 120, 80, 80, roll=0)]), 160, 120)
    clockwise = dark_centroid(render(image, [make_face(160, 120, 80, 80, roll=30)]), 160, 120)
    anticlockwise = dark_centroid(render(image, [make_face(160, 120, 80, 80, roll=-30)]), 160, 120)
    # The grin's big mouth sits below the centre; a clockwise tilt swings it to the left.
    assert abs(upright[0]) < 1 and upright[1] > 5
    assert clockwise[0] < -3 and anticlockwise[0] > 3
    assert clockwise[1] == pytest.approx(anticlockwise[1], abs=1)


def test_overlay_size_does_not_grow_with_roll() -> None:
    image = gray()
    upright = changed(image, render(image, [make_face(160, 120, 60, 80, roll=0)])).sum()
    tilted = changed(image, render(image, [make_face(160, 120, 60, 80, roll=40)])).sum()
    assert tilted == pytest.approx(upright, rel=0.05)


def test_emoji_on_a_transparent_canvas_matches_the_overlay_and_keeps_the_rest_clear() -> None:
    face = make_face(160, 120, 60, 80, roll=15)
    canvas = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    draw_emoji_over_face(canvas, face)
    rgba = np.asarray(canvas).astype(float)
    alpha = rgba[..., 3:] / 255
    over_gray = rgba[..., :3] * alpha + GRAY * (1 - alpha)
    # Composited onto gray, the RGBA drawing is overlay mode's picture, up to rounding.
    assert np.abs(over_gray - render(gray(), [face], Mode.OVERLAY)).max() <= 1
    yy, xx = np.mgrid[:240, :320]
    assert (rgba[..., 3][np.hypot(xx - 160, yy - 120) < 40] == 255).all()
    assert not rgba[..., 3][np.hypot(xx - 160, yy - 120) > 80 * OVERLAY_SCALE / 2 + 3].any()


def test_emoji_on_a_transparent_canvas_is_clipped_at_the_edge() -> None:
    canvas = Image.new("RGBA", (100, 80), (0, 0, 0, 0))
    draw_emoji_over_face(canvas, make_face(-5, -5, 40, 40, roll=20))
    alpha = np.asarray(canvas)[..., 3]
    assert (alpha[:10, :10] == 255).all() and not alpha[40:, 40:].any()


@pytest.mark.parametrize("mode", list(Mode))
def test_faces_at_or_beyond_the_edges_are_clipped(mode: Mode) -> None:
    image = gray()
    faces = [make_face(-10, -10, 60, 80, roll=20), make_face(330, 235, 90, 90), make_face(-500, 900, 50, 50)]
    out = render(image, faces, mode)
    assert out.shape[0] == image.shape[0]
    if mode is not Mode.PANEL:
        assert out.shape == image.shape
        assert changed(image, out)[:15, :15].all()


def test_box_mode_draws_nothing_for_a_face_wholly_outside() -> None:
    image = gray()
    for cx, cy in ((-100, 120), (500, 120), (160, -100), (160, 400)):
        assert np.array_equal(render(image, [make_face(cx, cy, 60, 80)], Mode.BOX), image)


@pytest.mark.parametrize("mode", [Mode.OVERLAY, Mode.BOX])
def test_no_faces_gives_an_unchanged_copy(mode: Mode) -> None:
    image = gray()
    out = render(image, [], mode)
    assert np.array_equal(out, image)
    assert not np.shares_memory(out, image)


def test_box_mode_draws_box_label_and_emoji() -> None:
    image = gray()
    face = make_face(120, 130, 80, 100, emotion=Emotion.SAD)
    out = render(image, [face], "box")
    box, color = face.box, EMOTION_COLORS[Emotion.SAD]
    assert tuple(out[box.y + box.h // 2, box.x]) == color  # left edge of the box
    strip = out[box.y - 10 : box.y, box.x : box.x + 40]  # the label strip just above the box
    assert (strip == color).all(axis=2).mean() > 0.3
    beside = changed(image, out)[box.y : box.y + box.h, box.x + box.w + 4 :]
    assert beside.sum() > 0.6 * (box.h / 2) ** 2  # the emoji, about half the box high
    assert not changed(image, out)[box.y + 5 : box.y + box.h - 5, box.x + 5 : box.x + box.w - 5].any()


def test_box_labels_stay_about_as_wide_as_their_faces() -> None:
    image = gray(1200, 1600)  # a big photo of a small face: a label sized by the photo would be ~260 px wide
    face = make_face(600, 600, 110, 130)
    above = changed(image, render(image, [face], "box"))[: face.box.y - 1]  # the label strip, above its box
    cols = np.flatnonzero(above.any(axis=0))
    assert cols.min() == face.box.x and cols.max() - cols.min() <= face.box.w * 1.2
    empty = make_face(50, 50, 0.0, 0.0)
    assert render(image, [empty], "box").shape == image.shape  # a zero-size box draws, does not crash


def test_box_label_reads_on_any_background() -> None:
    for value in (0, 255):
        image = np.full((240, 320, 3), value, np.uint8)
        face = make_face(160, 140, 80, 100, emotion=Emotion.NEUTRAL)
        out = render(image, [face], Mode.BOX)
        strip = out[face.box.y - 12 : face.box.y - 2, face.box.x : face.box.x + 60].reshape(-1, 3)
        colours = {tuple(c) for c in strip}
        assert EMOTION_COLORS[Emotion.NEUTRAL] in colours and (0, 0, 0) in colours  # dark text on the light strip


def test_panel_is_wider_and_keeps_the_photo() -> None:
    image = gray()
    out = render(image, [make_face(160, 120, 60, 80)], Mode.PANEL)
    assert out.shape[0] == image.shape[0] and out.shape[1] > image.shape[1] + 100
    assert np.array_equal(out[:, : image.shape[1]], image)
    assert (out[:, image.shape[1] :] == EMOTION_COLORS[Emotion.HAPPY]).all(axis=2).sum() > 100  # the label strip


def test_panel_without_faces_says_so() -> None:
    image = gray()
    out = render(image, [], Mode.PANEL)
    panel = out[:, image.shape[1] :]
    assert out.shape[1] > image.shape[1]
    assert (panel.astype(int).sum(axis=2) > 400).sum() > 50  # light text on the dark panel


def test_panel_lists_faces_left_to_right() -> None:
    image = gray(480, 640)
    right = make_face(500, 240, 80, 100, emotion=Emotion.SAD)
    left = make_face(100, 240, 80, 100, emotion=Emotion.ANGRY)
    panel = render(image, [right, left], Mode.PANEL)[:, 640:]
    top, bottom = panel[:240], panel[240:]  # two faces stack in one column
    assert (top == EMOTION_COLORS[Emotion.ANGRY]).all(axis=2).sum() > 50
    assert (bottom == EMOTION_COLORS[Emotion.SAD]).all(axis=2).sum() > 50
    assert not (top == EMOTION_COLORS[Emotion.SAD]).all(axis=2).any()


def test_panel_numbers_several_faces_on_the_photo() -> None:
    image = gray(480, 640)
    right = make_face(500, 240, 80, 100, emotion=Emotion.SAD)
    left = make_face(100, 240, 80, 100, emotion=Emotion.ANGRY)
    photo = render(image, [right, left], Mode.PANEL)[:, :640]
    for face, emotion in ((left, Emotion.ANGRY), (right, Emotion.SAD)):
        b = face.box  # the number's badge, in the face's colour, at the top left of its box
        corner = photo[b.y : b.y + b.h // 3, b.x : b.x + b.w // 2]
        assert (corner == EMOTION_COLORS[emotion]).all(axis=2).sum() > 50, emotion
    changed = np.abs(photo.astype(int) - image).sum(axis=2) > 0
    assert changed.mean() < 0.02, "only the small badges are drawn on the photo"


def test_panel_fits_many_faces() -> None:
    image = gray(480, 640)
    faces = [make_face(40 + 50 * i, 100 + 20 * (i % 3), 40, 50, emotion=EMOTIONS[i % 7]) for i in range(12)]
    out = render(image, faces, Mode.PANEL)
    panel = out[:, 640:]
    for emotion in EMOTIONS:
        assert (panel == EMOTION_COLORS[emotion]).all(axis=2).any(), emotion


def test_overlay_on_the_real_photo(media: Path) -> None:
    image = np.asarray(Image.open(media / "justin.jpg").convert("RGB"))
    face = make_face(188, 198, 157, 185, roll=2)  # where the landmarker finds the face
    out = render(image, [face], Mode.OVERLAY)
    diff = changed(image, out)
    assert diff[150:250, 140:240].all()
    assert not diff[:, :60].any() and not diff[:, 320:].any()


@pytest.mark.parametrize(
    ("bad", "got"),
    [
        (np.zeros((10, 10), np.uint8), r"uint8 array of shape \(10, 10\)"),
        (np.zeros((10, 10, 4), np.uint8), r"uint8 array of shape \(10, 10, 4\)"),
        (np.zeros((10, 10, 3), np.float32), r"float32 array of shape \(10, 10, 3\)"),
        ([[0, 0, 0]], "list"),
    ],
)
def test_bad_image_is_rejected(bad: object, got: str) -> None:
    with pytest.raises(ValueError, match=r"expected an RGB image as a \(H, W, 3\) uint8 array, got " + got):
        render(bad, [])  # type: ignore[arg-type]


def test_empty_image_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected a non-empty image"):
        render(np.zeros((0, 10, 3), np.uint8), [])


def test_unknown_mode_lists_the_modes() -> None:
    with pytest.raises(ValueError, match="unknown render mode 'sticker'; choose one of overlay, box, panel"):
        render(gray(), [], "sticker")


def test_unknown_emoji_set_lists_the_sets() -> None:
    with pytest.raises(ValueError, match="unknown emoji set 'noto'; choose one of twemoji"):
        render(gray(), [], Mode.OVERLAY, emoji_set="noto")


def test_panel_of_a_tall_strip_is_no_wider_than_the_strip() -> None:
    strip = gray(20000, 200)  # a panel sized by the height alone would be 12,000 px wide
    out = render(strip, [make_face(100, 10000, 150, 180)], Mode.PANEL)
    assert out.shape == (20000, 400, 3)
    assert (out[:, 200:] == EMOTION_COLORS[Emotion.HAPPY]).all(axis=2).any()


def test_a_roll_that_is_not_a_number_draws_upright() -> None:
    face = make_face(160, 120, 80, 80)
    unknown = replace(face, pose=Pose(0.0, 0.0, float("nan")))
    assert np.array_equal(np.asarray(render(gray(), [unknown])), np.asarray(render(gray(), [face])))


def test_a_face_without_usable_landmarks_is_refused_in_overlay_mode() -> None:
    face = make_face(160, 120, 80, 80)
    with pytest.raises(ValueError, match="the face has no landmarks"):
        render(gray(), [replace(face, landmarks=np.zeros((0, 3), np.float32))])
    for bad in (np.nan, np.inf, 1e308):
        marks = face.landmarks.astype(np.float64)
        marks[0, 0] = bad
        marks[1, 0] = -abs(bad)
        with pytest.raises(ValueError, match="landmarks must be finite pixel coordinates"):
            render(gray(), [replace(face, landmarks=marks)])
    assert render(gray(), [replace(face, landmarks=np.zeros((0, 3), np.float32))], mode="box") is not None
