"""The details panel: what the selected run is, where it writes, and what it costs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.engine.ledger import FAILED, RUNNING, RunRecord
from slc_tui.ui.labels import STYLES, WORDS, glyph, summary_text
from slc_tui.ui.model import (
    VariantSummary,
    display_path,
    fmt_duration,
    fmt_num,
    short_metric,
)
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


def _field(text: Text, name: str, value: str | Text) -> None:
    text.append(f"\n{name:<8}", style="bold dim")
    text.append(value)


class RunDetails(Widget):
    """Parameters, paths, process and exit status of a run (or a variant's summary)."""

    DEFAULT_CSS = """
    RunDetails {
        height: auto;
        max-height: 9;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text = Text("select a run", style="dim")

    def show_run(self, run: RunRecord, usage: TreeUsage | None, now: float) -> None:
        """Describe ``run``; its first line alone says the most (the one-line layout)."""
        self.border_title = run.name
        self.border_subtitle = WORDS.get(run.state, run.state)
        text = glyph(run.state)
        text.append(f" {WORDS.get(run.state, run.state)}", style=STYLES.get(run.state, ""))
        if run.epoch is not None:
            text.append(f" · ep {run.epoch}")
        for name, value in list(run.metrics.items())[:3]:
            if name != "Epoch":
                text.append(f" · {short_metric(name)} {fmt_num(value)}")
        if run.state == FAILED and run.reason:
            text.append(f" · {run.reason}", style="red")
        params = " ".join(f"{k}={v}" for k, v in flat_params(run.params))
        _field(text, "params", params)
        _field(text, "dir", display_path(run.output_dir))
        proc = [f"ranks {run.num_cpu}"]
        if run.cores:
            proc.append(f"cores {run.cores}")
        if run.pid and run.state == RUNNING:
            proc.append(f"pid {run.pid}")
        if run.job_id:
            proc.append(f"job {run.job_id} {run.queue_state}".rstrip())
        if usage is not None:
            proc.append(f"cpu {usage.cpu:.0f}% · rss {fmt_bytes(usage.rss)}")
            if usage.procs > 1:
                proc.append(f"{usage.procs} procs")
        proc.append(f"attempt {run.attempt}")
        if run.started:
            proc.append(fmt_duration((run.ended or now) - run.started))
        _field(text, "process", " · ".join(proc))
        if run.exit_code is not None or run.signal:
            status = f"exit {run.exit_code}" if run.exit_code is not None else ""
            if run.signal:
                status += f" signal {run.signal}"
            _field(text, "exit", Text(status.strip(), style="red" if run.exit_code else ""))
        if run.reason and run.state != FAILED:
            _field(text, "reason", run.reason)
        if run.command:
            _field(text, "command", run.command)
        self._set(text)

    def show_group(self, title: str, summary: VariantSummary, params: dict[str, Any]) -> None:
        """Describe a variant or a grid: its counts and the parameters its runs share."""
        self.border_title = title
        self.border_subtitle = f"{summary.total} runs"
        text = summary_text(summary)
        for state, count in sorted(summary.states.items()):
            text.append(f" · {count} {WORDS.get(state, state)}", style="dim")
        if params:
            shared = " ".join(f"{k}={v}" for k, v in flat_params(params) if k != "seed")
            _field(text, "params", shared)
        self._set(text)

    def _set(self, text: Text) -> None:
        text.no_wrap = True
        text.overflow = "ellipsis"
        self._text = text
        self.refresh(layout=True)

    def render(self) -> Text:
        """The description, cut to the panel's width."""
        return self._text

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        """One line per field (fields do not wrap)."""
        return self._text.plain.count("\n") + 1
