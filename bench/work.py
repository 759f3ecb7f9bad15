"""The work the benchmarks run: a fixed amount of pure-Python CPU work, and a no-op thunk.

Kept to the standard library with no import-time cost, so that every launcher (slc-tui's
entrypoint, ``call_experiment``, GNU parallel with ``python -c``) runs the very same work.
The work is a fixed number of loop iterations (not a time budget), so that a run sharing a
core with another run takes longer, as real training would.
"""

from __future__ import annotations

import time
from typing import Any


def spin(n: int) -> int:
    """``n`` iterations of integer arithmetic; returns a checksum so nothing is optimised away."""
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    return acc


def busy(n: int = 5_000_000, seed: int = 0, logger_kwargs: Any = None, **_: Any) -> None:
    """A thunk: ``n`` iterations of :func:`spin` (the grid's CPU-bound run)."""
    spin(n)


def nap(ms: int = 500, seed: int = 0, logger_kwargs: Any = None, **_: Any) -> None:
    """A thunk that sleeps ``ms`` milliseconds: a run whose length no other load changes."""
    time.sleep(ms / 1000)


def nothing(seed: int = 0, logger_kwargs: Any = None, **_: Any) -> None:
    """A thunk that does nothing: its run costs only the launch."""


def calibrate(seconds: float = 0.75, probe: int = 400_000, repeats: int = 5) -> int:
    """Iterations of :func:`spin` that take about ``seconds`` on one core of this machine.

    The fastest of ``repeats`` probes is used, so that other load on the machine during the
    calibration does not shrink the work.
    """
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        spin(probe)
        best = min(best, time.perf_counter() - t0)
    return int(probe * seconds / best)


if __name__ == "__main__":
    n = calibrate()
    t0 = time.perf_counter()
    busy(n)
    print(f"{n} iterations, {time.perf_counter() - t0:.3f} s")


def curve(
    quality: float = 1.0,
    seed: int = 0,
    logger_kwargs: Any = None,
    epochs: int = 15,
    secs: float = 0.1,
    **_: Any,
) -> None:
    """A thunk that trains on a sleep: ``epochs`` rows of ``AverageEpRet`` rising towards
    ``100 * quality`` (plus noise of the seed), one every ``secs`` seconds."""
    import math
    import os
    import random

    out = (logger_kwargs or {}).get("output_dir", ".")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    with open(os.path.join(out, "progress.txt"), "w") as f:
        f.write("Epoch\tAverageEpRet\n")
        for epoch in range(epochs):
            time.sleep(secs)
            value = 100.0 * quality * (1.0 - math.exp(-(epoch + 1) / 4.0)) + rng.gauss(0, 4)
            f.write(f"{epoch}\t{value:.3f}\n")
            f.flush()
