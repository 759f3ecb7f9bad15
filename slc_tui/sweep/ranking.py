"""Variants ranked by their seeds: the one computation behind ``slc-tui compare``, the
dashboard's compare table and its ``e`` export, and the headless summary's top variants;
and the words they share (CSV, JSON, ``mean ± std``, the interval)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from slc_tui.engine.progress import main_metric, read_progress
from slc_tui.errors import InputError
from slc_tui.stats import FINAL, At, VariantStats, ranked, variant_stats
from slc_tui.sweep.fmt import fmt_num
from slc_tui.sweep.results import Reader, Run, metric_columns, seeds_of

PERFORMANCE = "Performance"
"""SpinningUp's name for the performance measure: ``AverageTestEpRet`` where a run logs it
(off-policy algorithms), else the return-like main metric."""
CSV_COLUMNS = (
    "grid", "variant", "metric", "at", "epoch", "runs", "seeds", "failed", "missing",
    "running", "mean", "std", "median", "iqm", "ci_low", "ci_high",
)  # fmt: skip
"""The header of ``compare --csv`` (and of the dashboard's export)."""
TOP = 5
"""Variants the headless summary names."""


def default_metric(columns: Sequence[str]) -> str | None:
    """``AverageTestEpRet`` when logged (SpinningUp's "Performance"), else the main metric."""
    return "AverageTestEpRet" if "AverageTestEpRet" in columns else main_metric(list(columns))


def resolve_metric(asked: str | None, columns: Sequence[str]) -> str | None:
    """The column ``asked`` for (``Performance`` or None: :func:`default_metric`).

    Raises:
        InputError: no run logs a column of that name.
    """
    if asked is None or asked == PERFORMANCE:
        return default_metric(columns)
    if asked not in columns:
        known = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise InputError(f"no run has a column {asked!r} (columns: {known or 'none'})")
    return asked


@dataclass
class Comparison:
    """The variants ranked by one metric."""

    metric: str | None
    """The column compared; None when no run has written one."""
    variants: list[VariantStats]
    """Best mean first (see :func:`slc_tui.stats.ranked`)."""
    columns: list[str]
    """Every metric column of the runs (what a view may compare by instead)."""


def compare(
    runs: Sequence[Run], metric: str | None = None, at: At = FINAL, reader: Reader = read_progress
) -> Comparison:
    """The variants of ``runs`` ranked by ``metric`` (default: :func:`default_metric`).

    Raises:
        InputError: ``metric`` is no column of any run.
    """
    groups = seeds_of(runs, reader)
    columns = metric_columns(groups)
    name = resolve_metric(metric, columns)
    if name is None:
        return Comparison(None, [], columns)
    stats = [variant_stats(g, v, seeds, name, at) for (g, v), seeds in groups.items()]
    return Comparison(name, ranked(stats), columns)


def ranks(variants: Sequence[VariantStats]) -> list[int | None]:
    """1, 1, 3...: equal means share a rank; variants without values have none."""
    out: list[int | None] = []
    for i, v in enumerate(variants):
        mean = v.stats.mean
        if mean is None:
            out.append(None)
        elif i and variants[i - 1].stats.mean == mean:
            out.append(out[-1])
        else:
            out.append(i + 1)
    return out


def csv_rows(variants: Sequence[VariantStats]) -> list[list[Any]]:
    """One row per variant under :data:`CSV_COLUMNS` (None where there is no value)."""
    rows = []
    for v in variants:
        s = v.stats
        lo, hi = s.ci if s.ci else (None, None)
        rows.append([v.grid, v.variant, v.metric, v.at, v.epoch, v.runs, v.seeds, v.failed,
                     v.missing, v.running, s.mean, s.std, s.median, s.iqm, lo, hi])  # fmt: skip
    return rows


def write_csv(variants: Sequence[VariantStats], stream: IO[str]) -> None:
    """The variants as CSV (the header, then one row each)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_cell(c) for c in row] for row in csv_rows(variants))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) and value.is_integer() else value


def short_name(variant: str, grid: str) -> str:
    """The variant's name without its grid's prefix (``cartpole-cem_pop8`` -> ``pop8``)."""
    prefix = f"{grid}_"
    return variant[len(prefix) :] if variant.startswith(prefix) and variant != prefix else variant


def mean_std(v: VariantStats) -> str:
    """``487.3 ± 12.4``, or ``-`` without values."""
    s = v.stats
    return "-" if s.mean is None else f"{fmt_num(s.mean)} ± {fmt_num(s.std)}"


def ci_text(v: VariantStats) -> str:
    """``[470.1, 500]``, or ``-`` with fewer than two seeds."""
    ci = v.stats.ci
    return f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]" if ci else "-"


def seeds_text(v: VariantStats) -> str:
    """``3``, ``3 ●1`` (one still running), ``2 ✘1`` (one failed, left out), ``2 ?1`` (one
    with no value there)."""
    parts = [str(v.seeds)]
    if v.running:
        parts.append(f"●{v.running}")
    if v.failed:
        parts.append(f"✘{v.failed}")
    if v.missing:
        parts.append(f"?{v.missing}")
    return " ".join(parts)


def at_words(at: str) -> str:
    """``final`` -> ``at the final epoch``; ``best`` -> ``at the best epoch (of the mean)``."""
    if at == "final":
        return "at the final epoch"
    return "at the best epoch of the mean" if at == "best" else f"at {at}"


def top_lines(runs: Sequence[Run], count: int = TOP) -> list[str]:
    """The headless summary's last lines: the best ``count`` variants by the main metric at
    the final epoch, mean ± std over seeds; none when no run logged a metric."""
    found = compare(runs)
    metric, variants = found.metric, [v for v in found.variants if v.stats.mean is not None]
    if metric is None or not variants:
        return []
    lines = [f"top variants by {metric} at the final epoch (mean ± std over seeds):"]
    width = max(len(v.variant) for v in variants[:count])
    for i, v in enumerate(variants[:count], 1):
        seeds = f"{v.seeds} seed{'s' if v.seeds != 1 else ''}"
        left = f", {v.failed} failed left out" if v.failed else ""
        left += f", {v.missing} without a value" if v.missing else ""
        lines.append(f"  {i}. {v.variant:<{width}}  {mean_std(v)}  ({seeds}{left})")
    if len(variants) > count:
        lines.append(f"  ({len(variants) - count} more: slc-tui compare)")
    return lines
