"""The ``facemoji`` command. Each sub-command lives in ``facemoji.apps.commands.<name>`` and is
imported only when used, so ``facemoji --help`` stays fast and torch loads only for training."""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence
from types import ModuleType

COMMANDS: dict[str, str] = {
    "image": "photos to emoji: every face, its expression, its emoji",
    "train": "train an emotion classifier on FER-2013 or a folder of face crops",
    "evaluate": "measure an emotion model on a labelled dataset",
    "export": "one ONNX model from trained runs: a network or an ensemble, with flip TTA and int8 as chosen",
    "avatar": "render the avatar of each face in a photo wearing that face's expression",
    "stickers": "write the 7 expressions of an avatar as a sticker pack",
}


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"facemoji.apps.commands.{name}")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    # allow_abbrev=False: "--cut" must not quietly mean --cutout, nor break when a new option starts the same way
    parser = argparse.ArgumentParser(
        prog="facemoji", description="Facial expressions to emoji and avatars.", allow_abbrev=False
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        if name == chosen:  # only the chosen command's module is imported
            _command(name).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 done, 1 failed, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # A stream closed by the caller (`2>&-` in a cron job) is None, and print(file=None) would
    # write to stdout instead: notes would land among the JSON lines.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open for the rest of the process)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        # File names need not be valid UTF-8; print them escaped rather than fail on them.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser(argv).parse_args(argv)
    try:
        return int(_command(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``facemoji image ... | head``): stop quietly
        _drop_stdout()
        return 1
    except OSError as e:  # writing stdout failed (a full disk behind `> faces.jsonl`), or I/O no command expected
        where = f"{e.filename}" if e.filename else "cannot write the output"
        print(f"facemoji {args.command}: {where}: {e.strerror or e}", file=sys.stderr)
        _drop_stdout()
        return 1


def _drop_stdout() -> None:
    """Python flushes stdout once more at exit; point it at nothing so that cannot fail too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
