"""``facemoji image PATH... [-o OUT] [--mode overlay|box|panel] [--json]``"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from facemoji.apps.arguments import add_max_pixels, allow_pixels, nonempty_path, positive
from facemoji.classifier import ModelError
from facemoji.engine import Emojifier, EmojifierOptions
from facemoji.faces import MAX_FACES
from facemoji.files import make_folder, same_file
from facemoji.imageio import (
    IMAGE_SUFFIXES,
    SAVE_SUFFIXES,
    ImageError,
    iter_image_paths,
    load_image,
    save_image,
)
from facemoji.landmarker_model import LandmarkerModelError
from facemoji.render.overlay import Mode, render

_SMALLER = "try a smaller image or a lower --max-pixels"
_LOOKED_FOR = ", ".join(sorted(IMAGE_SUFFIXES))


def max_faces_note(n: int) -> str:
    """The note for an image whose face count reached ``--max-faces`` (``n``)."""
    return f"found {n} face{'s' * (n != 1)}, the most --max-faces allows; raise it if there are more"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths", nargs="+", type=nonempty_path, metavar="PATH", help="image files or folders (searched recursively)"
    )
    p.add_argument(
        "-o", "--out", type=nonempty_path,
        help="output file (one input) or folder; nothing is drawn without it. In a folder each image keeps its "
        "path relative to the folder given; inputs not named .png, .jpg, .jpeg or .webp get .png appended",
    )  # fmt: skip
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.OVERLAY.value, help="how to draw emoji")
    p.add_argument("--json", action="store_true", help="one JSON line per input file on stdout")
    p.add_argument(
        "--max-faces", type=positive(int, MAX_FACES), default=10, help="most faces to find per image (default 10)"
    )
    add_max_pixels(p)
    p.add_argument(
        "--model", type=nonempty_path, metavar="X.onnx",
        help="emotion model made by facemoji export (default: the one shipped with facemoji)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    inputs = args.paths
    single_file = args.out is not None and args.out.suffix.lower() in SAVE_SUFFIXES
    # an output folder inside an input folder is not searched (it may hold an earlier run's output)
    skip = None if args.out is None or single_file else Path(os.path.realpath(args.out))
    unreadable: list[tuple[Path, str]] = []  # folders that cannot be listed, links that loop
    try:
        if (problem := _bad_out(args.out, inputs, single_file)) is not None:
            print(f"facemoji image: {problem}", file=sys.stderr)
            return 2
        # Count for the progress bar, and note every input, so that no output replaces one unread.
        total, keys = 0, set()
        for path, _ in _with_roots(inputs, skip, on_error=lambda path, why: unreadable.append((path, why))):
            total += 1
            keys.add(_key(path))
    except ImageError as e:  # a missing input
        print(f"facemoji image: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path too long to look at
        print(f"facemoji image: {e.filename or 'a path'}: {e.strerror or e}", file=sys.stderr)
        return 2

    def report(line: dict) -> None:
        if args.json:
            print(json.dumps(line), flush=True)
        elif line["error"]:
            tqdm.write(f"{line['path']}: {line['error']}", file=sys.stderr)
        else:
            tqdm.write(_summary(line), file=sys.stdout)

    def skipped(path: Path, reason: str) -> None:  # say so, go on
        report({"path": str(path), "faces": [], "out": None, "error": reason})

    if not total:
        for path, why in unreadable:
            skipped(path, why)
        if not unreadable:
            print(
                f"facemoji image: no images in {', '.join(map(str, args.paths))} (looked for {_LOOKED_FOR})",
                file=sys.stderr,
            )
        return 0
    allow_pixels(args.max_pixels)
    options = EmojifierOptions(max_faces=args.max_faces, max_pixels=args.max_pixels, emotion_model_path=args.model)
    show_bar = total > 1 or any(p.is_dir() for p in inputs)

    try:
        with Emojifier(options) as engine:
            engine.load()  # a missing or broken model fails now, not at the first face found
            targets = _Targets(args.out, single_file, inputs=keys)
            images = _with_roots(inputs, skip, on_error=skipped)
            for path, root in tqdm(images, total=total, disable=not show_bar, unit="img", file=sys.stderr):
                line = _one(engine, path, targets.pick(path, root), args)
                if len(line["faces"]) == args.max_faces:
                    tqdm.write(f"{path}: {max_faces_note(args.max_faces)}", sys.stderr)
                report(line)
    except (LandmarkerModelError, ModelError) as e:
        print(f"facemoji image: {e}", file=sys.stderr)
        return 1
    return 0


def _bad_out(out: Path | None, inputs: list[Path], single_file: bool) -> str | None:
    """Why ``-o`` cannot be used with these inputs, or None."""
    if out is None:
        return None
    if single_file:
        if len(inputs) > 1 or inputs[0].is_dir():
            return f"{out} is a file name but several images were given; pass a folder"
        if same_file(out, inputs[0]):
            return f"{out} would overwrite the input; choose another -o"
        return None
    if out.suffix.lower() in IMAGE_SUFFIXES:
        return f"cannot write {out.suffix} images; name a .png, .jpg, .jpeg or .webp file, or a folder"
    if out.exists() and not out.is_dir():
        return f"{out} is a file, not a folder; name a folder for the outputs, or an image file for one input"
    if any(p.is_dir() and same_file(out, p) for p in inputs):
        return f"{out} is the input folder; choose another -o"
    return None


def _with_roots(
    inputs: list[Path], skip: Path | None, on_error: Callable[[Path, str], None]
) -> Iterator[tuple[Path, Path]]:
    """Each image with the folder its output path is made relative to.

    A folder that holds ``skip`` (the output folder) is searched without it; folders that cannot
    be listed go to ``on_error``.
    """
    for given in inputs:
        root = given if given.is_dir() else given.parent
        inner = None
        if skip is not None and given.is_dir() and skip.is_relative_to(os.path.realpath(given)):
            inner = skip
        for path in iter_image_paths([given], on_error):
            if inner is None or not Path(os.path.realpath(path)).is_relative_to(inner):
                yield path, root


def _key(path: Path) -> int:
    """A file's identity for this run: a hash of its real path (a set of the paths would take ~0.5 KB per image)."""
    return hash(os.path.realpath(path))


class _Targets:
    """Output paths, one per input image, never the same twice in a run and never an input file."""

    def __init__(self, out: Path | None, single_file: bool, inputs: set[int]) -> None:
        self.out, self.single_file, self._inputs = out, single_file, inputs
        self._taken: set[int] = set()

    def pick(self, path: Path, root: Path) -> Path | None:
        if self.out is None or self.single_file:
            return self.out
        rel = path.relative_to(root)
        base = self.out / (rel if rel.suffix.lower() in SAVE_SUFFIXES else rel.with_name(rel.name + ".png"))
        # Same-named photos from different folders on the command line, x.gif beside x.gif.png, an
        # input in the output folder, or a hard link to one: number the name rather than write over it.
        target, n = base, 1
        while (key := _key(target)) in self._taken or key in self._inputs or same_file(target, path):
            n += 1
            target = base.with_stem(f"{base.stem}-{n}")
        self._taken.add(key)
        return target


def _one(engine: Emojifier, path: Path, target: Path | None, args: argparse.Namespace) -> dict:
    line: dict = {"path": str(path), "faces": [], "out": None, "error": None}
    try:
        rgb = load_image(path, args.max_pixels)
        faces = engine.analyze(rgb)
    except ImageError as e:
        # the line names the file already; loader messages start with it too
        return line | {"error": str(e).removeprefix(f"{path}: ")}
    except ModelError as e:  # a model that loaded but fails on this photo's faces: the other photos may do
        return line | {"error": str(e)}
    except MemoryError:
        return line | {"error": f"not enough memory for this image; {_SMALLER}"}
    line["faces"] = [f.to_dict() for f in faces]
    if target is not None:
        try:
            make_folder(target.parent)
            save_image(render(rgb, faces, Mode(args.mode)), target)
        except OSError as e:  # the folder could not be made
            return line | {"error": f"cannot write {target}: {e.strerror or e}"}
        except ImageError as e:  # save_image names the file itself
            return line | {"error": str(e)}
        except MemoryError:
            return line | {"error": f"not enough memory to draw {target}; {_SMALLER}"}
        line["out"] = str(target)
    return line


def _summary(line: dict) -> str:
    faces = line["faces"]
    written = f" -> {line['out']}" if line["out"] else ""
    if not faces:
        return f"{line['path']}: no face{written}"
    parts = [f"{f['emotion']} {f['scores'][f['emotion']]:.0%}" for f in faces]
    return f"{line['path']}: {len(faces)} face{'s' * (len(faces) > 1)}: {', '.join(parts)}{written}"
