"""``slc-tui GRID.toml ...``: load, plan, then run headless or under the dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from slc_tui.cli import fail, interactive

if TYPE_CHECKING:
    from slc_tui.gridfile import GridSpec


ENGINE_WIDE = ("max_cpus", "backend", "fail_fast", "slurm")
"""``[run]`` settings that hold for the whole sweep, so several grid files must agree on them."""


def check_shared_options(specs: list[GridSpec], flags: dict[str, Any]) -> None:
    """Raise GridFileError when grid files run together disagree on a sweep-wide setting
    that no command-line flag overrides."""
    first = specs[0]
    backend = flags.get("backend") or first.options.backend
    for spec in specs[1:]:
        for key in ENGINE_WIDE:
            if flags.get(key) is not None or (key == "slurm" and backend != "slurm"):
                continue
            mine, theirs = getattr(spec.options, key), getattr(first.options, key)
            if mine != theirs:
                table = "slurm" if key == "slurm" else "run"
                raise spec.error(
                    f"{table}.{key}" if key != "slurm" else "slurm",
                    f"{mine!r} differs from {theirs!r} in {first.shown_path}; grid files run "
                    f"together share one {key}: make them agree, or give --{key.replace('_', '-')}"
                    if key != "slurm"
                    else f"differs from the [slurm] table of {first.shown_path}; grid files run "
                    "together share one; make them agree",
                )


def sweep_command(ns: argparse.Namespace) -> int:
    """Run the grid files of ``ns``; return the exit status of DESIGN.md."""
    from slc_tui.engine import ledger as L
    from slc_tui.engine.api import (
        engine_budget,
        launch_background,
        ledger_paths,
        make_engine,
        wait_for_engine,
    )
    from slc_tui.engine.core import EngineError, check_plans, engine_alive
    from slc_tui.gridfile import GridFileError, load_grids
    from slc_tui.headless import Printer, summary
    from slc_tui.plan import PlanError, plan_specs

    flags = {
        "max_cpus": ns.max_cpus,
        "retries": ns.retries,
        "timeout": ns.timeout,
        "fail_fast": ns.fail_fast,
        "backend": ns.backend,
        "oversubscribe": ns.oversubscribe,
    }
    try:
        specs = load_grids(ns.grids)
        plans = plan_specs(specs, flags)
        options = specs[0].options.override(**flags)
        check_shared_options(specs, flags)
        budget = engine_budget(plans, options)
        check_plans(plans, len(budget))
    except (GridFileError, PlanError, EngineError) as exc:
        return fail(str(exc))
    if ns.dry_run:
        from slc_tui.dryrun import print_plan

        for spec in specs:
            spec.grid.print()
        print_plan(
            plans,
            budget,
            sys.stdout,
            cluster=options.backend == "slurm",
            limited=options.max_cpus != "auto",
        )
        return 0
    paths = ledger_paths(plans)
    for path in paths:
        if not path.exists():
            continue
        earlier = L.Ledger.open(path)
        if engine_alive(earlier.meta()):
            return fail(
                f"{path.stem!r} is already running; watch it with "
                f"'slc-tui attach {ns.grids[0]}' or stop it with 'slc-tui stop {ns.grids[0]}'"
            )
        done = sum(r.state == L.SUCCEEDED for r in earlier.runs())
        if done and not ns.resume:
            print(
                f"slc-tui: {path.stem}: {done} run(s) that succeeded before run again "
                "(their earlier output is kept as output.N.log / progress.N.txt); "
                "--resume skips them",
                file=sys.stderr,
            )
    headless = ns.no_ui or not interactive()
    if headless:
        if not ns.no_ui:
            print("slc-tui: no terminal: running headless (--no-ui)", file=sys.stderr)
        printer = Printer()
        try:
            engine = make_engine(plans, options, resume=ns.resume, listeners=[printer])
            status = engine.run()
        except EngineError as exc:
            return fail(str(exc))
        summary(sorted(engine.records.values(), key=lambda r: r.idx))
        return status
    from slc_tui.ui.app import run_dashboard

    proc = launch_background(plans, options, resume=ns.resume)
    try:
        wait_for_engine(paths, proc)
    except RuntimeError as exc:
        return fail(str(exc))
    return run_dashboard(paths, owns_engine=True, no_mouse=ns.no_mouse)
