"""Median latency of a repeated call, in wall-clock and process-CPU milliseconds.

Wall time on a busy machine mostly measures waiting; process CPU time does not (on an idle core
the two agree), so both are kept. Used by the benchmarks and the model card.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    median_ms: float  # wall clock
    cpu_ms: float  # process CPU time
    runs: int


def median_latency(
    fn: Callable[[int], object], runs: int, warmup: int = 0, before: Callable[[], object] | None = None
) -> Latency:
    """Median cost of ``fn(i)``: ``warmup`` untimed calls, then ``runs`` timed ones.

    ``i`` counts every call, warm-up included, so callers can vary the input. ``before`` runs
    untimed ahead of each timed call (e.g. to clear a cache).

    >>> median_latency(lambda i: sum(range(1000)), runs=20).runs
    20
    """
    for i in range(warmup):
        fn(i)
    wall, cpu = np.empty(runs), np.empty(runs)
    for k in range(runs):
        if before is not None:
            before()
        w, c = time.perf_counter(), time.process_time()
        fn(warmup + k)
        wall[k], cpu[k] = time.perf_counter() - w, time.process_time() - c
    return Latency(float(np.median(wall) * 1e3), float(np.median(cpu) * 1e3), runs)
