"""The header line: grids, counts per state, CPUs in use, elapsed time and ETA, and a
search's best variant so far."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget

from slc_tui.states import RunState
from slc_tui.sweep.fmt import fmt_duration, fmt_num
from slc_tui.sweep.ranking import short_name
from slc_tui.sweep.state import SweepState
from slc_tui.ui.labels import GLYPHS, STYLES, WORDS

ORDER = (
    RunState.RUNNING,
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.LOST,
    RunState.PRUNED,
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


ENDING_WORD = "all ended"
"""The widest status word a sweep usually comes to (the header plans room for it)."""


@dataclass(frozen=True)
class Facts:
    """What the header says, read from the model once per :meth:`StatusBar.update`."""

    counts: Counter[RunState]
    """Runs per state."""
    phase: str
    """:meth:`SweepState.phase`."""
    cpus: tuple[int, int]
    """CPUs in use, and the budget."""
    elapsed: str
    """The sweep's running time, or ``--:--``."""
    eta: str
    """The time left, or ``""`` when none is known (or none is left)."""
    planned_eta: str
    """The time left as the widest header would show it (``--:--`` when unknown)."""
    search: str = ""
    """The searches' trials done and best variant so far (:func:`search_text`)."""


def search_text(model: SweepState) -> str:
    """``search 7/12 best x2-95 -0.0025`` for each grid with a search (its ledger's meta
    ``search``, kept by the engine); ``""`` without one."""
    parts = []
    for li, meta in enumerate(model.metas):
        found = meta.get("search")
        if not isinstance(found, dict):
            continue
        text = f"search {found.get('done', 0)}/{found.get('trials', '?')}"
        if found.get("best") is not None and isinstance(found.get("value"), (int, float)):
            best = short_name(str(found["best"]), model.grid_name(li))
            text += f" best {best} {fmt_num(float(found['value']))}"
        parts.append(text)
    return " · ".join(parts)


def read_facts(model: SweepState) -> Facts:
    """The header's numbers, each summed over the runs once."""
    eta = model.eta()
    return Facts(
        model.counts(),
        model.phase(),
        model.cpus(),
        fmt_duration(model.elapsed(), "--:--"),
        fmt_duration(eta, "--:--") if eta else "",
        fmt_duration(eta, "--:--"),
        search_text(model),
    )


class StatusBar(Widget):
    """One line summing up the whole sweep, in one style for the whole session.

    The full style names each state (``● 2 running``); the compact one shows glyphs
    (``●2``). The choice depends on the width: the full style is used when its widest likely
    line fits (every usual state counted, the status word a sweep ends with, an ETA), so
    counts that change mid-session do not flip the style; the label always shows.

    :meth:`update` reads the model (a pass over every run per number, cheap enough for
    10,000 runs twice a second) and redraws only when a number changed.
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
        self._facts: Facts | None = None
        self._states: set[RunState] = {
            RunState.RUNNING,
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.CANCELLED,
            RunState.PENDING,
        }

    @property
    def facts(self) -> Facts:
        """What the header shows (as of the last :meth:`update`)."""
        if self._facts is None:
            self._facts = read_facts(self.model)
        return self._facts

    def update(self) -> None:
        """Read the model again; redraw when that changes the line (redraws cost bytes over
        SSH)."""
        facts = read_facts(self.model)
        if facts != self._facts:
            self._facts = facts
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
        facts = self.facts
        counts = facts.counts
        self._states |= {s for s, n in counts.items() if n}
        worst = Counter(dict.fromkeys(self._states, sum(counts.values())))
        word = max(facts.phase, ENDING_WORD, key=len)
        planned = Facts(worst, word, facts.cpus, facts.elapsed, facts.planned_eta, "",
                        facts.search)  # fmt: skip
        need = self._line(False, planned).cell_len
        self._need = max(self._need, need, self.line(compact=False).cell_len)
        return self._need

    def render(self) -> Text:
        """Label, grids, counts, CPUs, status, elapsed and ETA."""
        text = self.line(self.compact)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def line(self, compact: bool) -> Text:
        """The header's text, with words (``● 2 running``) or glyphs only (``●2``)."""
        return self._line(compact, self.facts)

    def _line(self, compact: bool, facts: Facts) -> Text:
        model, counts = self.model, facts.counts
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
        used, budget = facts.cpus
        text.append(f"  cpus {used}/{budget or '?'}")
        text.append(f"  {facts.phase}", style=PHASE_STYLES.get(facts.phase, ""))
        text.append(f"  {facts.elapsed}")
        if facts.eta:
            text.append(f"  ETA {facts.eta}", style="dim")
        if facts.search:
            text.append(f"  {facts.search}", style="bold cyan")
        return text
