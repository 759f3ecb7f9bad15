"""The headless view: one line per event, a summary table, and the ``status`` table.

Never imports Textual; works with no terminal, under nohup and in CI.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from slc_tui.engine import ledger as L
from slc_tui.engine.events import DONE, FINISHED, PAUSED, PROGRESS, RESUMED, RETRY, STARTED, Event
from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.progress import RETURN_LIKE

PROGRESS_EVERY = 5.0
"""At most one progress line per run this often (seconds)."""
_COLORS = {
    L.SUCCEEDED: "32", L.FAILED: "31", L.CANCELLED: "33", L.LOST: "35", L.RUNNING: "36",
    L.PENDING: "2",
}  # fmt: skip
GLYPHS = {
    L.PENDING: "○", L.RUNNING: "●", L.SUCCEEDED: "✔", L.FAILED: "✘", L.CANCELLED: "⊘",
    L.LOST: "?",
}  # fmt: skip


def _silence(stream: IO[str]) -> None:
    """Point a stream whose reader left at /dev/null, so no later flush fails."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def main_metric_of(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The return-like metric of a progress row, if it has one."""
    for name in RETURN_LIKE:
        if isinstance(metrics.get(name), (int, float)):
            return name, float(metrics[name])
    return None


def fmt_duration(seconds: float | None, unknown: str = "-") -> str:
    """``1:02:03`` or ``02:03``; ``unknown`` when there is no (finite, positive) duration."""
    if seconds is None or seconds < 0 or seconds == float("inf"):
        return unknown
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m:02d}:{s % 60:02d}"


def fmt_metrics(record: RunRecord) -> str:
    """``ep 12  AverageEpRet 311.9`` for a run with progress, else ``""``."""
    parts = []
    if record.epoch is not None:
        parts.append(f"ep {record.epoch}")
    metric = main_metric_of(record.metrics)
    if metric:
        parts.append(f"{metric[0]} {metric[1]:.1f}")
    return "  ".join(parts)


class Printer:
    """Prints engine events as lines prefixed with the run's name."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream: IO[str] | None = stream or sys.stdout
        self.color = use_color(self.stream)
        self._last_progress: dict[str, float] = {}
        self._t0 = time.monotonic()

    def _paint(self, text: str, state: str) -> str:
        return f"\x1b[{_COLORS[state]}m{text}\x1b[0m" if self.color else text

    def _line(self, text: str) -> None:
        if self.stream is None:
            return
        stamp = fmt_duration(time.monotonic() - self._t0)
        try:
            self.stream.write(f"[{stamp}] {text}\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            # The reader went away (`| head`, a closed pager): the sweep goes on, unprinted.
            _silence(self.stream)
            self.stream = None

    def __call__(self, event: Event) -> None:
        """Print one event (progress lines rate-limited per run)."""
        r = event.run
        if event.kind == STARTED and r:
            where = f"pid {r.pid}, cores {r.cores}" if r.pid else f"Slurm job {r.job_id}"
            ranks = f", {r.num_cpu} ranks" if r.num_cpu > 1 else ""
            retry = f", attempt {r.attempt}" if r.attempt > 1 else ""
            self._line(f"{r.name}  {self._paint('started', L.RUNNING)} ({where}{ranks}{retry})")
        elif event.kind == PROGRESS and r:
            now = time.monotonic()
            if now - self._last_progress.get(r.name, -PROGRESS_EVERY) >= PROGRESS_EVERY:
                self._last_progress[r.name] = now
                self._line(f"{r.name}  {fmt_metrics(r)}")
        elif event.kind == FINISHED and r:
            took = f" in {fmt_duration(r.duration)}" if r.started else ""
            why = f": {r.reason}" if r.reason else ""
            code = ""
            if r.state == L.FAILED and r.exit_code and not r.reason.startswith("exit code"):
                code = f" (exit {r.exit_code})"
            metrics = f"  {fmt_metrics(r)}" if r.state == L.SUCCEEDED and r.metrics else ""
            self._line(f"{r.name}  {self._paint(r.state, r.state)}{took}{why}{code}{metrics}")
        elif event.kind == RETRY and r:
            self._line(f"{r.name}  retrying ({event.text})")
        elif event.kind in (PAUSED, RESUMED):
            self._line(f"{event.kind} starting new runs")
        elif event.kind == DONE:
            pass


def table(records: Sequence[RunRecord], color: bool = False) -> str:
    """A table of runs: name, state, attempts, duration, last metrics, reason."""
    head = ("run", "state", "try", "time", "progress", "reason")
    rows = [
        (
            r.name,
            f"{GLYPHS[r.state]} {r.state}",
            str(r.attempt),
            fmt_duration(r.duration),
            fmt_metrics(r),
            r.reason,
        )
        for r in records
    ]
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(5)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  " + head[5]]
    for rec, row in zip(records, rows):
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        if color:
            cells[1] = f"\x1b[{_COLORS[rec.state]}m{cells[1]}\x1b[0m"
        out.append("  ".join(cells) + "  " + row[5])
    return "\n".join(line.rstrip() for line in out)


def counts(records: Sequence[RunRecord]) -> str:
    """``9 runs: 4 succeeded, 1 failed, 2 running, 2 pending``."""
    parts = [f"{sum(r.state == s for r in records)} {s}" for s in L.STATES]
    nonzero = [p for p in parts if not p.startswith("0 ")]
    return f"{len(records)} runs: " + ", ".join(nonzero)


def summary(records: Sequence[RunRecord], stream: IO[str] | None = None) -> None:
    """Print the final table and the counts."""
    stream = stream or sys.stdout
    try:
        stream.write("\n" + table(records, use_color(stream)) + "\n\n" + counts(records) + "\n")
        stream.flush()
    except (BrokenPipeError, ValueError):
        _silence(stream)  # nobody reads any more; the exit status still tells
