"""Curves over seeds: SpinningUp's smoothing, one seed's points, and a variant's centre line
with a band (± std, or a bootstrap interval), on the x range all its seeds cover.

Pure numpy, like :mod:`slc_tui.stats`; the dashboard and ``slc-tui plot`` draw these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slc_tui.stats import ESTIMATE, Seed, bootstrap_band

SPREADS = ("std", "ci", "none")
"""What a curve's band may be."""


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """SpinningUp's smoothing: the mean over a centred window of ``window`` points (fewer at
    the ends); ``window <= 1`` leaves ``y`` as it is."""
    if window <= 1 or y.size == 0:
        return y
    k = np.ones(window)
    return np.convolve(y, k, "same") / np.convolve(np.ones(y.size), k, "same")


def curve_of(
    seed: Seed, x: str | None, metric: str, window: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's (x, smoothed ``metric``) points where both are finite, by rising x; ``x``
    None is the epoch."""
    xs = seed.epochs if x is None else seed.columns.get(x)
    y = seed.columns.get(metric)
    if xs is None or y is None:
        return np.empty(0), np.empty(0)
    keep = np.isfinite(xs) & np.isfinite(y)
    order = np.argsort(xs[keep], kind="stable")
    return xs[keep][order], smooth(y[keep][order], window)


@dataclass
class Band:
    """A variant's curve over its seeds: a centre line and, maybe, a band around it."""

    x: np.ndarray
    center: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    n: int
    """Seeds in it."""


def band(curves: Sequence[tuple[np.ndarray, np.ndarray]], estimator: str = "mean",
         spread: str = "std", max_points: int = 500) -> Band | None:  # fmt: skip
    """The curves' ``estimator`` along x with a ``spread`` band (``std``: ± one standard
    deviation; ``ci``: the bootstrap interval of the estimator; ``none``).

    Each point aggregates every curve: x runs over the range all curves cover (no curve is
    extended), at the x values they have (at most ``max_points``), each curve interpolated.
    None when the curves share no x.
    """
    curves = [(x, y) for x, y in curves if x.size]
    if not curves:
        return None
    lo_x, hi_x = max(float(x[0]) for x, _ in curves), min(float(x[-1]) for x, _ in curves)
    if lo_x > hi_x:
        return None
    grid = np.unique(np.concatenate([x[(x >= lo_x) & (x <= hi_x)] for x, _ in curves]))
    if grid.size > max_points:
        grid = np.linspace(lo_x, hi_x, max_points)
    ys = np.array([np.interp(grid, x, y) for x, y in curves])
    center = np.asarray(ESTIMATE[estimator](ys, axis=0), dtype=float)
    lo = hi = None
    if spread == "std" and len(curves) > 1:
        std = ys.std(axis=0)
        lo, hi = center - std, center + std
    elif spread == "ci" and len(curves) > 1:
        lo, hi = bootstrap_band(ys, estimator) or (None, None)
    return Band(grid, center, lo, hi, len(curves))
