"""The headless view: one line per event, a summary table, and the ``status`` table.

Never imports Textual; works with no terminal, under nohup and in CI.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from slc_tui.engine.events import Event
from slc_tui.engine.ledger import RunRecord
from slc_tui.states import COMPLETE, EventKind, Resume, RunState
from slc_tui.sweep.fmt import GLYPHS, counts_line, fmt_duration, fmt_metrics

if TYPE_CHECKING:
    from slc_tui.sweep.lifecycle import Outcome
    from slc_tui.sweep.prepare import Sweep

PROGRESS_EVERY = 5.0
"""At most one progress line per run this often (seconds)."""
_COLORS = {
    RunState.SUCCEEDED: "32", RunState.FAILED: "31", RunState.CANCELLED: "33",
    RunState.LOST: "35", RunState.RUNNING: "36", RunState.PENDING: "2", RunState.PRUNED: "34",
}  # fmt: skip


def _silence(stream: IO[str]) -> None:
    """Point a stream whose reader left at /dev/null, so no later flush fails."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Printer:
    """Prints engine events as lines prefixed with the run's name."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream: IO[str] | None = stream or sys.stdout
        self.color = use_color(self.stream)
        self._last_progress: dict[str, float] = {}
        self._t0 = time.monotonic()

    def _paint(self, text: str, state: RunState) -> str:
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
        if event.kind == EventKind.STARTED and r:
            where = f"pid {r.pid}, cores {r.cores}" if r.pid else f"Slurm job {r.job_id}"
            ranks = f", {r.num_cpu} ranks" if r.num_cpu > 1 else ""
            ranks += f", gpus {r.gpus}" if r.gpus else ""
            retry = f", attempt {r.attempt}" if r.attempt > 1 else ""
            self._line(
                f"{r.name}  {self._paint('started', RunState.RUNNING)} ({where}{ranks}{retry})"
            )
        elif event.kind == EventKind.PROGRESS and r:
            now = time.monotonic()
            if now - self._last_progress.get(r.name, -PROGRESS_EVERY) >= PROGRESS_EVERY:
                self._last_progress[r.name] = now
                self._line(f"{r.name}  {fmt_metrics(r)}")
        elif event.kind == EventKind.FINISHED and r:
            took = f" in {fmt_duration(r.duration)}" if r.started else ""
            why = f": {r.reason}" if r.reason else ""
            code = ""
            if r.state == RunState.FAILED and r.exit_code and not r.reason.startswith("exit code"):
                code = f" (exit {r.exit_code})"
            metrics = f"  {fmt_metrics(r)}" if r.state in COMPLETE and r.metrics else ""
            self._line(f"{r.name}  {self._paint(r.state, r.state)}{took}{why}{code}{metrics}")
        elif event.kind == EventKind.RETRY and r:
            self._line(f"{r.name}  retrying ({event.text})")
        elif event.kind in (EventKind.PAUSED, EventKind.RESUMED):
            self._line(f"{event.kind} starting new runs")
        elif event.kind == EventKind.DONE:
            pass


def table(records: Sequence[RunRecord], color: bool = False) -> str:
    """A table of runs: name, state, attempts, duration, devices (where some run has any),
    last metrics, reason."""
    gpus = any(r.gpus for r in records)  # a column only where some run was given devices
    head = ("run", "state", "try", "time", *(("gpus",) if gpus else ()), "progress", "reason")
    rows = [
        (
            r.name,
            f"{GLYPHS[r.state]} {r.state}",
            str(r.attempt),
            fmt_duration(r.duration),
            *((r.gpus or "-",) if gpus else ()),
            fmt_metrics(r),
            r.reason,
        )
        for r in records
    ]
    last = len(head) - 1
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(last)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  " + head[last]]
    for rec, row in zip(records, rows):
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        if color:
            cells[1] = f"\x1b[{_COLORS[rec.state]}m{cells[1]}\x1b[0m"
        out.append("  ".join(cells) + "  " + row[last])
    return "\n".join(line.rstrip() for line in out)


def counts(records: Sequence[RunRecord]) -> str:
    """``9 runs: 4 succeeded, 1 failed, 2 running, 2 pending``."""
    return f"{len(records)} runs: " + counts_line(r.state for r in records)


def summary(records: Sequence[RunRecord], stream: IO[str] | None = None) -> None:
    """Print the final table, the counts, and the best variants by the main metric."""
    stream = stream or sys.stdout
    try:
        stream.write("\n" + table(records, use_color(stream)) + "\n\n" + counts(records) + "\n")
        top = top_variants(records)
        if top:
            stream.write("\n" + "\n".join(top) + "\n")
        stream.flush()
    except (BrokenPipeError, ValueError):
        _silence(stream)  # nobody reads any more; the exit status still tells


def top_variants(records: Sequence[RunRecord]) -> list[str]:
    """The best variants by the main metric at their final epoch, mean ± std over seeds
    (failed seeds left out and counted); none when no run logged a metric."""
    from slc_tui.sweep.ranking import top_lines
    from slc_tui.sweep.results import from_records

    try:
        return top_lines(from_records(records))
    except OSError:  # a progress file that went away or cannot be read: no ranking
        return []


def run_headless(sweep: Sweep, resume: bool | Resume = False) -> Outcome:
    """Run the sweep in the foreground, one line per event, then the summary.

    Raises:
        SweepError: the sweep cannot start (another engine runs it...).
    """
    from slc_tui.sweep.lifecycle import run_foreground

    outcome = run_foreground(sweep, resume, [Printer()], notice=_warn)
    summary(outcome.records)
    return outcome


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def interactive() -> bool:
    """True when stdin and stderr are terminals (the dashboard draws on stderr)."""
    return sys.stdin.isatty() and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
