"""Sticker packs: an avatar's 7 expressions as messaging-app stickers (512 px, transparent, < 100 KB).

For each emotion the pack holds ``<emotion>.png``, ``<emotion>.webp`` and ``<emotion>.svg``, plus
``stickers.zip`` with all of them and ``profile.json`` (the profile, so a random avatar can be made again).
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from pathlib import Path

from PIL import Image

from facemoji.emotions import EMOTIONS
from facemoji.files import make_folder, write_all_atomic
from facemoji.render.avatar import render_avatar_png, render_avatar_svg
from facemoji.render.avatar_profile import AvatarProfile, profile_json

STICKER_SIZE = 512
MAX_STICKER_BYTES = 100_000  # WhatsApp's and Telegram's limit for a static sticker
ZIP_NAME = "stickers.zip"
PROFILE_NAME = "profile.json"
PACK_FILES = (*(f"{e.value}.{ext}" for e in EMOTIONS for ext in ("png", "webp", "svg")), PROFILE_NAME, ZIP_NAME)
"""Every file of a pack, in write order (the zip last)."""


class StickerError(RuntimeError):
    """A sticker could not be made small enough, or the pack could not be written."""


def sticker_png(image: Image.Image) -> bytes:
    """PNG bytes of an RGBA sticker, palette-quantised (with alpha) if the full-colour file is too big.

    Raises:
        StickerError: still over MAX_STICKER_BYTES after quantising.
    """
    data = _encode(image, "PNG")
    if len(data) > MAX_STICKER_BYTES:
        data = _encode(image.quantize(256, method=Image.Quantize.FASTOCTREE), "PNG")
    return _checked(data, "PNG")


def sticker_webp(image: Image.Image) -> bytes:
    """WebP bytes of an RGBA sticker: lossless, or lossy at falling quality if lossless is too big.

    Raises:
        StickerError: still over MAX_STICKER_BYTES at quality 50.
    """
    data = _encode(image, "WEBP", lossless=True, method=1)  # method 1: as small as 4 here, 4x faster
    for quality in (90, 75, 50):
        if len(data) <= MAX_STICKER_BYTES:
            break
        data = _encode(image, "WEBP", quality=quality, method=4)
    return _checked(data, "WebP")


def sticker_files(profile: AvatarProfile) -> dict[str, bytes]:
    """Every file of the pack by name, in write order (the zip last).

    Raises:
        StickerError: a sticker over the size limit.
    """
    files: dict[str, bytes] = {}
    for emotion in EMOTIONS:
        image = render_avatar_png(profile, emotion, STICKER_SIZE)
        files[f"{emotion.value}.png"] = sticker_png(image)
        files[f"{emotion.value}.webp"] = sticker_webp(image)
        files[f"{emotion.value}.svg"] = render_avatar_svg(profile, emotion).encode("utf-8")
    files[PROFILE_NAME] = profile_json(profile).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    files[ZIP_NAME] = buffer.getvalue()
    return files


def write_sticker_pack(profile: AvatarProfile, out_dir: str | os.PathLike) -> list[Path]:
    """Write the pack into ``out_dir`` (created if needed).

    All the files are written before any replaces an older pack's, so a full disk, or a folder
    or device where a file should go, leaves the old pack whole rather than half old, half new.

    Returns:
        The written paths.

    Raises:
        StickerError: a sticker over the size limit, or a file or folder that cannot be written.
    """
    out = Path(out_dir)
    files = sticker_files(profile)  # before the folder is made: a failure here leaves nothing behind
    new_folder = not out.exists()
    try:
        make_folder(out)
    except OSError as e:
        raise StickerError(f"cannot create the folder {out}: {e.strerror or e}") from e
    try:
        return write_all_atomic({out / name: data for name, data in files.items()})
    except OSError as e:
        if new_folder:
            with contextlib.suppress(OSError):  # only an empty folder goes; one the user filled meanwhile stays
                out.rmdir()
        raise StickerError(f"cannot write the pack: {e.filename or out}: {e.strerror or e}") from e


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _checked(data: bytes, kind: str) -> bytes:
    if len(data) > MAX_STICKER_BYTES:
        raise StickerError(f"the {kind} sticker is {len(data):,} bytes, over the {MAX_STICKER_BYTES:,}-byte limit")
    return data
