"""argparse value types shared by the sub-commands and the benchmarks."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def positive(kind: type[int] | type[float], most: int | None = None) -> Callable[[str], int | float]:
    """A type that parses ``kind`` and refuses zero, negative values and values over ``most``."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    """A type that parses an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high:,}, got {text}")
        return value

    parse.__name__ = "int"
    return parse


def nonempty_path(text: str) -> Path:
    """A file or folder path; an empty one is refused (``Path("")`` would mean the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def add_max_pixels(p: argparse.ArgumentParser) -> None:
    """``--max-pixels``, the decompression-bomb guard of ``load_image``; see :func:`allow_pixels`."""
    from facemoji.imageio import DEFAULT_MAX_PIXELS  # here: commands that read no images need not load Pillow

    p.add_argument(
        "--max-pixels", type=positive(int), default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images before decoding them (default {DEFAULT_MAX_PIXELS:,})",
    )  # fmt: skip


def allow_pixels(max_pixels: int) -> None:
    """Let ``--max-pixels`` decide: Pillow refuses images over twice its own limit before our check sees them."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels)
