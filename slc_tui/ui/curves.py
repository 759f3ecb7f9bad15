"""Learning curves: one metric over epochs as a braille line plot, with a legend.

A run shows its curve; a variant its seeds, and their mean with a band of ± one standard
deviation (a failed seed is drawn dim and left out of the mean); a grid one curve per
variant (the mean over its seeds that did not fail).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import numpy as np
from rich.text import Text
from textual.widget import Widget

from slc_tui.engine.progress import EPOCH_COLUMNS, epoch_of, main_metric, read_progress
from slc_tui.seed_curves import band
from slc_tui.states import RunState
from slc_tui.ui.braille import Points, Series, plot

__all__ = ["Curves", "Points", "Series", "curve", "load_progress", "mean_band", "plot"]
FAILED = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.LOST})
"""States whose runs' curves are left out of a mean."""

SEED_STYLES = ("cyan", "magenta", "blue", "green", "yellow", "bright_red")
"""Colours of the seeds' (or variants') curves, in turn; a variant's mean is drawn bold."""
FAILED_STYLE = "grey50"
"""A failed seed's curve: shown, but left out of the mean."""
StateOf = Callable[[list[str]], list[Optional[RunState]]]
"""The states of the runs in some output folders (None: unknown)."""


_cache: dict[str, tuple[tuple[float, int], tuple[list[str], list[list[Any]]]]] = {}


def load_progress(output_dir: str) -> tuple[list[str], list[list[Any]]]:
    """The run's progress table, read again only when its file changed."""
    for name in ("progress.txt", "progress.csv"):
        path = os.path.join(output_dir, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp = (st.st_mtime, st.st_size)
        hit = _cache.get(path)
        if hit is None or hit[0] != stamp:
            hit = (stamp, read_progress(output_dir))
            _cache[path] = hit
        return hit[1]
    return [], []


def curve(columns: list[str], rows: list[list[Any]], metric: str) -> list[tuple[float, float]]:
    """The (epoch, value) points of ``metric`` in a progress table."""
    if metric not in columns:
        return []
    col = columns.index(metric)
    points = []
    for i, row in enumerate(rows):
        value = row[col]
        if isinstance(value, float) and value == value:
            points.append((float(epoch_of(dict(zip(columns, row)), i + 1)), value))
    return points


def mean_band(
    curves: list[Points],
) -> tuple[Points, tuple[list[float], list[float], list[float]] | None]:
    """The mean of ``curves`` at each epoch they all reached, and the band of ± one standard
    deviation around it (None for a single curve)."""
    got = band([(np.array([x for x, _ in c]), np.array([y for _, y in c])) for c in curves])
    if got is None:
        return [], None
    mean = [(float(x), float(y)) for x, y in zip(got.x, got.center)]
    if got.lo is None or got.hi is None:
        return mean, None
    return mean, (got.x.tolist(), got.lo.tolist(), got.hi.tolist())


def variant_labels(groups: list[list[str]]) -> list[str]:
    """The variants' names in a legend, from their runs' folders, without the prefix they
    share up to an ``_`` (the grid's name: ``cartpole_pop16`` -> ``pop16``)."""
    names = [os.path.basename(os.path.dirname(os.path.normpath(g[0]))) if g else "" for g in groups]
    cut = os.path.commonprefix(names).rfind("_") + 1 if len(names) > 1 else 0  # noqa: RUF071
    return [n[cut:] or n for n in names]


def seed_label(output_dir: str) -> str:
    """``s10`` for a run folder ``..._s10`` (else the folder's name)."""
    name = os.path.basename(os.path.normpath(output_dir))
    head, sep, seed = name.rpartition("_s")
    return f"s{seed}" if sep and head else name


class Curves(Widget):
    """The curves of one run, or of every seed of a variant with their mean and band."""

    DEFAULT_CSS = """
    Curves {
        height: 1fr;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metric: str | None = None
        """The column plotted; None picks the return-like one."""
        self.columns: list[str] = []
        """The numeric columns seen in the last load (what ``m`` cycles through)."""
        self.series: list[Series] = []
        """What is drawn."""
        self.state_of: StateOf | None = None
        """Tells which runs failed (their curves stay out of means); set by the screen."""
        self._drawn: list[Series] | None = None
        self._last: tuple[str, list[Any]] | None = None

    def use_states(self, state_of: StateOf) -> None:
        """Take run states from ``state_of`` from now on (and draw again with them)."""
        self.state_of = state_of
        if self._last is not None:
            kind, arg = self._last
            self.load(arg) if kind == "runs" else self.load_variants(arg)

    def _failed(self, output_dirs: list[str]) -> list[bool]:
        states = self.state_of(output_dirs) if self.state_of else [None] * len(output_dirs)
        return [s in FAILED for s in states]

    def load(self, output_dirs: list[str]) -> None:
        """Draw the runs in ``output_dirs``: one run, or a variant's seeds, their mean and
        its band (over the seeds that did not fail)."""
        self._last = ("runs", list(output_dirs))
        metric, curves = self._read([output_dirs])
        failed = dict(zip(output_dirs, self._failed(output_dirs)))
        seeds = [(d, c) for d, c in (curves[0] if curves else []) if c]
        many = len(seeds) > 1
        self.series = []
        for i, (d, c) in enumerate(seeds):
            bad = failed.get(d, False)
            style = FAILED_STYLE if bad else SEED_STYLES[i % len(SEED_STYLES)] if many else "bold"
            label = f"✘ {seed_label(d)}" if bad else seed_label(d)
            self.series.append(Series(c, style, label if many else ""))
        counted = [c for d, c in seeds if not failed.get(d, False)]
        if many and counted:
            mean, spread = mean_band(counted)
            if mean:
                self.series.append(Series(mean, "bold", "mean", spread, "± std"))
        n, left = len(counted), len(seeds) - len(counted)
        what = f"{n} seeds + mean" if many else "1 run" if seeds else ""
        self._titles(metric, what + (f", {left} failed left out" if left and many else ""))

    def load_variants(self, groups: list[list[str]], names: list[str] | None = None) -> None:
        """Draw one curve per variant, the mean over its seeds that did not fail; ``groups``
        are their runs' folders (``names``, their names, else taken from the folders)."""
        self._last = ("variants", [list(g) for g in groups])
        metric, curves = self._read(groups)
        means: list[tuple[str, Points]] = []
        for dirs, runs, name in zip(groups, curves, names or variant_labels(groups)):
            failed = dict(zip(dirs, self._failed(dirs)))
            counted = [c for d, c in runs if c and not failed.get(d, False)]
            mean = mean_band(counted)[0] if counted else []
            if mean:
                means.append((name, mean))
        many = len(means) > 1
        self.series = [
            Series(c, SEED_STYLES[i % len(SEED_STYLES)] if many else "bold", name)
            for i, (name, c) in enumerate(means)
        ]
        n = len(means)
        what = f"{n} variant{'s' if n != 1 else ''} (seed mean{'s' if n != 1 else ''})"
        self._titles(metric, what if n else "")

    def _read(self, groups: list[list[str]]) -> tuple[str | None, list[list[tuple[str, Points]]]]:
        """The metric plotted and, per group, each run's folder and curve."""
        tables = [[(d, load_progress(d)) for d in dirs] for dirs in groups]
        columns: list[str] = []
        for group in tables:
            for _, (cols, _) in group:
                columns.extend(c for c in cols if c not in columns and c not in EPOCH_COLUMNS)
        self.columns = columns
        metric = self.metric if self.metric in columns else main_metric(columns)
        if not metric:
            return None, []
        return metric, [[(d, curve(cols, rows, metric)) for d, (cols, rows) in g] for g in tables]

    def _titles(self, metric: str | None, what: str) -> None:
        self.border_title = metric or "curves"
        self.border_subtitle = f"{what} · m metric" if what else ""
        if self.series != self._drawn:  # reloaded each second: draw only what changed
            self._drawn = list(self.series)
            self.refresh()

    def cycle_metric(self) -> str | None:
        """Plot the next numeric column; return its name."""
        if not self.columns:
            return None
        current = self.metric if self.metric in self.columns else main_metric(self.columns)
        index = self.columns.index(current) if current in self.columns else -1
        self.metric = self.columns[(index + 1) % len(self.columns)]
        return self.metric

    def render(self) -> Text:
        """The plot, sized to the widget."""
        return plot(self.series, self.content_size.width, self.content_size.height)
