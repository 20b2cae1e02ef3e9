"""Time-based jitter removal for live drive signals: one 1-euro filter per named channel.

The 1-euro filter (Casiez et al., CHI 2012) is a low-pass filter whose cut-off rises with the
signal's speed: slow drift and sensor noise are smoothed hard, fast moves (a blink, a jaw drop)
pass with little lag. The filter itself is the authors' ``OneEuroFilter`` package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from OneEuroFilter import OneEuroFilter


class SmoothingError(ValueError):
    """A smoother was given bad settings, a non-increasing time or a non-finite value."""


@dataclass(frozen=True)
class OneEuroOptions:
    """1-euro filter settings, in the units of the signal being smoothed.

    ``min_cutoff`` (Hz) sets how hard a still signal is smoothed (lower: less jitter, more lag);
    ``beta`` (per signal-unit per second) sets how quickly the cut-off opens up when the signal
    moves; ``d_cutoff`` (Hz) smooths the speed estimate itself.
    """

    min_cutoff: float = 1.0
    beta: float = 1.0
    d_cutoff: float = 1.0


class OneEuroSmoother:
    """Smooths a dict of named signals over time, one independent 1-euro filter per name.

    A name seen for the first time starts at its value; names missing from a later call keep
    their filter state and are left out of that call's result.
    """

    def __init__(self, options: OneEuroOptions | None = None) -> None:
        """Raises ``SmoothingError`` when a cut-off is not positive or ``beta`` is negative."""
        self.options = options or OneEuroOptions()
        o = self.options
        if not (o.min_cutoff > 0 and o.d_cutoff > 0 and o.beta >= 0):
            raise SmoothingError(f"expected min_cutoff > 0, d_cutoff > 0 and beta >= 0, got {o}")
        self._filters: dict[str, OneEuroFilter] = {}
        self._first_t: float | None = None
        self._last_t: float | None = None

    def update(self, values: Mapping[str, float], t_seconds: float) -> dict[str, float]:
        """Feed one sample of every channel taken at ``t_seconds``; returns the smoothed values.

        Raises ``SmoothingError`` when ``t_seconds`` is not finite or not later than the previous
        call's, or when a value is not finite.
        """
        if not math.isfinite(t_seconds) or (self._last_t is not None and t_seconds <= self._last_t):
            raise SmoothingError(f"t_seconds must be finite and increase between calls, got {t_seconds} "
                                 f"after {self._last_t}")
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        if bad:
            raise SmoothingError(f"non-finite value for {', '.join(sorted(bad))}")
        if self._first_t is None:
            self._first_t = t_seconds
        self._last_t = t_seconds
        # The package ignores a timestamp of 0.0 (it tests truthiness), so its clock starts at 1 s.
        t = t_seconds - self._first_t + 1.0
        out: dict[str, float] = {}
        for name, value in values.items():
            f = self._filters.get(name)
            if f is None:
                f = self._filters[name] = OneEuroFilter(30.0, self.options.min_cutoff, self.options.beta,
                                                        self.options.d_cutoff)
            out[name] = f(float(value), t)
        return out
