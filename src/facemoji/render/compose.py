"""Paste art onto a picture scaled, turned and placed by one affine warp, clipped to the picture."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from facemoji.render.headframe import clockwise


def paste_turned(
    canvas: Image.Image,
    art: Image.Image,
    anchor: tuple[float, float],
    at: tuple[float, float],
    scale: float,
    roll: float,
) -> None:
    """Draw ``art`` onto ``canvas`` in place so that its point ``anchor`` lands on ``at``, scaled by
    ``scale`` and turned clockwise by ``roll`` degrees about that point (pixel-edge coordinates).

    Only the part of the canvas the art reaches is warped, however large the art becomes. On an
    RGBA canvas the art is alpha-composited, so a transparent background stays transparent around
    it; an RGB canvas is painted through the art's alpha.
    """
    linear = clockwise(roll) * scale
    anchor_, at_ = np.array(anchor, float), np.array(at, float)
    corners = (np.array([[0, 0], [art.width, 0], [0, art.height], [art.width, art.height]]) - anchor_) @ linear.T + at_
    if not np.isfinite(corners).all():
        raise ValueError(f"cannot place art at {at} scaled by {scale}: not finite")
    # clipped to the canvas as floats first: corners far outside it would overflow an int cast
    corners = corners.clip(-1, np.array(canvas.size) + 1)
    left, top = np.maximum(np.floor(corners.min(axis=0)), 0).astype(int)
    right, bottom = np.minimum(np.ceil(corners.max(axis=0)), canvas.size).astype(int)
    if right <= left or bottom <= top:
        return
    offset = at_ - linear @ anchor_ - (left, top)  # art pixel edges -> layer pixel edges
    offset += linear @ (0.5, 0.5) - 0.5  # OpenCV puts pixel centres on integer coordinates
    # Premultiplied, so interpolation does not pull the transparent black around the art into a dark rim.
    warp = np.hstack([linear, offset[:, None]])
    layer = cv2.warpAffine(np.asarray(art.convert("RGBa")), warp, (int(right - left), int(bottom - top)))
    turned = Image.fromarray(layer, "RGBa").convert("RGBA")
    if canvas.mode == "RGBA":
        canvas.alpha_composite(turned, (int(left), int(top)))
    else:
        canvas.paste(turned, (int(left), int(top)), turned)
