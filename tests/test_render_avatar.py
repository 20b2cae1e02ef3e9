"""Avatar rendering: every expression renders, differs, fits its frame, has the right colours and is cached."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
import python_avatars as pa

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render import avatar
from facemoji.render.avatar import (
    AvatarRenderError,
    avatar_head_box,
    render_avatar_head_png,
    render_avatar_png,
    render_avatar_svg,
)
from facemoji.render.avatar_profile import ALLOWED, PART_ALLOWED, PRESETS, AvatarProfile, Expression, random_profile

SIZE = 128
PROFILES = {name: PRESETS[name] for name in ("classic", "bearded", "hijab", "punk")} | {"random:5": random_profile(5)}


def _hex(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])


@pytest.mark.parametrize("name", PROFILES)
def test_all_expressions_render_differ_and_have_transparent_corners(name: str) -> None:
    images = [np.asarray(render_avatar_png(PROFILES[name], e, SIZE)) for e in EMOTIONS]
    for emotion, img in zip(EMOTIONS, images, strict=True):
        assert img.shape == (SIZE, SIZE, 4), emotion
        assert img[[0, 0, -1, -1], [0, -1, 0, -1], 3].max() == 0, f"{emotion}: a corner is not transparent"
        assert (img[..., 3] == 255).mean() > 0.3, f"{emotion}: the avatar is missing"
    for (e1, a), (e2, b) in itertools.combinations(zip(EMOTIONS, images, strict=True), 2):
        changed = np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 40
        assert changed.sum() > 30, f"{name}: {e1} and {e2} look the same"


@pytest.mark.parametrize("name", PROFILES)
def test_svg_parses_is_square_and_has_no_empty_fills(name: str) -> None:
    for emotion in EMOTIONS:
        svg = render_avatar_svg(PROFILES[name], emotion)
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        _, _, w, h = root.get("viewBox").split()
        assert w == h == root.get("width") == root.get("height")
        assert 'fill=""' not in svg


def test_no_part_is_left_with_an_empty_fill() -> None:
    """Every top, garment and beard, on both backgrounds: python_avatars' empty fills all get colours."""
    tops = [("hair_type", t.name.lower()) for t in pa.HairType] + [("hat_type", t.name.lower()) for t in pa.HatType]
    clothes = itertools.cycle(t.name.lower() for t in pa.ClothingType)
    beards = itertools.cycle(t.name.lower() for t in pa.FacialHairType)
    for i, (key, top) in enumerate(tops):
        profile = AvatarProfile(
            **{key: top}, clothing_type=next(clothes), facial_hair_type=next(beards), clothing_graphic="bat",
            background_style=("none", "circle")[i % 2],
        )
        assert 'fill=""' not in render_avatar_svg(profile, Emotion.NEUTRAL), profile


def test_svg_simplifications_keep_every_part_looking_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masks turned into clips and colour layers drawn as shapes: every part value, same picture.

    Only anti-aliased edge pixels may change (a clip's edge and a filled shape's edge round differently).
    """
    variants = [(AvatarProfile(**{key: value}), Emotion.NEUTRAL) for key in ALLOWED for value in ALLOWED[key]]
    plain = Expression(eyes="default", eyebrows="default", mouth="default")
    variants += [(AvatarProfile(), replace(plain, **{p: name})) for p, names in PART_ALLOWED.items() for name in names]
    variants += [(AvatarProfile(hat_type=hat, background_style="circle"), Emotion.HAPPY) for hat in ALLOWED["hat_type"]]

    def pictures() -> list[np.ndarray]:
        avatar._svg.cache_clear()
        avatar._png.cache_clear()
        return [np.asarray(render_avatar_png(profile, look, 128)).astype(int) for profile, look in variants]

    simplified = pictures()
    monkeypatch.setattr(avatar, "_masks_to_clips", lambda root: None)
    monkeypatch.setattr(avatar, "_fill_clipped_tints", lambda root: None)
    original = pictures()
    for (profile, look), a, b in zip(variants, simplified, original, strict=True):
        diff = np.abs(a - b).max(axis=-1)
        assert (diff > 32).sum() <= 40 and diff.mean() < 0.2, (profile, look, (diff > 32).sum(), diff.mean())
    avatar._svg.cache_clear()
    avatar._png.cache_clear()


def test_colours_are_the_profiles_not_black() -> None:
    profile = AvatarProfile(skin_color="#A0522D", background_style="circle", background_color="#123456",
                            clothing_color="#22AA44")
    img = np.asarray(render_avatar_png(profile, Emotion.NEUTRAL, 286)).astype(int)  # 1 px per avatar unit
    ox, oy = 11, 6  # the frame's top-left corner is at (-11, -6) in python_avatars' units
    cheek, background, shirt = (100, 150), (25, 160), (132, 270)
    for (x, y), color in ((cheek, "#A0522D"), (background, "#123456"), (shirt, "#22AA44")):
        assert np.abs(img[y + oy, x + ox, :3] - _hex(color)).max() <= 3, (x, y, color, img[y + oy, x + ox])
        assert img[y + oy, x + ox, 3] == 255


def test_tall_tops_are_not_cut_off() -> None:
    """Nothing touches the top edge: the frame makes room for every hair style and hat."""
    tops = [("hair_type", t.name.lower()) for t in pa.HairType] + [("hat_type", t.name.lower()) for t in pa.HatType]
    for key, top in tops:
        img = np.asarray(render_avatar_png(AvatarProfile(**{key: top}), Emotion.NEUTRAL, 100))
        assert img[0, :, 3].max() == 0, f"{top} reaches the top edge"


def test_natural_eyebrows_use_the_natural_variant() -> None:
    plain = render_avatar_svg(AvatarProfile(), Emotion.ANGRY)
    natural = render_avatar_svg(AvatarProfile(eyebrow_style="natural"), Emotion.ANGRY)
    assert "angry_natural_" in natural and "angry_natural_" not in plain


def test_explicit_expression_and_emotion_names() -> None:
    profile = PRESETS["classic"]
    assert render_avatar_svg(profile, "Happiness") == render_avatar_svg(profile, Emotion.HAPPY)
    wink = Expression(eyes="wink", eyebrows="default", mouth="tongue")
    assert render_avatar_svg(profile, wink) != render_avatar_svg(profile, Emotion.HAPPY)
    assert "tongue_" in render_avatar_svg(profile, wink)


def test_renders_are_cached_and_returned_as_copies() -> None:
    profile = AvatarProfile(hair_type="bob")
    first = render_avatar_png(profile, Emotion.SAD, 64)
    before = avatar._png.cache_info().hits
    second = render_avatar_png(profile, Emotion.SAD, 64)
    assert avatar._png.cache_info().hits == before + 1
    assert second is not first and np.array_equal(np.asarray(first), np.asarray(second))
    first.paste((255, 0, 0, 255), (0, 0, 64, 64))
    assert np.asarray(render_avatar_png(profile, Emotion.SAD, 64))[0, 0, 3] == 0


def test_the_cache_holds_renders_within_its_byte_budget() -> None:
    avatar._png.cache_clear()
    profile = AvatarProfile(hair_type="bob")
    for size in range(1024, 1024 - 40 * 8, -8):  # 40 renders of about 4 MB: more than the budget
        render_avatar_png(profile, Emotion.SAD, size)
    info = avatar._png.cache_info()
    assert 0.5 * avatar.CACHE_BYTES < info.currsize <= avatar.CACHE_BYTES
    render_avatar_png(profile, Emotion.SAD, 1024 - 39 * 8)
    assert avatar._png.cache_info().hits == info.hits + 1


def test_head_box_lands_on_skin() -> None:
    profile = PRESETS["classic"]
    x0, y0, x1, y1 = avatar_head_box(profile, 256)
    assert 0 < x0 < x1 < 256 and 0 < y0 < y1 < 256
    img = np.asarray(render_avatar_png(profile, Emotion.NEUTRAL, 256)).astype(int)
    cheek = img[round(y0 + 0.7 * (y1 - y0)), round(x0 + 0.15 * (x1 - x0)), :3]
    assert np.abs(cheek - _hex(pa.SkinColor.LIGHT.value)).max() <= 3


@pytest.mark.parametrize("size", [0, 1025, 2.5, True])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(AvatarRenderError, match=f"size must be a whole number of pixels from 1 to 1024, got {size}"):
        render_avatar_png(AvatarProfile(), Emotion.HAPPY, size)  # type: ignore[arg-type]


def test_largest_size_renders() -> None:
    assert render_avatar_png(AvatarProfile(), Emotion.HAPPY, 1024).size == (1024, 1024)


def test_unknown_emotion_is_refused() -> None:
    with pytest.raises(AvatarRenderError, match="unknown emotion 'bored'; choose one of angry, disgust, fear"):
        render_avatar_svg(AvatarProfile(), "bored")


def test_shirt_text_is_drawn_centred_on_the_shirt() -> None:
    shirt = {"clothing_type": "graphic_shirt", "clothing_graphic": "custom_text"}
    text = np.asarray(render_avatar_png(AvatarProfile(**shirt, shirt_text="HELLO"), Emotion.HAPPY, 256)).astype(int)
    blank = np.asarray(render_avatar_png(AvatarProfile(**shirt, shirt_text=""), Emotion.HAPPY, 256)).astype(int)
    letters = np.argwhere(np.abs(text - blank).max(axis=2) > 64)
    assert len(letters) > 300, "the text is drawn (resvg has a font for it)"
    assert letters[:, 0].min() > 256 * 0.75, "on the shirt, below the chin"
    assert abs(letters[:, 1].mean() - 128) < 4, "centred under the face"


def test_head_only_render_drops_background_clothes_and_neck_but_keeps_beard_and_hijab() -> None:
    short = AvatarProfile(hair_type="short_flat", background_style="circle")
    head = np.asarray(render_avatar_head_png(short, Emotion.HAPPY, 256)).astype(int)
    full = np.asarray(render_avatar_png(replace(short, background_style="none"), Emotion.HAPPY, 256)).astype(int)
    chin = round(avatar_head_box(short, 256)[3])
    assert np.abs(head[: chin - 1] - full[: chin - 1]).max() <= 2, "the head itself is the full render's"
    assert head[chin + 10 :, :, 3].max() == 0 and full[chin + 10 :, :, 3].max() == 255, "neck and clothes are gone"
    with_disc = np.asarray(render_avatar_png(short, Emotion.HAPPY, 256))
    beside = (slice(105, 120), slice(35, 55))  # beside the head, inside the circle background
    assert with_disc[beside][..., 3].min() == 255 and head[beside][..., 3].max() == 0
    for hangs_down in (AvatarProfile(facial_hair_type="beard_magestic"), PRESETS["hijab"]):
        drawn = np.asarray(render_avatar_head_png(hangs_down, Emotion.HAPPY, 256))
        below = drawn[round(avatar_head_box(hangs_down, 256)[3]) + 10 :, :, 3]
        assert (below == 255).sum() > 500, "a beard or hijab below the chin is drawn whole"


def test_head_only_render_refuses_bad_sizes() -> None:
    for size in (0, 1025, True):
        with pytest.raises(AvatarRenderError, match="size must be a whole number of pixels from 1 to 1024"):
            render_avatar_head_png(PRESETS["classic"], Emotion.HAPPY, size)


@pytest.mark.parametrize("text", ["Hola!", "Happy birthday!", "W" * 32])
def test_a_long_shirt_text_shrinks_to_fit_the_shirt(text: str) -> None:
    shirt = AvatarProfile(clothing_type="graphic_shirt", clothing_graphic="custom_text", shirt_text=text)
    rgba = np.asarray(render_avatar_png(shirt, "happy", 512)).astype(int)[384:]  # the shirt's part
    letters = (rgba[..., :3].min(axis=2) > 235) & (rgba[..., 3] > 250)  # white on the blue_02 shirt
    cloth = (np.abs(rgba[..., :3] - [0x51, 0x99, 0xE4]).max(axis=2) < 12) | letters
    rows = np.flatnonzero(letters.any(axis=1))
    assert len(rows) > 5
    for row in rows:  # cut at the shirt's edges, a long text would reach them (margin 0)
        x, shirt_x = np.flatnonzero(letters[row]), np.flatnonzero(cloth[row])
        assert min(x.min() - shirt_x.min(), shirt_x.max() - x.max()) > 16
