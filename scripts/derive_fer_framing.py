"""Measure how FER-2013 frames its faces, for the constants in facemoji/align.py.

Runs MediaPipe's landmarker on a fixed random subset of FER-2013 training faces (each upscaled and
given a gray border so the detector sees a whole face), maps the landmarks back to the 48x48
crop, and prints the medians of where the eyes sit and how big the face is, as fractions of the
crop side. It also prints how much each candidate scale measure varies from face to face: the
steadiest one is the best predictor of FER's crop size, and align.py uses it.

    python scripts/derive_fer_framing.py [--data ../shared/datasets/fer2013.zip] [--faces 400]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from facemoji.align import CHIN, FOREHEAD, eye_centres
from facemoji.apps.arguments import positive
from facemoji.faces import FaceFinder, FaceFinderOptions
from facemoji.training.data import SIZE, DatasetError, load_dataset

UPSCALE = 192  # the landmarker's own input size
BORDER = 48  # gray border around the upscaled face: detection rate 96% with it, 89% without (200 faces)
MOUTH = (61, 291)  # mouth corners


def fer_landmarks(faces: np.ndarray) -> list[np.ndarray | None]:
    """Landmarks of each 48x48 face in its own crop's pixel coordinates, None where none was found."""
    found: list[np.ndarray | None] = []
    with FaceFinder(FaceFinderOptions(max_faces=1)) as finder:
        for face in tqdm(faces, desc="landmarks"):
            big = cv2.resize(face, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
            big = cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=128)
            detections = finder.find(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB))
            found.append((detections[0].landmarks[:, :2] - BORDER) * SIZE / UPSCALE if detections else None)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013.zip"
    parser.add_argument("--data", type=Path, default=default_data, help="FER-2013 (Kaggle zip, folder or csv)")
    parser.add_argument("--faces", type=positive(int), default=400, help="how many training faces to measure")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random subset")
    args = parser.parse_args(argv)

    try:
        dataset = load_dataset(args.data, "train")
    except DatasetError as e:
        parser.error(str(e))
    if args.faces > len(dataset):
        parser.error(f"--faces {args.faces} is more than the {len(dataset)} training faces")
    pick = np.random.default_rng(args.seed).choice(len(dataset), size=args.faces, replace=False)
    marks = [m for m in fer_landmarks(dataset.images[pick]) if m is not None]
    print(f"landmarker found a face in {len(marks)} of {args.faces} faces ({len(marks) / args.faces:.1%})")

    eyes = np.array([eye_centres(m) for m in marks])  # (N, 2 eyes, 2)
    mid = eyes.mean(axis=1)
    mouth = np.array([m[list(MOUTH)].mean(axis=0) for m in marks])
    eye_line = eyes[:, 1] - eyes[:, 0]
    roll = np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0]))
    scales = {
        "inter-ocular distance": np.linalg.norm(eye_line, axis=1),
        "eyes-to-mouth distance": np.linalg.norm(mouth - mid, axis=1),
        "forehead-to-chin distance": np.array([np.linalg.norm(m[FOREHEAD] - m[CHIN]) for m in marks]),
    }
    print(f"eye line tilt in FER crops: median {np.median(roll):+.1f} deg, |tilt| {np.median(abs(roll)):.1f} deg")
    print("scale measure (fraction of crop side): median, relative spread (MAD / median)")
    for name, values in scales.items():
        med = np.median(values / SIZE)
        print(f"  {name:26s} {med:.3f}  {np.median(np.abs(values / SIZE - med)) / med:.3f}")
    ex, ey = np.median(mid / SIZE, axis=0)
    height = np.median(scales["forehead-to-chin distance"] / SIZE)
    print("\nconstants for src/facemoji/align.py:")
    print(f"EYE_CENTRE = ({ex:.3f}, {ey:.3f})  # where the midpoint between the two eyes sits (x, y)")
    print(f"FACE_HEIGHT = {height:.3f}  # forehead-to-chin distance")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
