"""A vector face that moves with the person, frame by frame.

The classified emotion picks the overall expression (face colour, eye style, tears, the mouth's
resting shape); the Face Landmarker's blendshapes and head pose add the motion on top: the jaw
opens the mouth, smile and frown bend its corners, each eye blinks on its own, the brows rise and
knit, and the head's roll tilts the face while yaw and pitch slide the features across it.

Left and right: MediaPipe's ``...Left`` blendshapes are the subject's left. The face is drawn as
the camera sees the subject (not mirrored), so the subject's left eye is on the image's right and
the drawing lines up with the frame it came from; a selfie view that mirrors the camera frame
before detection gets a mirrored face for free. Pose follows :class:`facemoji.results.Pose`:
positive roll tilts the face clockwise in the image, positive yaw turns it towards the image's
right and positive pitch tips it up.

The parts are vector shapes (:mod:`facemoji.render.faceparts`), rasterised with OpenCV's
anti-aliased polygon fill (:meth:`LiveFace.render`, a few ms per frame) or written as SVG
(:meth:`LiveFace.svg`); the still parts (the emoji disk, the avatar's body, head, hair and
clothes, see :mod:`facemoji.render.avatar_layers`) are rasterised once per emotion and cached.
"""

from __future__ import annotations

import math
import numbers

import cv2
import numpy as np
from PIL import Image

from facemoji.emotions import Emotion, to_emotion
from facemoji.render.avatar import render_avatar_svg
from facemoji.render.avatar_layers import AVATAR_FACE_CENTRE, AVATAR_LAYOUT, AVATAR_PIVOT, AVATAR_SCALE, AvatarArt
from facemoji.render.avatar_profile import AvatarProfile
from facemoji.render.faceparts import (
    BOX,
    CENTER,
    EMOJI_PALETTE,
    MAX_ROLL,
    RADIUS,
    STYLES,
    FaceState,
    HeadPose,
    Shape,
    Style,
    clip,
    clip01,
    draw,
    drive,
    emoji_disk_raster,
    emoji_disk_svg,
    features,
    place,
    svg_shapes,
)
from facemoji.render.smoothing import OneEuroOptions, OneEuroSmoother, SmoothingError
from facemoji.results import Face

__all__ = ["LOOKS", "FaceState", "LiveFace", "LiveFaceError"]

LOOKS: tuple[str, ...] = ("emoji", "avatar")
MIN_SIZE, MAX_SIZE = 16, 1024

# Smoothing of the drive signals: expression channels are 0..1, angles in degrees (so a smaller beta).
EXPRESSION_SMOOTHING = OneEuroOptions(min_cutoff=1.5, beta=3.0, d_cutoff=1.0)
POSE_SMOOTHING = OneEuroOptions(min_cutoff=1.0, beta=0.05, d_cutoff=1.0)


class LiveFaceError(ValueError):
    """A live face was asked for an unknown look, a bad size or something that is not an avatar profile."""


class LiveFace:
    """Draws a face that follows a person's expression and head pose.

    ``look`` is ``"emoji"`` (a round yellow face) or ``"avatar"`` (the personalised avatar of
    ``profile``, see :mod:`facemoji.render.avatar`). For a stream, call :meth:`update` with each
    frame's :class:`Face` and its time; it smooths the drive signals (a 1-euro filter per channel)
    and returns an RGBA image. :meth:`render` and :meth:`svg` draw one :class:`FaceState` as given.
    The avatar's still parts are rasterised once per emotion and cached in the object.
    """

    def __init__(self, look: str = "emoji", size: int = 256, smooth: bool = True, profile: AvatarProfile | None = None
                 ) -> None:
        """Raises ``LiveFaceError`` for an unknown ``look``, a ``size`` outside 16..1024 px or a ``profile``
        that is not an :class:`AvatarProfile` (``None`` means the default profile)."""
        if look not in LOOKS:
            raise LiveFaceError(f"unknown look {look!r}; expected one of {', '.join(LOOKS)}")
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
            raise LiveFaceError(f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} px, got {size!r}")
        if profile is not None and not isinstance(profile, AvatarProfile):
            raise LiveFaceError(f"profile must be an AvatarProfile (see facemoji.render.avatar), got {profile!r}")
        self.look = look
        self.size = int(size)
        self.profile = profile
        self._expression = OneEuroSmoother(EXPRESSION_SMOOTHING) if smooth else None
        self._pose = OneEuroSmoother(POSE_SMOOTHING) if smooth else None
        self._avatar: dict[str | None, AvatarArt] = {}  # by the emotion's flush, the only part of the art it changes

    def smooth(self, state: FaceState, t_seconds: float) -> FaceState:
        """The smoothed state after feeding ``state`` taken at ``t_seconds`` (unchanged if smoothing is off).

        Raises ``SmoothingError`` when ``t_seconds`` does not increase from call to call.
        """
        if self._expression is None or self._pose is None:
            return state
        # Checked for both smoothers before either takes the frame, so a refused frame leaves no trace.
        if bad := sorted(k for k, v in {**state.expression(), **state.angles()}.items() if not math.isfinite(v)):
            raise SmoothingError(f"non-finite value for {', '.join(bad)}")
        expression = self._expression.update(state.expression(), t_seconds)
        angles = self._pose.update(state.angles(), t_seconds)
        return FaceState(**{k: clip01(v) for k, v in expression.items()}, **angles)

    def update(self, face: Face, t_seconds: float) -> Image.Image:
        """Smooth this frame's blendshapes and pose, then draw them wearing the face's emotion (RGBA).

        Raises ``SmoothingError`` when ``t_seconds`` does not increase from call to call.
        """
        state = self.smooth(FaceState.from_face(face.blendshapes, face.pose), t_seconds)
        return self.render(state, face.emotion)

    def render(self, state: FaceState, emotion: Emotion | str) -> Image.Image:
        """Draw ``state`` wearing ``emotion`` (an Emotion, its name or a synonym) as a ``size`` x ``size``
        RGBA image with a transparent background."""
        emotion = _emotion(emotion)
        style = STYLES[emotion]
        if self.look == "emoji":
            img = emoji_disk_raster(style, self.size).copy()
            draw(img, self._emoji_shapes(state, style), self.size / BOX)
            return Image.fromarray(img, "RGBA")
        art = self._avatar_art(emotion)
        k = self.size / art.side
        pose = self._avatar_pose(state)
        head = art.head.copy()
        draw(head, self._avatar_shapes(state, style, art, pose), k, art.origin)
        eyes = self._eye_shift(pose) * k
        frame = Image.fromarray(art.body, "RGBA")
        for layer, roll, shift in ((head, state.roll, None), (art.clothes, 0.0, None), (art.top, state.roll, None),
                                   (art.glasses, state.roll, eyes)):
            frame.alpha_composite(Image.fromarray(self._move(layer, roll, shift, art), "RGBA"))
        return frame

    def _move(self, layer: np.ndarray, roll: float, shift: np.ndarray | None, art: AvatarArt) -> np.ndarray:
        """The layer slid by ``shift`` pixels, then turned clockwise by ``roll`` degrees about the neck."""
        roll = clip(roll, MAX_ROLL)
        if abs(roll) < 0.05 and (shift is None or np.abs(shift).max() < 0.05):
            return layer
        k = self.size / art.side
        pivot = ((AVATAR_PIVOT[0] - art.origin[0]) * k, (AVATAR_PIVOT[1] - art.origin[1]) * k)
        m = cv2.getRotationMatrix2D(pivot, -roll, 1.0)  # OpenCV turns counter-clockwise for positive angles
        if shift is not None:
            m[:, 2] += m[:, :2] @ shift
        return cv2.warpAffine(layer, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))

    def svg(self, state: FaceState, emotion: Emotion | str) -> str:
        """The same frame as :meth:`render`, as a standalone SVG document."""
        emotion = _emotion(emotion)
        style = STYLES[emotion]
        if self.look == "emoji":
            parts = emoji_disk_svg(style) + svg_shapes(self._emoji_shapes(state, style))
            return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.size}" height="{self.size}" '
                    f'viewBox="0 0 {BOX:g} {BOX:g}">{"".join(parts)}</svg>')
        art = self._avatar_art(emotion)
        pose = self._avatar_pose(state)
        tilt = f'<g transform="rotate({clip(state.roll, MAX_ROLL):.2f} {AVATAR_PIVOT[0]:g} {AVATAR_PIVOT[1]:g})">'
        dx, dy = self._eye_shift(pose)
        body, head, clothes, top, glasses = art.svg_layers
        parts = "".join(svg_shapes(self._avatar_shapes(state, style, art, pose)))
        return (f"{art.svg_open}{body}{tilt}{head}{parts}</g>{clothes}{tilt}{top}"
                f'<g transform="translate({dx:.2f} {dy:.2f})">{glasses}</g></g></svg>')

    def _emoji_shapes(self, state: FaceState, style: Style) -> list[Shape]:
        pose = HeadPose.of(state, (CENTER, CENTER), RADIUS, depth=0.7, roll=True)
        return place(features(drive(style, state), style, EMOJI_PALETTE), pose, 1.0)

    @staticmethod
    def _avatar_pose(state: FaceState) -> HeadPose:
        """Turn and nod on the avatar's face; the roll turns whole layers instead (see ``_move``)."""
        return HeadPose.of(state, AVATAR_FACE_CENTRE, RADIUS * AVATAR_SCALE, depth=0.4, roll=False)

    @staticmethod
    def _eye_shift(pose: HeadPose) -> np.ndarray:
        """How far (user units) the point between the eyes moves as the head turns and nods."""
        between = np.array([[0.0, AVATAR_LAYOUT.eye_y * AVATAR_SCALE]])
        return (pose(between) - between - np.array(AVATAR_FACE_CENTRE))[0]

    @staticmethod
    def _avatar_shapes(state: FaceState, style: Style, art: AvatarArt, pose: HeadPose) -> list[Shape]:
        return place(features(drive(style, state), style, art.palette, AVATAR_LAYOUT), pose, AVATAR_SCALE)

    def _avatar_art(self, emotion: Emotion) -> AvatarArt:
        # AvatarArt empties the eyes, brows, mouth and nose the emotion picks: emotions with the same flush share it.
        flush = STYLES[emotion].flush
        art = self._avatar.get(flush)
        if art is None:
            svg = render_avatar_svg(self.profile if self.profile is not None else AvatarProfile(), emotion)
            art = self._avatar[flush] = AvatarArt.from_svg(svg, self.size, flush)
        return art


def _emotion(emotion: Emotion | str) -> Emotion:
    try:
        return to_emotion(emotion)
    except ValueError as e:
        raise LiveFaceError(str(e)) from None
