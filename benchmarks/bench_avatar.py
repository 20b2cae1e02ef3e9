"""Avatar render times: median milliseconds (wall clock and this process's CPU time).

- cached: ``render_avatar_png`` for a picture already rendered (goal: under 1 ms)
- fresh PNG: the SVG is cached, the 512 px raster is not (goal: under 30 ms)
- fresh SVG + PNG: nothing cached (a new profile or expression)

CPU time is reported too because wall time on a busy machine mostly measures waiting.
Run: ``python benchmarks/bench_avatar.py [--size 512] [--repeats 30]``.
"""

from __future__ import annotations

import argparse

from facemoji.apps.arguments import positive
from facemoji.emotions import EMOTIONS
from facemoji.render import avatar
from facemoji.render.avatar import MAX_SIZE, render_avatar_png, render_avatar_svg
from facemoji.render.avatar_profile import PRESETS
from facemoji.timing import median_latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=positive(int), default=512, help=f"avatar side in px, up to {MAX_SIZE} (512)")
    parser.add_argument("--repeats", type=positive(int), default=30, help="fresh renders timed per row (30)")
    args = parser.parse_args()
    if args.size > MAX_SIZE:
        parser.error(f"--size must be at most {MAX_SIZE}, got {args.size}")
    profiles = list(PRESETS.values())

    def pick(i: int) -> tuple:
        return profiles[i % len(profiles)], EMOTIONS[(i // len(profiles)) % len(EMOTIONS)]

    for i in range(len(profiles) * len(EMOTIONS)):  # warm both caches
        render_avatar_png(*pick(i), args.size)

    rows = {
        "cached PNG": median_latency(lambda i: render_avatar_png(*pick(i), args.size), args.repeats * 10),
        "cached SVG": median_latency(lambda i: render_avatar_svg(*pick(i)), args.repeats * 10),
        f"fresh {args.size} px PNG (SVG cached)": median_latency(
            lambda i: render_avatar_png(*pick(i), args.size), args.repeats, before=avatar._png.cache_clear
        ),
        "fresh SVG + PNG": median_latency(
            lambda i: render_avatar_png(*pick(i), args.size),
            args.repeats,
            before=lambda: (avatar._png.cache_clear(), avatar._svg.cache_clear()),
        ),
    }
    print(f"{'':36s} {'wall ms':>9s} {'cpu ms':>9s}")
    for name, latency in rows.items():
        print(f"{name:36s} {latency.median_ms:9.3f} {latency.cpu_ms:9.3f}")


if __name__ == "__main__":
    main()
