"""A line plot in braille cells: curves, a shaded band, a legend line, and round ticks.

Pure drawing (a Rich ``Text``): the :class:`~slc_tui.ui.curves.Curves` widget decides what
to draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.text import Text

from slc_tui.sweep.fmt import fmt_num

BAND_STYLE = "on grey23"
"""The band's cells: a background, so that curves stay readable over it."""
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
"""Braille dot bits by (row in cell, column in cell)."""

Points = list[tuple[float, float]]
"""A curve's (x, y) points."""


@dataclass
class Series:
    """One curve: points (x, y), how it is drawn, its name in the legend, and a band."""

    points: Points
    style: str
    label: str = ""
    """Its legend entry ("" for none)."""
    band: tuple[list[float], list[float], list[float]] | None = None
    """(x, low, high) of a band drawn behind it."""
    band_label: str = ""


def nice_ticks(
    lo: float, hi: float, most: int, mults: tuple[float, ...] = (1, 2, 2.5, 5)
) -> list[float]:
    """At most ``most`` round values (``mults`` times a power of ten apart) spanning
    ``lo``..``hi`` as tightly as they can: the first at or below ``lo``, the last at or
    above ``hi``."""
    if hi <= lo:
        lo, hi = lo - 1, hi + 1
    most = max(most, 2)
    power = 10 ** math.floor(math.log10((hi - lo) / (most - 1)))
    best: list[float] = []
    for mult in [m * k for k in (1, 10) for m in mults]:
        step = mult * power
        first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        span = (last - first) * step
        if last - first + 1 <= most and (not best or span < best[-1] - best[0] - 1e-12):
            best = [round(k * step, 12) for k in range(first, last + 1)]
    return best


def tick_text(value: float) -> str:
    """A tick label: ``250``, ``0.5``, ``1.5e+05``."""
    return f"{value:g}" if abs(value) < 1e5 or value == 0 else fmt_num(value)


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


def legend(series: list[Series], width: int) -> Text:
    """``━ s0  ━ s10  ━ mean  █ ± std``, cut to ``width`` cells."""
    text = Text()
    for s in series:
        if s.label:
            text.append("━ ", style=s.style)
            text.append(s.label + "  ")
        if s.band is not None and s.band_label:
            text.append("█", style=BAND_STYLE.replace("on ", ""))
            text.append(f" {s.band_label}  ")
    text.rstrip()
    text.truncate(width, overflow="ellipsis")
    return text


def plot(series: list[Series], width: int, height: int, x_name: str = "ep") -> Text:
    """Draw ``series`` in ``width`` x ``height`` cells: a legend line (when any series has a
    label and there is room), y ticks, the curves over their bands, and an x axis with round
    ticks, named ``x_name`` in its corner."""
    points = [p for s in series for p in s.points]
    if not points or width < 12 or height < 2:
        return Text("no progress yet" if not points else "", style="dim")
    show_legend = height >= 5 and any(s.label for s in series)
    rows = height - 1 - show_legend
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    for s in series:
        if s.band is not None:
            ys.extend([*s.band[1], *s.band[2]])
    x_lo, x_hi = min(xs), max(xs)
    ticks = nice_ticks(min(ys), max(ys), max(2, min(5, rows // 2 + 1)))
    y_lo, y_hi = ticks[0], ticks[-1]
    labels = {round((y_hi - t) / (y_hi - y_lo) * (rows - 1)): tick_text(t) for t in ticks}
    label_w = max(len(s) for s in labels.values())
    cols = width - label_w - 1
    dot_w, dot_h = cols * 2, rows * 4

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = 0 if x_hi == x_lo else round((x - x_lo) / (x_hi - x_lo) * (dot_w - 1))
        return dx, round((y_hi - y) / (y_hi - y_lo) * (dot_h - 1))

    shaded: set[tuple[int, int]] = set()
    for s in series:
        if s.band is None or not s.band[0]:
            continue
        bx, blo, bhi = (np.asarray(a, dtype=float) for a in s.band)
        for c in range(cols):
            x = x_lo + (2 * c + 0.5) / max(dot_w - 1, 1) * (x_hi - x_lo)
            if bx[0] <= x <= bx[-1] or (c == 0 and x_hi == x_lo):
                top = to_dot(x, float(np.interp(x, bx, bhi)))[1] // 4
                bottom = to_dot(x, float(np.interp(x, bx, blo)))[1] // 4
                shaded.update((r, c) for r in range(top, bottom + 1))
    cells: dict[tuple[int, int], list[int]] = {}
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
    if show_legend:
        text.append_text(legend(series, width))
        text.append("\n")
    for r in range(rows):
        label = labels.get(r, "")
        text.append(f"{label:>{label_w}}", style="dim")
        text.append("┤" if label else "│", style="dim")
        for c in range(cols):
            found = cells.get((r, c))
            back = f" {BAND_STYLE}" if (r, c) in shaded else ""
            if found is None:
                text.append(" ", style=back.strip() or None)
            else:
                text.append(chr(0x2800 + found[0]), style=series[found[1]].style + back)
        text.append("\n")
    corner = f"{x_name[:label_w]:>{label_w}}└"  # the x axis's name under the y labels
    text.append(corner + _x_axis(x_lo, x_hi, cols), style="dim")
    return text


def _x_axis(x_lo: float, x_hi: float, cols: int) -> str:
    """The x axis under the plot: round ticks where they fall."""
    line = [" "] * cols
    most = max(2, cols // 10)
    ticks = [x_lo] if x_hi == x_lo else nice_ticks(x_lo, x_hi, most, (1, 2, 5))
    for t in ticks:
        if not x_lo <= t <= x_hi:
            continue
        label = tick_text(t)
        at = 0 if x_hi == x_lo else round((t - x_lo) / (x_hi - x_lo) * (cols - 1))
        at = min(at, cols - len(label))
        if at >= 0 and all(ch == " " for ch in line[max(at - 1, 0) : at + len(label) + 1]):
            line[at : at + len(label)] = label
    return "".join(line).rstrip()
