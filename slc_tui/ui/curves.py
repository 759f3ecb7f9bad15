"""Learning curves: one metric over epochs as a braille line plot.

A run shows its curve; a variant its seeds and their mean; a grid one curve per variant
(the mean over its seeds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.engine.progress import EPOCH_COLUMNS, epoch_of, main_metric, read_progress
from slc_tui.sweep.fmt import fmt_num

SEED_STYLES = ("cyan", "magenta", "blue", "green", "yellow", "bright_red")
"""Colours of the seeds' (or variants') curves, in turn; a variant's mean is drawn bold."""
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
"""Braille dot bits by (row in cell, column in cell)."""


Points = list[tuple[float, float]]
"""A curve's (epoch, value) points."""


@dataclass
class Series:
    """One curve: points (epoch, value) and how it is drawn."""

    points: list[tuple[float, float]]
    style: str


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


def mean_curve(curves: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """The mean over curves at each epoch that any of them reached."""
    by_epoch: dict[float, list[float]] = {}
    for points in curves:
        for x, y in points:
            by_epoch.setdefault(x, []).append(y)
    return [(x, sum(v) / len(v)) for x, v in sorted(by_epoch.items())]


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """Dots of a straight line (Bresenham)."""
    dots = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        dots.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return dots
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def plot(series: list[Series], width: int, height: int) -> Text:
    """Draw ``series`` in ``width`` x ``height`` cells: y labels, axis, braille curves."""
    points = [p for s in series for p in s.points]
    if not points or width < 12 or height < 2:
        return Text("no progress yet" if not points else "", style="dim")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    rows = height - 1
    labels = [fmt_num(y_hi), fmt_num((y_hi + y_lo) / 2), fmt_num(y_lo)]
    label_w = max(len(s) for s in labels)
    cols = width - label_w - 1
    dot_w, dot_h = cols * 2, rows * 4
    cells: dict[tuple[int, int], list[int]] = {}

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = 0 if x_hi == x_lo else round((x - x_lo) / (x_hi - x_lo) * (dot_w - 1))
        return dx, round((y_hi - y) / (y_hi - y_lo) * (dot_h - 1))

    for index, s in enumerate(series):
        dots = [to_dot(x, y) for x, y in s.points]
        path = dots[:1] if len(dots) == 1 else []
        for a, b in zip(dots, dots[1:]):
            path.extend(_line(*a, *b))
        for dx, dy in path:
            cell = cells.setdefault((dy // 4, dx // 2), [0, index])
            cell[0] |= _DOTS[dy % 4][dx % 2]
            cell[1] = index
    text = Text()
    label_rows = {0: labels[0], rows // 2: labels[1], rows - 1: labels[2]}
    for r in range(rows):
        label = label_rows.get(r, "")
        text.append(f"{label:>{label_w}}", style="dim")
        text.append("┤" if label else "│", style="dim")
        for c in range(cols):
            found = cells.get((r, c))
            if found is None:
                text.append(" ")
            else:
                text.append(chr(0x2800 + found[0]), style=series[found[1]].style)
        text.append("\n")
    left, right = f"ep {x_lo:g}", f"ep {x_hi:g}"
    axis = " " * label_w + "└" + left + " " * max(cols - len(left) - len(right), 1) + right
    text.append(axis[:width], style="dim")
    return text


class Curves(Widget):
    """The curves of one run, or of every seed of a variant with their mean."""

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
        self._drawn: list[Series] | None = None

    def load(self, output_dirs: list[str]) -> None:
        """Draw the runs in ``output_dirs``: one run, or a variant's seeds and their mean."""
        metric, curves = self._read([output_dirs])
        seeds = curves[0] if curves else []
        self.series = [
            Series(c, SEED_STYLES[i % len(SEED_STYLES)] if len(seeds) > 1 else "bold")
            for i, c in enumerate(seeds)
        ]
        if len(seeds) > 1:
            self.series.append(Series(mean_curve(seeds), "bold"))
        n = len(seeds)
        self._titles(metric, f"{n} seeds + mean" if n > 1 else "1 run" if n else "")

    def load_variants(self, groups: list[list[str]]) -> None:
        """Draw one curve per variant, the mean over its seeds; ``groups`` are their runs."""
        metric, curves = self._read(groups)
        means = [mean_curve(seeds) for seeds in curves if seeds]
        self.series = [
            Series(c, SEED_STYLES[i % len(SEED_STYLES)] if len(means) > 1 else "bold")
            for i, c in enumerate(means)
        ]
        n = len(means)
        what = f"{n} variant{'s' if n != 1 else ''} (seed mean{'s' if n != 1 else ''})"
        self._titles(metric, what if n else "")

    def _read(self, groups: list[list[str]]) -> tuple[str | None, list[list[Points]]]:
        """The metric plotted and, per group, the curves of its runs that have points."""
        tables = [[load_progress(d) for d in dirs] for dirs in groups]
        columns: list[str] = []
        for group in tables:
            for cols, _ in group:
                columns.extend(c for c in cols if c not in columns and c not in EPOCH_COLUMNS)
        self.columns = columns
        metric = self.metric if self.metric in columns else main_metric(columns)
        if not metric:
            return None, []
        curves = [
            [c for cols, rows in group if (c := curve(cols, rows, metric))] for group in tables
        ]
        return metric, curves

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
