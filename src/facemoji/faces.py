"""Find faces with MediaPipe's Face Landmarker: box, 478 landmarks, 52 blendshapes and head pose.

MediaPipe's built-in face detector is its short-range model: it reliably finds only faces at
least a tenth of the picture's longer side wide, not small faces in a wide group photo. So for
still images ``find`` also runs the landmarker on overlapping tiles, level by level (each level's
tiles at most half the size of the previous pass's), down to tiles in which a face of
``MIN_FACE_PX`` is that tenth, and merges what the passes found. The landmarker finds faces
turned up to about a quarter round, but not upside down, so a still image in which no pass finds a
face is searched again whole, turned upside down. Video mode stays a single pass per frame
(MediaPipe tracks faces there).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from facemoji.imageio import check_rgb
from facemoji.landmarker_model import LandmarkerModelError, landmarker_model_path
from facemoji.mediapipe_tasks import TaskHandle, mp_image
from facemoji.results import Box, DetectedFace, Pose

if TYPE_CHECKING:
    from mediapipe.tasks.python.vision import FaceLandmarkerResult

MIN_FACE_PX = 64
"""Width (landmark box, cheek to cheek) of the smallest face that tiling looks for. Images up to
ten times that on their longer side (640x480 and smaller) get the single full-image pass."""
DETECTABLE_FRACTION = 0.1  # measured on a frontal face: 1/10 of the longer side always found, 1/13 never
TILE_OVERLAP = 1.5  # times the largest face the previous pass can miss, so it lies whole in some tile
SAME_FACE = 0.5  # two boxes are one face when their intersection covers this much of the smaller one
MAX_FACES = 100_000  # far more than a 64 MP photo of 64 px faces holds; MediaPipe fails near 2**31
MAX_TIMESTAMP_MS = 2**53 // 1000  # MediaPipe counts microseconds in an int64; well inside it
_HALF_TURN = np.diag([-1.0, -1.0, 1.0, 1.0])  # half a turn about the camera's z axis (x right, y up)


@dataclass(frozen=True)
class FaceFinderOptions:
    """How the landmarker runs. The confidences are MediaPipe's own thresholds, each in 0..1."""

    max_faces: int = 10
    min_detection_confidence: float = 0.5  # face detector score to start on a face
    min_presence_confidence: float = 0.5  # landmark model's score that a face is still there
    min_tracking_confidence: float = 0.5  # video mode: below this the detector runs again
    model_path: str | Path | None = None  # None: see facemoji.landmarker_model


@dataclass(frozen=True)
class _Found:
    face: DetectedFace
    cut: int  # landmarks inside the image but outside the region: the region's edge cuts the face
    level: int  # 0 for the full image, then 1, 2, ... for finer tiles


class FaceFinder:
    """Finds faces in RGB images (``find``) or in the frames of one video (``find_in_frame``).

    Use as a context manager or call ``close()``; a finder that is never closed is closed when it
    is garbage-collected or at interpreter exit.

    Raises:
        LandmarkerModelError: the model file is missing or MediaPipe cannot load it.
        ValueError: an option is out of range.
    """

    def __init__(self, options: FaceFinderOptions = FaceFinderOptions(), video: bool = False) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        if not isinstance(options.max_faces, numbers.Integral) or not 1 <= options.max_faces <= MAX_FACES:
            raise ValueError(f"max_faces must be a whole number from 1 to {MAX_FACES:,}, got {options.max_faces!r}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(options, name) <= 1.0:
                raise ValueError(f"{name} must be in 0..1, got {getattr(options, name)}")
        path = landmarker_model_path(options.model_path)
        mp_options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=int(options.max_faces),
            min_face_detection_confidence=options.min_detection_confidence,
            min_face_presence_confidence=options.min_presence_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._handle = TaskHandle(lambda: vision.FaceLandmarker.create_from_options(mp_options))
        except (RuntimeError, ValueError, OSError) as e:  # OSError: an unreadable file, a .task missing a model
            raise LandmarkerModelError(f"MediaPipe could not load {path}: {e}") from e
        self._max_faces = options.max_faces
        self.video = video
        self._last_timestamp_ms: int | None = None

    def find(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Faces in one still image (H, W, 3) uint8 RGB, sorted left to right; [] when there is none.

        Large images are also searched tile by tile, and an image with no face found is searched
        once more upside down (see the module docstring). When more than ``max_faces`` faces are
        found, the largest are kept.

        Raises:
            ValueError: the finder was made for video or is closed, or the image is not (H, W, 3) uint8.
        """
        if self.video:
            raise ValueError("this FaceFinder was created with video=True; use find_in_frame(rgb, timestamp_ms)")
        self._check_open()
        check_rgb(rgb)
        h, w = rgb.shape[:2]
        with self._handle.silenced_first_use():
            found = self._detect(rgb, Box(0, 0, w, h), level=0)
            faces = _merge(found)
            for level, tiles in enumerate(_tile_levels(w, h), start=1):
                if len(faces) >= self._max_faces:
                    break  # finer tiles only add smaller faces, and the largest are kept
                for tile in tiles:
                    found += self._detect(rgb, tile, level)
                faces = _merge(found)
            if not faces:
                faces = self._find_upside_down(rgb)
        faces = sorted(faces, key=lambda f: f.box.w * f.box.h, reverse=True)[: self._max_faces]
        return sorted(faces, key=lambda f: (f.box.x, f.box.y))

    def find_in_frame(self, rgb: np.ndarray, timestamp_ms: int) -> list[DetectedFace]:
        """Faces in one video frame; MediaPipe tracks them from the previous frames.

        Raises:
            ValueError: the finder was made for still images or is closed, ``timestamp_ms`` is not
                a whole number of milliseconds larger than the previous frame's, or the frame is
                not (H, W, 3) uint8.
        """
        if not self.video:
            raise ValueError("this FaceFinder was created for still images; use find(rgb) or pass video=True")
        self._check_open()
        if not isinstance(timestamp_ms, numbers.Integral) or isinstance(timestamp_ms, bool):
            raise ValueError(f"timestamp_ms must be a whole number of milliseconds, got {timestamp_ms!r}")
        if not 0 <= timestamp_ms <= MAX_TIMESTAMP_MS:
            raise ValueError(f"timestamp_ms must be from 0 to {MAX_TIMESTAMP_MS}, got {timestamp_ms}")
        if self._last_timestamp_ms is not None and timestamp_ms <= self._last_timestamp_ms:
            raise ValueError(f"timestamps must increase: got {timestamp_ms} ms after {self._last_timestamp_ms} ms")
        check_rgb(rgb)
        h, w = rgb.shape[:2]
        with self._handle.silenced_first_use():
            result = self._handle.task.detect_for_video(mp_image(rgb), int(timestamp_ms))
        self._last_timestamp_ms = int(timestamp_ms)
        faces = [_face(marks, shapes, matrix, Box(0, 0, w, h), w, h) for marks, shapes, matrix in _zip(result)]
        # After a cut, MediaPipe can list a face twice: first as tracked from the last frame (fitted
        # to the old face), then as detected anew in this one. The new detection is the one to keep.
        return sorted(_distinct(reversed(faces)), key=lambda f: (f.box.x, f.box.y))

    def close(self) -> None:
        """Release MediaPipe's graph; calling it again does nothing."""
        self._handle.close()

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._handle.closed:
            raise ValueError("this FaceFinder is closed")

    def _find_upside_down(self, rgb: np.ndarray) -> list[DetectedFace]:
        h, w = rgb.shape[:2]
        result = self._handle.task.detect(mp_image(np.ascontiguousarray(rgb[::-1, ::-1])))
        return [
            _turn_back(_face(marks, shapes, _HALF_TURN @ matrix, Box(0, 0, w, h), w, h), w, h)
            for marks, shapes, matrix in _zip(result)
        ]

    def _detect(self, rgb: np.ndarray, region: Box, level: int) -> list[_Found]:
        h, w = rgb.shape[:2]
        crop = rgb[region.y : region.y + region.h, region.x : region.x + region.w]
        result = self._handle.task.detect(mp_image(crop))
        found = []
        for marks, shapes, matrix in _zip(result):
            face = _face(marks, shapes, matrix, region, w, h)
            found.append(_Found(face, _cut(face.landmarks, region, w, h), level))
        return found


def _tile_levels(width: int, height: int) -> list[list[Box]]:
    """The tiles of each pass after the full image, coarsest first; [] for a small image.

    Each level's tiles are at most half the previous pass's size and the last level's are
    ``MIN_FACE_PX / DETECTABLE_FRACTION`` (or the whole side, when the image is narrower). Next
    tiles overlap by ``TILE_OVERLAP`` times the largest face the previous pass can miss.
    """
    side = max(width, height)
    shrink = side * DETECTABLE_FRACTION / MIN_FACE_PX  # image side / smallest tile side
    if shrink <= 1:
        return []
    count = math.ceil(math.log2(shrink))
    levels = []
    previous = side
    for k in range(1, count + 1):
        size = round(side / shrink ** (k / count))
        overlap = math.ceil(TILE_OVERLAP * DETECTABLE_FRACTION * previous)
        levels.append(
            [
                Box(x, y, min(size, width), min(size, height))
                for y in _starts(height, size, overlap)
                for x in _starts(width, size, overlap)
            ]
        )
        previous = size
    return levels


def _starts(length: int, size: int, overlap: int) -> list[int]:
    """Evenly spaced tile starts from 0 to ``length - size``, neighbours overlapping by ``overlap`` or more."""
    if size >= length:
        return [0]
    n = math.ceil((length - overlap) / (size - overlap))
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def _merge(found: list[_Found]) -> list[DetectedFace]:
    """One detection per face: the least cut by a tile edge, then the one from the coarsest pass."""
    return _distinct(f.face for f in sorted(found, key=lambda f: (f.cut, f.level)))


def _distinct(faces: Iterable[DetectedFace]) -> list[DetectedFace]:
    """The faces that do not overlap an earlier one as the same face, in order."""
    kept: list[DetectedFace] = []
    for face in faces:
        if all(_overlap(face.box, k.box) < SAME_FACE for k in kept):
            kept.append(face)
    return kept


def _overlap(a: Box, b: Box) -> float:
    """The intersection's area as a fraction of the smaller box's."""
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(1, min(a.w * a.h, b.w * b.h))


def _cut(landmarks: np.ndarray, region: Box, w: int, h: int) -> int:
    x, y = landmarks[:, 0], landmarks[:, 1]
    in_image = (x >= 0) & (x <= w) & (y >= 0) & (y <= h)
    in_region = (x >= region.x) & (x <= region.x + region.w) & (y >= region.y) & (y <= region.y + region.h)
    return int(np.count_nonzero(in_image & ~in_region))


def _zip(result: FaceLandmarkerResult) -> zip:
    return zip(result.face_landmarks, result.face_blendshapes, result.facial_transformation_matrixes, strict=True)


def _face(marks: list, shapes: list, matrix: np.ndarray, region: Box, w: int, h: int) -> DetectedFace:
    """One face of a landmarker result on ``region``, in pixels of the whole (w, h) image."""
    # MediaPipe normalises x by the region's width, y by its height, and z on the same scale as x.
    landmarks = np.array([(p.x * region.w, p.y * region.h, p.z * region.w) for p in marks], dtype=np.float32)
    landmarks[:, 0] += region.x
    landmarks[:, 1] += region.y
    return DetectedFace(
        box=_box(landmarks, w, h),
        landmarks=landmarks,
        blendshapes={c.category_name: float(c.score) for c in shapes},
        pose=pose_from_matrix(matrix),
    )


def _turn_back(face: DetectedFace, w: int, h: int) -> DetectedFace:
    """``face`` found in the (w, h) image turned upside down, in the upright image's pixels."""
    landmarks = face.landmarks.copy()
    landmarks[:, 0], landmarks[:, 1] = w - landmarks[:, 0], h - landmarks[:, 1]
    return replace(face, box=_box(landmarks, w, h), landmarks=landmarks)


def _box(landmarks: np.ndarray, w: int, h: int) -> Box:
    x0, y0 = np.floor(landmarks[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks[:, :2].max(axis=0)).astype(int)
    x0, x1 = np.clip([x0, x1], 0, w)
    y0, y1 = np.clip([y0, y1], 0, h)
    return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def pose_from_matrix(matrix: np.ndarray) -> Pose:
    """Head pose from MediaPipe's facial transformation matrix (4x4, canonical face -> camera).

    The camera frame has x to the image's right, y up and z towards the viewer; the rotation is
    split as ``R = Ry(yaw) @ Rx(-pitch) @ Rz(-roll)``, so in image terms: ``yaw`` > 0 when the face
    turns towards the image's right (the person's own left), ``pitch`` > 0 when the face looks up,
    ``roll`` > 0 when the head tilts clockwise in the image. Mirroring the image flips yaw and roll.
    The angles are the camera's: for a head upside down (roll near 180) a face turning towards the
    person's own left has yaw < 0, and looking up has pitch < 0.
    """
    rot = np.asarray(matrix, dtype=np.float64)[:3, :3]
    rot = rot / np.linalg.norm(rot, axis=0)  # drop any scale
    yaw = np.degrees(np.arctan2(rot[0, 2], rot[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(rot[1, 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(-rot[1, 0], rot[1, 1]))
    return Pose(yaw=float(yaw), pitch=float(pitch), roll=float(roll))
