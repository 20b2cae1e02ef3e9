"""The live face: each driven part moves with its signal, the smoother removes jitter, both looks render."""

from __future__ import annotations

import io
import itertools
import math
import xml.etree.ElementTree as ET
from dataclasses import replace

import cv2
import numpy as np
import pytest
import resvg
from PIL import Image

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render.avatar_layers import AvatarArt, AvatarSvgError
from facemoji.render.avatar_profile import PRESETS
from facemoji.render.liveface import LOOKS, FaceState, LiveFace, LiveFaceError
from facemoji.render.smoothing import OneEuroOptions, OneEuroSmoother, SmoothingError
from facemoji.results import Box, Face, Pose

SIZE = 256
REST = FaceState()
STILL = Pose(0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def emoji() -> LiveFace:
    return LiveFace("emoji", size=SIZE, smooth=False)


def _rgba(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGBA" and img.size == (SIZE, SIZE)
    return np.asarray(img).astype(np.int16)


def _features(img: Image.Image) -> np.ndarray:
    """Opaque pixels that are not the yellow skin: ink, mouth, tongue, teeth, eye whites."""
    a = _rgba(img)
    r, g, b, alpha = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    return (alpha == 255) & ~((r > 200) & (g > 140) & (b < 130))


def _dark(img: Image.Image) -> np.ndarray:
    a = _rgba(img)
    return (a[..., 3] == 255) & (a[..., :3].sum(axis=2) < 3 * 110)


MOUTH_ROWS = slice(int(0.6 * SIZE), int(0.92 * SIZE))
EYE_ROWS = slice(int(0.36 * SIZE), int(0.55 * SIZE))
BROW_ROWS = slice(int(0.15 * SIZE), int(0.37 * SIZE))
LEFT, RIGHT = slice(0, SIZE // 2), slice(SIZE // 2, SIZE)


def _mouth_height(img: Image.Image) -> int:
    rows = np.flatnonzero(_features(img)[MOUTH_ROWS].any(axis=1))
    return int(rows.max() - rows.min() + 1)


def test_mouth_opens_as_jaw_open_rises(emoji: LiveFace) -> None:
    heights, interiors = [], []
    for jaw in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        img = emoji.render(FaceState(jaw_open=jaw), Emotion.NEUTRAL)
        heights.append(_mouth_height(img))
        inside = np.abs(_rgba(img)[..., :3] - np.array([0x6B, 0x2A, 0x14])).max(axis=2) < 10
        interiors.append(int(inside[MOUTH_ROWS].sum()))
    assert all(a < b for a, b in itertools.pairwise(heights)), heights
    assert heights[-1] > 3 * heights[0]
    assert interiors[0] == 0 and interiors[-1] > 500, interiors


def test_each_eye_blinks_on_its_own(emoji: LiveFace) -> None:
    rest = _dark(emoji.render(FaceState(), Emotion.NEUTRAL))[EYE_ROWS]
    # MediaPipe's "Left" is the subject's left, which the unmirrored drawing puts on the image's right.
    for state, closed, still in ((FaceState(blink_left=1.0), RIGHT, LEFT), (FaceState(blink_right=1.0), LEFT, RIGHT)):
        img = _dark(emoji.render(state, Emotion.NEUTRAL))[EYE_ROWS]
        assert img[:, closed].sum() < 0.4 * rest[:, closed].sum()
        assert np.array_equal(img[:, still], rest[:, still])
    half = _dark(emoji.render(FaceState(blink_left=0.5), Emotion.NEUTRAL))[EYE_ROWS]
    assert img[:, LEFT].sum() < half[:, RIGHT].sum() < rest[:, RIGHT].sum()


def test_brows_rise_with_brow_up(emoji: LiveFace) -> None:
    tops = []
    for up in (0.0, 0.5, 1.0):
        state = FaceState(brow_inner_up=up, brow_outer_up_left=up, brow_outer_up_right=up)
        rows = np.flatnonzero(_dark(emoji.render(state, Emotion.NEUTRAL))[BROW_ROWS].any(axis=1))
        tops.append(int(rows.min()))
    assert tops[0] - tops[1] >= 4 and tops[1] - tops[2] >= 4, tops


def test_brows_knit_with_brow_down(emoji: LiveFace) -> None:
    def inner_end_row(img: Image.Image) -> float:  # mean row of brow ink near the nose, image-left brow
        dark = _dark(img)[BROW_ROWS, int(0.38 * SIZE) : int(0.46 * SIZE)]
        return float(np.flatnonzero(dark.any(axis=1)).mean())

    rest = inner_end_row(emoji.render(FaceState(), Emotion.NEUTRAL))
    down = inner_end_row(emoji.render(FaceState(brow_down_left=1.0, brow_down_right=1.0), Emotion.NEUTRAL))
    assert down > rest + 6


def _eye_line_angle(img: Image.Image) -> float:
    """Angle (degrees, clockwise positive) of the line through the two biggest dark blobs, the eyes."""
    _, _, stats, centroids = cv2.connectedComponentsWithStats(_dark(img).astype(np.uint8))
    biggest = np.argsort(stats[1:, cv2.CC_STAT_AREA])[-2:] + 1
    (x0, y0), (x1, y1) = sorted(centroids[biggest].tolist())
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


@pytest.mark.parametrize("roll", [-30.0, -10.0, 0.0, 15.0, 30.0])
def test_roll_tilts_the_eye_line(emoji: LiveFace, roll: float) -> None:
    assert _eye_line_angle(emoji.render(FaceState(roll=roll), Emotion.NEUTRAL)) == pytest.approx(roll, abs=2.0)


def test_yaw_and_pitch_slide_the_features(emoji: LiveFace) -> None:
    def centroid(img: Image.Image) -> np.ndarray:
        ys, xs = np.nonzero(_dark(img))
        return np.array([xs.mean(), ys.mean()])

    rest = centroid(emoji.render(FaceState(), Emotion.NEUTRAL))
    assert centroid(emoji.render(FaceState(yaw=30), Emotion.NEUTRAL))[0] > rest[0] + 10  # towards image right
    assert centroid(emoji.render(FaceState(pitch=20), Emotion.NEUTRAL))[1] < rest[1] - 8  # looking up


def _corner_lift(img: Image.Image) -> float:
    """How far the mouth's corners sit above its middle (pixels; negative when they droop)."""
    mask = _features(img)[MOUTH_ROWS]
    cols = np.flatnonzero(mask.any(axis=0))
    def mean_row(c0: int, c1: int) -> float:
        ys, _ = np.nonzero(mask[:, c0:c1])
        return float(ys.mean())
    left, right, mid = cols.min(), cols.max(), (cols.min() + cols.max()) // 2
    return mean_row(mid - 3, mid + 4) - (mean_row(left, left + 5) + mean_row(right - 4, right + 1)) / 2


def test_smile_lifts_and_frown_drops_the_mouth_corners(emoji: LiveFace) -> None:
    rest = _corner_lift(emoji.render(FaceState(), Emotion.NEUTRAL))
    half = _corner_lift(emoji.render(FaceState(smile_left=0.5, smile_right=0.5), Emotion.NEUTRAL))
    smile = _corner_lift(emoji.render(FaceState(smile_left=1.0, smile_right=1.0), Emotion.NEUTRAL))
    frown = _corner_lift(emoji.render(FaceState(frown_left=1.0, frown_right=1.0), Emotion.NEUTRAL))
    assert abs(rest) < 2
    assert rest + 5 < half < smile - 5
    assert frown < rest - 8


def test_one_sided_smile_lifts_one_corner(emoji: LiveFace) -> None:
    mask = _features(emoji.render(FaceState(smile_left=1.0), Emotion.NEUTRAL))[MOUTH_ROWS]
    cols = np.flatnonzero(mask.any(axis=0))
    img_left = np.nonzero(mask[:, cols.min() : cols.min() + 5])[0].mean()
    img_right = np.nonzero(mask[:, cols.max() - 4 : cols.max() + 1])[0].mean()
    assert img_right < img_left - 8  # the subject's left corner is on the image's right


# --- both looks: motion measured as the pixels that change --------------------------------------


@pytest.fixture(scope="module", params=LOOKS)
def live(request: pytest.FixtureRequest) -> LiveFace:
    return LiveFace(request.param, size=SIZE, smooth=False)


def _changed(live: LiveFace, state: FaceState, emotion: Emotion = Emotion.NEUTRAL,
             base: FaceState = REST) -> np.ndarray:
    """Pixels that differ between ``state`` and ``base``."""
    a, b = _rgba(live.render(state, emotion)), _rgba(live.render(base, emotion))
    return np.abs(a - b).max(axis=2) > 24


def test_both_looks_open_the_mouth_further_as_jaw_open_rises(live: LiveFace) -> None:
    counts = [int(_changed(live, FaceState(jaw_open=j)).sum()) for j in (0.25, 0.5, 0.75, 1.0)]
    assert counts[0] > 30 and all(a < b for a, b in itertools.pairwise(counts)), counts
    ys, _ = np.nonzero(_changed(live, FaceState(jaw_open=1.0)))
    assert ys.min() > 0.5 * SIZE  # only the lower face moves


def test_both_looks_blink_each_eye_on_its_own(live: LiveFace) -> None:
    left = _changed(live, FaceState(blink_left=1.0))  # the subject's left eye: the image's right
    right = _changed(live, FaceState(blink_right=1.0))
    assert left[:, RIGHT].sum() > 30 and left[:, LEFT].sum() == 0
    assert right[:, LEFT].sum() > 30 and right[:, RIGHT].sum() == 0


@pytest.mark.parametrize("roll", [-25.0, 0.0, 20.0])
def test_both_looks_tilt_the_eye_line_with_roll(live: LiveFace, roll: float) -> None:
    def eye(blink: FaceState) -> np.ndarray:  # where an eye is: the pixels its blink changes
        ys, xs = np.nonzero(_changed(live, replace(blink, roll=roll), base=FaceState(roll=roll)))
        return np.array([xs.mean(), ys.mean()])

    (x0, y0), (x1, y1) = eye(FaceState(blink_right=1.0)), eye(FaceState(blink_left=1.0))
    assert x0 < x1
    assert math.degrees(math.atan2(y1 - y0, x1 - x0)) == pytest.approx(roll, abs=3.0)


def test_both_looks_raise_the_brows(live: LiveFace) -> None:
    rest = _rgba(live.render(REST, Emotion.NEUTRAL))[..., :3].sum(axis=2)
    up = _rgba(live.render(FaceState(brow_inner_up=1.0, brow_outer_up_left=1.0, brow_outer_up_right=1.0),
                           Emotion.NEUTRAL))[..., :3].sum(axis=2)
    appeared, gone = np.nonzero((up < 300) & (rest > 400))[0], np.nonzero((rest < 300) & (up > 400))[0]
    assert appeared.size > 20 and gone.size > 20
    assert appeared.mean() < gone.mean() - 3  # dark brow pixels moved up


def test_both_looks_bend_the_mouth_with_smile_and_frown(live: LiveFace) -> None:
    smile, frown = FaceState(smile_left=1.0, smile_right=1.0), FaceState(frown_left=1.0, frown_right=1.0)
    lower = slice(SIZE // 2, SIZE)  # below the eyes (a smile also lifts the lower lids)
    assert _changed(live, smile)[lower].sum() > 80
    assert _changed(live, frown)[lower].sum() > 80
    assert _changed(live, smile, base=frown)[lower].sum() > 80


@pytest.mark.parametrize("look", LOOKS)
def test_every_emotion_renders_differently_with_transparent_corners(look: str) -> None:
    live = LiveFace(look, size=SIZE, smooth=False)
    images = {e: _rgba(live.render(FaceState(), e)) for e in EMOTIONS}
    for e, a in images.items():
        assert a.shape == (SIZE, SIZE, 4)
        assert a[0, 0, 3] == a[0, -1, 3] == 0, e
        assert (a[..., 3] == 255).mean() > 0.3, e  # a solid face, not a sketch
    for i, e in enumerate(EMOTIONS):
        for f in EMOTIONS[i + 1 :]:
            assert (np.abs(images[e] - images[f]).max(axis=2) > 24).sum() > 400, (e, f)


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("size", [16, 100, 512])
def test_any_size_draws_the_same_face(look: str, size: int) -> None:
    state = FaceState(jaw_open=0.5, roll=10)
    img = LiveFace(look, size=size, smooth=False).render(state, Emotion.HAPPY)
    assert img.size == (size, size) and img.mode == "RGBA"
    reference = LiveFace(look, size=256, smooth=False).render(state, Emotion.HAPPY)
    scaled = reference.resize((size, size), Image.Resampling.BOX)
    premultiplied = [np.asarray(im).astype(np.float32) * (np.asarray(im)[..., 3:] / 255) for im in (img, scaled)]
    # a blank picture would be 69-126 levels off; 16 px is all edges
    assert np.abs(premultiplied[0] - premultiplied[1]).mean() < (20 if size == 16 else 3)


def _premultiplied(img: Image.Image) -> np.ndarray:
    a = _rgba(img.convert("RGBA")).astype(np.float32)
    return np.concatenate([a[..., :3] * a[..., 3:] / 255, a[..., 3:]], axis=2)


def test_svg_parses_and_matches_the_raster(live: LiveFace) -> None:
    state = FaceState(jaw_open=0.5, smile_left=0.7, blink_right=0.6, brow_inner_up=0.4, roll=12, yaw=-15)
    for emotion in EMOTIONS:
        svg = live.svg(state, emotion)
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and root.get("width") == root.get("height") == str(SIZE)
        ids = [el.get("id") for el in root.iter() if el.get("id")]
        assert len(ids) == len(set(ids)), emotion  # the avatar's layers share one document
        tree = resvg.usvg.Tree.from_str(svg, resvg.usvg.Options.default())
        vector = _premultiplied(Image.open(io.BytesIO(bytes(resvg.render(tree, (1, 0, 0, 0, 1, 0))))))
        raster = _premultiplied(live.render(state, emotion))
        assert np.abs(vector - raster).mean() < 1.5, emotion  # line widths included


def test_avatar_look_draws_the_profile() -> None:
    state = FaceState(jaw_open=0.3)
    plain = _rgba(LiveFace("avatar", smooth=False).render(state, Emotion.HAPPY))
    punk = _rgba(LiveFace("avatar", smooth=False, profile=PRESETS["punk"]).render(state, Emotion.HAPPY))
    assert (np.abs(plain - punk).max(axis=2) > 24).mean() > 0.1


def test_face_state_reads_mediapipe_names_and_stretches_their_range() -> None:
    shapes = {"jawOpen": 0.45, "mouthSmileLeft": 0.10, "mouthSmileRight": 0.45, "eyeBlinkLeft": 0.9,
              "browInnerUp": float("nan"), "browDownRight": -0.2}
    s = FaceState.from_face(shapes, Pose(yaw=10.0, pitch=-5.0, roll=3.0))
    assert s.jaw_open == pytest.approx(1.0)
    assert s.smile_left == 0.0 and 0.4 < s.smile_right < 0.6
    assert s.blink_left == 1.0 and s.blink_right == 0.0  # missing counts as 0, past the range clips
    assert s.brow_inner_up == 0.0 and s.brow_down_right == 0.0  # NaN and negatives
    assert (s.yaw, s.pitch, s.roll) == (10.0, -5.0, 3.0)
    odd = FaceState.from_face({"jawOpen": "x", "eyeBlinkLeft": None}, Pose(yaw=None, pitch="3", roll=math.inf))
    assert (odd.jaw_open, odd.blink_left, odd.yaw, odd.pitch, odd.roll) == (0.0, 0.0, 0.0, 3.0, 0.0)


def test_bad_look_and_size_say_what_is_allowed() -> None:
    with pytest.raises(LiveFaceError, match="unknown look 'cartoon'; expected one of emoji, avatar"):
        LiveFace("cartoon")
    with pytest.raises(LiveFaceError, match="size must be an integer from 16 to 1024"):
        LiveFace(size=2048)
    with pytest.raises(LiveFaceError, match="profile must be an AvatarProfile"):
        LiveFace("avatar", profile="punk")


def test_avatar_svg_that_is_not_the_template_gets_a_clear_error() -> None:
    with pytest.raises(AvatarSvgError, match="does not parse"):
        AvatarArt.from_svg("<svg", 64, None)
    with pytest.raises(AvatarSvgError, match="has no Body, Clothing, Face, Top group"):
        AvatarArt.from_svg('<svg xmlns="http://www.w3.org/2000/svg"/>', 64, None)


# --- smoothing ------------------------------------------------------------------------------------


def test_smoother_removes_jitter_from_a_still_signal() -> None:
    rng = np.random.default_rng(0)
    smoother = OneEuroSmoother(OneEuroOptions(min_cutoff=1.5, beta=3.0))
    noisy = 0.5 + rng.normal(0, 0.04, 120)
    out = np.array([smoother.update({"x": v}, i / 30)["x"] for i, v in enumerate(noisy)])
    assert np.std(np.diff(out[30:])) < 0.3 * np.std(np.diff(noisy[30:]))
    assert abs(out[30:].mean() - 0.5) < 0.02


def test_smoother_follows_a_step_within_a_fifth_of_a_second() -> None:
    smoother = OneEuroSmoother(OneEuroOptions(min_cutoff=1.5, beta=3.0))
    t = np.arange(60) / 30
    out = np.array([smoother.update({"x": float(ti >= 1.0)}, ti)["x"] for ti in t])
    assert out[t < 1.0].max() == 0.0
    reached = t[(t >= 1.0) & (out > 0.9)]
    assert reached.size and reached[0] - 1.0 <= 0.2


def test_smoother_uses_real_time_not_frame_count() -> None:
    """The same step sampled at 60 fps and at 15 fps is equally far along after the same time."""
    def after(fps: int, seconds: float) -> float:
        smoother = OneEuroSmoother(OneEuroOptions(min_cutoff=1.0, beta=0.0))
        smoother.update({"x": 0.0}, 0.0)
        out = 0.0
        for i in range(1, int(seconds * fps) + 1):
            out = smoother.update({"x": 1.0}, i / fps)["x"]
        return out
    assert after(60, 0.4) == pytest.approx(after(15, 0.4), abs=0.12)


def test_smoother_misuse_messages() -> None:
    smoother = OneEuroSmoother()
    smoother.update({"x": 0.0}, 1.0)
    with pytest.raises(SmoothingError, match="must be finite and increase"):
        smoother.update({"x": 0.0}, 1.0)
    with pytest.raises(SmoothingError, match="non-finite value for x"):
        smoother.update({"x": float("inf")}, 2.0)
    with pytest.raises(SmoothingError, match="min_cutoff > 0"):
        OneEuroSmoother(OneEuroOptions(min_cutoff=0.0))


def test_a_refused_frame_leaves_the_smoothing_as_it_was() -> None:
    live = LiveFace(size=np.int64(64))  # numpy integers are sizes too
    live.smooth(FaceState(), 1.0)
    with pytest.raises(SmoothingError, match="non-finite value for yaw"):
        live.smooth(FaceState(yaw=math.inf), 2.0)
    live.smooth(FaceState(), 2.0)  # the refused frame did not use up its time


def _face(emotion: Emotion, shapes: dict[str, float], pose: Pose = STILL) -> Face:
    scores = {e: float(e == emotion) for e in EMOTIONS}
    return Face(Box(0, 0, 10, 10), emotion, scores, np.zeros((478, 3), np.float32), shapes, pose)


def test_update_smooths_a_jittery_stream() -> None:
    """Frame-to-frame change of a face whose jaw and roll jitter is far smaller with smoothing on."""
    rng = np.random.default_rng(1)
    frames = [_face(Emotion.NEUTRAL, {"jawOpen": 0.25 + rng.normal(0, 0.05)}, Pose(0.0, 0.0, rng.normal(0, 4)))
              for _ in range(40)]

    def motion(smooth: bool) -> float:
        live = LiveFace(size=128, smooth=smooth)
        images = [np.asarray(live.update(f, i / 30), dtype=np.int16) for i, f in enumerate(frames)]
        return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(images[20:])]))

    assert motion(True) < 0.35 * motion(False)


def test_update_draws_the_face_emotion() -> None:
    live = LiveFace(smooth=True)
    img = live.update(_face(Emotion.HAPPY, {"jawOpen": 0.3}), 0.0)
    expected = LiveFace(smooth=False).render(FaceState.from_face({"jawOpen": 0.3}, Pose(0, 0, 0)), Emotion.HAPPY)
    assert np.array_equal(np.asarray(img), np.asarray(expected))  # the first frame starts at its own value


def test_emotion_names_work_and_unknown_ones_are_refused(emoji: LiveFace) -> None:
    happy = emoji.render(REST, Emotion.HAPPY).tobytes()
    assert emoji.render(REST, "happy").tobytes() == happy and emoji.render(REST, "Joy").tobytes() == happy
    for call in (emoji.render, emoji.svg):
        for bad in ("glee", 3):
            with pytest.raises(LiveFaceError, match=f"unknown emotion {bad!r}; choose one of angry, disgust"):
                call(REST, bad)  # type: ignore[arg-type]
