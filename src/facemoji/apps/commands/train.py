"""``facemoji train``: train an emotion classifier and export it to ONNX (needs the ``train`` extra).

Several GPUs or nodes: run the same command under ``torchrun`` with ``--accelerator gpu --devices N
--num-nodes M`` (see docs/training.md); Lightning trains with DDP.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import sys
import warnings
from pathlib import Path

from facemoji.apps.arguments import nonempty_path, positive, whole
from facemoji.files import inside_folder

INSTALL_HINT = "install the train extra: pip install '.[train]' in the facemoji checkout"


def _architectures() -> list[str] | None:
    try:
        from facemoji.training.models import list_models
    except ImportError:  # run() explains what to install
        return None
    return list_models()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pos_int, pos_float = positive(int), positive(float)
    parser.add_argument(
        "--data", required=True, type=nonempty_path,
        help="Kaggle FER-2013 folder or .zip, fer2013.csv, or a folder with one sub-folder per class",
    )  # fmt: skip
    parser.add_argument("--arch", choices=_architectures(), help="network (default: vgg)")
    parser.add_argument("--epochs", type=pos_int, help="maximum epochs (default: 120)")
    parser.add_argument(
        "--out", type=nonempty_path, default=Path("runs/emotion"), help="run folder (default: runs/emotion)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--width", type=pos_int, help="channels of the first stage (vgg; default: 48)")
    parser.add_argument("--batch-size", type=pos_int, help="faces per step and device (default: 128)")
    parser.add_argument("--lr", type=pos_float, help="peak learning rate (default: the architecture's recipe)")
    parser.add_argument("--patience", type=pos_int, help="epochs without a better validation accuracy (default: 25)")
    parser.add_argument("--limit", type=pos_int, help="use only N training and N validation faces (quick trials)")
    parser.add_argument("--seed", type=whole(0, 2**32 - 1), help="random seed (default: 42)")
    parser.add_argument(
        "--teacher", dest="teachers", nargs="+", type=nonempty_path, metavar="RUN",
        help="distil from these finished runs' best networks (their mean answer on the same augmented faces)",
    )  # fmt: skip
    parser.add_argument("--accelerator", choices=("cpu", "gpu", "auto"), help="device type (default: cpu)")
    parser.add_argument("--devices", type=pos_int, help="processes per node, one per device (default: 1)")
    parser.add_argument("--num-nodes", type=pos_int, help="machines taking part (default: 1)")


def run(args: argparse.Namespace) -> int:
    try:
        from lightning.fabric.utilities.exceptions import MisconfigurationException
        from lightning.pytorch.utilities import rank_zero_only

        from facemoji.training.data import DatasetError
        from facemoji.training.train import (
            CheckpointError,
            ResumeError,
            RunInUse,
            TeacherError,
            TrainingDiverged,
            resolve_config,
            resume_config,
            train,
        )
    except ImportError as e:
        print(f"facemoji train: {(e.name or 'torch').split('.')[0]} is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 1

    if (problem := _bad_out(args)) is not None:
        print(f"facemoji train: {problem}", file=sys.stderr)
        return 2
    if args.num_nodes and args.num_nodes > 1 and "WORLD_SIZE" not in os.environ:
        print("facemoji train: --num-nodes needs torchrun on every machine (see docs/training.md)", file=sys.stderr)
        return 2

    # Lightning's start-up notes (hardware found, precision, an advert for its cloud logger) and its
    # own deprecation warnings say nothing a user can act on; its warnings and errors still show.
    # Several processes keep the notes: they tell how the processes found each other.
    if (args.devices or 1) * (args.num_nodes or 1) == 1:
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(lightning|torch)\.")
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")  # a resume's own
    options = {k: getattr(args, k) for k in ("epochs", "width", "batch_size", "lr", "patience", "limit", "seed")}
    options |= {k: getattr(args, k) for k in ("accelerator", "devices", "num_nodes")}
    options["teachers"] = [str(run) for run in args.teachers] if args.teachers else None
    try:
        if args.resume:
            cfg = resume_config(args.out, str(args.data), arch=args.arch, **options)
        else:
            cfg = resolve_config(str(args.data), args.arch or "vgg", out=str(args.out), **options)
    except ValueError as e:  # the network's own limits (--width), or options a resumed run was not trained with
        print(f"facemoji train: {e}", file=sys.stderr)
        return 2
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bar: stdout keeps the result line
            out = train(cfg, resume=args.resume)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the progress bar's line, so that "interrupted" stands on a line of its own
        raise
    except (DatasetError, TeacherError, CheckpointError, ResumeError, RunInUse, TrainingDiverged, OSError) as e:
        print(f"facemoji train: {e}", file=sys.stderr)
        return 1
    except MisconfigurationException as e:  # Lightning: e.g. --accelerator gpu without a GPU
        print(f"facemoji train: {str(e).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    if rank_zero_only.rank == 0:
        print(f"best validation accuracy {_best_val_acc(out / 'metrics.csv'):.4f}; model: {out / 'model.onnx'}")
    return 0


# What a run holds before its first checkpoint; curves.png and model.onnx come at its end.
_UNFINISHED_RUN_FILES = frozenset({"config.json", "metrics.csv", "checkpoints"})


def _bad_out(args: argparse.Namespace) -> str | None:
    """Why ``--out`` cannot take this run, or None."""
    out, last = args.out, args.out / "checkpoints" / "last.ckpt"
    try:
        if args.resume:
            return None if last.is_file() else f"nothing to resume: {last} does not exist"
        if last.is_file():
            return f"{out} already holds a run; pass --resume or choose another --out"
        if out.exists() and not out.is_dir():
            return f"{out} is a file; --out takes the folder the run goes into"
        if inside_folder(out, args.data):
            return f"{out} is inside the data folder {args.data}; its plots would become training images"
        if out.is_dir() and any(out.iterdir()) and not _unfinished_run(out):
            return f"{out} holds files other than a just-started run's; choose a new or empty folder"
    except OSError as e:
        return f"cannot use {out} ({e.strerror or e})"
    return None


def _unfinished_run(folder: Path) -> bool:
    """A run stopped before its first checkpoint: only the files it has by then, and its config.json is one."""
    if not {p.name for p in folder.iterdir()} <= _UNFINISHED_RUN_FILES:
        return False
    try:
        return "val_split" in json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def _best_val_acc(metrics_csv: Path) -> float:
    with metrics_csv.open() as f:
        return max((float(row["val_acc"]) for row in csv.DictReader(f) if row.get("val_acc")), default=0.0)
