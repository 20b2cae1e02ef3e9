"""Render an avatar profile wearing an expression, as SVG text or an RGBA Pillow image.

>>> from facemoji.render.avatar import render_avatar_png
>>> from facemoji.render.avatar_profile import AvatarProfile
>>> render_avatar_png(AvatarProfile(hair_type="bob"), "happy", 256).size
(256, 256)

The SVG is python_avatars' drawing with two fixes: the fills it leaves empty (``fill=""``, which
renderers paint black) get the profile's colours, and the 264 x 280 canvas becomes a square
viewBox with room above for tall hair and hats. It is also simplified to draw the same picture
with fewer offscreen layers (masks become clips, clipped colour layers become filled shapes),
which more than halves resvg's time for a 512 px PNG. Its groups keep python_avatars' ids, prefixed with
the template's name (``transparent_Face``, ``transparent_Mouth``, ``transparent_Eyes``,
``transparent_Eyebrow``, ``transparent_Top``, ``transparent_Clothing``; ``circle_...`` with the
circle background), so other renderers can take the drawing apart.

Renders are cached (by profile, expression and size, up to :data:`CACHE_BYTES` of pixels), so a live
app draws each picture once.
"""

from __future__ import annotations

import copy
import numbers
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from enum import Enum
from functools import lru_cache

import python_avatars as pa
from PIL import Image

from facemoji.emotions import Emotion, to_emotion
from facemoji.render.avatar_profile import AvatarProfile, Expression
from facemoji.render.raster import TEXT_FONT, cached_pictures, rasterise, text_width

MAX_SIZE = 1024
CACHE_BYTES = 128 * 2**20  # pixels of PNG renders kept, least recently used dropped first
_WIDTH, _HEIGHT = 264, 280  # python_avatars' canvas, in its user units
_SHIRT_FONT_SIZE = 28  # python_avatars' custom_text graphic
_SHIRT_TEXT_WIDTH = 170  # the shirt's width at the text line, in the same units
# How far these tops reach above the canvas (user units, measured; tests/test_render_avatar.py checks
# the list). The frame grows to show them, and so does the circle background's clip (python_avatars cuts at y=0).
_HEADROOM = {"bride": 54, "evil_spike": 18, "chef_cap": 13, "einstein_hair": 12, "braids": 7, "elvis": 4}
_TOP_MARGIN = 6  # many tops (fro, bun, winter hats) touch y=0: keep them off the picture's edge
# The head without hair or ears: x from 76 to 188, y from 36 (crown) to 186 (chin).
_HEAD = (76.0, 36.0, 188.0, 186.0)
_CHIN_FADE = 0.03  # of the picture's side: how far under the chin a head-only render fades out


class AvatarRenderError(ValueError):
    """An avatar asked for at an unknown emotion or an unsupported size."""


def render_avatar_svg(profile: AvatarProfile, emotion: Emotion | str | Expression) -> str:
    """The avatar as SVG text wearing ``emotion`` (an Emotion, its name, or explicit face parts).

    The SVG is square (``viewBox`` in python_avatars' units, ``width``/``height`` equal to its side).

    Raises:
        AvatarRenderError: an emotion name that is not one of the 7.
    """
    return _svg(profile, _expression(profile, emotion))


def render_avatar_png(profile: AvatarProfile, emotion: Emotion | str | Expression, size: int = 512) -> Image.Image:
    """The avatar as a ``size`` x ``size`` RGBA image (transparent outside the drawing).

    Returns a new image each call; the pixels are rendered once per (profile, expression, size) and
    kept while they fit in :data:`CACHE_BYTES`.

    Raises:
        AvatarRenderError: an unknown emotion name, or ``size`` outside 1..1024.
    """
    _check_size(size)
    return _png(profile, _expression(profile, emotion), int(size)).copy()


def render_avatar_head_png(profile: AvatarProfile, emotion: Emotion | str | Expression, size: int) -> Image.Image:
    """The avatar's head as a ``size`` x ``size`` RGBA image, for putting on a person in a photo: no
    background and no clothes, and the skin fades out just under the chin (the neck and shoulders
    are one shape with the face); hair, beard and hat are drawn whole.

    Raises:
        AvatarRenderError: as :func:`render_avatar_png`.
    """
    _check_size(size)
    return _head_png(profile, _expression(profile, emotion), int(size)).copy()


def _check_size(size: object) -> None:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 1 <= size <= MAX_SIZE:
        raise AvatarRenderError(f"size must be a whole number of pixels from 1 to {MAX_SIZE}, got {size!r}")


def avatar_head_box(profile: AvatarProfile, size: int) -> tuple[float, float, float, float]:
    """Where the head (crown to chin, without ears or hair) is in a ``size`` px render: x0, y0, x1, y1 pixels.

    Used to place an avatar's face over a face found in a photo.
    """
    x, y, side = _frame(profile)
    s = size / side
    return ((_HEAD[0] - x) * s, (_HEAD[1] - y) * s, (_HEAD[2] - x) * s, (_HEAD[3] - y) * s)


def _expression(profile: AvatarProfile, emotion: Emotion | str | Expression) -> Expression:
    if isinstance(emotion, Expression):
        return emotion
    try:
        parsed = to_emotion(emotion)
    except ValueError as e:
        raise AvatarRenderError(str(e)) from None
    return profile.expression(parsed)


def _frame(profile: AvatarProfile) -> tuple[float, float, float]:
    """Top-left corner and side of the square viewBox, in python_avatars' units."""
    top = profile.hat_type if profile.hat_type != "none" else profile.hair_type
    headroom = _HEADROOM.get(top, 0) + _TOP_MARGIN
    side = _HEIGHT + headroom
    return ((_WIDTH - side) / 2, -headroom, side)


def _enum(enum: type[Enum], name: str) -> Enum:
    return enum[name.upper()]


def _color(enum: type, value: str) -> str:
    return value if value.startswith("#") else _enum(enum, value).value


def _eyebrows(profile: AvatarProfile, name: str) -> pa.EyebrowType:
    natural = f"{name}_natural".upper()
    if profile.eyebrow_style == "natural" and natural in pa.EyebrowType.__members__:
        return pa.EyebrowType[natural]
    return _enum(pa.EyebrowType, name)


def _colors(profile: AvatarProfile) -> dict[str, str]:
    return {
        "skin": _color(pa.SkinColor, profile.skin_color),
        "hair": _color(pa.HairColor, profile.hair_color),
        "facial_hair": _color(pa.HairColor, profile.facial_hair_color),
        "hat": _color(pa.ClothingColor, profile.hat_color),
        "clothing": _color(pa.ClothingColor, profile.clothing_color),
        "background": _color(pa.BackgroundColor, profile.background_color),
    }


def _avatar(profile: AvatarProfile, expression: Expression) -> pa.Avatar:
    colors = _colors(profile)
    hat = profile.hat_type != "none"
    return pa.Avatar(
        style=pa.AvatarStyle.CIRCLE if profile.background_style == "circle" else pa.AvatarStyle.TRANSPARENT,
        background_color=colors["background"],
        top=_enum(pa.HatType, profile.hat_type) if hat else _enum(pa.HairType, profile.hair_type),
        hat_color=colors["hat"],
        eyebrows=_eyebrows(profile, expression.eyebrows),
        eyes=_enum(pa.EyeType, expression.eyes),
        nose=_enum(pa.NoseType, profile.nose_type),
        mouth=_enum(pa.MouthType, expression.mouth),
        facial_hair=_enum(pa.FacialHairType, profile.facial_hair_type),
        skin_color=colors["skin"],
        hair_color=colors["hair"],
        facial_hair_color=colors["facial_hair"],
        accessory=_enum(pa.AccessoryType, profile.accessory),
        clothing=_enum(pa.ClothingType, profile.clothing_type),
        clothing_color=colors["clothing"],
        shirt_graphic=_enum(pa.ClothingGraphic, profile.clothing_graphic),
        shirt_text=profile.shirt_text,
    )


def _fill_for(element_id: str, profile: AvatarProfile, colors: dict[str, str]) -> str | None:
    """The colour an element python_avatars left with ``fill=""`` should have, from its (prefixed) id."""
    prefix, _, name = element_id.rpartition("_")
    if name == "Fabric-Color":
        # The background template, the clothes and the hats all call their colour layer Fabric-Color.
        if prefix == pa.AvatarStyle.CIRCLE.value:
            return colors["background"]
        return colors["clothing"] if prefix == _enum(pa.ClothingType, profile.clothing_type).value else colors["hat"]
    return {
        "Hair-Color": colors["hair"],
        "Shaggy-Hair": colors["hair"],
        "Facial-Hair-Color": colors["facial_hair"],
        "Skin-Color": colors["skin"],
    }.get(name)


@lru_cache(maxsize=256)
def _svg(profile: AvatarProfile, expression: Expression) -> str:
    root = ET.fromstring(_avatar(profile, expression).render())
    colors = _colors(profile)
    for el in root.iter():
        if family := el.get("font-family"):  # the shirt text asks for Avenir, which no renderer here has
            el.set("font-family", f"{family}, {TEXT_FONT}")
        if el.get("x") == "50%":  # the shirt text's centre: of python_avatars' canvas, not of the wider square frame
            el.set("x", f"{_WIDTH / 2:g}")
        if el.get("id") == "custom_text_Graphic-Text":  # shrink a long text to fit the shirt rather than cut it
            width = text_width(profile.shirt_text, _SHIRT_FONT_SIZE)
            if width > _SHIRT_TEXT_WIDTH:
                el.set("font-size", f"{_SHIRT_FONT_SIZE * _SHIRT_TEXT_WIDTH / width:.2f}")
        if el.get("fill") == "":
            fill = _fill_for(el.get("id", ""), profile, colors)
            if fill is None:  # a part installed into python_avatars that we do not know: inherit the parent's fill
                del el.attrib["fill"]
            else:
                el.set("fill", fill)
    x, y, side = _frame(profile)
    clip = root.find(f".//*[@id='{pa.AvatarStyle.CIRCLE.value}_path-3']")
    if clip is not None:  # the circle template's clip: the box above the disc, from y=0 down
        clip.set("d", clip.get("d", "").replace("-1.42108547e-14", f"{y:g}"))
    root.set("width", f"{side:g}")
    root.set("height", f"{side:g}")
    root.set("viewBox", f"{x:g} {y:g} {side:g} {side:g}")
    _masks_to_clips(root)
    _fill_clipped_tints(root)
    return ET.tostring(root, encoding="unicode")


_SVG = "{http://www.w3.org/2000/svg}"
_HREF = "{http://www.w3.org/1999/xlink}href"
_WHITE = {"white", "#fff", "#ffffff"}
_PAINT = {"fill", "fill-opacity", "opacity", "style"}


def _masks_to_clips(root: ET.Element) -> None:
    """Turn the masks that only cut a shape out (opaque white <use> copies) into clip paths.

    Such a mask and the clip path of the same shapes draw the same pixels, but resvg rasterises
    every mask into a layer of its own: the switch saves about a quarter of a 512 px render.
    """
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    clipped = set()
    for mask in root.iter(f"{_SVG}mask"):
        if mask.get("fill", "").lower() not in _WHITE or set(mask.attrib) - {"id", "fill"}:
            continue
        targets = [ids.get(use.get(_HREF, "").lstrip("#")) for use in mask]
        if not mask or any(use.tag != f"{_SVG}use" or _PAINT & set(use.attrib) for use in mask):
            continue
        if any(target is None or _PAINT & set(target.attrib) for target in targets):
            continue
        mask.tag = f"{_SVG}clipPath"
        del mask.attrib["fill"]
        clipped.add(f"url(#{mask.get('id')})")
    for el in root.iter():
        if el.get("mask") in clipped:
            el.set("clip-path", el.attrib.pop("mask"))


def _fill_clipped_tints(root: ET.Element) -> None:
    """Draw python_avatars' colour layers as the shapes they colour.

    A part's colour is a group holding one big rectangle, clipped to the part's shape: the same
    pixels as the shape filled with the group's colour, without the clip layer resvg would
    rasterise (tests/test_render_avatar.py checks the pixels stay the same for every part).
    """
    clips = {f"url(#{c.get('id')})": c for c in root.iter(f"{_SVG}clipPath")}
    for group in list(root.iter(f"{_SVG}g")):  # a list: the loop rewrites the tree
        clip = clips.get(group.get("clip-path", ""))
        if clip is None or not group.get("fill") or len(group) != 1:
            continue
        rect = group[0]
        if rect.tag == f"{_SVG}g" and set(rect.attrib) <= {"id", "transform"} and len(rect) == 1:
            rect = rect[0]
        if rect.tag != f"{_SVG}rect" or _PAINT & set(rect.attrib) or any(c.tag != f"{_SVG}use" for c in clip):
            continue
        group.remove(group[0])
        group.extend(copy.deepcopy(use) for use in clip)
        del group.attrib["clip-path"]


_ROOT_SIZE = re.compile(r'width="[^"]*" height="[^"]*"')


@cached_pictures(CACHE_BYTES)
def _png(profile: AvatarProfile, expression: Expression, size: int) -> Image.Image:
    return _raster(_svg(profile, expression), size)


@cached_pictures(CACHE_BYTES)
def _head_png(profile: AvatarProfile, expression: Expression, size: int) -> Image.Image:
    return _raster(_head_svg(profile, expression), size)


def _raster(svg: str, size: int) -> Image.Image:
    # resvg draws at the SVG's own width and height, so the root's size is set to the one wanted.
    return rasterise(_ROOT_SIZE.sub(f'width="{size}" height="{size}"', svg, count=1), size)


def _head_svg(profile: AvatarProfile, expression: Expression) -> str:
    """:func:`_svg` without background or clothes, the body shape masked to fade out under the chin."""
    root = ET.fromstring(_svg(replace(profile, background_style="none"), expression))
    x, y, side = _frame(profile)
    chin, fade = _HEAD[3], _CHIN_FADE * side
    for parent in list(root.iter()):
        for child in list(parent):
            group = child.get("id", "")
            if group.endswith("_Clothing"):
                parent.remove(child)
            elif group.endswith("_Body"):  # wrapped, so the mask is in the root's units, not the body's
                index = list(parent).index(child)
                parent.remove(child)
                wrapper = ET.Element(f"{_SVG}g", {"mask": "url(#facemoji_neck)"})
                wrapper.append(child)
                parent.insert(index, wrapper)
    defs = ET.SubElement(root, f"{_SVG}defs")
    gradient = ET.SubElement(defs, f"{_SVG}linearGradient", {
        "id": "facemoji_chin_fade", "gradientUnits": "userSpaceOnUse",
        "x1": "0", "y1": f"{chin:g}", "x2": "0", "y2": f"{chin + fade:g}",
    })  # fmt: skip
    ET.SubElement(gradient, f"{_SVG}stop", {"offset": "0", "stop-color": "white"})
    ET.SubElement(gradient, f"{_SVG}stop", {"offset": "1", "stop-color": "black"})
    box = {"x": f"{x:g}", "y": f"{y:g}", "width": f"{side:g}", "height": f"{side:g}"}
    mask = ET.SubElement(defs, f"{_SVG}mask", {"id": "facemoji_neck", "maskUnits": "userSpaceOnUse", **box})
    ET.SubElement(mask, f"{_SVG}rect", {**box, "fill": "url(#facemoji_chin_fade)"})
    return ET.tostring(root, encoding="unicode")
