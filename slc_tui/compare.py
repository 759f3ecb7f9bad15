"""``slc-tui compare``: variants ranked by a metric over their seeds, as a table on a
terminal, or JSON or CSV for scripts.

Works on a grid file (its ledger says which runs failed), a sweep's data_dir, or any folder
tree of SpinningUp-layout runs. Never imports Textual or matplotlib.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import IO

from slc_tui.errors import InputError
from slc_tui.states import RunState
from slc_tui.stats import FINAL, At, VariantStats
from slc_tui.sweep.fmt import fmt_num
from slc_tui.sweep.ranking import (
    at_words,
    ci_text,
    compare,
    mean_std,
    ranks,
    seeds_text,
    short_name,
    write_csv,
)
from slc_tui.sweep.results import gather, selected

HEAD = ("rank", "variant", "seeds", "epoch", "mean ± std", "median", "IQM", "95% CI")
"""The columns of the table (``grid`` first when several grids are compared)."""


def compare_command(
    targets: Sequence[str],
    metric: str | None = None,
    at: At = FINAL,
    fmt: str = "table",
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    stream: IO[str] | None = None,
) -> int:
    """Print the ranking of the variants under ``targets`` (``fmt``: table, json or csv).

    Raises:
        InputError: a target is no grid file, ledger or folder; no run is found; ``metric``
            is no column of any run.
    """
    out = stream or sys.stdout
    runs = selected(gather(targets), select, exclude)
    if not runs:
        raise InputError(f"no runs found in {' '.join(targets)} (no folder with a progress file)")
    found = compare(runs, metric, at)
    name, variants = found.metric, found.variants
    pruned = {(r.grid, r.variant): r.reason for r in runs if r.state == RunState.PRUNED}
    if name is None:
        raise InputError(f"no run in {' '.join(targets)} has written a metric yet")
    if fmt == "json":
        doc = [{"rank": r, **v.as_dict(), "pruned": pruned.get((v.grid, v.variant))}
               for r, v in zip(ranks(variants), variants)]  # fmt: skip
        json.dump(_finite(doc), out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        write_csv(variants, out)
    else:
        out.write(table(name, at, variants, pruned) + "\n")
    return 0


def table(
    metric: str,
    at: At,
    variants: Sequence[VariantStats],
    pruned: dict[tuple[str, str], str] | None = None,
) -> str:
    """The ranking as aligned text, with what was left out and what was pruned below it."""
    grids = list(dict.fromkeys(v.grid for v in variants))
    head = ("grid", *HEAD) if len(grids) > 1 else HEAD
    rows = []
    for rank, v in zip(ranks(variants), variants):
        s = v.stats
        cells = [
            "" if rank is None else str(rank),
            short_name(v.variant, v.grid),
            seeds_text(v),
            "" if v.epoch is None else f"{v.epoch:g}",
            mean_std(v),
            "-" if s.median is None else fmt_num(s.median),
            "-" if s.iqm is None else fmt_num(s.iqm),
            ci_text(v),
        ]
        rows.append([v.grid, *cells] if len(grids) > 1 else cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    right = {0, 3} if len(grids) == 1 else {1, 4}  # rank and epoch

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    title = f"{', '.join(grids)}: {metric} {at_words(str(at))}, over seeds"
    notes = "95% CI: percentile bootstrap of the mean (fixed seed)"
    out = [title, line(head), *(line(r) for r in rows), "", notes]
    left = [(v, name, why) for v in variants for name, why in v.left_out.items()]
    if left:
        out.append("left out of the statistics (✘ failed, ? no value):")
        out.extend(f"  {name}: {why}" for _, name, why in left)
    stopped = [(v, (pruned or {}).get((v.grid, v.variant))) for v in variants]
    if any(why for _, why in stopped):
        out.append("pruned by [early_stop] (✂; their values are from the epoch they stopped at):")
        out.extend(f"  {short_name(v.variant, v.grid)}: {why}" for v, why in stopped if why)
    return "\n".join(out)


def _finite(value: object) -> object:
    """JSON has no NaN: a non-finite number becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
