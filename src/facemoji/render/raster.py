"""SVG text to RGBA Pillow images, with resvg."""

from __future__ import annotations

import io

import resvg
from PIL import Image


def rasterise(svg: str, size: int) -> Image.Image:
    """Render SVG text to an RGBA image of ``size`` x ``size``, stretching the root's width and height to fill it."""
    tree = resvg.usvg.Tree.from_str(svg, resvg.usvg.Options.default())
    width, height = tree.int_size()
    # resvg-py takes the transform as (a, b, c, d, e, f): x' = a*x + b*y + c, y' = d*x + e*y + f.
    png = resvg.render(tree, (size / width, 0.0, 0.0, 0.0, size / height, 0.0), bg_size=(size, size))
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")
