"""Milliseconds per face of the emotion model: ONNX Runtime on one thread, batch 1, median of many runs.

Each call is ``EmotionClassifier.predict`` on one 48x48 face: the centre crop, the network and any
test-time augmentation inside the graph. Reported as process CPU time (unaffected by other work
on the machine) and wall time (the same on an idle core). Goal: at most 2 ms per face.

Run: ``.venv/bin/python benchmarks/bench_classifier.py [--model X.onnx] [--runs 5000]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnxruntime

from facemoji.apps.arguments import positive
from facemoji.classifier import EmotionClassifier, shipped_model_path
from facemoji.training.evaluate import time_per_face

GOAL_MS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=shipped_model_path(), help="default: the shipped model")
    parser.add_argument("--runs", type=positive(int), default=5000, help="calls timed (5000)")
    args = parser.parse_args()

    info = EmotionClassifier(args.model).info
    latency = time_per_face(args.model, runs=args.runs, warmup=200)
    print(
        f"model: {args.model} ({args.model.stat().st_size / 1e6:.2f} MB), {info.config}, "
        f"networks: {info.members}, flip TTA: {info.flip_tta}, int8: {info.int8}"
    )
    print(f"ONNX Runtime {onnxruntime.__version__}, 1 thread, batch 1, median of {latency.runs} runs")
    print(f"CPU time per face:  {latency.cpu_ms:.3f} ms")
    print(f"wall time per face: {latency.median_ms:.3f} ms")
    verdict = "within" if latency.cpu_ms <= GOAL_MS else "over"
    print(f"goal <= {GOAL_MS} ms per face including test-time augmentation: {verdict}")


if __name__ == "__main__":
    main()
