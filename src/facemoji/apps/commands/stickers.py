"""``facemoji stickers [--profile P] -o DIR``: an avatar's 7 expressions as a sticker pack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facemoji.apps.arguments import nonempty_path
from facemoji.files import same_file
from facemoji.render.avatar_profile import PRESETS, AvatarProfileError, resolve_profile
from facemoji.render.stickers import (
    MAX_STICKER_BYTES,
    PACK_FILES,
    PROFILE_NAME,
    STICKER_SIZE,
    StickerError,
    write_sticker_pack,
)

PROFILE_HELP = f"avatar profile: a JSON file, a preset ({', '.join(PRESETS)}), random or random:SEED (default classic)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", metavar="P", help=PROFILE_HELP)
    p.add_argument(
        "-o", "--out", type=nonempty_path, required=True, metavar="DIR", help="folder to write the pack into"
    )
    p.epilog = (
        f"Writes happy.png, happy.webp, happy.svg, ... for the 7 emotions ({STICKER_SIZE}x{STICKER_SIZE}, "
        f"transparent, each under {MAX_STICKER_BYTES // 1000} KB), stickers.zip with all of them and profile.json."
    )


def run(args: argparse.Namespace) -> int:
    # The pack's own profile.json may be its profile: rebuilding a pack in place rewrites it with the same look.
    others = [n for n in PACK_FILES if n != PROFILE_NAME]
    if args.profile and (clash := next((n for n in others if same_file(args.out / n, Path(args.profile))), None)):
        print(
            f"facemoji stickers: the pack's {clash} would overwrite the profile {args.profile}; "
            "copy the profile elsewhere or choose another -o",
            file=sys.stderr,
        )
        return 2
    try:
        profile = resolve_profile(args.profile)
        written = write_sticker_pack(profile, args.out)
    except (AvatarProfileError, StickerError) as e:
        print(f"facemoji stickers: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files to {args.out}")
    return 0
