"""Figures for training runs and evaluations (matplotlib, no display needed)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from facemoji.files import write_atomic


def plot_curves(metrics_csv: Path, out: Path) -> Path:
    """Loss and accuracy per epoch from Lightning's CSVLogger file."""
    series: dict[str, dict[int, float]] = {}
    with metrics_csv.open() as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if value and key not in ("epoch", "step"):
                    series.setdefault(key, {})[int(row["epoch"])] = float(value)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, points in sorted(series.items()):
        ax = ax_loss if key.endswith("loss") else ax_acc
        ax.plot(list(points), list(points.values()), label=key)
    for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set(title=title, xlabel="epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def plot_confusion(matrix: np.ndarray, classes: list[str], out: Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts."""
    norm = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted", ylabel="true")
    # File names may hold "$", which would start math text, and bytes that are not UTF-8, which
    # Python keeps as lone surrogates that matplotlib refuses: those are shown as \udcff escapes.
    ax.set_title(title.encode("utf-8", "backslashreplace").decode("utf-8"), parse_math=False)
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n{matrix[i, j]}", ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    return _save(fig, out)


def _save(fig: plt.Figure, out: Path) -> Path:
    """Write the figure as a PNG whole or not at all."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return write_atomic(out, png.getvalue())
