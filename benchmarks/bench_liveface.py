"""Live-face frame time: median milliseconds per frame for each look (goal: under 5 ms at 256 px).

Measures ``LiveFace.update`` (smoothing + drawing + conversion to a PIL image) over a sweep of
expressions, poses and all 7 emotions, and, for comparison, rasterising the same frame's SVG
with resvg. Run: ``python benchmarks/bench_liveface.py [--size 256] [--frames 300]``.
``--sheet PATH`` also writes a contact sheet (each look: the 7 emotions x a row of driven states)
to look at.
"""

from __future__ import annotations

import argparse
import math

from PIL import Image, ImageDraw

from facemoji.apps.arguments import positive
from facemoji.emotions import EMOTIONS
from facemoji.render.liveface import LOOKS, FaceState, LiveFace, LiveFaceError
from facemoji.render.raster import rasterise
from facemoji.results import Box, Face, Pose
from facemoji.timing import median_latency

WARM_FRAMES = 20 * len(EMOTIONS)  # fill the caches (one static layer per emotion)


def _face(i: int) -> Face:
    """A frame of a synthetic head that talks, smiles, blinks and sways."""
    w = i / 30.0
    shapes = {
        "jawOpen": 0.25 + 0.2 * math.sin(7 * w),
        "mouthSmileLeft": 0.5 + 0.4 * math.sin(0.9 * w),
        "mouthSmileRight": 0.5 + 0.4 * math.sin(0.9 * w + 0.3),
        "eyeBlinkLeft": 0.9 if i % 90 < 4 else 0.05,
        "eyeBlinkRight": 0.9 if i % 90 < 4 else 0.05,
        "browInnerUp": 0.3 + 0.3 * math.sin(1.3 * w),
    }
    emotion = EMOTIONS[(i // 20) % len(EMOTIONS)]
    pose = Pose(yaw=20 * math.sin(0.7 * w), pitch=10 * math.sin(0.5 * w), roll=15 * math.sin(0.4 * w))
    return Face(Box(0, 0, 100, 100), emotion, {e: float(e == emotion) for e in EMOTIONS}, None, shapes, pose)


SHEET_STATES = {
    "rest": FaceState(),
    "jaw open": FaceState(jaw_open=0.7),
    "smile": FaceState(smile_left=1.0, smile_right=1.0),
    "frown": FaceState(frown_left=1.0, frown_right=1.0),
    "left blink": FaceState(blink_left=1.0),
    "brows up": FaceState(brow_inner_up=1.0, brow_outer_up_left=1.0, brow_outer_up_right=1.0),
    "brows down": FaceState(brow_down_left=1.0, brow_down_right=1.0),
    "roll +20": FaceState(roll=20.0),
    "yaw -25": FaceState(yaw=-25.0),
    "pitch +15": FaceState(pitch=15.0),
}


def contact_sheet(path: str, cell: int = 160) -> None:
    """Both looks, the 7 emotions (rows) x SHEET_STATES (columns), on a light background."""
    label = 70
    rows = [(look, e) for look in LOOKS for e in EMOTIONS]
    sheet = Image.new("RGBA", (label + cell * len(SHEET_STATES), 16 + cell * len(rows)), (238, 241, 245, 255))
    pen = ImageDraw.Draw(sheet)
    for j, name in enumerate(SHEET_STATES):
        pen.text((label + j * cell + 6, 2), name, fill=(0, 0, 0, 255))
    faces = {look: LiveFace(look, size=cell, smooth=False) for look in LOOKS}
    for i, (look, emotion) in enumerate(rows):
        pen.text((4, 16 + i * cell + cell // 2), f"{look}\n{emotion}", fill=(0, 0, 0, 255))
        for j, state in enumerate(SHEET_STATES.values()):
            sheet.alpha_composite(faces[look].render(state, emotion), (label + j * cell, 16 + i * cell))
    sheet.save(path)
    print(f"contact sheet: {path} ({sheet.width}x{sheet.height})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=positive(int), default=256, help="live-face side in px (256)")
    parser.add_argument("--frames", type=positive(int), default=300, help="frames timed per look (300)")
    parser.add_argument("--sheet", metavar="PATH", help="also write a contact sheet PNG here")
    args = parser.parse_args()
    if args.sheet:
        try:
            contact_sheet(args.sheet)
        except (OSError, ValueError) as e:  # Pillow: ValueError for an unknown suffix
            parser.error(f"--sheet {args.sheet}: {e}")
    for look in LOOKS:
        try:
            live = LiveFace(look, size=args.size)
        except LiveFaceError as e:
            print(f"{look:7s} skipped: {e}")
            continue
        t = median_latency(lambda i, live=live: live.update(_face(i), i / 30.0), args.frames, WARM_FRAMES)
        print(f"{look:7s} update (smooth + draw) {args.size} px: {t.cpu_ms:.2f} ms CPU, {t.median_ms:.2f} ms wall "
              f"(medians over {args.frames} frames)")

        def via_resvg(i: int, live: LiveFace = live) -> Image.Image:
            f = _face(i)
            return rasterise(live.svg(FaceState.from_face(f.blendshapes, f.pose), f.emotion), live.size)

        t = median_latency(via_resvg, args.frames, WARM_FRAMES)
        print(f"{look:7s} svg + resvg + PNG decode {args.size} px: {t.cpu_ms:.2f} ms CPU, {t.median_ms:.2f} ms wall "
              "(the path not taken)")


if __name__ == "__main__":
    main()
