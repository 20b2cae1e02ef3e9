"""SVG text to RGBA Pillow images, with resvg."""

from __future__ import annotations

import functools
import importlib.util
import io
import threading
from collections.abc import Callable
from pathlib import Path

import resvg
from cachetools import LRUCache, cached
from PIL import Image, ImageFont

# resvg loads no fonts by itself, so SVG text (an avatar's shirt text) would vanish. matplotlib, a
# dependency anyway, ships DejaVu Sans in its wheel: the same letters on every machine, offline.
# resvg does not fall back to another family, so SVG that names fonts must list this one last.
TEXT_FONT = "DejaVu Sans"
_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")  # regular, bold


def cached_pictures(max_bytes: int) -> Callable[[Callable[..., Image.Image]], Callable[..., Image.Image]]:
    """Decorator: keep the RGBA images a function returns, by its arguments, dropping the least
    recently used beyond ``max_bytes`` of pixels. (Bounded by count instead, a cache of big pictures
    once held 2.4 GB.) Callers must copy what they hand out; ``cache_info()`` and ``cache_clear()``
    work as with ``functools.lru_cache``."""
    size = lambda image: 4 * image.width * image.height  # noqa: E731
    return cached(LRUCache(max_bytes, getsizeof=size), lock=threading.Lock(), info=True)


def text_width(text: str, size: float) -> float:
    """How wide ``text`` is drawn in bold :data:`TEXT_FONT` at font size ``size``; 0 when the font is missing."""
    fonts = _font_data()
    return ImageFont.truetype(io.BytesIO(fonts[1]), size).getlength(text) if fonts else 0.0


def rasterise(svg: str, size: int) -> Image.Image:
    """Render SVG text to an RGBA image of ``size`` x ``size``, stretching the root's width and height to fill it."""
    tree = resvg.usvg.Tree.from_str(svg, _options())
    width, height = tree.int_size()
    # resvg-py takes the transform as (a, b, c, d, e, f): x' = a*x + b*y + c, y' = d*x + e*y + f.
    png = resvg.render(tree, (size / width, 0.0, 0.0, 0.0, size / height, 0.0), bg_size=(size, size))
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")


_local = threading.local()  # resvg's options may only be used by the thread that made them


def _options() -> resvg.usvg.Options:
    if (options := getattr(_local, "options", None)) is None:
        options = resvg.usvg.Options.default()
        for data in _font_data():
            options.load_font_data(data)
        options.font_family = TEXT_FONT  # for text that names no family
        _local.options = options
    return options


@functools.cache
def _font_data() -> tuple[bytes, ...]:
    """The fonts' bytes, read once; none when matplotlib's copy is missing (text is then left out)."""
    spec = importlib.util.find_spec("matplotlib")  # its folder, without importing it (a third of a second)
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        return ()
    try:
        return tuple((Path(folders[0]) / "mpl-data" / "fonts" / "ttf" / name).read_bytes() for name in _FONTS)
    except OSError:
        return ()
