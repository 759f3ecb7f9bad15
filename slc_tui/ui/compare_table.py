"""``c``: the latest metrics of every variant side by side, sortable, exportable to CSV."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from slc_tui.engine.progress import EPOCH_COLUMNS, main_metric
from slc_tui.states import RunState
from slc_tui.sweep.fmt import fmt_num
from slc_tui.sweep.state import SweepState
from slc_tui.ui.labels import GLYPHS

MAX_METRICS = 8
"""Metric columns shown (the return-like one first); the CSV has them all."""
FIRST_METRIC = 6
"""Index of the first metric column (after grid, variant, done, failed, runs, epoch)."""
SUCCEEDING, GOING, NO_SUCCESS = 0, 1, 2
"""Variant tiers: some run succeeded; none yet but runs still go; none and none can."""


def compare_rows(model: SweepState) -> tuple[list[str], list[list[Any]]]:
    """One row per variant: grid, variant, done, failed, runs, epoch, then metric means."""
    metrics: list[str] = []
    for run in model.runs.values():
        metrics.extend(m for m in run.metrics if m not in metrics and m not in EPOCH_COLUMNS)
    first = main_metric(metrics)
    if first:
        metrics.remove(first)
        metrics.insert(0, first)
    columns = ["grid", "variant", "done", "failed", "runs", "epoch", *metrics]
    rows: list[list[Any]] = []
    for (li, variant), keys in model.variants.items():
        runs = [model.runs[k] for k in keys]
        epochs = [r.epoch for r in runs if r.epoch is not None]
        row: list[Any] = [
            model.grid_name(li),
            variant,
            sum(r.state == RunState.SUCCEEDED for r in runs),
            sum(r.state == RunState.FAILED for r in runs),
            len(runs),
            max(epochs) if epochs else None,
        ]
        for m in metrics:
            values = [r.metrics[m] for r in runs if isinstance(r.metrics.get(m), (int, float))]
            row.append(statistics.fmean(values) if values else None)
        rows.append(row)
    return columns, rows


def variant_tiers(model: SweepState) -> list[int]:
    """Each variant's tier, in the order of :func:`compare_rows`.

    A variant whose runs all ended without a success (its metric is that of runs that failed
    part-way) is :data:`NO_SUCCESS`; sorting by epoch or a metric puts such variants last.
    """
    tiers = []
    for keys in model.variants.values():
        states = {model.runs[k].state for k in keys}
        if RunState.SUCCEEDED in states:
            tiers.append(SUCCEEDING)
        else:
            tiers.append(GOING if states & {RunState.PENDING, RunState.RUNNING} else NO_SUCCESS)
    return tiers


def export_csv(model: SweepState, path: Path) -> Path:
    """Write the comparison to ``path`` (metric values are means over seeds)."""
    columns, rows = compare_rows(model)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    return path


def default_export_path(model: SweepState) -> Path:
    """``DATA_DIR/GRID_compare.csv`` next to the first grid's runs."""
    data_dir = model.ledgers[0].path.parent.parent
    names = "+".join(model.grid_name(li) for li in range(len(model.ledgers)))
    return data_dir / f"{names}_compare.csv"


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    return (0, -value) if isinstance(value, (int, float)) else (0, str(value))


class CompareScreen(Screen[None]):
    """The comparison table, full screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "app.pop_screen", "Back"),
        Binding("s", "sort", "Sort"),
        Binding("e", "export", "Export CSV"),
    ]

    def __init__(self, model: SweepState) -> None:
        super().__init__()
        self.model = model
        """The sweep compared."""
        self.sort_column = FIRST_METRIC
        """Index of the column rows are sorted by (the main metric, descending)."""
        self._columns: list[str] = []
        self.table: DataTable[Any] = DataTable(zebra_stripes=True, cursor_type="row")
        """The variants, one row each."""

    def compose(self) -> ComposeResult:
        """The table and the footer."""
        self.table.border_title = "variants · latest metrics, mean over seeds"
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table."""
        self.refill()

    def refill(self) -> None:
        """Build the table again from the model, in the chosen order.

        Sorted by epoch or a metric, variants that cannot succeed any more come last (and
        carry a ✘): their metric is that of runs that failed part-way.
        """
        columns, rows = compare_rows(self.model)
        self._columns = columns
        self.sort_column = min(self.sort_column, len(columns) - 1)
        by_value = self.sort_column >= FIRST_METRIC - 1
        ranked = sorted(
            zip(variant_tiers(self.model), rows),
            key=lambda t: (t[0] == NO_SUCCESS and by_value, _sort_key(t[1][self.sort_column])),
        )
        shown = columns[: FIRST_METRIC + MAX_METRICS]
        table = self.table
        table.clear(columns=True)
        for i, name in enumerate(shown):
            table.add_column(name + (" ▼" if i == self.sort_column else ""), key=str(i))
        for tier, row in ranked:
            cells: list[str | Text] = [
                "" if v is None else fmt_num(v) if isinstance(v, float) else str(v)
                for v in row[: len(shown)]
            ]
            if tier == NO_SUCCESS:
                cells = [Text(str(c), style="dim") for c in cells]
                cells[1] = Text(f"{GLYPHS[RunState.FAILED]} {row[1]}", style="red")
            table.add_row(*cells)
        last = ", ✘ failed variants last" if by_value else ""
        table.border_subtitle = f"sorted by {columns[self.sort_column]}{last} · s sort · e export"

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by it."""
        self.sort_column = event.column_index
        self.refill()

    def action_sort(self) -> None:
        """Sort by the next column."""
        count = min(len(self._columns), FIRST_METRIC + MAX_METRICS)
        self.sort_column = (self.sort_column + 1) % count
        self.refill()

    def action_export(self) -> None:
        """Write the CSV next to the runs and say where."""
        path = export_csv(self.model, default_export_path(self.model))
        self.notify(f"exported {path}", title="compare")
