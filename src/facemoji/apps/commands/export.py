"""``facemoji export``: one ONNX model from trained runs (needs the ``train`` extra).

A single network or an ensemble of several (their probabilities averaged), with the mirrored face
averaged in (``--flip``) and quantized to int8 (``--int8``, calibrated on training faces) as
chosen. ``facemoji evaluate --model OUT`` then measures it.
"""

from __future__ import annotations

import argparse
import sys

from facemoji.apps.arguments import nonempty_path
from facemoji.apps.commands.train import INSTALL_HINT
from facemoji.files import same_file

CALIBRATION_FACES = 512
MIN_CALIBRATION_FACES = 64  # fewer cannot show the int8 model agrees with the float one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", type=nonempty_path, metavar="RUN",
        help="a run folder of facemoji train (its best checkpoint) or a .ckpt file; several make an ensemble",
    )  # fmt: skip
    parser.add_argument("-o", "--out", required=True, type=nonempty_path, help="the .onnx file to write")
    parser.add_argument("--flip", action="store_true", help="also score the mirrored face and average (2x the cost)")
    parser.add_argument("--int8", action="store_true", help="quantize to int8 (about 2x faster on x86 CPUs)")
    parser.add_argument(
        "--data", type=nonempty_path, help="with --int8: the training data, whose faces calibrate the quantization"
    )


def run(args: argparse.Namespace) -> int:
    try:
        import numpy as np

        from facemoji.classifier import center_crop
        from facemoji.training.data import DatasetError, load_dataset
        from facemoji.training.export import export_onnx
        from facemoji.training.train import CheckpointError, checkpoint_file, load_checkpoint
    except ImportError as e:
        print(f"facemoji export: {(e.name or 'torch').split('.')[0]} is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 1
    if args.int8 and args.data is None:
        print("facemoji export: --int8 needs --data (training faces to calibrate on)", file=sys.stderr)
        return 2
    inputs = [checkpoint_file(r) for r in args.runs] + ([args.data] if args.data is not None else [])
    try:
        problem = next((f"{args.out} would overwrite the input {p}" for p in inputs if same_file(args.out, p)), None)
        if args.out.suffix.lower() != ".onnx":  # a slip of -o would otherwise replace any file, data included
            problem = f"{args.out} does not end in .onnx; -o takes the .onnx file to write"
        elif args.out.exists() and not args.out.is_file():
            problem = f"{args.out} is not a regular file; -o takes the .onnx file to write"
    except OSError as e:
        problem = f"cannot use {args.out} ({e.strerror or e})"
    if problem:
        print(f"facemoji export: {problem}", file=sys.stderr)
        return 2

    members, configs = [], []
    for run_path in args.runs:
        try:
            module = load_checkpoint(run_path)
        except CheckpointError as e:
            print(f"facemoji export: {e}", file=sys.stderr)
            return 1
        members.append(module.model)
        configs.append(module.model_config)
    if len({c.input_size for c in configs}) > 1:
        sizes = ", ".join(f"{r}: {c.input_size}" for r, c in zip(args.runs, configs, strict=True))
        print(f"facemoji export: ensemble members must share an input size ({sizes})", file=sys.stderr)
        return 1

    calibration = None
    if args.int8:
        try:
            train = load_dataset(args.data, "train")
        except DatasetError as e:
            print(f"facemoji export: {e}", file=sys.stderr)
            return 1
        if len(train) < MIN_CALIBRATION_FACES:
            print(
                f"facemoji export: {args.data} has {len(train)} training faces; int8 calibration needs at least "
                f"{MIN_CALIBRATION_FACES}", file=sys.stderr,
            )  # fmt: skip
            return 1
        pick = np.random.default_rng(0).choice(len(train), min(CALIBRATION_FACES, len(train)), replace=False)
        calibration = center_crop(train.images[np.sort(pick)], configs[0].input_size)
    try:
        export_onnx(members, configs[0], args.out, flip=args.flip, calibration=calibration)
    except RuntimeError as e:
        print(f"facemoji export: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"facemoji export: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    kind = f"ensemble of {len(members)}" if len(members) > 1 else "1 network"
    extras = [x for x, on in (("flip TTA", args.flip), ("int8", args.int8)) if on]
    print(f"model: {args.out} ({', '.join([kind, *extras])})")
    return 0
