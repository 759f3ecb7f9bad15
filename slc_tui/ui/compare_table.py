"""``c``: the latest metrics of every variant side by side, sortable, exportable to CSV."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from slc_tui.engine.ledger import FAILED, SUCCEEDED
from slc_tui.engine.progress import EPOCH_COLUMNS, main_metric
from slc_tui.ui.model import SweepModel, fmt_num

MAX_METRICS = 8
"""Metric columns shown (the return-like one first); the CSV has them all."""


def compare_rows(model: SweepModel) -> tuple[list[str], list[list[Any]]]:
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
            sum(r.state == SUCCEEDED for r in runs),
            sum(r.state == FAILED for r in runs),
            len(runs),
            max(epochs) if epochs else None,
        ]
        for m in metrics:
            values = [r.metrics[m] for r in runs if isinstance(r.metrics.get(m), (int, float))]
            row.append(statistics.fmean(values) if values else None)
        rows.append(row)
    return columns, rows


def export_csv(model: SweepModel, path: Path) -> Path:
    """Write the comparison to ``path`` (metric values are means over seeds)."""
    columns, rows = compare_rows(model)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    return path


def default_export_path(model: SweepModel) -> Path:
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

    def __init__(self, model: SweepModel) -> None:
        super().__init__()
        self.model = model
        """The sweep compared."""
        self.sort_column = 6
        """Index of the column rows are sorted by (the main metric, descending)."""
        self._columns: list[str] = []

    def compose(self) -> ComposeResult:
        """The table and the footer."""
        table: DataTable[Any] = DataTable(zebra_stripes=True, cursor_type="row")
        table.border_title = "variants · latest metrics, mean over seeds"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table."""
        self.refill()

    def refill(self) -> None:
        """Build the table again from the model, in the chosen order."""
        columns, rows = compare_rows(self.model)
        self._columns = columns
        self.sort_column = min(self.sort_column, len(columns) - 1)
        rows.sort(key=lambda r: _sort_key(r[self.sort_column]))
        shown = columns[: 6 + MAX_METRICS]
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for i, name in enumerate(shown):
            table.add_column(name + (" ▼" if i == self.sort_column else ""), key=str(i))
        for row in rows:
            cells = ["" if v is None else fmt_num(v) if isinstance(v, float) else str(v)
                     for v in row[: len(shown)]]  # fmt: skip
            table.add_row(*cells)
        table.border_subtitle = f"sorted by {columns[self.sort_column]} · s sort · e export"

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by it."""
        self.sort_column = event.column_index
        self.refill()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.sort_column = (self.sort_column + 1) % min(len(self._columns), 6 + MAX_METRICS)
        self.refill()

    def action_export(self) -> None:
        """Write the CSV next to the runs and say where."""
        path = export_csv(self.model, default_export_path(self.model))
        self.notify(f"exported {path}", title="compare")
