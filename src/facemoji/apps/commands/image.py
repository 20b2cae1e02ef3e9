"""``facemoji image PATH... [-o OUT] [--mode overlay|box|panel] [--json]``"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from facemoji.classifier import ModelError
from facemoji.engine import Emojifier, EmojifierOptions
from facemoji.imageio import DEFAULT_MAX_PIXELS, SAVE_SUFFIXES, ImageError, iter_image_paths, load_image, save_image
from facemoji.landmarker_model import LandmarkerModelError
from facemoji.render.overlay import Mode, render


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--out", type=Path, help="output file (one input) or folder; nothing is drawn without it")
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.OVERLAY.value, help="how to draw emoji")
    p.add_argument("--json", action="store_true", help="one JSON line per input file on stdout")
    p.add_argument("--max-faces", type=int, default=10, help="most faces to find per image (default 10)")
    p.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images before decoding them"
    )


def run(args: argparse.Namespace) -> int:
    inputs = [Path(p) for p in args.paths]
    if args.max_faces < 1 or args.max_pixels < 1:
        print("facemoji image: --max-faces and --max-pixels must be positive", file=sys.stderr)
        return 2
    single_file = args.out is not None and args.out.suffix.lower() in SAVE_SUFFIXES
    if single_file and (len(inputs) > 1 or inputs[0].is_dir()):
        print(
            f"facemoji image: {args.out} is a file name but several images were given; pass a folder", file=sys.stderr
        )
        return 2
    try:
        total = sum(1 for _ in iter_image_paths(inputs))
    except ImageError as e:
        print(f"facemoji image: {e}", file=sys.stderr)
        return 2
    options = EmojifierOptions(max_faces=args.max_faces, max_pixels=args.max_pixels)
    show_bar = total > 1 or any(p.is_dir() for p in inputs)
    try:
        with Emojifier(options) as engine:
            for path, root in tqdm(_with_roots(inputs), total=total, disable=not show_bar, unit="img", file=sys.stderr):
                line = _one(engine, path, root, args, single_file)
                if args.json:
                    print(json.dumps(line), flush=True)
                elif line["error"]:
                    tqdm.write(f"{path}: {line['error']}", file=sys.stderr)
                else:
                    tqdm.write(_summary(line), file=sys.stdout)
    except (LandmarkerModelError, ModelError) as e:
        print(f"facemoji image: {e}", file=sys.stderr)
        return 1
    return 0


def _with_roots(inputs: list[Path]) -> Iterator[tuple[Path, Path]]:
    """Each image with the folder its output path is made relative to."""
    for given in inputs:
        root = given if given.is_dir() else given.parent
        for path in iter_image_paths([given]):
            yield path, root


def _one(engine: Emojifier, path: Path, root: Path, args: argparse.Namespace, single_file: bool) -> dict:
    try:
        rgb = load_image(path, args.max_pixels)
        faces = engine.analyze(rgb)
        if args.out is not None:
            target = args.out if single_file else _target(args.out, path, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(render(rgb, faces, Mode(args.mode)), target)
    except (ImageError, OSError) as e:
        # the line names the file already; loader messages start with it too
        return {"path": str(path), "faces": [], "error": str(e).removeprefix(f"{path}: ")}
    return {"path": str(path), "faces": [f.to_dict() for f in faces], "error": None}


def _target(out_dir: Path, path: Path, root: Path) -> Path:
    rel = path.relative_to(root)
    return out_dir / (rel if rel.suffix.lower() in SAVE_SUFFIXES else rel.with_suffix(".png"))


def _summary(line: dict) -> str:
    faces = line["faces"]
    if not faces:
        return f"{line['path']}: no face"
    parts = [f"{f['emotion']} {f['scores'][f['emotion']]:.0%}" for f in faces]
    return f"{line['path']}: {len(faces)} face{'s' * (len(faces) > 1)}: {', '.join(parts)}"
