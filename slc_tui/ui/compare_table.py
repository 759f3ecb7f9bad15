"""``c``: every variant ranked over its seeds (mean ± std, the 95% bootstrap interval of the
mean, median, IQM) at the final epoch, sortable, by any metric; ``e`` writes the same CSV
as ``slc-tui compare --csv``.

The numbers come from :mod:`slc_tui.sweep.ranking`, as those of ``slc-tui compare`` do:
failed, cancelled and lost runs are counted apart (``✘``), never averaged in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from slc_tui.states import RunState
from slc_tui.stats import VariantStats
from slc_tui.sweep.fmt import fmt_num
from slc_tui.sweep.ranking import (
    Comparison,
    at_words,
    ci_text,
    compare,
    mean_std,
    ranks,
    seeds_text,
    short_name,
    write_csv,
)
from slc_tui.sweep.results import from_records
from slc_tui.sweep.state import SweepState
from slc_tui.ui.curves import load_progress
from slc_tui.ui.labels import GLYPHS

COLUMNS = ("#", "variant", "seeds", "epoch", "mean ± std", "95% CI", "median", "IQM")
"""The table's columns (``grid`` after ``#`` when several grids are compared)."""
MEAN = 4
"""Index of the mean column: the default sort (best first)."""
SUCCEEDING, GOING, NO_SUCCESS = 0, 1, 2
"""Variant tiers: some run succeeded; none yet but runs still go; none and none can."""


def comparison(model: SweepState, metric: str | None = None) -> Comparison:
    """The variants of the sweep ranked by ``metric`` (default: the main metric) at their
    final epoch, from the runs' progress files (read again only when they change)."""
    return compare(from_records(model.records()), metric, reader=load_progress)


def variant_tiers(model: SweepState, variants: list[VariantStats]) -> list[int]:
    """Each variant's tier, in the order of ``variants``.

    A variant whose runs all ended without a success is :data:`NO_SUCCESS`; sorting by a
    value puts such variants last.
    """
    states_of: dict[tuple[str, str], set[RunState]] = {}
    for run in model.runs.values():
        states_of.setdefault((run.grid, run.variant), set()).add(run.state)
    tiers = []
    for v in variants:
        states = states_of.get((v.grid, v.variant), set())
        if RunState.SUCCEEDED in states:
            tiers.append(SUCCEEDING)
        else:
            tiers.append(GOING if states & {RunState.PENDING, RunState.RUNNING} else NO_SUCCESS)
    return tiers


def cells(found: Comparison, many_grids: bool = False) -> list[list[str]]:
    """The table's text, one row per variant in rank order (see :data:`COLUMNS`)."""
    rows = []
    for rank, v in zip(ranks(found.variants), found.variants):
        s = v.stats
        row = ["" if rank is None else str(rank), short_name(v.variant, v.grid), seeds_text(v),
               "" if v.epoch is None else f"{v.epoch:g}", mean_std(v), ci_text(v),
               "" if s.median is None else fmt_num(s.median),
               "" if s.iqm is None else fmt_num(s.iqm)]  # fmt: skip
        rows.append([row[0], v.grid, *row[1:]] if many_grids else row)
    return rows


def _sort_value(v: VariantStats, column: str) -> Any:
    """What a column sorts by (None last): numbers highest first, names in order."""
    s = v.stats
    by = {"seeds": v.seeds, "epoch": v.epoch, "mean ± std": s.mean, "median": s.median,
          "IQM": s.iqm, "95% CI": s.ci[0] if s.ci else None, "#": s.mean}  # fmt: skip
    if column in ("variant", "grid"):
        return (0, v.variant if column == "variant" else v.grid)
    value = by.get(column)
    return (1, 0) if value is None else (0, -value)


def export_csv(model: SweepState, path: Path, metric: str | None = None) -> Path:
    """Write the comparison to ``path``: the CSV of ``slc-tui compare --csv``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        write_csv(comparison(model, metric).variants, f)
    return path


def default_export_path(model: SweepState) -> Path:
    """``DATA_DIR/GRID_compare.csv`` next to the first grid's runs."""
    data_dir = model.ledgers[0].path.parent.parent
    names = "+".join(model.grid_name(li) for li in range(len(model.ledgers)))
    return data_dir / f"{names}_compare.csv"


class CompareScreen(Screen[None]):
    """The comparison table, full screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "app.pop_screen", "Back"),
        Binding("s", "sort", "Sort"),
        Binding("m", "metric", "Metric"),
        Binding("e", "export", "Export CSV"),
    ]

    def __init__(self, model: SweepState) -> None:
        super().__init__()
        self.model = model
        """The sweep compared."""
        self.metric: str | None = None
        """The metric compared; None: the main one."""
        self.sort_column = MEAN
        """Index of the column rows are sorted by (the mean, best first)."""
        self._columns: list[str] = list(COLUMNS)
        self._found = Comparison(None, [], [])
        self.table: DataTable[Any] = DataTable(zebra_stripes=True, cursor_type="row")
        """The variants, one row each."""

    def compose(self) -> ComposeResult:
        """The table and the footer."""
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table."""
        self.refill()

    def refill(self) -> None:
        """Build the table again from the runs' progress, in the chosen order.

        Sorted by a value, variants that cannot succeed any more come last (and carry a ✘).
        """
        found = self._found = comparison(self.model, self.metric)
        many = len(self.model.ledgers) > 1
        columns = self._columns = [COLUMNS[0], "grid", *COLUMNS[1:]] if many else list(COLUMNS)
        self.sort_column = min(self.sort_column, len(columns) - 1)
        key = columns[self.sort_column]
        by_value = key not in ("variant", "grid")
        tiers = variant_tiers(self.model, found.variants)
        ranked = sorted(
            zip(tiers, found.variants, cells(found, many)),
            key=lambda t: (t[0] == NO_SUCCESS and by_value, _sort_value(t[1], key)),
        )
        table = self.table
        table.clear(columns=True)
        for i, name in enumerate(columns):
            table.add_column(name + (" ▼" if i == self.sort_column else ""), key=str(i))
        name_at = columns.index("variant")
        for tier, _, row in ranked:
            shown: list[str | Text] = list(row)
            if tier == NO_SUCCESS:
                shown = [Text(c, style="dim") for c in row]
                shown[name_at] = Text(f"{GLYPHS[RunState.FAILED]} {row[name_at]}", style="red")
            table.add_row(*shown)
        grids = ", ".join(self.model.grid_name(li) for li in range(len(self.model.ledgers)))
        metric = found.metric or "no metric yet"
        table.border_title = f"{grids} · {metric} {at_words('final')} · over seeds"
        last = ", ✘ failed variants last" if by_value else ""
        table.border_subtitle = f"sorted by {key}{last}"  # the footer names the keys

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by it."""
        self.sort_column = event.column_index
        self.refill()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.sort_column = (self.sort_column + 1) % len(self._columns)
        self.refill()

    def action_metric(self) -> None:
        """Compare by the next metric column of the runs."""
        columns = self._found.columns
        if not columns:
            self.notify("no metrics yet", title="compare")
            return
        current = self._found.metric
        index = columns.index(current) if current in columns else -1
        self.metric = columns[(index + 1) % len(columns)]
        self.refill()

    def action_export(self) -> None:
        """Write the CSV next to the runs and say where."""
        path = export_csv(self.model, default_export_path(self.model), self._found.metric)
        self.notify(f"exported {path}", title="compare")
