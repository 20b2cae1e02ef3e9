"""The moving parts of a live face as vector shapes, and the two ways to draw them.

:class:`FaceState` holds one frame's drive signals. Each emotion has a :class:`Style` (its resting
expression and dress); :func:`features` turns a state and a style into eyes, brows, nose, mouth
and extras (tears, sweat, blush) on a frontal face, :class:`HeadPose` maps them onto the turned
and tilted head, and :func:`draw` (OpenCV, anti-aliased) or :func:`svg_shapes` renders them.
Shapes live in drawing units: a 256-unit box for the emoji, the avatar template's units for it.

The image's left eye, brow and mouth corner are the subject's right ones: the face is drawn as
the camera sees the person, not mirrored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import cv2
import numpy as np

from facemoji.emotions import Emotion
from facemoji.results import Pose

BOX = 256.0  # the emoji's drawing units: a BOX x BOX square, scaled to the output size
CENTER = BOX / 2
RADIUS = 118.0  # the emoji disk
MAX_ROLL = 60.0  # degrees; beyond it the tracker is unreliable anyway

# MediaPipe rarely reports the extremes of a coefficient: each is stretched from (rest, full) to 0..1.
_RANGES: dict[str, tuple[str, float, float]] = {
    "jaw_open": ("jawOpen", 0.02, 0.45),
    "smile_left": ("mouthSmileLeft", 0.10, 0.80),
    "smile_right": ("mouthSmileRight", 0.10, 0.80),
    "frown_left": ("mouthFrownLeft", 0.02, 0.35),
    "frown_right": ("mouthFrownRight", 0.02, 0.35),
    "blink_left": ("eyeBlinkLeft", 0.20, 0.60),
    "blink_right": ("eyeBlinkRight", 0.20, 0.60),
    "brow_inner_up": ("browInnerUp", 0.05, 0.50),
    "brow_outer_up_left": ("browOuterUpLeft", 0.10, 0.60),
    "brow_outer_up_right": ("browOuterUpRight", 0.10, 0.60),
    "brow_down_left": ("browDownLeft", 0.25, 0.70),
    "brow_down_right": ("browDownRight", 0.25, 0.70),
}
_ANGLES = ("yaw", "pitch", "roll")


@dataclass(frozen=True)
class FaceState:
    """The drive signals of one frame: expression channels 0..1, angles in degrees.

    ``_left`` / ``_right`` are the subject's sides, as in MediaPipe's blendshape names.
    """

    jaw_open: float = 0.0
    smile_left: float = 0.0
    smile_right: float = 0.0
    frown_left: float = 0.0
    frown_right: float = 0.0
    blink_left: float = 0.0
    blink_right: float = 0.0
    brow_inner_up: float = 0.0
    brow_outer_up_left: float = 0.0
    brow_outer_up_right: float = 0.0
    brow_down_left: float = 0.0
    brow_down_right: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    @classmethod
    def from_face(cls, blendshapes: Mapping[str, float], pose: Pose) -> FaceState:
        """Read the drive signals from MediaPipe's blendshapes (name -> 0..1) and a head pose.

        Missing, non-numeric or non-finite coefficients and angles count as 0; each coefficient is
        stretched from its usual range (MediaPipe seldom reports a full 1) to 0..1 and clipped.
        """
        values: dict[str, float] = {}
        for name, (key, rest, full) in _RANGES.items():
            raw = _number(blendshapes.get(key))
            values[name] = clip01((raw - rest) / (full - rest))
        return cls(**values, **{a: _number(getattr(pose, a)) for a in _ANGLES})

    def expression(self) -> dict[str, float]:
        """The 0..1 channels by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ANGLES}

    def angles(self) -> dict[str, float]:
        """``yaw``, ``pitch`` and ``roll`` in degrees."""
        return {a: getattr(self, a) for a in _ANGLES}


def _number(v: object) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def clip01(v: float) -> float:
    """``v`` limited to 0..1."""
    return min(1.0, max(0.0, v))


def clip(v: float, limit: float) -> float:
    """``v`` limited to -limit..limit."""
    return min(limit, max(-limit, v))


# --- how each emotion dresses the emoji face -------------------------------------------------


@dataclass(frozen=True)
class Style:
    """An emotion's resting expression (``floor``: the live signals add on top of it) and dress."""

    floor: FaceState = FaceState()
    squint: float = 0.0  # lower lids raised: smiling eyes
    lids: float = 0.0  # upper lids lowered: angry, sad, disgusted eyes
    wide_eyes: bool = False  # white eyes with small pupils
    mouth_width: float = 1.0
    teeth: float = 0.0  # height of the upper teeth, as a share of a wide-open mouth
    wave: float = 0.0  # wobble of the lips, in drawing units
    skin: tuple[str, str, str] = ("#FFE36E", "#FFCB3D", "#F2A72E")  # radial gradient: highlight, middle, rim
    tint: str | None = None  # a colour flooding down from the top of the emoji
    flush: str | None = None  # a colour mixed into the avatar's skin
    blush: bool = False
    tear: bool = False
    sweat: bool = False


STYLES: dict[Emotion, Style] = {
    Emotion.HAPPY: Style(FaceState(jaw_open=0.3, smile_left=0.75, smile_right=0.75), squint=0.45,
                         mouth_width=1.1, teeth=0.4, blush=True),
    Emotion.SAD: Style(FaceState(frown_left=0.7, frown_right=0.7, brow_inner_up=0.75), lids=0.3,
                       mouth_width=0.8, tear=True),
    Emotion.ANGRY: Style(FaceState(frown_left=0.45, frown_right=0.45, brow_down_left=0.9, brow_down_right=0.9),
                         lids=0.25, mouth_width=0.85, skin=("#FF9466", "#F0603E", "#CC3326"), flush="#E8402C"),
    Emotion.SURPRISE: Style(FaceState(jaw_open=0.55, brow_inner_up=0.7, brow_outer_up_left=0.8,
                                      brow_outer_up_right=0.8), wide_eyes=True, mouth_width=0.45),
    Emotion.FEAR: Style(FaceState(jaw_open=0.35, frown_left=0.8, frown_right=0.8, brow_inner_up=0.9),
                        wide_eyes=True, mouth_width=0.8, teeth=0.35, tint="#7FA8EE", flush="#8FB0EE", sweat=True),
    Emotion.DISGUST: Style(FaceState(frown_left=0.55, frown_right=0.25, brow_down_left=0.45, brow_down_right=0.6),
                           squint=0.3, lids=0.2, mouth_width=0.9, wave=4.0, skin=("#E0E882", "#C4D45A", "#8EAD3A"),
                           flush="#8DBA3C"),
    Emotion.NEUTRAL: Style(mouth_width=0.85),
}
"""Each emotion's look. Happy: open grin with teeth, smiling eyes, blush. Sad: frown, worried brows,
drooping lids, a tear. Angry: red face, knitted V brows, narrowed eyes, frown. Surprise: wide white
eyes, high brows, round open mouth. Fear: wide eyes, worried brows, open grimace, blue forehead,
a sweat drop. Disgust: green face, lowered brows, squint, wavy lips. Neutral: level mouth."""

TONGUE = "#E8566C"
WHITE = "#FFFFFF"
WATER = "#5DADEC"


@dataclass(frozen=True)
class Palette:
    """Colours of the moving parts: the emoji's browns, or ones taken from the avatar's skin and hair."""

    ink: str = "#5A3A0A"  # eyes, mouth line
    brow: str = "#5A3A0A"
    mouth: str = "#6B2A14"  # inside of the open mouth
    blush: str = "#FF9C7A"
    nose: str | None = None


EMOJI_PALETTE = Palette()


def drive(style: Style, state: FaceState) -> FaceState:
    """The emotion's floor with the live signals on top: ``floor + (1 - floor) * live`` per channel."""
    floor = style.floor.expression()
    live = state.expression()
    return replace(state, **{k: floor[k] + (1.0 - floor[k]) * clip01(live[k]) for k in floor})


# --- vector shapes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """A filled polygon."""

    points: np.ndarray  # (n, 2) drawing units
    color: str


@dataclass(frozen=True)
class Stroke:
    """A polyline drawn with round caps and joins."""

    points: np.ndarray  # (n, 2) drawing units
    color: str
    width: float
    closed: bool = False


Shape = Fill | Stroke


@dataclass(frozen=True)
class HeadPose:
    """Maps points drawn on a frontal face (relative to ``centre``) onto the turned, tilted head."""

    centre: tuple[float, float]
    radius: float  # of the sphere the features lie on
    depth: float  # < 1 flattens the sphere: features slide less as the head turns
    yaw: float
    pitch: float
    roll: float

    @classmethod
    def of(cls, state: FaceState, centre: tuple[float, float], radius: float, depth: float, roll: bool) -> HeadPose:
        """The state's pose, angles limited to what the tracker reports well; ``roll=False`` leaves roll out."""
        return cls(centre, radius, depth, math.radians(clip(state.yaw, 50)), math.radians(clip(state.pitch, 40)),
                   math.radians(clip(state.roll, MAX_ROLL)) if roll else 0.0)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        """(n, 2) points relative to the centre -> (n, 2) points on the canvas."""
        x, y = pts[:, 0], pts[:, 1]
        z = self.depth * np.sqrt(np.maximum(self.radius**2 - x * x - y * y, 0.0))  # the features sit on a sphere
        x1 = x * math.cos(self.yaw) + z * math.sin(self.yaw)
        z1 = z * math.cos(self.yaw) - x * math.sin(self.yaw)
        y1 = y * math.cos(self.pitch) - z1 * math.sin(self.pitch)  # looking up lifts the features
        c, s = math.cos(self.roll), math.sin(self.roll)  # clockwise on screen, y pointing down
        return np.stack([self.centre[0] + x1 * c - y1 * s, self.centre[1] + x1 * s + y1 * c], axis=1)


_U = np.linspace(-1.0, 1.0, 33)
_ANGLE = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return np.stack([cx + rx * np.cos(_ANGLE), cy + ry * np.sin(_ANGLE)], axis=1)


def _smoothstep(lo: float, hi: float, v: float) -> float:
    t = clip01((v - lo) / (hi - lo))
    return t * t * (3 - 2 * t)


def _eye(cx: float, cy: float, closure: float, squint: float, wide: bool, ink: str) -> list[Shape]:
    """One eye at (cx, cy): the upper lid comes down with ``closure``, the lower lid rises with ``squint``.

    The lids meet on a line that is a gentle smile when relaxed and an arch (^) when squinting,
    so a happy closed eye reads as ``^`` and a blink as a soft ``u``.
    """
    rx, ry = (17.0, 21.0) if wide else (12.0, 18.0)

    def meet(x: np.ndarray) -> np.ndarray:
        u2 = np.clip((x - cx) / rx, -1, 1) ** 2
        return cy + ry * (0.3 + 0.25 * u2) - squint * ry * 1.1 * (1 - u2)

    top, bottom = cy - ry - 1, cy + ry + 1
    lower_rise = 1 - (1 - closure) * (1 - 0.75 * squint)

    def clamp(pts: np.ndarray) -> np.ndarray:
        m = meet(pts[:, 0])
        return np.stack([pts[:, 0], np.clip(pts[:, 1], top + closure * (m - top), bottom + lower_rise * (m - bottom))],
                        axis=1)

    m0 = float(meet(np.array([cx]))[0])
    opening = ((bottom + lower_rise * (m0 - bottom)) - (top + closure * (m0 - top))) / (2 * ry)
    shut = 1 - _smoothstep(0.03, 0.25, opening)
    shapes: list[Shape] = []
    if shut < 1.0:
        if wide:
            white = clamp(_ellipse(cx, cy, rx, ry))
            shapes += [Fill(white, WHITE), Fill(clamp(_ellipse(cx, cy + 2, 7.5, 8.5)), ink),
                       Stroke(white, ink, 3.5, closed=True)]
        else:
            shapes += [Fill(clamp(_ellipse(cx, cy, rx, ry)), ink),
                       Fill(clamp(_ellipse(cx - rx * 0.3, cy - ry * 0.4, 3.6, 4.4)), WHITE)]
    if shut > 0.0:
        xs = cx + _U[4:-4] * rx * 1.05
        shapes.append(Stroke(np.stack([xs, meet(xs)], axis=1), ink, 1.0 + 5.0 * shut))
    return shapes


def _brow(inner_x: float, outer_x: float, base_y: float, inner_up: float, outer_up: float, down: float,
          color: str) -> Stroke:
    """A brow from its inner end (near the nose) to its outer end, raised and knitted by the drives."""
    inner_y = base_y - 15.0 * inner_up + 11.0 * down
    outer_y = base_y - 13.0 * outer_up - 5.0 * inner_up * (1 - outer_up) + 3.0 * down
    t = (_U[::2] + 1) / 2
    xs = inner_x + (outer_x - inner_x) * t
    arch = 5.0 * (1 - down) * 4 * t * (1 - t)
    return Stroke(np.stack([xs, inner_y + (outer_y - inner_y) * t - arch], axis=1), color, 6.5)


def _mouth(cx: float, cy: float, s: FaceState, style: Style, palette: Palette) -> list[Shape]:
    """The mouth: corners bent by smile/frown, opened by the jaw into a dark lens with teeth and tongue.

    Image-left is the subject's right (the face is not mirrored).
    """
    smile = (s.smile_left + s.smile_right) / 2
    frown = (s.frown_left + s.frown_right) / 2
    half = 34.0 * style.mouth_width * (1 + 0.2 * smile - 0.15 * s.jaw_open)
    y_img_left = cy - 15.0 * s.smile_right + 15.0 * s.frown_right
    y_img_right = cy - 15.0 * s.smile_left + 15.0 * s.frown_left
    sag = 12.0 * smile - 10.0 * frown  # > 0: the middle hangs below the corners (a smile)
    gap = 46.0 * s.jaw_open * (1.15 - 0.3 * style.mouth_width)
    u = _U
    bulge = np.sqrt(1 - u * u)
    line = y_img_left + (y_img_right - y_img_left) * (u + 1) / 2 + sag * (1 - u * u)
    line = line + style.wave * max(0.0, 1 - 2 * s.jaw_open) * np.sin(3 * math.pi * u) * bulge
    xs = cx + u * half
    if gap < 1.0:
        return [Stroke(np.stack([xs, line], axis=1), palette.ink, 6.5)]
    upper = line - 0.3 * gap * bulge
    lower = line + 0.7 * gap * bulge
    outline = np.concatenate([np.stack([xs, upper], axis=1), np.stack([xs, lower], axis=1)[::-1]])
    shapes: list[Shape] = [Fill(outline, palette.mouth)]
    if style.teeth > 0.0:
        teeth_low = np.minimum(upper + style.teeth * 34.0 * bulge, lower)
        shapes.append(Fill(np.concatenate([np.stack([xs, upper], axis=1),
                                           np.stack([xs, teeth_low], axis=1)[::-1]]), WHITE))
    if gap > 8.0:
        inner = np.clip(u / 0.65, -1, 1)
        top = np.maximum(lower - 0.45 * gap * np.sqrt(1 - inner * inner), upper + 0.55 * gap * bulge)
        shapes.append(Fill(np.concatenate([np.stack([xs, top], axis=1),
                                           np.stack([xs, lower], axis=1)[::-1]]), TONGUE))
    shapes.append(Stroke(outline, palette.ink, 5.0, closed=True))
    return shapes


def _drop(cx: float, cy: float, r: float) -> list[Shape]:
    """A water drop whose round bottom is centred at (cx, cy), pointing up."""
    tip = 2.3 * r
    a = math.acos(r / tip)
    arc = np.linspace(-math.pi / 2 + a, 3 * math.pi / 2 - a, 28)
    pts = np.concatenate([[[cx, cy - tip]], np.stack([cx + r * np.cos(arc), cy + r * np.sin(arc)], axis=1)])
    return [Fill(pts, WATER), Fill(_ellipse(cx - 0.35 * r, cy + 0.1 * r, 0.22 * r, 0.35 * r), WHITE)]


@dataclass(frozen=True)
class Layout:
    """Where the moving parts sit on a frontal face, in drawing units relative to the head's centre."""

    eye_dx: float = 38.0
    eye_y: float = -14.0
    brow_y: float = -46.0
    brow_inner: float = 20.0
    brow_outer: float = 58.0
    nose_y: float = 18.0
    mouth_y: float = 46.0


def features(s: FaceState, style: Style, palette: Palette, layout: Layout = Layout()) -> list[Shape]:
    """Eyes, brows, nose, mouth and the emotion's extras on a frontal face centred at (0, 0).

    The image's left eye and brow are the subject's right ones (the face is not mirrored).
    """
    shapes: list[Shape] = []
    if style.blush:
        for side in (-1, 1):
            shapes.append(Fill(_ellipse(side * 60.0, 24.0, 17.0, 10.0), palette.blush))
    squint = clip01(style.squint + 0.25 * (s.smile_left + s.smile_right) / 2)
    for side, blink, outer_up, down in ((-1, s.blink_right, s.brow_outer_up_right, s.brow_down_right),
                                        (1, s.blink_left, s.brow_outer_up_left, s.brow_down_left)):
        closure = style.lids + (1 - style.lids) * blink
        shapes += _eye(side * layout.eye_dx, layout.eye_y, closure, squint, style.wide_eyes, palette.ink)
        shapes.append(_brow(side * layout.brow_inner, side * layout.brow_outer, layout.brow_y,
                            s.brow_inner_up, outer_up, down, palette.brow))
    if palette.nose:
        xs = _U[6:-6] * 15.0
        shapes.append(Stroke(np.stack([xs, layout.nose_y + 6.0 * (1 - (xs / 15.0) ** 2)], axis=1), palette.nose, 5.0))
    shapes += _mouth(0.0, layout.mouth_y, s, style, palette)
    if style.tear:
        shapes += _drop(-layout.eye_dx - 6.0, layout.eye_y + 34.0, 8.0)
    if style.sweat:
        shapes += _drop(62.0, -58.0, 9.0)
    return shapes


def place(shapes: list[Shape], pose: HeadPose, scale: float) -> list[Shape]:
    """Scale shapes drawn on a frontal face and map them onto the posed head (one batched transform)."""
    placed = np.split(pose(np.concatenate([sh.points for sh in shapes]) * scale),
                      np.cumsum([len(sh.points) for sh in shapes])[:-1])
    return [Fill(pts, sh.color) if isinstance(sh, Fill) else Stroke(pts, sh.color, sh.width * scale, sh.closed)
            for sh, pts in zip(shapes, placed, strict=True)]


# --- raster and SVG back ends --------------------------------------------------------------------


@lru_cache(maxsize=64)
def _rgba(color: str) -> tuple[int, int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), 255


_SHIFT = 4  # OpenCV sub-pixel bits


def draw(img: np.ndarray, shapes: list[Shape], scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> None:
    """Anti-aliased OpenCV drawing of shapes onto an RGBA array; pixel = (point - origin) * scale."""
    k = scale * (1 << _SHIFT)
    o = np.array(origin)
    for sh in shapes:
        pts = np.round((sh.points - o) * k).astype(np.int32)
        if isinstance(sh, Fill):
            cv2.fillPoly(img, [pts], _rgba(sh.color), cv2.LINE_AA, _SHIFT)
        else:
            # OpenCV's anti-aliased lines come out about 1.4 px wider than asked: ask for 1 px less.
            width = max(1, round(sh.width * scale - 1))
            cv2.polylines(img, [pts], sh.closed, _rgba(sh.color), width, cv2.LINE_AA, _SHIFT)


def _svg_path(pts: np.ndarray, closed: bool) -> str:
    body = " L".join(f"{x:.1f} {y:.1f}" for x, y in pts)
    return f"M{body}{' Z' if closed else ''}"


def svg_shapes(shapes: list[Shape]) -> list[str]:
    """Each shape as an SVG ``<path>`` element, coordinates in drawing units."""
    out = []
    for sh in shapes:
        if isinstance(sh, Fill):
            out.append(f'<path d="{_svg_path(sh.points, True)}" fill="{sh.color}"/>')
        else:
            out.append(f'<path d="{_svg_path(sh.points, sh.closed)}" fill="none" stroke="{sh.color}" '
                       f'stroke-width="{sh.width:.1f}" stroke-linecap="round" stroke-linejoin="round"/>')
    return out


# The emoji disk's gradient, shared by the SVG and the cached raster.
_GRADIENT_CENTRE = (CENTER - 0.2 * RADIUS, CENTER - 0.35 * RADIUS)
_GRADIENT_RADIUS = 1.45 * RADIUS
_GRADIENT_STOPS = (0.0, 0.55, 1.0)
_TINT_DEPTH = 0.6  # share of the disk's height the tint reaches


def emoji_disk_svg(style: Style) -> list[str]:
    """The emoji disk (gradient and tint) as SVG elements, in the 256-unit box."""
    gx, gy = _GRADIENT_CENTRE
    stops = "".join(f'<stop offset="{o}" stop-color="{c}"/>' for o, c in zip(_GRADIENT_STOPS, style.skin, strict=True))
    out = [f'<defs><radialGradient id="skin" gradientUnits="userSpaceOnUse" cx="{gx:.1f}" cy="{gy:.1f}" '
           f'r="{_GRADIENT_RADIUS:.1f}">{stops}</radialGradient>']
    if style.tint:
        top, bottom = CENTER - RADIUS, CENTER - RADIUS + 2 * RADIUS * _TINT_DEPTH
        out.append(f'<linearGradient id="tint" gradientUnits="userSpaceOnUse" x1="0" y1="{top:.1f}" x2="0" '
                   f'y2="{bottom:.1f}"><stop offset="0" stop-color="{style.tint}"/>'
                   f'<stop offset="1" stop-color="{style.tint}" stop-opacity="0"/></linearGradient>')
    out.append("</defs>")
    out.append(f'<circle cx="{CENTER}" cy="{CENTER}" r="{RADIUS}" fill="url(#skin)"/>')
    if style.tint:
        out.append(f'<circle cx="{CENTER}" cy="{CENTER}" r="{RADIUS}" fill="url(#tint)"/>')
    return out


def hex_rgb(color: str) -> np.ndarray:
    """``#RRGGBB`` as a float32 array of 0..255 values."""
    return np.array(_rgba(color)[:3], dtype=np.float32)


@lru_cache(maxsize=32)
def emoji_disk_raster(style: Style, size: int) -> np.ndarray:
    """The emoji disk (gradient, tint, anti-aliased edge) as a read-only RGBA array; cached."""
    k = size / BOX
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    xx, yy = (xx + 0.5) / k, (yy + 0.5) / k  # pixel centres in drawing units
    t = np.clip(np.hypot(xx - _GRADIENT_CENTRE[0], yy - _GRADIENT_CENTRE[1]) / _GRADIENT_RADIUS, 0, 1)
    rgb = np.empty((size, size, 3), np.float32)
    for ch in range(3):
        rgb[..., ch] = np.interp(t, _GRADIENT_STOPS, [hex_rgb(c)[ch] for c in style.skin])
    if style.tint:
        a = np.clip(1 - (yy - (CENTER - RADIUS)) / (2 * RADIUS * _TINT_DEPTH), 0, 1)[..., None]
        rgb = rgb * (1 - a) + hex_rgb(style.tint) * a
    coverage = np.clip((RADIUS - np.hypot(xx - CENTER, yy - CENTER)) * k + 0.5, 0, 1)
    out = np.dstack([rgb, coverage * 255]).round().astype(np.uint8)
    out.flags.writeable = False
    return out
