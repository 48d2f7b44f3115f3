"""When the run loop samples the trace: a cheap default schedule, or every N iterations.

The default (``trace_every: 0``) samples iterations 0..10, then about ten log-spaced points
per decade (``round(10**(j/10))``: 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, ...) and every
``EVERY`` (100) iterations, plus the final iteration, as benchopt samples a run on a
log-spaced grid of stopping points (Moreau et al. 2022, *Benchopt*, NeurIPS). Measuring costs
about one exact value and gradient; on ``n`` iterations the default takes
``11 + 10·log10(n/10) + n/100`` samples. ``trace_every: N`` samples every N iterations.
"""
from __future__ import annotations

__all__ = ["Schedule", "EVERY", "FIRST"]

import math

FIRST = 10        # every iteration up to this one
PER_DECADE = 10   # log-spaced points per decade after it
EVERY = 100       # and every EVERY iterations (caps how late a tolerance stop is seen)


class Schedule:
    """``schedule.due(it)``: sample the trace at iteration ``it`` (0 is always sampled).
    ``every``: sample every ``every`` iterations; 0 or None: the default log-spaced schedule."""

    def __init__(self, every: int | None = None):
        self.every = int(every or 0)

    def due(self, it: int) -> bool:
        return it == 0 or self.next_after(it - 1) == it

    def next_after(self, it: int) -> int:
        """The first sampled iteration after ``it`` (the loop compares one int per iteration)."""
        if self.every:
            return (it // self.every + 1) * self.every
        if it < FIRST:
            return it + 1
        k = math.floor(PER_DECADE * math.log10(it)) - 1
        while round(10 ** (k / PER_DECADE)) <= it:
            k += 1
        return min(round(10 ** (k / PER_DECADE)), (it // EVERY + 1) * EVERY)

    def iterations(self, n: int) -> list[int]:
        """The iterations sampled by a run of ``n`` iterations (the last one included)."""
        out = [0]
        while (nxt := self.next_after(out[-1])) < n:
            out.append(nxt)
        return out if out[-1] == n else out + [n]
