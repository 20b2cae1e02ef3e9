"""Milliseconds per 640x480 photo, end to end (detection + landmarks + alignment + expression).

Scenes are built from ../shared/media/justin.jpg: one face, and four faces tiled 2x2. "one core"
pins the whole process (MediaPipe's and ONNX Runtime's threads) to a single CPU; "default" lets
both use every core. Then the one-face photo's stages alone, on one core: MediaPipe's Face
Landmarker (detector, landmark network, blendshapes), alignment, and the emotion model.
Run: ``.venv/bin/python benchmarks/bench_pipeline.py``
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from facemoji.align import align_face
from facemoji.apps.arguments import positive
from facemoji.classifier import EmotionClassifier
from facemoji.engine import Emojifier, EmojifierOptions
from facemoji.faces import FaceFinder
from facemoji.timing import median_latency

SHARED = Path(os.environ.get("FACEMOJI_SHARED") or Path(__file__).resolve().parents[2] / "shared")


def scenes() -> dict[str, np.ndarray]:
    face = Image.open(SHARED / "media" / "justin.jpg").convert("RGB")
    one = Image.new("RGB", (640, 480), (200, 200, 200))
    one.paste(face.resize((300, 302)), (170, 89))
    four = Image.new("RGB", (640, 480), (200, 200, 200))
    small = face.resize((230, 232))
    for i, (x, y) in enumerate([(40, 8), (360, 8), (40, 244), (360, 244)]):
        four.paste(small.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if i % 2 else small, (x, y))
    return {"1 face": np.asarray(one), "4 faces": np.asarray(four)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=positive(int), default=100, help="calls timed per case (100)")
    args = parser.parse_args()
    all_cpus = os.sched_getaffinity(0)
    images = scenes()
    for label, cpus, threads in (("one core", {min(all_cpus)}, 1), ("default", all_cpus, len(all_cpus))):
        os.sched_setaffinity(0, cpus)  # threads created from here on inherit this
        with Emojifier(EmojifierOptions(threads=threads)) as engine:
            for scene, image in images.items():
                found = len(engine.analyze(image))  # also loads the models
                ms = median_latency(lambda _, image=image: engine.analyze(image), args.runs).median_ms
                print(f"{label:8s}  {scene}: {ms:6.2f} ms median over {args.runs} runs ({found} found)")
        if label == "one core":
            stages(images["1 face"], args.runs)
    os.sched_setaffinity(0, all_cpus)


def stages(image: np.ndarray, runs: int) -> None:
    with FaceFinder() as finder:
        detections = finder.find(image)
        landmarker = median_latency(lambda _: finder.find(image), runs).median_ms
    align = median_latency(lambda _: align_face(image, detections[0].landmarks), runs).median_ms
    classifier = EmotionClassifier(threads=1)
    crop = align_face(image, detections[0].landmarks)[None]
    expression = median_latency(lambda _: classifier.predict(crop), runs, warmup=10).median_ms
    print(f"one core  1 face stages: landmarker {landmarker:.2f} ms, alignment {align:.2f} ms, "
          f"expression {expression:.2f} ms")


if __name__ == "__main__":
    main()
