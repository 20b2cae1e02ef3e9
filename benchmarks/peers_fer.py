"""facemoji's shipped emotion model beside the PyPI ``fer`` package, on the FER-2013 test split.

``fer`` (mini-Xception, TensorFlow) is installed in its own venv, outside the repository, as its
users install it, except for ``facenet-pytorch``: fer needs that only for ``FER(mtcnn=True)``, and
it pins torch 2.2 (several GB). The Haar-cascade path measured here never imports it.

What is measured, for each of the 7,178 test faces (48x48 grayscale, 3,589 PublicTest and 3,589
PrivateTest):

* fer: the face crop goes to fer's emotion classifier exactly as ``FER.detect_emotions`` would
  hand it a detected face: resized to 64x64 (``cv2.resize``), scaled to [-1, 1], then
  ``FER._classify_emotions``. Both of fer's models: the quantized TFLite one ``FER()`` uses by
  default and the Keras ``.hdf5`` one (``FER(use_tflite=False)``). Face detection is left out:
  the crops already are faces, and fer's Haar cascade finds few faces in 48x48 images.
* facemoji: ``EmotionClassifier.predict`` on the same crops (its own training preprocessing and
  test-time augmentation, as shipped).

Accuracy is the argmax against the label. ms per face is the median over single-face calls on one
thread (TensorFlow and TFLite pinned to one thread, ONNX Runtime ``threads=1``), as process CPU
time (unaffected by other work on the machine) and as wall time (equal to it on an idle core).

Usage (CPU heavy, a few minutes)::

    nice -n 10 .venv/bin/python benchmarks/peers_fer.py [--data ../shared/datasets/fer2013.zip] [--model X.onnx]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FER_VERSION = "25.10.3"
FER_DEPS = [  # fer's requirements, less facenet-pytorch (see above)
    "tensorflow", "opencv-contrib-python", "pandas", "requests", "tqdm>=4.62.1", "moviepy>=1.0.3,<2.0",
    "ffmpeg-python>=0.2.0", "Pillow", "matplotlib",
    "setuptools<81",  # fer imports pkg_resources, which newer setuptools no longer ships
]  # fmt: skip
TIMING_RUNS = 300


def ensure_venv(venv: Path) -> Path:
    """Create ``venv`` with fer installed unless it is already there; returns its python."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import fer.fer, tensorflow"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing fer {FER_VERSION} and TensorFlow into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"fer=={FER_VERSION}", "--no-deps"], check=True)
    subprocess.run([*pip, *FER_DEPS], check=True)
    return python


# --- runs inside the fer venv: numpy, cv2, tensorflow and fer only ---------------------------------


def worker(faces_npz: Path, out_json: Path) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import fer
    from fer.fer import FER

    tflite_path = Path(fer.__file__).parent / "data" / "emotion_model_quantized.tflite"
    interpreter = tf.lite.Interpreter(model_path=str(tflite_path), num_threads=1)
    interpreter.allocate_tensors()
    FER._tflite_interpreter_cache = interpreter  # fer reuses a cached interpreter: ours runs on one thread

    faces = np.load(faces_npz)["images"]
    gray = np.stack([cv2.resize(f, (64, 64)) for f in faces]).astype(np.float32)
    gray = (gray / 255.0 - 0.5) * 2.0  # FER.detect_emotions' preprocessing
    result: dict = {"fer": fer.__version__, "tensorflow": tf.__version__}
    for name, detector in (("tflite", FER()), ("keras", FER(use_tflite=False))):
        batches = [detector._classify_emotions(gray[i : i + 256]) for i in range(0, len(gray), 256)]
        probs = np.concatenate([np.asarray(b) for b in batches])
        wall, cpu = [], []
        for i in range(TIMING_RUNS + 20):
            w, c = time.perf_counter(), time.process_time()
            detector._classify_emotions(gray[i % len(gray) : i % len(gray) + 1])
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        ms = (float(np.median(wall[20:]) * 1e3), float(np.median(cpu[20:]) * 1e3))
        result[name] = {"predicted": probs.argmax(1).tolist(), "ms_per_face": ms}
    out_json.write_text(json.dumps(result))


# --- runs in facemoji's venv ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "fer2013.zip")
    parser.add_argument("--model", type=Path, help="facemoji model (default: the shipped one)")
    parser.add_argument("--venv", type=Path, default=Path("/work/peers/fer-venv"), help="where fer is installed")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from facemoji.classifier import EmotionClassifier
    from facemoji.training.data import load_dataset
    from facemoji.training.evaluate import predict_classes, time_per_face

    public, private = load_dataset(args.data, "public"), load_dataset(args.data, "private")
    images = np.concatenate([public.images, private.images])
    labels = np.concatenate([public.labels, private.labels])
    is_public = np.arange(len(labels)) < len(public)

    python = ensure_venv(args.venv)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "faces.npz", images=images)
        cmd = [str(python), __file__, "--worker", str(Path(tmp) / "faces.npz"), str(Path(tmp) / "fer.json")]
        subprocess.run(cmd, check=True)
        fer = json.loads((Path(tmp) / "fer.json").read_text())

    classifier = EmotionClassifier(args.model, threads=2)
    latency = time_per_face(args.model, runs=TIMING_RUNS)
    rows = [
        (f"fer {fer['fer']} TFLite (default)", fer["tflite"]["predicted"], fer["tflite"]["ms_per_face"]),
        (f"fer {fer['fer']} Keras .hdf5", fer["keras"]["predicted"], fer["keras"]["ms_per_face"]),
        (f"facemoji {classifier.path.name}", predict_classes(classifier, images), (latency.median_ms, latency.cpu_ms)),
    ]
    print(f"FER-2013 test split: {len(labels)} faces ({is_public.sum()} public, {(~is_public).sum()} private)")
    print(f"TensorFlow {fer['tensorflow']}; ms per face: median of {TIMING_RUNS} single-face calls on one thread\n")
    print("| model | PublicTest | PrivateTest | whole test | ms per face (CPU time) | ms per face (wall) |")
    print("|---|---|---|---|---|---|")
    for name, predicted, (wall_ms, cpu_ms) in rows:
        correct = np.asarray(predicted) == labels
        acc = (correct[is_public].mean(), correct[~is_public].mean(), correct.mean())
        print(f"| {name} | {acc[0]:.2%} | {acc[1]:.2%} | {acc[2]:.2%} | {cpu_ms:.2f} | {wall_ms:.2f} |")


if __name__ == "__main__":
    main()
