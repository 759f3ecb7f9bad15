"""Seed aggregates: how a variant did across its seeds, at one point of training or along it.

Pure numpy, no files and no UI: callers parse the progress files (``engine.progress``) and
hand in columns. Per variant and metric: the number of seeds, mean, standard deviation
(numpy's default, ``ddof=0``), median, interquartile mean (the mean of the middle 50%, as
rliable and ``scipy.stats.trim_mean(x, 0.25)``), and a 95% percentile-bootstrap interval of
the mean (a fixed seed: the same values always give the same interval). Seeds that failed
are never mixed into these numbers; they are counted apart, as are seeds with no value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Columns = dict[str, np.ndarray]
"""A progress table: column name -> float array (NaN where a cell is no number)."""
CONFIDENCE = 0.95
"""Coverage of the bootstrap interval."""
RESAMPLES = 2000
"""Bootstrap resamples."""
BOOTSTRAP_SEED = 0
"""Seed of the bootstrap's generator."""
ESTIMATORS = ("mean", "median", "iqm")
"""What a curve's centre line (and an interval) may estimate."""


def columns_of(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Columns:
    """The table ``rows`` under ``names`` as float arrays (text cells become NaN)."""

    def num(cell: Any) -> float:
        return (
            float(cell)
            if isinstance(cell, (int, float)) and not isinstance(cell, bool)
            else math.nan
        )

    return {n: np.array([num(r[i]) for r in rows], dtype=float) for i, n in enumerate(names)}


def iqm(values: Sequence[float] | np.ndarray, axis: int = 0) -> Any:
    """The interquartile mean: the mean after cutting ``int(n / 4)`` values from each end."""
    a = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = a.shape[axis]
    cut = int(0.25 * n)
    return np.take(a, range(cut, n - cut), axis=axis).mean(axis=axis)


ESTIMATE: dict[str, Callable[..., Any]] = {"mean": np.mean, "median": np.median, "iqm": iqm}


def _resample(n: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` x ``n`` indices drawn with replacement, from a generator seeded ``seed``."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    estimator: str = "mean",
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """The percentile-bootstrap interval of ``estimator`` over ``values`` (None for n < 2)."""
    a = np.asarray(values, dtype=float)
    if a.size < 2:
        return None
    tail = (1 - confidence) / 2 * 100
    stats = ESTIMATE[estimator](a[_resample(a.size, resamples, seed)], axis=1)
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_band(
    values: np.ndarray,
    estimator: str = "mean",
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`bootstrap_ci` at each point of ``values`` (seeds x points), the same resamples
    of seeds for every point; None for fewer than two seeds."""
    n = values.shape[0]
    if n < 2:
        return None
    picks, tail = _resample(n, resamples, seed), (1 - confidence) / 2 * 100
    los, his = [], []
    for start in range(0, values.shape[1], 64):  # a block of points at a time: bounded memory
        stats = ESTIMATE[estimator](values[:, start : start + 64][picks], axis=1)
        lo, hi = np.percentile(stats, [tail, 100 - tail], axis=0)
        los.append(lo)
        his.append(hi)
    return np.concatenate(los), np.concatenate(his)


@dataclass(frozen=True)
class Aggregate:
    """Statistics of some seeds' values (all None without values)."""

    n: int
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    iqm: float | None = None
    ci: tuple[float, float] | None = None
    """The 95% bootstrap interval of the mean; None with fewer than two values."""


def aggregate(values: Sequence[float]) -> Aggregate:
    """The :class:`Aggregate` of finite ``values``."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return Aggregate(0)
    return Aggregate(a.size, float(np.mean(a)), float(np.std(a)), float(np.median(a)),
                     float(iqm(a)), bootstrap_ci(a))  # fmt: skip


@dataclass(frozen=True)
class At:
    """Where in training a value is taken: ``final``, ``best``, an epoch, or a value of a
    column (``TotalEnvInteracts=1e6``, linearly interpolated between rows)."""

    kind: str = "final"
    value: float = 0.0
    column: str = ""

    def __str__(self) -> str:
        if self.kind == "epoch":
            return f"epoch {self.value:g}"
        return f"{self.column}={self.value:g}" if self.kind == "x" else self.kind


FINAL = At()
"""The default point: each seed's final epoch."""


def parse_at(text: str) -> At:
    """``final``, ``best``, ``N`` (an epoch) or ``COLUMN=VALUE``.

    Raises:
        ValueError: anything else (the message says what is accepted).
    """
    word = text.strip()
    column, eq, value = word.partition("=")
    try:
        if word in ("final", "best"):
            return At(word)
        if eq and column.strip():
            return At("x", float(value), column.strip())
        epoch = float(word)
        if math.isfinite(epoch):
            return At("epoch", epoch)
    except ValueError:
        pass
    raise ValueError(f"expected final, best, an epoch number or COLUMN=VALUE, got {text!r}")


@dataclass
class Seed:
    """One run of a variant, as the statistics see it."""

    name: str
    """The run's name (its folder's name)."""
    columns: Columns
    epochs: np.ndarray
    """Each row's epoch (the progress file's epoch column, else the row's 1-based number)."""
    failed: str = ""
    """Why the run is left out of every statistic (failed, cancelled, stopped early); "" if not."""
    running: bool = False
    """Whether the run is still going (its values are its latest)."""


def _finite(seed: Seed, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of the rows where ``metric`` is a finite number."""
    y = seed.columns.get(metric)
    if y is None:
        return np.empty(0), np.empty(0)
    keep = np.isfinite(y)
    return seed.epochs[keep], y[keep]


def _value_at(seed: Seed, metric: str, at: At) -> tuple[float, float] | str:
    """(epoch, value) of ``metric`` at ``at`` in one seed, or why there is none."""
    if not seed.columns:
        return "no progress yet"
    if metric not in seed.columns:
        return f"no {metric} column"
    epochs, y = _finite(seed, metric)
    if y.size == 0:
        return f"no value of {metric}"
    if at.kind in ("final", "best"):  # best is chosen over the variant: see variant_stats
        return float(epochs[-1]), float(y[-1])
    if at.kind == "epoch":
        hit = np.flatnonzero(epochs == at.value)
        return (at.value, float(y[hit[-1]])) if hit.size else f"no value at epoch {at.value:g}"
    x = seed.columns.get(at.column)
    if x is None:
        return f"no {at.column} column"
    keep = np.isfinite(x) & np.isfinite(seed.columns[metric])
    xs, ys, es = x[keep], seed.columns[metric][keep], seed.epochs[keep]
    if xs.size == 0 or not xs.min() <= at.value <= xs.max():
        return f"{at.column} never reached {at.value:g}"
    order = np.argsort(xs, kind="stable")
    epoch = float(es[order][np.searchsorted(xs[order], at.value)])
    return epoch, float(np.interp(at.value, xs[order], ys[order]))


def best_epoch(seeds: Sequence[Seed], metric: str) -> float | None:
    """The epoch at which the mean of ``metric`` over ``seeds`` is highest, among the epochs
    every seed with values reached (else those most seeds reached)."""
    by_epoch: dict[float, list[float]] = {}
    for seed in seeds:
        for e, v in zip(*_finite(seed, metric)):
            by_epoch.setdefault(float(e), []).append(float(v))
    if not by_epoch:
        return None
    most = max(len(v) for v in by_epoch.values())
    return max((e for e, v in by_epoch.items() if len(v) == most),
               key=lambda e: (float(np.mean(by_epoch[e])), -e))  # fmt: skip


@dataclass
class VariantStats:
    """One variant's statistics of one metric at one point, over its seeds."""

    grid: str
    variant: str
    metric: str
    at: str
    runs: int
    """Runs of the variant: ``seeds + failed + missing``."""
    seeds: int
    """Seeds in the statistics."""
    failed: int
    """Runs left out because they failed, were cancelled or lost, or stopped early."""
    missing: int
    """Runs that count but have no value there yet (pending, column absent, NaN, too short)."""
    running: int
    """Of the seeds, those still running (at their latest epoch)."""
    epoch: float | None
    """The epoch the values were taken at (the latest one for ``final``)."""
    stats: Aggregate
    values: dict[str, float] = field(default_factory=dict)
    """Each seed's value, by run name."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Each run left out or missing, by name, and why."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields, with ``mean`` ... ``ci`` at the top level."""
        s = self.stats
        return {"variant": self.variant, "grid": self.grid, "metric": self.metric,
                "at": self.at, "epoch": self.epoch, "runs": self.runs, "seeds": self.seeds,
                "failed": self.failed, "missing": self.missing, "running": self.running,
                "mean": s.mean, "std": s.std, "median": s.median, "iqm": s.iqm,
                "ci": list(s.ci) if s.ci else None, "values": self.values,
                "left_out": self.left_out}  # fmt: skip


def variant_stats(grid: str, variant: str, seeds: Sequence[Seed], metric: str,
                  at: At = FINAL) -> VariantStats:  # fmt: skip
    """The statistics of ``metric`` at ``at`` over the seeds that did not fail."""
    counted = [s for s in seeds if not s.failed]
    left_out = {s.name: s.failed for s in seeds if s.failed}
    point = at
    if at.kind == "best":
        epoch = best_epoch(counted, metric)
        point = At("epoch", epoch) if epoch is not None else at
    values: dict[str, float] = {}
    epochs: list[float] = []
    running = 0
    for seed in counted:
        got = _value_at(seed, metric, point)
        if isinstance(got, str):
            left_out[seed.name] = got
            continue
        epochs.append(got[0])
        values[seed.name] = got[1]
        running += seed.running
    failed = len(seeds) - len(counted)
    return VariantStats(grid, variant, metric, str(at), len(seeds), len(values), failed,
                        len(counted) - len(values), running, max(epochs) if epochs else None,
                        aggregate(list(values.values())), values, left_out)  # fmt: skip


def ranked(variants: Sequence[VariantStats]) -> list[VariantStats]:
    """Best mean first; variants without values last (in the order given)."""
    return sorted(variants, key=lambda v: (v.stats.mean is None, -(v.stats.mean or 0.0)))
