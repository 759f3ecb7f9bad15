"""What the variant tree shows: the state filter, the name search, the order of variants, and
the labels of its group nodes (pure: no widget here)."""

from __future__ import annotations

from rich.text import Text

from slc_tui.states import RunState
from slc_tui.sweep.fmt import fmt_num, run_metric, short_metric
from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.labels import group_label, variant_display

FILTERS: list[tuple[str, frozenset[str] | None]] = [
    ("all", None),
    ("running", frozenset({RunState.RUNNING})),
    ("failed", frozenset({RunState.FAILED, RunState.LOST, RunState.CANCELLED})),
    ("pending", frozenset({RunState.PENDING})),
    ("done", frozenset({RunState.SUCCEEDED, RunState.PRUNED})),  # pruned: ended, no failure
]
"""What ``f`` cycles through: a name and the states it shows."""
SORTS = ("plan", "metric", "failures", "name")
"""What ``s`` cycles through: the order of variants in the tree."""


def variant_mean(model: SweepState, vkey: tuple[int, str]) -> tuple[str, float] | None:
    """The mean of the main metric over the variant's runs that reported one."""
    values: list[float] = []
    name = ""
    for key in model.variants[vkey]:
        metric = run_metric(model.runs[key])
        if metric and isinstance(metric[1], (int, float)):
            name = metric[0]
            values.append(float(metric[1]))
    return (name, sum(values) / len(values)) if values else None


def variant_label(model: SweepState, vkey: tuple[int, str]) -> Text:
    """A variant's label: its name under its grid, its summary and its mean metric."""
    mean = variant_mean(model, vkey)
    metric = f"{short_metric(mean[0])} {fmt_num(mean[1])}" if mean else ""
    name = variant_display(vkey[1], model.grid_name(vkey[0]))
    return group_label(name, model.summary(model.variants[vkey]), metric)


def grid_label(model: SweepState, li: int) -> Text:
    """A grid's label: its name and summary."""
    keys = [k for k in model.runs if k[0] == li]
    return group_label(model.grid_name(li), model.summary(keys))


class TreeView:
    """The filter, search and order the tree is built with."""

    def __init__(self) -> None:
        self.filter_index = 0
        """Index into :data:`FILTERS`."""
        self.search = ""
        """Case-insensitive substring a run's name must hold (empty: all)."""
        self.sort_index = 0
        """Index into :data:`SORTS`."""

    @property
    def filter_name(self) -> str:
        """The name of the state filter in use."""
        return FILTERS[self.filter_index][0]

    @property
    def sort_name(self) -> str:
        """The name of the variant order in use."""
        return SORTS[self.sort_index]

    def subtitle(self) -> str:
        """``filter failed · sort metric · /s20``: what differs from showing everything."""
        parts = [f"filter {self.filter_name}" if self.filter_index else ""]
        parts.append(f"sort {self.sort_name}" if self.sort_index else "")
        parts.append(f"/{self.search}" if self.search else "")
        return " · ".join(p for p in parts if p)

    def shows(self, model: SweepState, key: RunKey) -> bool:
        """Whether run ``key`` passes the filter and the search."""
        states = FILTERS[self.filter_index][1]
        run = model.runs[key]
        if states is not None and run.state not in states:
            return False
        return not self.search or self.search.lower() in run.name.lower()

    def sorted_variants(self, model: SweepState, li: int) -> list[tuple[int, str]]:
        """The variants of grid ``li`` in the order chosen."""
        vkeys = [v for v in model.variants if v[0] == li]
        mode = self.sort_name
        if mode == "name":
            vkeys.sort(key=lambda v: v[1])
        elif mode == "metric":
            vkeys.sort(key=lambda v: -(variant_mean(model, v) or (float("-inf"), 0))[1])
        elif mode == "failures":
            summaries = {v: model.summary(model.variants[v]).states for v in vkeys}
            vkeys.sort(
                key=lambda v: (-summaries[v][RunState.FAILED], -summaries[v][RunState.RUNNING])
            )
        return vkeys
