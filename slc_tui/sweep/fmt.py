"""How every view words a sweep: durations, numbers, glyphs, paths, counts, metrics.

Plain text only (no Textual, no colour codes): the headless printer, ``status`` and the
dashboard all take their words from here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.progress import main_metric
from slc_tui.states import STATES, RunState

GLYPHS = {
    RunState.PENDING: "○", RunState.RUNNING: "●", RunState.SUCCEEDED: "✔",
    RunState.FAILED: "✘", RunState.CANCELLED: "⊘", RunState.LOST: "?", RunState.PRUNED: "✂",
}  # fmt: skip
"""One glyph per state: the states stay apart without colour (NO_COLOR)."""


def fmt_duration(seconds: float | None, unknown: str = "-") -> str:
    """``1:02:03`` or ``02:03``; ``unknown`` when there is no (finite, positive) duration."""
    if seconds is None or seconds < 0 or seconds == float("inf"):
        return unknown
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m:02d}:{s % 60:02d}"


def fmt_num(value: Any) -> str:
    """A metric value in at most about seven characters."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isnan(value):
        return "nan"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def short_metric(name: str) -> str:
    """A compact label for a metric column (``AverageEpRet`` -> ``AvgRet``)."""
    return name.replace("Average", "Avg").replace("EpRet", "Ret")


def display_path(path: str) -> str:
    """``path`` relative to the current directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def run_metric(run: RunRecord) -> tuple[str, Any] | None:
    """The run's main metric (name, latest value), if it reported one."""
    name = main_metric(list(run.metrics))
    return (name, run.metrics[name]) if name else None


def fmt_metrics(record: RunRecord) -> str:
    """``ep 12  AverageEpRet 311.9`` for a run with progress, else ``""``."""
    parts = []
    if record.epoch is not None:
        parts.append(f"ep {record.epoch}")
    metric = run_metric(record)
    if metric and isinstance(metric[1], (int, float)):
        parts.append(f"{metric[0]} {float(metric[1]):.1f}")
    return "  ".join(parts)


def counts_line(states: Iterable[RunState], order: Iterable[RunState] = STATES) -> str:
    """``4 succeeded, 1 failed, 2 pending``: the states that occur, in ``order``."""
    seen = list(states)
    return ", ".join(f"{seen.count(s)} {s}" for s in order if seen.count(s))


def attempt_name(name: str) -> str:
    """What an earlier attempt's file is kept as: ``progress.csv`` -> ``progress.N.csv``."""
    stem, dot, ext = name.partition(".")
    return f"{stem}.N{dot}{ext}"


def rerun_notice(grid: str, count: int, progress: str | None = None) -> str:
    """The warning that a sweep without ``--resume`` runs earlier successes again;
    ``progress`` names the progress file the runs write (``progress.csv``...), if any."""
    kept = " / ".join(attempt_name(n) for n in ("output.log", progress) if n)
    return (
        f"slc-tui: {grid}: {count} run(s) that succeeded before run again "
        f"(their earlier output is kept as {kept}); --resume skips them"
    )
