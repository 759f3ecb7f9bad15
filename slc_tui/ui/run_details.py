"""The details panel: what the selected run is, where it writes, and what it costs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.engine.ledger import RunRecord
from slc_tui.states import RunState
from slc_tui.sweep.fmt import display_path, fmt_duration, fmt_num, short_metric
from slc_tui.sweep.state import VariantSummary
from slc_tui.ui.labels import STYLES, WORDS, glyph, summary_text
from slc_tui.ui.proc_stats import TreeUsage, fmt_bytes


def flat_params(params: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested parameters as ``a:b`` keys, the way grid files write them."""
    items: list[tuple[str, Any]] = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items.extend(flat_params(value, f"{name}:"))
        else:
            items.append((name, value))
    return items


HEAD_LINES = 3
"""Lines the headline (state, failure reason, metrics) may wrap onto."""


def _field(text: Text, name: str, value: str | Text) -> None:
    text.append(f"\n{name:<8}", style="bold dim")
    text.append(value)


class RunDetails(Widget):
    """Parameters, paths, process and exit status of a run (or a variant's summary).

    The first line (state, failure reason, epoch, metrics) wraps onto up to
    :data:`HEAD_LINES` lines, so a failed run's reason shows whole even in the one-line
    layout of short terminals (which gives a failed run's headline its lines); the fields
    below it take one line each.
    """

    DEFAULT_CSS = """
    RunDetails {
        height: auto;
        max-height: 9;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._head = Text("select a run", style="dim")
        self._fields = Text()

    def show_run(self, run: RunRecord, usage: TreeUsage | None, now: float) -> None:
        """Describe ``run``; its headline alone says the most (the short layout)."""
        self.border_title = run.name
        self.border_subtitle = WORDS.get(run.state, run.state)
        self.set_class(run.state == RunState.FAILED and bool(run.reason), "-failed")
        head = glyph(run.state)
        head.append(f" {WORDS.get(run.state, run.state)}", style=STYLES.get(run.state, ""))
        if run.state == RunState.FAILED and run.reason:
            head.append(f" · {run.reason}", style="red")
        if run.epoch is not None:
            head.append(f" · ep {run.epoch}")
        for name, value in list(run.metrics.items())[:3]:
            if name != "Epoch":
                head.append(f" · {short_metric(name)} {fmt_num(value)}")
        text = Text()
        params = " ".join(f"{k}={v}" for k, v in flat_params(run.params))
        _field(text, "params", params)
        _field(text, "dir", display_path(run.output_dir))
        proc = [f"ranks {run.num_cpu}"]
        if run.cores:
            proc.append(f"cores {run.cores}")
        if run.gpus:
            proc.append(f"gpus {run.gpus}")
        if run.pid and run.state == RunState.RUNNING:
            proc.append(f"pid {run.pid}")
        if run.job_id:
            proc.append(f"job {run.job_id} {run.queue_state}".rstrip())
        if usage is not None:
            proc.append(f"cpu {usage.cpu:.0f}% · rss {fmt_bytes(usage.rss)}")
            if usage.procs > 1:
                proc.append(f"{usage.procs} procs")
        proc.append(f"attempt {run.attempt}")
        if run.started:
            proc.append(fmt_duration((run.ended or now) - run.started, "--:--"))
        _field(text, "process", " · ".join(proc))
        if usage is not None and usage.gpu:
            _field(text, "gpu", usage.gpu)
        if run.exit_code is not None or run.signal:
            status = f"exit {run.exit_code}" if run.exit_code is not None else ""
            if run.signal:
                status += f" signal {run.signal}"
            _field(text, "exit", Text(status.strip(), style="red" if run.exit_code else ""))
        if run.reason and run.state != RunState.FAILED:
            _field(text, "reason", run.reason)
        if run.command:
            _field(text, "command", run.command)
        self._set(head, text)

    def show_group(self, title: str, summary: VariantSummary, params: dict[str, Any]) -> None:
        """Describe a variant or a grid: its counts and the parameters its runs share."""
        self.border_title = title
        self.border_subtitle = f"{summary.total} runs"
        self.set_class(False, "-failed")
        head = summary_text(summary)
        for state, count in sorted(summary.states.items()):
            head.append(f" · {count} {WORDS.get(state, state)}", style="dim")
        text = Text()
        if params:
            shared = " ".join(f"{k}={v}" for k, v in flat_params(params) if k != "seed")
            _field(text, "params", shared)
        self._set(head, text)

    @property
    def headline(self) -> str:
        """The first line's plain text, before wrapping (for tests)."""
        return self._head.plain

    def _set(self, head: Text, fields: Text) -> None:
        if head == self._head and fields == self._fields:
            return  # redrawn each second for the run's usage: lay out only what changed
        self._head = head
        self._fields = fields
        self.refresh(layout=True)

    def _lines(self, width: int) -> Text:
        """The headline wrapped to ``width`` (at most HEAD_LINES lines), then the fields."""
        width = max(width, 1)
        lines = list(self._head.wrap(self.app.console, width, overflow="ellipsis"))
        if len(lines) > HEAD_LINES:
            lines = lines[:HEAD_LINES]
            lines[-1].append("…")
        text = Text("\n").join(lines)
        text.append_text(self._fields)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def render(self) -> Text:
        """The description, cut to the panel's width."""
        return self._lines(self.content_size.width)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        """The wrapped headline's lines plus one line per field (fields do not wrap)."""
        return self._lines(width).plain.count("\n") + 1
