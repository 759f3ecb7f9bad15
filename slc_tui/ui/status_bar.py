"""The header line: grids, counts per state, CPUs in use, elapsed time and ETA."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.engine.ledger import CANCELLED, FAILED, LOST, PENDING, RUNNING, SUCCEEDED
from slc_tui.ui.labels import GLYPHS, STYLES, WORDS
from slc_tui.ui.model import SweepModel, fmt_duration

ORDER = (RUNNING, SUCCEEDED, FAILED, CANCELLED, LOST, PENDING)
"""The order of the counts in the header (what needs attention first)."""


def status_word(model: SweepModel) -> tuple[str, str]:
    """What the engines are doing, and its style: running, paused, finished, stopped, gone."""
    alive = model.alive()
    statuses = {str(m.get("status") or "") for m in model.metas}
    active = model.active()
    if active and model.paused():
        return "paused", "bold yellow"
    if active:
        return "running", "bold green"
    if any(alive) and "running" in statuses:
        return "all ended", "bold"
    if statuses <= {"finished"} and statuses:
        return "finished", "bold"
    if "stopped" in statuses:
        return "stopped", "bold magenta"
    if not any(alive):
        return "engine gone", "bold red"
    return "starting", "dim"


class StatusBar(Widget):
    """One line summing up the whole sweep."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
    }
    """

    def __init__(self, model: SweepModel, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        """The sweep summed up."""

    def update(self) -> None:
        """Draw again from the model."""
        self.refresh()

    def render(self) -> Text:
        """Grids, counts, CPUs, status, elapsed and ETA (shorter when narrow)."""
        text = self.line(compact=False)
        if text.cell_len > self.size.width:
            text = self.line(compact=True)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def line(self, compact: bool) -> Text:
        """The header's text, with words (``2 running``) or glyphs only (``●2``)."""
        model = self.model
        counts = model.counts()
        names = ", ".join(model.grid_name(li) for li in range(len(model.ledgers)))
        text = Text()
        text.append("" if compact else " slc-tui ", style="bold reverse")
        text.append(f" {names} · {sum(counts.values())} runs ", style="bold")
        for state in ORDER:
            if counts[state] and compact:
                text.append(f" {GLYPHS[state]}{counts[state]}", STYLES[state])
            elif counts[state]:
                text.append(f" {GLYPHS[state]} {counts[state]} {WORDS[state]} ", STYLES[state])
        used, budget = model.cpus()
        text.append(f"{' ' if compact else '  '}cpus {used}/{budget or '?'}")
        word, style = status_word(model)
        text.append(f"  {word}", style=style)
        text.append(f"  {fmt_duration(model.elapsed())}")
        eta = model.eta()
        if eta:
            text.append(f"  ETA {fmt_duration(eta)}", style="dim")
        return text
