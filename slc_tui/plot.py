"""``slc-tui plot``: the learning curves of every variant, one line per variant (its seeds'
mean, median or IQM) with a band (± std, or the 95% bootstrap interval), as a PNG, SVG or
PDF, the way SpinningUp's ``plot.py`` draws them (its flags, its defaults) but to a file.

matplotlib is imported here only, inside :func:`plot_command`, with the Agg canvas: no
display is needed, and no other command pays for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slc_tui.engine.progress import EPOCH_COLUMNS
from slc_tui.errors import InputError
from slc_tui.seed_curves import Band, band, curve_of
from slc_tui.stats import Seed
from slc_tui.sweep.fmt import display_path
from slc_tui.sweep.ranking import PERFORMANCE, resolve_metric, short_name
from slc_tui.sweep.results import gather, metric_columns, seeds_of, selected

X_DEFAULT = "TotalEnvInteracts"
"""SpinningUp's x axis; the epoch where no run logs it."""
FORMATS = (".png", ".svg", ".pdf")
"""The files ``-o`` may name."""
SIZE = (6.4, 4.0)
"""Inches of one panel: a figure that reads at paper size (a column of a two-column page
shrinks it to about half, where 9 pt type still reads)."""
DPI = 200
SPREAD_WORDS = {"std": " ± std", "ci": " with its 95% bootstrap CI", "none": ""}
"""The title's words for each band."""
EST_WORDS = {"mean": "mean", "median": "median", "iqm": "IQM"}


def plot_command(
    targets: Sequence[str],
    x: str | None = None,
    ys: Sequence[str] = (),
    smooth: int = 1,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    estimator: str = "mean",
    spread: str = "std",
    output: str | None = None,
    count: bool = False,
) -> int:
    """Draw ``ys`` (default SpinningUp's "Performance") against ``x`` for every variant
    under ``targets`` into ``output`` (default: beside the runs), and say where.

    Raises:
        InputError: no runs, an unknown column, or a file type other than PNG, SVG, PDF.
    """
    if output is not None and Path(output).suffix.lower() not in FORMATS:
        raise InputError(f"-o {output}: give a file ending in .png, .svg or .pdf")
    runs = selected(gather(targets), select, exclude)
    groups = seeds_of(runs)
    if not any(s.columns for seeds in groups.values() for s in seeds):
        raise InputError(f"no runs with progress found in {' '.join(targets)}")
    columns = metric_columns(groups)
    resolved = [resolve_metric(y, columns) for y in (ys or [PERFORMANCE])]
    metrics = [m for m in resolved if m is not None]
    if len(metrics) < len(resolved):
        raise InputError("the runs have no metric column to plot")
    x_col = _x_column(x, groups)
    for seeds in groups.values():
        for s in seeds:
            if s.failed:
                print(f"slc-tui: left out {s.name} ({s.failed})", file=sys.stderr)
    if not count and _ends_differ(groups, x_col, metrics[0]):
        what = x_col or "epochs"
        print(f"slc-tui: seeds end at different {what}: each line ends where all its "
              "seeds still have values", file=sys.stderr)  # fmt: skip
    path = Path(output) if output else _default_path(runs, metrics[0])
    figure = draw(groups, x_col, metrics, smooth, estimator, spread, count)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    if output is None:
        print(f"slc-tui: wrote {display_path(str(path))}")
    return 0


def _ends_differ(groups: dict[tuple[str, str], list[Seed]], x_col: str | None, y: str) -> bool:
    """Whether the seeds of some variant end at different x (their line stops early)."""
    for seeds in groups.values():
        ends = {float(c[0][-1]) for s in seeds if not s.failed
                if (c := curve_of(s, x_col, y))[0].size}  # fmt: skip
        if len(ends) > 1:
            return True
    return False


def _x_column(x: str | None, groups: dict[tuple[str, str], list[Seed]]) -> str | None:
    """The x column (None: the epoch). ``-x`` must name a column some run has."""
    every = {c for seeds in groups.values() for s in seeds for c in s.columns}
    if x is None:
        return X_DEFAULT if X_DEFAULT in every else None
    if x in EPOCH_COLUMNS and x not in every:
        return None
    if x not in every:
        raise InputError(f"-x {x}: no run has that column")
    return x


def _default_path(runs: Sequence[Any], metric: str) -> Path:
    """``DATA_DIR/GRID_METRIC.png``: beside the variant folders of the runs."""
    tops = [os.path.dirname(os.path.dirname(os.path.abspath(r.output_dir))) for r in runs]
    grids = "+".join(dict.fromkeys(r.grid for r in runs)) or "runs"
    return Path(os.path.commonpath(tops) if tops else os.getcwd()) / f"{grids}_{metric}.png"


def draw(
    groups: dict[tuple[str, str], list[Seed]],
    x_col: str | None,
    metrics: Sequence[str],
    smooth: int = 1,
    estimator: str = "mean",
    spread: str = "std",
    count: bool = False,
) -> Any:
    """A matplotlib ``Figure``: one panel per metric, one line (and band) per variant."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    style: dict[str, Any] = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
             "legend.fontsize": 9, "lines.linewidth": 1.6}  # fmt: skip
    with rc_context(style):  # type: ignore[arg-type]
        fig = Figure(figsize=(SIZE[0] * len(metrics), SIZE[1]), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        grids = list(dict.fromkeys(g for g, _ in groups))
        handles: dict[str, Any] = {}
        for ax, metric in zip(axes, metrics):
            for i, ((grid, variant), seeds) in enumerate(groups.items()):
                color = f"C{i % 10}"
                name = short_name(variant, grid) if len(grids) == 1 else variant
                counted = [s for s in seeds if not s.failed]
                curves = [curve_of(s, x_col, metric, smooth) for s in counted]
                if count:
                    for s, (cx, cy) in zip(counted, curves):
                        if cx.size:
                            (line,) = ax.plot(cx, cy, color=color, alpha=0.8)
                            handles[f"{name} {s.name.rsplit('_', 1)[-1]}"] = line
                    continue
                got = band(curves, estimator, spread)
                if got is not None:
                    alpha = 0.2 if len(groups) <= 4 else 0.12
                    handles.setdefault(f"{name} (n={got.n})", _draw_band(ax, got, color, alpha))
            ax.set_xlabel(x_col or "Epoch")
            ax.set_ylabel(metric)
            words = f"{EST_WORDS[estimator]}{SPREAD_WORDS[spread]}, over seeds"
            what = "each seed" if count else words
            ax.set_title(f"{', '.join(grids)}: {what}".strip())
            ax.grid(True, alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
            if max((line.get_xdata().max() for line in ax.lines), default=0) > 5e3:
                fmt = ScalarFormatter(useMathText=True)
                fmt.set_powerlimits((0, 0))
                ax.xaxis.set_major_formatter(fmt)
        if handles:  # beside the panels; below them, in columns, when long
            below = len(handles) > 10
            fig.legend(
                list(handles.values()),
                list(handles),
                frameon=False,
                loc="outside lower center" if below else "outside right upper",
                ncols=3 if below else 1,
            )
    return fig


def _draw_band(ax: Any, got: Band, color: str, alpha: float) -> Any:
    """The centre line, and the band when there is one; return the line (for the legend)."""
    if got.lo is not None and got.hi is not None:
        ax.fill_between(got.x, got.lo, got.hi, color=color, alpha=alpha, linewidth=0)
    (line,) = ax.plot(got.x, got.center, color=color)
    return line
