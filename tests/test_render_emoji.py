from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
from PIL import Image

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render import emoji
from facemoji.render.emoji import TWEMOJI, emoji_image, list_emoji_sets, register


def test_twemoji_is_registered() -> None:
    assert "twemoji" in list_emoji_sets()
    assert set(TWEMOJI) == set(EMOTIONS)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_emoji_is_square_rgba_with_transparent_corners(emotion: Emotion) -> None:
    image = emoji_image(emotion, 96)
    assert image.mode == "RGBA"
    assert image.size == (96, 96)
    alpha = np.asarray(image)[..., 3]
    assert alpha[0, 0] == alpha[0, -1] == alpha[-1, 0] == alpha[-1, -1] == 0
    assert alpha[48, 48] == 255
    assert (alpha > 0).mean() > 0.6  # a face filling most of the square, not a speck


def test_every_emotion_has_its_own_emoji() -> None:
    arrays = {e: np.asarray(emoji_image(e, 64)).astype(int) for e in EMOTIONS}
    for i, a in enumerate(EMOTIONS):
        for b in EMOTIONS[i + 1 :]:
            assert np.abs(arrays[a] - arrays[b]).mean() > 5, (a, b)


def test_accepts_emotion_names() -> None:
    for name in ("happy", "Happiness", "joy"):
        assert np.array_equal(np.asarray(emoji_image(name, 32)), np.asarray(emoji_image(Emotion.HAPPY, 32)))


def test_repeated_calls_give_equal_independent_copies() -> None:
    first = emoji_image(Emotion.SAD, 40)
    first.paste((0, 0, 0, 255), (0, 0, 40, 40))
    second = emoji_image(Emotion.SAD, 40)
    assert second is not first
    assert np.asarray(second)[0, 0, 3] == 0


def test_the_cache_holds_big_emoji_within_its_byte_budget() -> None:
    emoji._cached_emoji.cache_clear()
    for size in (2048, 1536, 1024):  # 7 x (16 + 9 + 4) MB: more than the budget
        for e in EMOTIONS:
            emoji_image(e, size)
    info = emoji._cached_emoji.cache_info()
    assert 0.5 * emoji.CACHE_BYTES < info.currsize <= emoji.CACHE_BYTES
    emoji_image(Emotion.NEUTRAL, 1024)  # the latest are kept: a live overlay of a close face redraws nothing
    assert emoji._cached_emoji.cache_info().hits == info.hits + 1


def test_svg_is_rendered_crisply_at_any_size() -> None:
    big = emoji_image(Emotion.NEUTRAL, 512)
    small = emoji_image(Emotion.NEUTRAL, 64)
    shrunk = big.resize((64, 64), Image.Resampling.LANCZOS)
    # Compared premultiplied: the colour of fully transparent pixels does not matter.
    difference = np.asarray(shrunk.convert("RGBa")).astype(int) - np.asarray(small.convert("RGBa")).astype(int)
    assert np.abs(difference).mean() < 2
    # A vector render has hard edges: few half-transparent pixels even at 512 px.
    alpha = np.asarray(big)[..., 3]
    assert ((alpha > 0) & (alpha < 255)).mean() < 0.02
    assert emoji_image(Emotion.NEUTRAL, 1).size == (1, 1)


def test_draws_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("emoji_image tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert emoji_image(Emotion.FEAR, 77).size == (77, 77)  # a size no other test draws, so not cached


@pytest.mark.parametrize("size", [0, -5, 2049, 1.5, True])
def test_bad_size_is_rejected(size: object) -> None:
    with pytest.raises(ValueError, match=r"emoji size must be an integer in 1\.\.2048"):
        emoji_image(Emotion.HAPPY, size)  # type: ignore[arg-type]


def test_unknown_set_lists_the_sets() -> None:
    with pytest.raises(ValueError, match="unknown emoji set 'noto'; choose one of twemoji"):
        emoji_image(Emotion.HAPPY, 32, "noto")


def test_unknown_emotion_lists_the_emotions() -> None:
    for bad in ("glee", 3):
        with pytest.raises(ValueError, match=f"unknown emotion {bad!r}; choose one of angry, disgust, fear"):
            emoji_image(bad, 32)  # type: ignore[arg-type]


def test_registered_set_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emoji, "_REGISTRY", dict(emoji._REGISTRY))

    @register("solid-test")
    def solid(emotion: Emotion, size: int) -> Image.Image:
        return Image.new("RGBA", (size, size), (10, 20, 30, 255))

    assert "solid-test" in list_emoji_sets()
    assert emoji_image(Emotion.ANGRY, 8, "solid-test").getpixel((4, 4)) == (10, 20, 30, 255)


def test_drawing_works_from_any_thread() -> None:
    emoji_image(Emotion.SAD, 41)  # the main thread first, as an app that starts a worker later would
    drawn: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: drawn.append(np.asarray(emoji_image(Emotion.SAD, 43))))
    worker.start()
    worker.join()
    assert len(drawn) == 1 and drawn[0].shape == (43, 43, 4) and drawn[0][..., 3].max() == 255
