"""Cut a python_avatars SVG (as :func:`facemoji.render.avatar.render_avatar_svg` draws it) into live layers.

The live face draws its own eyes, brows, nose and mouth, so the template's are emptied, and the
rest is split by what moves: the body and clothes stay still, the head (with the facial hair,
under the drawn parts), the hair or hat and the accessory turn with the head's roll about the
neck. Each layer is rasterised once; :class:`AvatarArt` also keeps them as SVG for vector frames.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import cv2
import numpy as np

from facemoji.render.faceparts import Layout, Palette, hex_rgb
from facemoji.render.raster import rasterise


class AvatarSvgError(ValueError):
    """The avatar SVG does not parse or is not python_avatars' template."""


# python_avatars' template, in its 264 x 280 user units: where the face sits and how our parts fit it.
AVATAR_FACE_CENTRE = (132.0, 121.5)
AVATAR_SCALE = 0.6  # our 256-unit drawing units -> the avatar's
AVATAR_LAYOUT = Layout(eye_dx=43.0, eye_y=-16.0, brow_y=-45.0, brow_inner=22.0, brow_outer=62.0, nose_y=20.0,
                       mouth_y=52.0)
_NECK_CUT = 197.0  # the head turns with the roll above this line (just above the shoulders), the body stays
_NECK_OVERLAP = 10.0  # the still neck reaches this far up (not to the chin) under the turning one: no gap opens
AVATAR_PIVOT = (132.0, _NECK_CUT)
_FACE_PARTS = ("Eyes", "Eyebrow", "Mouth", "Nose")  # emptied in the template, drawn live instead
_SVG_NS, _XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_DRAWN_TAGS = {f"{{{_SVG_NS}}}{t}" for t in ("g", "path", "use", "circle", "ellipse", "rect", "polygon", "text")}


def _mix(a: str, b: str, t: float) -> str:
    ca, cb = hex_rgb(a), hex_rgb(b)
    return "#" + "".join(f"{v:02X}" for v in np.rint(ca + (cb - ca) * t).astype(int))


def _by_id(root: ET.Element, name: str) -> ET.Element | None:
    """The element whose id is ``name``; python_avatars prefixes ids with their file's name (``transparent_Top``)."""
    for el in root.iter():
        i = el.get("id", "")
        if i == name or i.endswith("_" + name):
            return el
    return None


def _empty(root: ET.Element, name: str) -> None:
    el = _by_id(root, name)
    for child in list(el if el is not None else ()):
        el.remove(child)


def _keep_only(template: ET.Element, *names: str) -> ET.Element:
    """A copy of the template that draws only the named groups (masks, gradients and other resources stay)."""
    root = copy.deepcopy(template)
    parents = {c: p for p in root.iter() for c in p}
    targets = [el for el in (_by_id(root, n) for n in names) if el is not None]
    ancestors: set[ET.Element] = set()
    for el in targets:
        while el in parents:
            el = parents[el]
            ancestors.add(el)
    for el in ancestors - set(targets):
        for child in list(el):
            if child.tag in _DRAWN_TAGS and child not in ancestors and child not in targets:
                el.remove(child)
    return root


def _parent(root: ET.Element, el: ET.Element) -> ET.Element:
    """The element holding ``el``, which must lie below ``root``."""
    return next(p for p in root.iter() if el in list(p))


def _clip_rows(root: ET.Element, name: str, y0: float, y1: float) -> None:
    """Clip the group ``name`` to the band y0 <= y < y1 (its parent's user units; the template's have no transform)."""
    el = _by_id(root, name)
    if el is None:
        return
    parent = _parent(root, el)
    clip = ET.SubElement(root, "clipPath", id=f"facemoji-rows-{y0:g}")
    ET.SubElement(clip, "rect", x="-1000", y=f"{y0:g}", width="3000", height=f"{y1 - y0:g}")
    wrapper = ET.Element("g", {"clip-path": f"url(#facemoji-rows-{y0:g})"})
    parent.insert(list(parent).index(el), wrapper)
    parent.remove(el)
    wrapper.append(el)


def _prefixed(root: ET.Element, prefix: str) -> str:
    """The root's children as SVG markup, every id and reference prefixed so several copies share one document."""
    root = copy.deepcopy(root)
    href = f"{{{_XLINK_NS}}}href"
    for el in root.iter():
        if "id" in el.attrib:
            el.set("id", prefix + el.get("id", ""))
        for key, value in el.attrib.items():
            if "url(#" in value:
                el.set(key, value.replace("url(#", f"url(#{prefix}"))
            elif key in (href, "href") and value.startswith("#"):
                el.set(key, "#" + prefix + value[1:])
    return "".join(ET.tostring(child, encoding="unicode") for child in root)


def _rasterise(root: ET.Element) -> np.ndarray:
    """The SVG as a read-only RGBA array whose transparent edge pixels carry their neighbours' colour.

    The bled colour lets a layer be rotated with plain bilinear interpolation without a dark fringe.
    """
    rgba = np.array(rasterise(ET.tostring(root, encoding="unicode"), int(root.get("width", "0"))))
    alpha = rgba[..., 3].astype(np.float32) / 255
    weight = cv2.blur(alpha, (5, 5))
    bled = cv2.blur(rgba[..., :3] * alpha[..., None], (5, 5)) / np.maximum(weight, 1e-6)[..., None]
    edge = (rgba[..., 3] == 0) & (weight > 0)
    rgba[edge, :3] = np.clip(bled[edge], 0, 255).round().astype(np.uint8)
    rgba.flags.writeable = False
    return rgba


@dataclass(frozen=True)
class AvatarArt:
    """An avatar cut into the layers of a live frame, bottom to top, and the colours of its face parts.

    ``body`` (background, shoulders, lower neck) and ``clothes`` stay still; ``head`` (skin and
    facial hair; the face parts are drawn on it), ``top`` (hair or hat) and ``glasses`` (any
    accessory) turn with the roll, and the glasses also slide with the eyes as the head turns.
    """

    body: np.ndarray
    head: np.ndarray
    clothes: np.ndarray
    top: np.ndarray
    glasses: np.ndarray  # the accessory: it follows the eyes as the head turns
    palette: Palette
    svg_open: str  # the <svg ...> start tag
    svg_layers: tuple[str, ...]  # each layer's markup, for vector frames
    origin: tuple[float, float]  # top-left of the square frame, in the avatar's user units
    side: float  # the frame's width in user units

    @classmethod
    def from_svg(cls, svg: str, size: int, flush: str | None) -> AvatarArt:
        """Cut a python_avatars SVG; ``flush`` is mixed into the skin (an angry red, a queasy green).

        Raises ``AvatarSvgError`` when the SVG does not parse or lacks the template's groups.
        """
        ET.register_namespace("", _SVG_NS)
        ET.register_namespace("xlink", _XLINK_NS)
        try:
            root = ET.fromstring(svg)
        except ET.ParseError as e:
            raise AvatarSvgError(f"the avatar SVG does not parse: {e}") from e
        missing = [n for n in ("Body", "Clothing", "Face", "Top") if _by_id(root, n) is None]
        if missing:
            raise AvatarSvgError(f"the avatar SVG has no {', '.join(missing)} group; expected python_avatars' template")
        for part in _FACE_PARTS:
            _empty(root, part)
        skin_el, hair_el = _by_id(root, "Skin-Color"), _by_id(root, "Hair-Color")
        skin = skin_el.get("fill") if skin_el is not None and skin_el.get("fill") else "#EDB98A"
        if flush and skin_el is not None:
            skin_el.set("fill", _mix(skin, flush, 0.3))
        ink = _mix(skin, "#000000", 0.75)
        hair = hair_el.get("fill") if hair_el is not None else None
        palette = Palette(ink=ink, brow=_mix(hair, "#000000", 0.35) if hair else ink,
                          mouth=_mix(skin, "#3A0A0A", 0.85), blush=_mix(skin, "#FF4F5E", 0.35),
                          nose=_mix(skin, "#000000", 0.22))
        vx, vy, vw, vh = (float(v) for v in root.get("viewBox", "0 0 264 280").replace(",", " ").split())
        side = max(vw, vh)
        origin = (vx - (side - vw) / 2, vy - (side - vh) / 2)
        root.set("viewBox", f"{origin[0]:g} {origin[1]:g} {side:g} {side:g}")
        root.set("width", str(size))
        root.set("height", str(size))

        body = copy.deepcopy(root)
        for name in ("Clothing", "Face", "Top"):
            _empty(body, name)
        shadow = _by_id(body, "Neck-Shadow")  # drawn once, by the turning head, or it shows twice at the seam
        if shadow is not None:
            _parent(body, shadow).remove(shadow)
        _clip_rows(body, "Body", _NECK_CUT - _NECK_OVERLAP, 1e4)
        head = _keep_only(root, "Body", "Facial-Hair")  # the mouth is drawn over the beard, through its gap
        _clip_rows(head, "Body", -1e4, _NECK_CUT)
        top = _keep_only(root, "Top")
        _empty(top, "Facial-Hair")
        _empty(top, "Accessory")
        layers = (body, head, _keep_only(root, "Clothing"), top, _keep_only(root, "Accessory"))
        start = ET.tostring(ET.Element(root.tag, root.attrib), encoding="unicode")
        return cls(*(_rasterise(layer) for layer in layers), palette, start.removesuffix(" />") + ">",
                   tuple(_prefixed(layer, f"l{i}-") for i, layer in enumerate(layers)), origin, side)
