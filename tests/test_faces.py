"""FaceFinder on the shared photos and videos: boxes, landmarks, blendshapes, pose signs, modes, tiling."""

from __future__ import annotations

import itertools
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemoji.faces import DETECTABLE_FRACTION, MIN_FACE_PX, FaceFinder, FaceFinderOptions, _tile_levels
from facemoji.imageio import load_image
from facemoji.landmarker_model import LandmarkerModelError
from facemoji.results import Box
from facemoji.training.data import load_dataset


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _rotate_clockwise(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)  # OpenCV: positive = counter-clockwise
    return cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _video_frames(path: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(frames) == count, f"could not read {count} frames from {path}"
    return frames


def _video_frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok, f"could not read frame {index} of {path}"
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _iou(a: Box, b: Box) -> float:
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inter = max(0, iw) * max(0, ih)
    return inter / (a.w * a.h + b.w * b.h - inter)


@pytest.fixture(scope="module")
def finder() -> Iterator[FaceFinder]:
    with FaceFinder() as f:
        yield f


@pytest.fixture(scope="module")
def justin(media: Path) -> np.ndarray:
    return _rgb(media / "justin.jpg")


def test_one_face_in_justin(finder: FaceFinder, justin: np.ndarray) -> None:
    faces = finder.find(justin)
    assert len(faces) == 1
    face = faces[0]
    # the face (forehead to chin, cheek to cheek) sits in the middle of the 381x384 photo
    assert 90 < face.box.x < 130 and 85 < face.box.y < 125
    assert 130 < face.box.w < 185 and 160 < face.box.h < 210
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    xy = face.landmarks[:, :2]
    assert face.box.x <= xy[:, 0].min() + 1 and xy[:, 0].max() <= face.box.x + face.box.w
    # the person's right eye (33, outer corner) is on the image's left; the chin (152) below the forehead (10)
    assert xy[33, 0] < xy[263, 0] and xy[10, 1] < xy[152, 1]
    assert len(face.blendshapes) == 52
    assert all(0.0 <= v <= 1.0 for v in face.blendshapes.values())
    assert face.blendshapes["mouthSmileLeft"] > 0.3 and face.blendshapes["mouthSmileRight"] > 0.3  # he smiles
    assert abs(face.pose.yaw) < 10 and abs(face.pose.pitch) < 15 and abs(face.pose.roll) < 10


def test_roll_follows_image_rotation_and_mirroring(finder: FaceFinder, justin: np.ndarray) -> None:
    roll = finder.find(justin)[0].pose.roll
    mirrored = finder.find(np.ascontiguousarray(justin[:, ::-1]))[0].pose.roll
    assert roll > 1 and mirrored == pytest.approx(-roll, abs=1.0)
    for degrees in (-30, 15):
        rotated = finder.find(_rotate_clockwise(justin, degrees))[0].pose.roll
        assert rotated - roll == pytest.approx(degrees, abs=4.0)


def test_yaw_sign_on_a_turned_face(finder: FaceFinder, media: Path) -> None:
    # In test.mp4 the woman faces towards the image's left: her nose is left of her eyes' midpoint.
    frame = _video_frames(media / "test.mp4", 1)[0]
    face = finder.find(frame)[0]
    marks = face.landmarks
    assert marks[1, 0] < (marks[33, 0] + marks[263, 0]) / 2
    assert face.pose.yaw < -5
    assert finder.find(np.ascontiguousarray(frame[:, ::-1]))[0].pose.yaw > 5


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_photo_lying_on_its_side_or_upside_down(finder: FaceFinder, justin: np.ndarray, quarters: int) -> None:
    # MediaPipe finds the sideways faces itself; the upside-down one is found by searching the photo turned.
    upright_photo = np.ascontiguousarray(justin[:, :-37])  # not square, so that width and height differ
    upright = finder.find(upright_photo)[0]
    turned = np.ascontiguousarray(np.rot90(upright_photo, -quarters))  # turned clockwise, as a camera held sideways
    faces = finder.find(turned)
    assert len(faces) == 1
    face = faces[0]
    # Where each landmark's pixel came from in the upright photo, read from turned coordinate grids.
    h, w = upright_photo.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    from_x, from_y = np.rot90(xs, -quarters), np.rot90(ys, -quarters)
    col = np.clip(face.landmarks[:, 0].astype(int), 0, turned.shape[1] - 1)
    row = np.clip(face.landmarks[:, 1].astype(int), 0, turned.shape[0] - 1)
    back = np.stack([from_x[row, col], from_y[row, col]], axis=1) + 0.5
    eyes = np.linalg.norm(upright.landmarks[33, :2] - upright.landmarks[263, :2])
    assert np.median(np.linalg.norm(back - upright.landmarks[:, :2], axis=1)) < 0.05 * eyes
    assert face.box.w * face.box.h == pytest.approx(upright.box.w * upright.box.h, rel=0.1)
    assert (face.pose.roll - upright.pose.roll - 90 * quarters + 180) % 360 - 180 == pytest.approx(0, abs=4.0)
    assert face.blendshapes["mouthSmileLeft"] > 0.3 and face.blendshapes["mouthSmileRight"] > 0.3


def test_no_face_is_an_empty_list(finder: FaceFinder, media: Path) -> None:
    no_faces = _rgb(media / "no-faces.jpg")
    assert finder.find(no_faces) == []
    assert finder.find(cv2.resize(no_faces, (1920, 1080))) == []  # tiled: no tile sees a face either
    assert finder.find(np.full((480, 640, 3), 127, np.uint8)) == []


def test_several_faces_sorted_left_to_right(finder: FaceFinder, justin: np.ndarray, media: Path) -> None:
    face = finder.find(justin)[0].box
    crop = justin[face.y - 40 : face.y + face.h + 20, face.x - 30 : face.x + face.w + 30]
    canvas = cv2.resize(_rgb(media / "no-faces.jpg"), (1280, 720))
    h, w = crop.shape[:2]
    corners = [(400, 20), (20, 700), (350, 370), (60, 1040)]  # (y, x), deliberately not in x order
    for y, x in corners:
        canvas[y : y + h, x : x + w] = crop
    faces = finder.find(canvas)
    assert len(faces) == 4
    xs = [f.box.x for f in faces]
    assert xs == sorted(xs)
    # each pasted face is found where it was put: 30 px (the crop's margin) right of its paste point
    assert xs == pytest.approx(sorted(x + 30 for _, x in corners), abs=3)


# The synthetic group photo: (face width in px, centre of the face box) for each source face.
_LAYOUT = (
    (60, (260, 150)),
    (75, (720, 120)),
    (90, (1180, 170)),
    (110, (1650, 160)),
    (140, (150, 520)),
    (300, (1000, 700)),
    (180, (1700, 620)),
    (230, (480, 820)),
)


@pytest.fixture(scope="module")
def group_photo(finder: FaceFinder, justin: np.ndarray, media: Path) -> tuple[np.ndarray, list[Box]]:
    """A 1920x1080 photo with 8 faces 60-300 px wide (all smaller than 1/10 of the width but two) and their boxes.

    Each face is cut from its source with a margin, scaled so that its landmark box has the
    wanted width and pasted on the no-faces picture; the expected box is the source's box, scaled.
    Several faces straddle the seams of the 640-px tiles.
    """
    sources = [
        justin,
        justin[:, ::-1],
        _video_frame(media / "woman2.mp4", 0),
        _video_frame(media / "test.mp4", 0),
        _video_frame(media / "test.mp4", 60)[:, ::-1],
        _video_frame(media / "woman2.mp4", 200)[:, ::-1],
        cv2.resize(justin, (300, 303)),
        _video_frame(media / "woman2.mp4", 400),
    ]
    canvas = cv2.resize(_rgb(media / "no-faces.jpg"), (1920, 1080))
    boxes = []
    for source, (width, (cx, cy)) in zip(sources, _LAYOUT, strict=True):
        source = np.ascontiguousarray(source)
        (face,) = finder.find(source)
        b = face.box
        x0, y0 = max(0, b.x - b.w // 2), max(0, b.y - b.h // 2)
        x1, y1 = min(source.shape[1], b.x + b.w + b.w // 2), min(source.shape[0], b.y + b.h + b.h // 3)
        scale = width / b.w
        crop = cv2.resize(source[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        px, py = round(cx - (b.x - x0 + b.w / 2) * scale), round(cy - (b.y - y0 + b.h / 2) * scale)
        h, w = crop.shape[:2]
        canvas[max(0, py) : py + h, px : px + w] = crop[max(0, -py) : 1080 - py]
        boxes.append(Box(round(px + (b.x - x0) * scale), round(py + (b.y - y0) * scale), width, round(b.h * scale)))
    return canvas, boxes


def test_every_face_in_a_group_photo(finder: FaceFinder, group_photo: tuple[np.ndarray, list[Box]]) -> None:
    canvas, boxes = group_photo
    faces = finder.find(canvas)
    assert len(faces) == len(boxes)  # the full-image pass alone finds 3 (the faces of 180 px and more)
    xs = [f.box.x for f in faces]
    assert xs == sorted(xs)
    for box in boxes:
        assert max(_iou(box, f.box) for f in faces) > 0.75  # measured 0.80 (a turned face) to 0.99


def test_max_faces_keeps_the_largest(group_photo: tuple[np.ndarray, list[Box]]) -> None:
    canvas, boxes = group_photo
    with FaceFinder(FaceFinderOptions(max_faces=3)) as finder:
        faces = finder.find(canvas)
    largest = sorted(sorted(boxes, key=lambda b: b.w)[-3:], key=lambda b: b.x)  # 230, 300 and 180 px
    assert [f.box.x for f in faces] == pytest.approx([b.x for b in largest], abs=5)


def test_fer2013_grid(finder: FaceFinder, fer2013_zip: Path) -> None:
    """36 FER-2013 test faces, upscaled to 160 px, in a 6x6 grid: one box per found face, each in its cell.

    BlazeFace finds few of these tight grey crops: 1 with the full-image pass alone, 10 with tiles.
    """
    images = load_dataset(fer2013_zip, "test").images[:36]
    cells = [cv2.resize(image, (160, 160), interpolation=cv2.INTER_CUBIC) for image in images]
    grid = np.vstack([np.hstack(cells[row * 6 : row * 6 + 6]) for row in range(6)])
    with FaceFinder(FaceFinderOptions(max_faces=36)) as many:
        faces = many.find(cv2.cvtColor(grid, cv2.COLOR_GRAY2RGB))
    assert len(faces) == 10
    found_cells = {((f.box.x + f.box.w // 2) // 160, (f.box.y + f.box.h // 2) // 160) for f in faces}
    assert len(found_cells) == len(faces)
    assert all(80 < f.box.w <= 160 and 80 < f.box.h <= 160 for f in faces)


@pytest.mark.parametrize("size", [(641, 480), (1280, 720), (1920, 1080), (1080, 1920), (4000, 3000), (3000, 500)])
def test_tiles_hold_every_face_the_previous_pass_can_miss(size: tuple[int, int]) -> None:
    width, height = size
    levels = _tile_levels(width, height)
    previous = max(width, height)
    for tiles in levels:
        side = max(tiles[0].w, tiles[0].h)
        assert previous / 2 <= side < previous
        largest_missed = DETECTABLE_FRACTION * previous
        for starts, length, extent in (
            (sorted({t.x for t in tiles}), width, tiles[0].w),
            (sorted({t.y for t in tiles}), height, tiles[0].h),
        ):
            assert starts[0] == 0 and starts[-1] + extent == length
            assert all(a + extent - b >= largest_missed for a, b in itertools.pairwise(starts))
        previous = side
    assert previous * DETECTABLE_FRACTION == MIN_FACE_PX
    assert _tile_levels(640, 480) == []  # small images: the full-image pass only


def test_video_mode_tracks_frames(media: Path) -> None:
    frames = _video_frames(media / "test.mp4", 6)
    with FaceFinder(FaceFinderOptions(max_faces=2), video=True) as finder:
        found = [finder.find_in_frame(frame, round(i * 1000 / 30)) for i, frame in enumerate(frames)]
        assert [len(f) for f in found] == [1] * len(frames)
        with pytest.raises(ValueError, match="timestamps must increase: got 100 ms after 167 ms"):
            finder.find_in_frame(frames[0], 100)
        with pytest.raises(ValueError, match=r"created with video=True; use find_in_frame"):
            finder.find(frames[0])
    shift = np.linalg.norm(found[0][0].landmarks[:, :2] - found[-1][0].landmarks[:, :2], axis=1)
    assert np.median(shift) < 20  # the same face, moving a little


def test_video_mode_after_a_cut_gives_the_new_face_once(media: Path, finder: FaceFinder) -> None:
    (woman,) = _video_frames(media / "woman2.mp4", 1)
    cut = np.full_like(woman, 128)  # another person in the same frame size: a scene cut
    cut[:, 100:481] = load_image(media / "justin.jpg")[: cut.shape[0]]
    with FaceFinder(video=True) as video:
        for t in (0, 33, 66):
            video.find_in_frame(woman, t)
        # MediaPipe also reports the tracked face, fitted to the woman's, over the new one
        assert [f.box for f in video.find_in_frame(cut, 99)] == [f.box for f in finder.find(cut)]


def test_misuse_raises_clear_errors(finder: FaceFinder, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"created for still images; use find\(rgb\) or pass video=True"):
        finder.find_in_frame(np.zeros((10, 10, 3), np.uint8), 0)
    with pytest.raises(ValueError, match=r"expected an RGB image as a \(H, W, 3\) uint8 array, got float32"):
        finder.find(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match=r"got uint8 array of shape \(10, 10\)"):
        finder.find(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="got list"):
        finder.find([[0, 0, 0]])
    with pytest.raises(ValueError, match=r"expected a non-empty image, got shape \(0, 10, 3\)"):
        finder.find(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="max_faces must be a whole number from 1 to 100,000, got 0"):
        FaceFinder(FaceFinderOptions(max_faces=0))
    with pytest.raises(ValueError, match=r"min_detection_confidence must be in 0\.\.1, got 1\.5"):
        FaceFinder(FaceFinderOptions(min_detection_confidence=1.5))
    with pytest.raises(LandmarkerModelError, match="is not a file"):
        FaceFinder(FaceFinderOptions(model_path=tmp_path / "missing.task"))
    broken = tmp_path / "broken.task"
    broken.write_bytes(b"not a model")
    with pytest.raises(LandmarkerModelError, match="MediaPipe could not load"):
        FaceFinder(FaceFinderOptions(model_path=broken))
    hollow = tmp_path / "hollow.task"  # a .task bundle without the detector and landmark networks
    with zipfile.ZipFile(hollow, "w") as z:
        z.writestr("readme.txt", "nothing here")
    with pytest.raises(LandmarkerModelError, match=r"MediaPipe could not load .*hollow\.task"):
        FaceFinder(FaceFinderOptions(model_path=hollow))


def test_close_is_idempotent_and_a_closed_finder_refuses_work() -> None:
    finder = FaceFinder()
    finder.close()
    finder.close()
    with pytest.raises(ValueError, match="this FaceFinder is closed"):
        finder.find(np.zeros((10, 10, 3), np.uint8))


# Neither finder is closed: both must close quietly at exit, and MediaPipe's native log lines
# (glog, absl, TFLite) on creation and first use must not reach stderr.
_UNCLOSED_FINDERS = """
import sys
import cv2
from facemoji.faces import FaceFinder
rgb = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
still = FaceFinder()
video = FaceFinder(video=True)
print(len(still.find(rgb)), len(video.find_in_frame(rgb, 0)))
"""


def test_no_native_logs_and_no_traceback_at_exit(media: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _UNCLOSED_FINDERS, str(media / "justin.jpg")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
    assert done.stderr == ""


def test_a_closed_stderr_does_not_stop_the_work(media: Path) -> None:
    script = "import os, sys; os.close(2); import facemoji; print(len(facemoji.analyze(sys.argv[1])))"
    done = subprocess.run([sys.executable, "-c", script, str(media / "justin.jpg")], capture_output=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == [b"1"]
