"""The commands that run a sweep: grid files, a stable-learning-control experiment file, and
``slc-tui run`` (SpinningUp's ``spinup.run`` command line). Each prepares one ``Sweep``, then
:func:`launch` dry-runs it, runs it headless, or opens the dashboard on it."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from slc_tui import __version__
from slc_tui.errors import InputError

if TYPE_CHECKING:
    from slc_tui.sweep.prepare import Sweep

USAGE_ERROR = 2
FULL_LIMIT = 1000
"""Runs a ``--dry-run`` prints in full without ``--all`` (``dryrun.FULL_LIMIT``: the dry-run
module is not imported to print the help)."""

USAGE = """\
slc-tui GRID.toml [GRID.toml ...] [options]
       slc-tui EXP_CFG.yml [options]
       slc-tui run THUNK --key v1 v2 ... [--key[short] ...] [--cpu N] [--dt] [options]
       slc-tui attach GRID.toml
       slc-tui status GRID.toml [--json]
       slc-tui stop GRID.toml
       slc-tui compare GRID.toml|DATA_DIR ... [--metric M] [--at final|best|N] [--json|--csv]
       slc-tui plot GRID.toml|DATA_DIR ... [-x COL] [-y COL ...] [--smooth N] [-o FILE]"""
EPILOG = """\
commands:
  slc-tui GRID.toml [GRID.toml ...]   run the grids with the dashboard (default)
  slc-tui EXP_CFG.yml                 run a stable-learning-control experiment file
  slc-tui run THUNK --key v1 v2 ...   run a grid given as spinup.run's command line
  slc-tui attach GRID.toml            dashboard on a sweep run by another slc-tui process
  slc-tui status GRID.toml [--json]   one-shot table of a sweep's state
  slc-tui stop GRID.toml              stop a sweep that runs in the background
  slc-tui compare GRID.toml|DATA_DIR  rank the variants over their seeds (mean ± std, IQM, CI)
  slc-tui plot GRID.toml|DATA_DIR     draw the learning curves over seeds to a PNG, SVG or PDF

exit status: 0 all runs succeeded, 1 some run failed, 2 bad input or usage, 130 interrupted
"""


class Parser(argparse.ArgumentParser):
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
    p = Parser(
        prog="slc-tui",
        usage=USAGE,
        description="Run experiment grids (TOML grid files) in parallel inside the CPU budget, "
        "with a live dashboard, a headless mode, resume and a Slurm backend.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "grids", nargs="+", metavar="GRID.toml", help="grid files to run (or one EXP_CFG.yml)"
    )
    return add_run_options(p)


def _gpus(text: str) -> str | int | list[int]:
    """``--gpus``: ``auto``, ``none``, or device ids separated by commas (``0`` is device 0)."""
    if text in ("auto", "none"):
        return text if text == "auto" else 0
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not auto, none or device ids like 0,1")
    return [int(part) for part in parts]


def add_run_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that runs a sweep."""
    from slc_tui.cpus import MAX_BUDGET, PER_CPU
    from slc_tui.options import ORDERS

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
        "--gpus",
        type=_gpus,
        metavar="auto|none|0,1,..",
        help="GPU budget (default: [run] gpus, else none): auto asks NVML, device ids are used "
        "as given, none leaves the runs' CUDA_VISIBLE_DEVICES alone",
    )
    p.add_argument(
        "--order",
        choices=ORDERS,
        help="how pending runs are offered to free cores (default: [run] order, else auto)",
    )
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


OWN_FLAGS = {"--save-grid": 1, "--no-ui": 0, "--dry-run": 0, "--max-cpus": 1, "--fail-fast": 0,
             "--no-mouse": 0}  # fmt: skip
"""slc-tui's flags that may follow THUNK in ``slc-tui run`` (a hyphen: no grammar key has one);
its one-word flags (``--retries``, ``--resume``...) go before THUNK."""


def _flags(ns: argparse.Namespace) -> dict[str, Any]:
    if ns.all and not ns.dry_run:
        raise InputError("--all goes with --dry-run (it prints every run of the plan)")
    keys = ("max_cpus", "retries", "timeout", "fail_fast", "backend", "oversubscribe", "gpus",
            "order")  # fmt: skip
    return {k: getattr(ns, k) for k in keys}


def run_files(args: list[str]) -> int:
    """``slc-tui GRID.toml ...`` (an ``EXP_CFG.yml`` among them loads as a grid file)."""
    from slc_tui.sweep import prepare

    ns = run_parser().parse_args(args)
    return launch(prepare.from_files(ns.grids, _flags(ns), lazy=ns.dry_run), ns)


def run_spinup(args: list[str]) -> int:
    """``slc-tui run THUNK --key v1 v2 ...``: a grid built as ``python -m spinup.run`` does."""
    from slc_tui import spinup_args

    p = add_run_options(Parser(
        prog="slc-tui run",
        usage="slc-tui run [options] THUNK [--key v1 v2 ...] [--key[short] v1 ...] [--cpu N] "
        "[--dt] [--data_dir D] [--exp_name X] [--save-grid FILE.toml]",
        description="Run the grid that SpinningUp's `python -m spinup.run THUNK ...` would: "
        "every word after a --key is one of its values, read as a Python literal "
        "(never evaluated). THUNK is 'module:function', 'file.py:function' or an algorithm "
        "name (ppo, sac, lac...).",
    ))  # fmt: skip
    p.add_argument("--save-grid", metavar="FILE.toml", help="also write the grid as a TOML file "
                   "(then status, attach and --resume find the sweep from it)")  # fmt: skip
    p.add_argument("thunk", metavar="THUNK")
    p.add_argument("grammar", nargs=argparse.REMAINDER)
    ns = p.parse_args(args)
    rest, own = spinup_args.split_own(ns.grammar, OWN_FLAGS)
    if own:
        before = args[: len(args) - len(ns.grammar) - 1]
        ns = p.parse_args([*before, *own, ns.thunk, *rest])
    words = [ns.thunk, *rest]
    if spinup_args.wants_help(words):
        p.print_help()
        return 0
    grid, thunk, where = spinup_args.parse(words)
    return _run_translated(ns, grid, thunk, where)


def _run_translated(ns: argparse.Namespace, grid: Any, thunk: str, where: dict[str, Any]) -> int:
    """Run a grid that came from another form: through a TOML file with ``--save-grid``."""
    from slc_tui.options import RunOptions
    from slc_tui.sweep import prepare

    save = getattr(ns, "save_grid", None)
    if save:
        from slc_tui.spinup_args import to_toml

        Path(save).write_text(to_toml(grid, thunk, where))
        print(f"slc-tui: wrote {save}; `slc-tui {save}` runs it again", file=sys.stderr)
        return launch(prepare.from_files([save], _flags(ns), lazy=ns.dry_run), ns)
    from slc_tui.thunks import resolve

    resolve(thunk)  # a thunk that cannot be imported is exit 2 before anything runs
    options = RunOptions().override(**_flags(ns))
    return launch(prepare.from_grid(grid, thunk, options, **where), ns)


def launch(sweep: Sweep, ns: argparse.Namespace) -> int:
    """Dry-run the prepared sweep, run it headless, or open the dashboard on it."""
    if ns.dry_run:
        from slc_tui.dryrun import print_sweep

        for line in sweep.notices:
            print(line, file=sys.stderr)
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
