"""The header line: grids, counts per state, CPUs in use, elapsed time and ETA."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.states import RunState
from slc_tui.sweep.fmt import fmt_duration
from slc_tui.sweep.state import SweepState
from slc_tui.ui.labels import GLYPHS, STYLES, WORDS

ORDER = (
    RunState.RUNNING,
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.LOST,
    RunState.PENDING,
)
"""The order of the counts in the header (what needs attention first)."""


PHASE_STYLES = {
    "paused": "bold yellow",
    "running": "bold green",
    "all ended": "bold",
    "finished": "bold",
    "stopped": "bold magenta",
    "engine gone": "bold red",
    "starting": "dim",
}
"""The style of each word of :meth:`SweepState.phase`."""


def status_word(model: SweepState) -> tuple[str, str]:
    """What the engines are doing (:meth:`SweepState.phase`), and its style."""
    word = model.phase()
    return word, PHASE_STYLES.get(word, "")


ENDING_WORD = "all ended"
"""The widest status word a sweep usually comes to (the header plans room for it)."""


class StatusBar(Widget):
    """One line summing up the whole sweep, in one style for the whole session.

    The full style names each state (``● 2 running``); the compact one shows glyphs
    (``●2``). The choice depends on the width: the full style is used when its widest likely
    line fits (every usual state counted, the status word a sweep ends with, an ETA), so
    counts that change mid-session do not flip the style; the label always shows.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
    }
    """

    def __init__(self, model: SweepState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        """The sweep summed up."""
        self._need = 0
        self._drawn = Text()
        self._states: set[RunState] = {
            RunState.RUNNING,
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.CANCELLED,
            RunState.PENDING,
        }

    def update(self) -> None:
        """Draw again from the model when the line changed (a redraw costs bytes over SSH)."""
        if self.line(self.compact) != self._drawn:
            self.refresh()

    @property
    def compact(self) -> bool:
        """Whether the header uses glyphs only (the width is too small for words)."""
        return self.size.width < self.full_width()

    def full_width(self) -> int:
        """Cells the full style may need; it only grows, so the style changes at most once.

        Planned for: every usual state (and any other seen) counting all runs, the wider of
        the status words a sweep ends with, and an ETA.
        """
        model = self.model
        counts = model.counts()
        self._states |= {s for s, n in counts.items() if n}
        worst = Counter(dict.fromkeys(self._states, sum(counts.values())))
        word, style = status_word(model)
        word = max(word, ENDING_WORD, key=len)
        elapsed, eta = fmt_duration(model.elapsed(), "--:--"), fmt_duration(model.eta(), "--:--")
        need = self._line(False, worst, (word, style), elapsed, eta).cell_len
        self._need = max(self._need, need, self.line(compact=False).cell_len)
        return self._need

    def render(self) -> Text:
        """Label, grids, counts, CPUs, status, elapsed and ETA."""
        text = self.line(self.compact)
        self._drawn = text.copy()
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def line(self, compact: bool) -> Text:
        """The header's text, with words (``● 2 running``) or glyphs only (``●2``)."""
        model = self.model
        eta = model.eta()
        return self._line(
            compact,
            model.counts(),
            status_word(model),
            fmt_duration(model.elapsed(), "--:--"),
            fmt_duration(eta, "--:--") if eta else "",
        )

    def _line(
        self,
        compact: bool,
        counts: Counter[RunState],
        status: tuple[str, str],
        elapsed: str,
        eta: str,
    ) -> Text:
        model = self.model
        names = ", ".join(model.grid_name(li) for li in range(len(model.ledgers)))
        text = Text()
        text.append(" slc-tui ", style="bold reverse")
        if compact:
            text.append(f" {names} ", style="bold")
        else:
            text.append(f" {names} · {sum(counts.values())} runs ", style="bold")
        for state in ORDER:
            if counts[state] and compact:
                text.append(f" {GLYPHS[state]}{counts[state]}", STYLES[state])
            elif counts[state]:
                text.append(f" {GLYPHS[state]} {counts[state]} {WORDS[state]} ", STYLES[state])
        used, budget = model.cpus()
        text.append(f"  cpus {used}/{budget or '?'}")
        word, style = status
        text.append(f"  {word}", style=style)
        text.append(f"  {elapsed}")
        if eta:
            text.append(f"  ETA {eta}", style="dim")
        return text
