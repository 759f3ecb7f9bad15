"""The ``slc-tui`` command: parses the words, runs the command, maps errors to exit statuses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from slc_tui.cli_run import FULL_LIMIT, USAGE_ERROR, Parser

__all__ = ["FULL_LIMIT", "main"]
INTERRUPTED = 130


def _one_grid_parser(command: str, help_text: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"slc-tui {command}", description=help_text)
    p.add_argument(
        "grid",
        metavar="GRID.toml",
        help="the grid file of the sweep, or its ledger (DATA_DIR/.slc-tui/NAME.db) for a "
        "sweep started from Python",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``slc-tui``; returns the exit status."""
    from slc_tui.errors import SlcError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except SlcError as exc:
        return fail(exc.for_cli())
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # `slc-tui status --json | head`: the reader left, and that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: list[str]) -> int:
    if args and args[0] == "status":
        p = _one_grid_parser("status", "Print a sweep's state from its ledger.")
        p.add_argument("--json", action="store_true", help="JSON for scripts")
        ns = p.parse_args(args[1:])
        from slc_tui.status import status_command

        return status_command(ns.grid, as_json=ns.json)
    if args and args[0] == "stop":
        p = _one_grid_parser("stop", "Stop every run of a sweep and its engine.")
        ns = p.parse_args(args[1:])
        from slc_tui.status import stop_command

        return stop_command(ns.grid)
    if args and args[0] == "attach":
        p = _one_grid_parser("attach", "Open the dashboard on a sweep run elsewhere.")
        p.add_argument("--no-mouse", action="store_true", help="no mouse support")
        ns = p.parse_args(args[1:])
        from slc_tui.sweep.lifecycle import SweepHandle
        from slc_tui.ui.app import run_dashboard

        handle = SweepHandle.find(ns.grid)
        return run_dashboard(handle.paths, owns_engine=False, no_mouse=ns.no_mouse)
    if args and args[0] == "compare":
        return _compare(args[1:])
    if args and args[0] == "plot":
        return _plot(args[1:])
    if args and args[0] == "run":
        from slc_tui.cli_run import run_spinup

        return run_spinup(args[1:])
    from slc_tui.cli_run import run_files

    return run_files(args)


def _targets_parser(command: str, help_text: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"slc-tui {command}", description=help_text)
    p.add_argument(
        "targets",
        nargs="+",
        metavar="GRID.toml|DATA_DIR",
        help="grid files (their ledgers say which runs failed), sweeps' data_dirs, or any "
        "folders of runs (a folder with progress.txt or progress.csv and config.json is a run)",
    )
    p.add_argument(
        "--select",
        nargs="+",
        default=[],
        metavar="S",
        help="only variants whose names contain every S",
    )
    p.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="S",
        help="leave out variants whose names contain any S",
    )
    return p


def _at(text: str) -> Any:
    from slc_tui.stats import parse_at

    try:
        return parse_at(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _compare(args: list[str]) -> int:
    p = _targets_parser(
        "compare",
        "Rank the variants by a metric over their seeds: mean, std, median, IQM and "
        "a 95% bootstrap interval of the mean; failed runs are counted apart, never averaged in.",
    )
    p.add_argument(
        "--metric",
        metavar="M",
        help="the column compared (default: "
        "AverageTestEpRet where logged, else the return-like main metric)",
    )
    p.add_argument(
        "--at",
        type=_at,
        default="final",
        metavar="final|best|N|COL=V",
        help="each seed's final epoch (default); the epoch where the variant's mean "
        "is best; epoch N; or where column COL reaches V (interpolated)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="JSON for scripts: one object a variant")
    out.add_argument("--csv", action="store_true", help="CSV for scripts (as the dashboard's e)")
    ns = p.parse_args(args)
    from slc_tui.compare import compare_command

    fmt = "json" if ns.json else "csv" if ns.csv else "table"
    return compare_command(ns.targets, ns.metric, ns.at, fmt, ns.select, ns.exclude)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _plot(args: list[str]) -> int:
    p = _targets_parser(
        "plot",
        "Draw every variant's learning curve over its seeds, with a band, to a PNG, "
        "SVG or PDF file (SpinningUp's plot.py flags).",
    )
    p.add_argument(
        "-x", "--xaxis", metavar="COL", help="x column (default: TotalEnvInteracts, else the epoch)"
    )
    p.add_argument(
        "-y",
        "--value",
        nargs="+",
        default=[],
        metavar="COL",
        help="y columns, one panel each (default: Performance, SpinningUp's name for "
        "AverageTestEpRet where logged, else AverageEpRet)",
    )
    p.add_argument(
        "-s",
        "--smooth",
        type=_positive,
        default=1,
        metavar="N",
        help="average each seed over a window of N points (default 1: none)",
    )
    p.add_argument(
        "--est",
        choices=("mean", "median", "iqm"),
        default="mean",
        help="the line of a variant (default: mean)",
    )
    p.add_argument(
        "--band",
        choices=("std", "ci", "none"),
        default="std",
        help="the band: ± one std of the seeds (default), the 95%% bootstrap "
        "interval of --est, or none",
    )
    p.add_argument("--count", action="store_true", help="one line per seed, no band")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE.png|.svg|.pdf",
        help="where to write (default: DATA_DIR/GRID_METRIC.png, said on stdout)",
    )
    ns = p.parse_args(args)
    from slc_tui.plot import plot_command

    return plot_command(
        ns.targets,
        ns.xaxis,
        ns.value,
        ns.smooth,
        ns.select,
        ns.exclude,
        ns.est,
        ns.band,
        ns.output,
        ns.count,
    )


def fail(message: str) -> int:
    """Print a usage or input error and return exit status 2."""
    print(f"slc-tui: {message}", file=sys.stderr)
    return USAGE_ERROR
