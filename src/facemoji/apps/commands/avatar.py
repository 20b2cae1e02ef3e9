"""``facemoji avatar PHOTO [--profile P] -o OUT [--size N] [--cutout [--emoji]]``: avatars or emoji for the faces.

Without ``--cutout`` OUT holds one avatar per face, side by side in the photo's left-to-right
order, on a transparent background. With ``--cutout`` OUT is a photo sticker: the people cut out
of the photo (background transparent), each face covered by the avatar's head wearing its
expression (the person's own body stays), or with ``--emoji`` by its emoji, sized and turned as
in ``facemoji image``'s overlay mode.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

from facemoji.apps.arguments import add_max_pixels, allow_pixels, nonempty_path, positive, whole
from facemoji.apps.commands.image import max_faces_note
from facemoji.apps.commands.stickers import PROFILE_HELP
from facemoji.classifier import ModelError
from facemoji.engine import Emojifier, EmojifierOptions
from facemoji.faces import MAX_FACES
from facemoji.files import make_folder, same_file
from facemoji.imageio import ImageError, load_image, save_image
from facemoji.landmarker_model import LandmarkerModelError
from facemoji.render.avatar import (
    MAX_SIZE,
    AvatarRenderError,
    avatar_head_box,
    render_avatar_head_png,
    render_avatar_png,
)
from facemoji.render.avatar_profile import AvatarProfile, AvatarProfileError, resolve_profile
from facemoji.render.cutout import PersonSegmenter, SegmenterError, cover_face
from facemoji.render.headframe import head_frame
from facemoji.render.overlay import draw_emoji_over_face
from facemoji.results import Face

_SUFFIXES = (".png", ".webp")
ROW_SIZE = 512  # default side of each avatar in the row
_HEAD_SCALE = 1.15  # the avatar's head is drawn a little larger than the face, so the face is hidden


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("photo", type=nonempty_path, metavar="PHOTO", help="a photo with one or more faces")
    p.add_argument("--profile", metavar="P", help=PROFILE_HELP)
    p.add_argument("-o", "--out", type=nonempty_path, required=True, metavar="OUT", help="output image (.png or .webp)")
    p.add_argument(
        "--size", type=whole(1, MAX_SIZE),
        help=f"side of each avatar in the row, 1..{MAX_SIZE} (default {ROW_SIZE}; not --cutout)",
    )
    p.add_argument("--max-faces", type=positive(int, MAX_FACES), default=10, help="most faces to find (default 10)")
    p.add_argument(
        "--model", type=nonempty_path, metavar="X.onnx",
        help="emotion model made by facemoji export (default: the one shipped with facemoji)",
    )  # fmt: skip
    p.add_argument(
        "--cutout", action="store_true", help="cut the people out of the photo and put the avatars' heads on them"
    )
    p.add_argument("--emoji", action="store_true", help="with --cutout: cover each face with its emoji, not the avatar")
    add_max_pixels(p)


def run(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() not in _SUFFIXES:
        print(f"facemoji avatar: {args.out} must end in .png or .webp (the output is transparent)", file=sys.stderr)
        return 2
    if same_file(args.out, args.photo):
        print(f"facemoji avatar: {args.out} would overwrite the photo; choose another -o", file=sys.stderr)
        return 2
    if args.size is not None and args.cutout:
        print("facemoji avatar: --size sets the avatar row; --cutout keeps the photo's size", file=sys.stderr)
        return 2
    if args.emoji and not args.cutout:
        print("facemoji avatar: --emoji goes with --cutout (it puts the emoji on the cut-out people)", file=sys.stderr)
        return 2
    if args.emoji and args.profile:
        print("facemoji avatar: --profile does not apply to --emoji (the emoji replace the avatar)", file=sys.stderr)
        return 2
    try:
        profile = resolve_profile(args.profile)
        allow_pixels(args.max_pixels)
        rgb = load_image(args.photo, args.max_pixels)
        options = EmojifierOptions(max_faces=args.max_faces, max_pixels=args.max_pixels, emotion_model_path=args.model)
        with Emojifier(options) as engine:
            faces = engine.analyze(rgb)
        if not faces:
            print(f"facemoji avatar: no face found in {args.photo}", file=sys.stderr)
            return 1
        if len(faces) == args.max_faces:
            print(f"facemoji avatar: {max_faces_note(len(faces))}", file=sys.stderr)
        if args.emoji:
            image = emoji_sticker(rgb, faces)
        elif args.cutout:
            image = avatar_sticker(rgb, faces, profile)
        else:
            image = avatar_row(faces, profile, args.size or ROW_SIZE)
        make_folder(args.out.parent)
        save_image(image, args.out)
    except OSError as e:
        print(f"facemoji avatar: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    except MemoryError:
        print("facemoji avatar: not enough memory for this photo; try a smaller one", file=sys.stderr)
        return 1
    except (AvatarProfileError, AvatarRenderError, ImageError, SegmenterError, ModelError, LandmarkerModelError) as e:
        print(f"facemoji avatar: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {', '.join(f.emotion.value for f in faces)}")
    return 0


def avatar_row(faces: list[Face], profile: AvatarProfile, size: int) -> Image.Image:
    """One ``size`` px avatar per face, side by side in the order given, on a transparent background."""
    row = Image.new("RGBA", (size * len(faces), size), (0, 0, 0, 0))
    for i, face in enumerate(faces):
        row.paste(render_avatar_png(profile, face.emotion, size), (i * size, 0))
    return row


def avatar_sticker(rgb: np.ndarray, faces: list[Face], profile: AvatarProfile) -> Image.Image:
    """The people cut out of ``rgb``, each face covered by the avatar's head wearing its expression.

    Each head is sized to the face and turned with the head's roll; the person's body stays.

    Raises:
        SegmenterError: the selfie segmentation model is missing or fails.
    """
    sticker = _cut_out(rgb, faces)
    for face in faces:
        side = min(MAX_SIZE, max(64, round(max(face.box.w, face.box.h) * 2.5)))  # enough pixels for the whole avatar
        avatar = render_avatar_head_png(profile, face.emotion, side)
        sticker = cover_face(sticker, avatar, head_frame(face), avatar_head_box(profile, side), _HEAD_SCALE)
    return sticker


def emoji_sticker(rgb: np.ndarray, faces: list[Face]) -> Image.Image:
    """The people cut out of ``rgb``, each face covered by its emoji, turned with the head's roll.

    Raises:
        SegmenterError: the selfie segmentation model is missing or fails.
    """
    sticker = _cut_out(rgb, faces)
    for face in faces:
        draw_emoji_over_face(sticker, face)
    return sticker


def _cut_out(rgb: np.ndarray, faces: list[Face]) -> Image.Image:
    with PersonSegmenter() as segmenter:
        return segmenter.cut_out(rgb, [face.box for face in faces])
