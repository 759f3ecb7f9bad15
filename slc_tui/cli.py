"""The ``slc-tui`` command: parses the words, runs the command, maps errors to exit statuses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

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
    if args and args[0] == "run":
        from slc_tui.cli_run import run_spinup

        return run_spinup(args[1:])
    from slc_tui.cli_run import run_files

    return run_files(args)


def fail(message: str) -> int:
    """Print a usage or input error and return exit status 2."""
    print(f"slc-tui: {message}", file=sys.stderr)
    return USAGE_ERROR
