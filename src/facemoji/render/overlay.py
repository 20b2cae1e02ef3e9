"""Draw each face's emoji onto a photo: over the face, beside a labelled box, or in a side panel."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from enum import Enum

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facemoji.emotions import Emotion
from facemoji.imageio import check_rgb
from facemoji.render.compose import paste_turned
from facemoji.render.emoji import MAX_EMOJI_SIZE, emoji_image, get_emoji_set
from facemoji.render.headframe import head_frame
from facemoji.results import Box, Face


class Mode(str, Enum):
    """How ``render`` shows the faces."""

    OVERLAY = "overlay"  # the emoji covers the face, turned with the head's roll
    BOX = "box"  # a box and an "emotion NN%" label on each face, the emoji beside the box
    PANEL = "panel"  # the photo, a panel on its right with each face's emoji and label (numbered when several)

    def __str__(self) -> str:
        return self.value


EMOTION_COLORS: dict[Emotion, tuple[int, int, int]] = {
    Emotion.ANGRY: (220, 40, 40),
    Emotion.DISGUST: (70, 150, 50),
    Emotion.FEAR: (140, 70, 200),
    Emotion.HAPPY: (250, 195, 20),
    Emotion.SAD: (40, 100, 220),
    Emotion.SURPRISE: (250, 130, 30),
    Emotion.NEUTRAL: (160, 160, 160),
}
"""RGB colour of each emotion's box and label strip."""

OVERLAY_SCALE = 1.2  # emoji diameter / the landmarks' larger extent, measured in the head's own (unrolled) frame
_SIZE_STEP = 16  # emoji are drawn at sizes rounded up to this step and shrunk, so a face's jitter reuses the cache
_PANEL_BACKGROUND = (32, 32, 32)
_PANEL_TEXT = (220, 220, 220)


def render(
    image: np.ndarray, faces: Sequence[Face], mode: Mode | str = Mode.OVERLAY, emoji_set: str = "twemoji"
) -> np.ndarray:
    """Draw the faces' emoji onto ``image`` and return the result as a new (H, W', 3) uint8 RGB array.

    ``overlay`` and ``box`` keep the image's size; ``panel`` adds a panel on the right (the result
    is wider), listing the faces from left to right, or saying "no face found"; with several faces
    each gets a number on the photo and in the panel. Faces partly
    outside the image are clipped; in ``box`` mode a face wholly outside it draws nothing.

    Raises:
        ValueError: ``image`` is not an (H, W, 3) uint8 array, ``mode`` is not one of overlay, box,
            panel, ``emoji_set`` is not a registered emoji set, or (overlay mode) a face has no
            finite landmarks.
    """
    check_rgb(image)
    try:
        mode = Mode(mode)
    except ValueError:
        raise ValueError(f"unknown render mode {mode!r}; choose one of {', '.join(m.value for m in Mode)}") from None
    get_emoji_set(emoji_set)
    canvas = Image.fromarray(image, "RGB")
    if mode is Mode.OVERLAY:
        for face in faces:
            draw_emoji_over_face(canvas, face, emoji_set)
    elif mode is Mode.BOX:
        for face in faces:
            _draw_box(canvas, face, emoji_set)
    else:
        canvas = _with_panel(canvas, faces, emoji_set)
    return np.array(canvas)


def draw_emoji_over_face(canvas: Image.Image, face: Face, emoji_set: str = "twemoji") -> None:
    """Draw ``face``'s emoji over the face on ``canvas``, in place, as ``render``'s overlay mode does.

    The emoji is sized from the face's landmarks (:data:`OVERLAY_SCALE` times their larger extent)
    and turned with the head's roll. On an RGBA canvas it is alpha-composited, so a transparent
    background stays transparent around it; an RGB canvas is painted through the emoji's alpha.
    Parts outside the canvas are clipped.

    Raises:
        ValueError: ``emoji_set`` is not a registered emoji set, or the face has no (finite) landmarks.
    """
    frame = head_frame(face)
    # Larger than twice the image, the emoji would only cover all of it anyway.
    size = min(max(1, round(max(frame.width, frame.height) * OVERLAY_SCALE)), 2 * max(canvas.size))
    drawn = _drawn_size(size)
    middle = drawn / 2
    art = emoji_image(face.emotion, drawn, emoji_set)
    paste_turned(canvas, art, (middle, middle), (frame.cx, frame.cy), size / drawn, frame.roll)


def _drawn_size(size: int) -> int:
    return min(-(-size // _SIZE_STEP) * _SIZE_STEP, MAX_EMOJI_SIZE)


def _sized_emoji(emotion: Emotion, size: int, emoji_set: str) -> Image.Image:
    drawn = _drawn_size(size)
    art = emoji_image(emotion, drawn, emoji_set)
    return art if drawn == size else art.resize((size, size), Image.Resampling.LANCZOS)


def _in_picture(box: Box, width: int, height: int) -> bool:
    """Whether any of ``box`` lies in a ``width`` x ``height`` picture."""
    return box.x < width and box.y < height and box.x + box.w > 0 and box.y + box.h > 0


def _draw_box(canvas: Image.Image, face: Face, emoji_set: str) -> None:
    width, height = canvas.size
    box, color = face.box, EMOTION_COLORS[face.emotion]
    if not _in_picture(box, width, height):
        return  # nothing of this face is in the picture, so no label or emoji belongs in it
    # Sized by the image, but never beyond the face: in a group photo each label stays about as
    # wide as its own box instead of running over the neighbours'.
    line = max(2, min(round(min(width, height) / 160), round(box.w / 60)))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((box.x, box.y, box.x + max(box.w - 1, 0), box.y + max(box.h - 1, 0)), outline=color, width=line)

    font = _font(max(12, min(round(min(width, height) / 24), round(box.w / 5))))
    text = _label(face)
    text_w, text_h = _text_size(draw, text, font)
    pad = max(2, font.size // 5)
    strip_w, strip_h = text_w + 2 * pad, text_h + 2 * pad
    # Above the box when there is room, else just inside its top edge; kept inside the image.
    top = box.y - strip_h if box.y - strip_h >= 0 else max(box.y, 0)
    left = min(max(box.x, 0), max(width - strip_w, 0))
    top = min(top, max(height - strip_h, 0))
    _draw_strip(draw, (left, top), text, color, font, pad)

    size = min(max(16, round(box.h * 0.5)), width, height, MAX_EMOJI_SIZE)
    gap = line + max(2, size // 10)
    if box.x + box.w + gap + size <= width:
        x = box.x + box.w + gap
    elif box.x - gap - size >= 0:
        x = box.x - gap - size
    else:
        x = min(max(box.x + box.w + gap, 0), width - size)
    y = min(max(box.y, 0), height - size)
    art = _sized_emoji(face.emotion, size, emoji_set)
    canvas.paste(art, (x, y), art)


def _with_panel(photo: Image.Image, faces: Sequence[Face], emoji_set: str) -> Image.Image:
    width, height = photo.size
    panel_w = max(160, min(round(height * 0.6), width))  # a tall strip's panel stays about as narrow as it
    canvas = Image.new("RGB", (width + panel_w, height), _PANEL_BACKGROUND)
    canvas.paste(photo, (0, 0))
    draw = ImageDraw.Draw(canvas)
    if not faces:
        font = _font(max(12, round(panel_w / 12)))
        draw.text((width + panel_w / 2, height / 2), "no face found", fill=_PANEL_TEXT, font=font, anchor="mm")
        return canvas

    ordered = sorted(faces, key=lambda f: (f.box.x, f.box.y))  # the order analyze() lists them in
    numbered = len(ordered) > 1  # several faces: a number by each face says which tile is whose
    if numbered:
        for i, face in enumerate(ordered):
            _draw_number(draw, face, i + 1, width, height)
    cols, rows, tile = _grid(len(ordered), panel_w, height)
    left = width + (panel_w - cols * tile) / 2
    top = (height - rows * tile) / 2
    for i, face in enumerate(ordered):
        cell_x, cell_y = left + (i % cols) * tile, top + (i // cols) * tile
        size = max(1, round(tile * 0.62))
        text = f"{i + 1}  {_label(face)}" if numbered else _label(face)
        font = _font(max(6, round(tile * 0.1)))
        text_w, text_h = _text_size(draw, text, font)
        if text_w > tile * 0.9:  # shrink long labels in narrow tiles so they do not run into the next one
            font = _font(max(6, math.floor(font.size * tile * 0.9 / text_w)))
            text_w, text_h = _text_size(draw, text, font)
        pad = max(2, font.size // 5)
        gap = round(tile * 0.04)
        block_h = size + gap + text_h + 2 * pad
        emoji_y = round(cell_y + (tile - block_h) / 2)
        art = _sized_emoji(face.emotion, size, emoji_set)
        canvas.paste(art, (round(cell_x + (tile - size) / 2), emoji_y), art)
        strip_w = text_w + 2 * pad
        origin = (round(cell_x + (tile - strip_w) / 2), emoji_y + size + gap)
        _draw_strip(draw, origin, text, EMOTION_COLORS[face.emotion], font, pad)
    return canvas


def _draw_number(draw: ImageDraw.ImageDraw, face: Face, number: int, width: int, height: int) -> None:
    """The face's number in its emotion's colour, at the top left of its box, kept inside the photo."""
    box = face.box
    if not _in_picture(box, width, height):
        return  # the face is not in the picture (its tile in the panel still has the number)
    font = _font(max(12, min(round(min(width, height) / 20), round(box.w / 4))))
    text = str(number)
    text_w, text_h = _text_size(draw, text, font)
    pad = max(2, font.size // 4)
    x = min(max(box.x, 0), width - text_w - 2 * pad)
    y = min(max(box.y, 0), height - text_h - 2 * pad)
    _draw_strip(draw, (max(x, 0), max(y, 0)), text, EMOTION_COLORS[face.emotion], font, pad)


def _grid(count: int, width: int, height: int) -> tuple[int, int, int]:
    """Columns, rows and square tile side that fit ``count`` tiles into width x height with the largest tiles."""
    best = (1, count, 0)
    for cols in range(1, count + 1):
        rows = -(-count // cols)
        tile = min(width // cols, height // rows)
        if tile > best[2]:
            best = (cols, rows, tile)
    return best


def _label(face: Face) -> str:
    return f"{face.emotion.value} {round(100 * face.scores[face.emotion])}%"


def _draw_strip(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    text: str,
    color: tuple[int, int, int],
    font: ImageFont.FreeTypeFont,
    pad: int,
) -> None:
    """A filled strip in ``color`` with ``text`` on it in black or white, whichever reads better."""
    text_w, text_h = _text_size(draw, text, font)
    x, y = origin
    draw.rectangle((x, y, x + text_w + 2 * pad - 1, y + text_h + 2 * pad - 1), fill=color)
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    ink = (0, 0, 0) if luma > 140 else (255, 255, 255)
    draw.text((x + pad, y + pad), text, fill=ink, font=font, anchor="lt")


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, anchor="lt")
    return right - left, bottom - top


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)
