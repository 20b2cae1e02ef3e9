"""Model card for an exported emotion model: what it was trained on, how well it does, what it costs.

Ship a trained model into the package (the model, ``model_card.json`` and ``MODEL_CARD.md``)::

    python -m facemoji.training.model_card --model runs/emotion/model.onnx --run runs/emotion [runs/b ...] \\
        --data ../shared/datasets/fer2013.zip --out src/facemoji/models [--baseline runs/seed/model.onnx]

An ensemble (``facemoji export RUN RUN ...``) lists each member's run, in the order exported.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import onnxruntime

from facemoji.classifier import EmotionClassifier, ModelError
from facemoji.files import write_all_atomic
from facemoji.training.data import DatasetError, file_sha256, load_dataset
from facemoji.training.evaluate import Evaluation, evaluate, time_per_face

CARD_SPLITS = ("public", "private", "test")
SHIPPED_NAME = "emotion.onnx"
_INT8_NOTE = "int8 (ONNX Runtime static quantization), except each network's one-channel first layer"
LICENCE = (
    "Trained on FER-2013 (Goodfellow et al., ICML 2013 Challenges in Representation Learning), "
    "released on Kaggle for research; its images were collected from the web by image search and "
    "their copyright stays with their owners. The weights are derived from that data: use them for "
    "research and personal projects, and check the dataset's terms before any commercial use."
)


def onnx_parameters(model: Path) -> int:
    """Numbers stored in the graph's weights (batch-norm folded into the convolutions at export)."""
    import onnx
    from onnx import numpy_helper

    return sum(numpy_helper.to_array(t).size for t in onnx.load(model).graph.initializer)


def training_summary(run: Path) -> dict:
    """The resolved config and the epoch history of a training run folder.

    Raises:
        FileNotFoundError: ``run`` has no config.json or metrics.csv.
        ValueError: they are not a finished run's (no epochs, no validation split).
    """
    config = json.loads((run / "config.json").read_text())
    epochs: dict[int, dict[str, float]] = {}
    incomplete = ValueError(f"{run} is not a finished facemoji training run (config.json or metrics.csv incomplete)")
    with (run / "metrics.csv").open() as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                raise incomplete
            values = {k: float(v) for k, v in row.items() if k and v and k not in ("epoch", "step")}
            epochs.setdefault(int(row["epoch"]), {}).update(values)
    if not epochs or not isinstance(config, dict) or "val_split" not in config:
        raise incomplete
    best = max(epochs, key=lambda e: epochs[e].get("val_acc", -1.0))
    if not {"val_acc", "train_acc"} <= epochs[best].keys():
        raise incomplete
    return {
        "config": config,
        "epochs_run": len(epochs),
        "best_epoch": best + 1,
        "validation_split": config["val_split"],
        "best_val_acc": epochs[best].get("val_acc"),
        "train_acc_at_best": epochs[best].get("train_acc"),
    }


def build_card(
    model: Path,
    runs: list[Path],
    data: Path,
    evaluations: dict[str, Evaluation],
    baseline: dict[str, Evaluation] | None = None,
    timing_runs: int = 2000,
) -> dict:
    """Everything the card says, as a JSON-ready dict.

    ``evaluations`` maps split names to results and must include ``test`` (the whole test split).

    Raises:
        ModelError: the model cannot be loaded.
        DatasetError: ``data`` cannot be read.
        FileNotFoundError: the run folder lacks config.json or metrics.csv.
        ValueError: the number of runs is not the model's number of networks.
    """
    info = EmotionClassifier(model).info
    if len(runs) != info.members:
        raise ValueError(f"{model.name} holds {info.members} network(s) but {len(runs)} run(s) were given")
    training = [training_summary(run) for run in runs]
    if not any(t["config"].get("model") == info.config for t in training):
        raise ValueError(f"{model.name} is a {info.config} network; none of the runs trained one")
    latency = time_per_face(model, runs=timing_runs)
    splits = {s: load_dataset(data, s) for s in ("train", "public", "private")}
    if any(d.split != s for s, d in splits.items()):
        raise DatasetError(f"{data} has no train/PublicTest/PrivateTest splits; a card reports FER-2013's")
    sizes = {s: len(d) for s, d in splits.items()}
    card = {
        "name": SHIPPED_NAME,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "model": {
            "architecture": info.config,
            "input": f"48x48 grayscale face, centre {info.input_size}x{info.input_size} crop, pixels / 255",
            "classes": list(info.classes),
            "flip_tta": info.flip_tta,
            "ensemble_members": info.members,
            "int8": info.int8,
            "parameters": onnx_parameters(model),
            "file_bytes": model.stat().st_size,
            "sha256": file_sha256(model),
        },
        "data": {"file": data.name, "sha256": file_sha256(data), "faces": sizes},
        "accuracy": {s: round(e.accuracy, 4) for s, e in evaluations.items()},
        "balanced_accuracy": {s: round(e.balanced_accuracy, 4) for s, e in evaluations.items()},
        "per_class_test": {k: asdict(m) for k, m in evaluations["test"].per_class.items()},
        "ms_per_face": round(latency.cpu_ms, 3),
        "ms_per_face_wall": round(latency.median_ms, 3),
        "timing": (
            f"median process CPU time over {latency.runs} single-face calls (batch 1, preprocessing and test-time "
            f"augmentation included), ONNX Runtime {onnxruntime.__version__} on 1 thread, {_cpu_name()}; "
            "the wall time matches it when the machine is otherwise idle"
        ),
        "training": training,
        "licence": LICENCE,
    }
    if baseline:
        card["baseline"] = {
            "model": Path(next(iter(baseline.values())).model).name,
            "accuracy": {s: round(e.accuracy, 4) for s, e in baseline.items()},
        }
    return card


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _members(n: int) -> str:
    return "one network" if n == 1 else f"an ensemble of {n} networks (probabilities averaged)"


def render_markdown(card: dict) -> str:
    m, d = card["model"], card["data"]
    split_names = {"public": "PublicTest", "private": "PrivateTest", "test": "whole test"}
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"Facial-expression classifier over {', '.join(m['classes'])}. Written {card['date']}.",
        "",
        "## Results",
        "",
        "| split | faces | accuracy | balanced accuracy |",
        "|---|---|---|---|",
    ]
    for split, acc in card["accuracy"].items():
        n = d["faces"]["public"] + d["faces"]["private"] if split == "test" else d["faces"].get(split, "")
        lines.append(f"| {split_names.get(split, split)} | {n} | {acc:.2%} | {card['balanced_accuracy'][split]:.2%} |")
    if "baseline" in card:
        b = card["baseline"]
        accs = ", ".join(f"{split_names.get(s, s)} {a:.2%}" for s, a in b["accuracy"].items())
        lines += ["", f"Baseline `{b['model']}` on the same splits: {accs}."]
    lines += ["", "Per class, whole test split:", "", "| class | precision | recall | F1 | support |"]
    lines.append("|---|---|---|---|---|")
    for name, c in card["per_class_test"].items():
        lines.append(f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    lines += [
        "",
        "## Model",
        "",
        f"- architecture: `{json.dumps(m['architecture'])}`",
        f"- input: {m['input']}; flip test-time augmentation inside the graph: {'yes' if m['flip_tta'] else 'no'}",
        f"- {_members(m['ensemble_members'])}; "
        f"weights and activations {_INT8_NOTE if m['int8'] else 'float32'}",
        f"- parameters: {m['parameters']:,}; file: {m['file_bytes'] / 1e6:.2f} MB, sha256 `{m['sha256']}`",
        f"- speed: **{card['ms_per_face']} ms per face** (wall time {card['ms_per_face_wall']} ms): {card['timing']}",
        "",
        "## Data",
        "",
        f"- `{d['file']}`, sha256 `{d['sha256']}`",
        f"- faces: {d['faces']['train']} train, {d['faces']['public']} PublicTest, {d['faces']['private']} PrivateTest",
        f"- model selection (early stopping, best checkpoint) on `{card['training'][0]['validation_split']}`; "
        "PrivateTest was never seen before this report",
        "",
        "## Training",
    ]
    for i, t in enumerate(card["training"], 1):
        lines += [
            "",
            f"Network {i} of {len(card['training'])}: {t['epochs_run']} epochs run; best at epoch {t['best_epoch']}: "
            f"validation accuracy {t['best_val_acc']:.4f}, train accuracy {t['train_acc_at_best']:.4f} (augmented). "
            "Configuration:",
            "",
            "```json",
            json.dumps(t["config"], indent=2),
            "```",
        ]
    lines += [
        "",
        "## Licence",
        "",
        card["licence"],
        "",
    ]
    return "\n".join(lines)


def evaluate_splits(model: Path, data: Path, splits: tuple[str, ...] = CARD_SPLITS) -> dict[str, Evaluation]:
    """Evaluate ``model`` on each split of ``data`` (ONNX Runtime, all cores)."""
    classifier = EmotionClassifier(model, threads=os.cpu_count() or 1)
    return {s: evaluate(classifier, load_dataset(data, s)) for s in splits}


def ship(
    model: Path, runs: list[Path], data: Path, out_dir: Path, baseline: Path | None = None
) -> tuple[Path, Path, Path]:
    """Copy ``model`` to ``out_dir/emotion.onnx`` with its card; returns the three files written.

    Raises:
        ModelError, DatasetError, FileNotFoundError, ValueError: as :func:`build_card`; nothing is written then.
    """
    evaluations = evaluate_splits(model, data)
    baseline_evals = evaluate_splits(baseline, data) if baseline else None
    card = build_card(model, runs, data, evaluations, baseline_evals)
    out_dir.mkdir(parents=True, exist_ok=True)
    shipped = out_dir / SHIPPED_NAME
    files = {
        out_dir / "MODEL_CARD.md": render_markdown(card),  # rendered before anything is written
        out_dir / "model_card.json": json.dumps(card, indent=2) + "\n",
    }
    if model.resolve() != shipped.resolve():
        files[shipped] = model.read_bytes()
    write_all_atomic(files)  # the model and its card change together or not at all
    return shipped, out_dir / "MODEL_CARD.md", out_dir / "model_card.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facemoji.training.model_card", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="exported .onnx model")
    parser.add_argument(
        "--run", type=Path, nargs="+", required=True,
        help="its training run folder (config.json, metrics.csv); one per network of an ensemble",
    )  # fmt: skip
    parser.add_argument("--data", type=Path, required=True, help="FER-2013 (Kaggle zip/folder or fer2013.csv)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write emotion.onnx and the card into")
    parser.add_argument("--baseline", type=Path, help="another .onnx model to report beside it (e.g. seed-cnn)")
    args = parser.parse_args(argv)
    try:
        written = ship(args.model, args.run, args.data, args.out, args.baseline)
    except (ModelError, DatasetError, OSError, ValueError) as e:
        print(f"model card: {e}", file=sys.stderr)
        return 1
    card = json.loads(written[2].read_text())
    print(f"accuracy {card['accuracy']}; {card['ms_per_face']} ms per face")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
