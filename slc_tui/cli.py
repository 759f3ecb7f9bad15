"""The ``slc-tui`` command: run grids (dashboard or headless), dry-run, attach, status."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from slc_tui import __version__

USAGE_ERROR, INTERRUPTED = 2, 130
FULL_LIMIT = 1000
"""Runs a ``--dry-run`` prints in full without ``--all`` (``dryrun.FULL_LIMIT``: the dry-run
module is not imported to print the help)."""

USAGE = """\
slc-tui GRID.toml [GRID.toml ...] [options]
       slc-tui attach GRID.toml
       slc-tui status GRID.toml [--json]
       slc-tui stop GRID.toml"""
EPILOG = """\
commands:
  slc-tui GRID.toml [GRID.toml ...]   run the grids with the dashboard (default)
  slc-tui attach GRID.toml            dashboard on a sweep run by another slc-tui process
  slc-tui status GRID.toml [--json]   one-shot table of a sweep's state
  slc-tui stop GRID.toml              stop a sweep that runs in the background

exit status: 0 all runs succeeded, 1 some run failed, 2 bad input or usage, 130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``slc-tui: PROBLEM (see --help)``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _cpus(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def _nonneg(kind: type) -> Any:
    def parse(text: str) -> Any:
        want = "a whole number >= 0" if kind is int else "a finite number >= 0"
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if not math.isfinite(value) or value < 0:  # nan compares false: it would never fire
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return value

    return parse


def run_parser() -> argparse.ArgumentParser:
    """The parser of ``slc-tui GRID.toml ...``."""
    from slc_tui.cpus import MAX_BUDGET, PER_CPU

    p = _Parser(
        prog="slc-tui",
        usage=USAGE,
        description="Run experiment grids (TOML grid files) in parallel inside the CPU budget, "
        "with a live dashboard, a headless mode, resume and a Slurm backend.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grids", nargs="+", metavar="GRID.toml", help="grid files to run")
    p.add_argument(
        "--no-ui",
        action="store_true",
        help="headless: one line per event, a summary, the exit status",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (tree, names, output dirs, packing); run nothing; a sweep of "
        f"more than {FULL_LIMIT} runs is summed up (counts, first and last run, packing)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help=f"with --dry-run: print every run, even of a sweep of more than {FULL_LIMIT} runs",
    )
    p.add_argument(
        "--max-cpus",
        type=_cpus,
        metavar="N|auto",
        help="CPU budget (default: [run] max_cpus, else the physical cores); locally at most "
        f"{PER_CPU} per CPU of this machine unless --oversubscribe, never more than {MAX_BUDGET}",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip runs that succeeded; rerun failed, cancelled and lost ones",
    )
    p.add_argument(
        "--retries", type=_nonneg(int), metavar="N", help="retry a failed run up to N times"
    )
    p.add_argument(
        "--timeout",
        type=_nonneg(float),
        metavar="S",
        help="stop and fail a run after S seconds (0: no limit)",
    )
    p.add_argument(
        "--fail-fast",
        action="store_true",
        default=None,
        help="start no new run after the first failure",
    )
    p.add_argument("--backend", choices=("local", "slurm"), help="where runs go")
    p.add_argument(
        "--oversubscribe",
        action="store_true",
        default=None,
        help="allow runs of more ranks than the CPU budget, and a budget of more than "
        "64 per CPU of this machine",
    )
    p.add_argument(
        "--no-mouse",
        action="store_true",
        help="dashboard without mouse support (for terminals that garble it)",
    )
    p.add_argument("--version", action="version", version=f"slc-tui {__version__}")
    return p


def _one_grid_parser(command: str, help_text: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"slc-tui {command}", description=help_text)
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
    return _run(run_parser().parse_args(args))


def _run(ns: argparse.Namespace) -> int:
    """``slc-tui GRID.toml ...``: prepare once, then dry-run, run headless, or the dashboard."""
    from slc_tui.sweep import prepare

    flags = {
        "max_cpus": ns.max_cpus,
        "retries": ns.retries,
        "timeout": ns.timeout,
        "fail_fast": ns.fail_fast,
        "backend": ns.backend,
        "oversubscribe": ns.oversubscribe,
    }
    if ns.all and not ns.dry_run:
        return fail("--all goes with --dry-run (it prints every run of the plan)")
    sweep = prepare.from_files(ns.grids, flags, lazy=ns.dry_run)
    if ns.dry_run:
        from slc_tui.dryrun import print_sweep

        print_sweep(sweep, sys.stdout, every=ns.all)
        return 0
    from slc_tui.headless import interactive, run_headless

    if ns.no_ui or not interactive():
        if not ns.no_ui:
            print("slc-tui: no terminal: running headless (--no-ui)", file=sys.stderr)
        return run_headless(sweep, ns.resume).status
    from slc_tui.sweep.lifecycle import notices, start_background
    from slc_tui.ui.app import run_dashboard

    handle, started = start_background(sweep, ns.resume)
    for line in notices(started):
        print(line, file=sys.stderr)
    return run_dashboard(handle.paths, owns_engine=True, no_mouse=ns.no_mouse)


def fail(message: str) -> int:
    """Print a usage or input error and return exit status 2."""
    print(f"slc-tui: {message}", file=sys.stderr)
    return USAGE_ERROR
