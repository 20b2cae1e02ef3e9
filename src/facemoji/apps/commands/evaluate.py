"""``facemoji evaluate``: accuracy, per-class scores and confusion matrix of an emotion model on a dataset."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from facemoji.apps.arguments import nonempty_path
from facemoji.files import inside_folder
from facemoji.training.data import SPLITS

if TYPE_CHECKING:
    from facemoji.training.evaluate import Evaluation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, type=nonempty_path,
        help="Kaggle FER-2013 folder or .zip, fer2013.csv, or a folder with one sub-folder per class",
    )  # fmt: skip
    parser.add_argument(
        "--split", choices=SPLITS, default="test",
        help="which part to score (default: test = public + private); class folders are always scored whole",
    )  # fmt: skip
    parser.add_argument("--model", type=nonempty_path, help="an exported .onnx model (default: the shipped one)")
    parser.add_argument(
        "--out", type=nonempty_path,
        help="folder for evaluation.json and confusion.png (default: runs/eval-MODEL-DATA-SPLIT)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object on the last line")


def run(args: argparse.Namespace) -> int:
    from facemoji.classifier import EmotionClassifier, ModelError
    from facemoji.training.data import DatasetError, load_dataset
    from facemoji.training.evaluate import evaluate, save_json

    try:
        classifier = EmotionClassifier(args.model, threads=os.cpu_count() or 1)
        dataset = load_dataset(args.data, args.split)
    except (ModelError, DatasetError) as e:
        print(f"facemoji evaluate: {e}", file=sys.stderr)
        return 1
    out = args.out or Path("runs") / f"eval-{classifier.path.stem}-{args.data.stem}-{dataset.split}"
    if inside_folder(out, args.data):
        print(f"facemoji evaluate: {out} is inside the data folder; its plot would be scored too", file=sys.stderr)
        return 2
    result = evaluate(classifier, dataset)
    try:  # the plot first: it is the one that can fail on odd input, and then nothing is written
        out.mkdir(parents=True, exist_ok=True)
        plot = _confusion_png(result, out)
        report = save_json(result.to_dict(), out / "evaluation.json")
    except OSError as e:
        print(f"facemoji evaluate: cannot write to {out}: {e}", file=sys.stderr)
        return 1

    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    skipped = f"{result.skipped} skipped: unreadable, or of no known split"
    print(f"{result.model} on {result.data} [{result.split}]: {result.n} faces ({skipped})")
    print(f"accuracy {result.accuracy:.4f}   balanced accuracy {result.balanced_accuracy:.4f}")
    print(f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for name, m in result.per_class.items():
        print(f"{name:<10}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>10}")
    print(f"wrote {report}, {plot}")
    return 0


def _confusion_png(result: Evaluation, out: Path) -> Path:
    import numpy as np

    from facemoji.training.plots import plot_confusion

    title = f"{Path(result.model).name} on {Path(result.data).name} [{result.split}], accuracy {result.accuracy:.3f}"
    return plot_confusion(np.array(result.confusion), list(result.per_class), out / "confusion.png", title)
