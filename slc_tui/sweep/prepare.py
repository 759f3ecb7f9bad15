"""Preparing a sweep: load, plan and validate once, and decide the budget.

Every way a sweep starts (the command line, ``ExperimentGrid.run``, the background daemon,
a revive from the dashboard) goes through :func:`from_files` or :func:`from_grid`, so each
check runs once, in one place, before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slc_tui.cpus import budget_cores
from slc_tui.engine.core import Engine
from slc_tui.engine.events import Listener
from slc_tui.engine.executor import Executor
from slc_tui.engine.ledger import ledger_path
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, check_plans, plan_grid, plan_specs
from slc_tui.states import Resume

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid
    from slc_tui.gridfile import GridSpec

ENGINE_WIDE = ("max_cpus", "backend", "fail_fast", "slurm")
"""``[run]`` settings that hold for the whole sweep, so several grid files must agree on them."""


@dataclass
class Sweep:
    """A planned, validated sweep of one or more grids, ready to run."""

    plans: list[GridPlan]
    options: RunOptions
    """The sweep-wide options (the first grid's, with the flags over them)."""
    budget: list[int]
    """Slots of the CPU budget (core ids locally, CPU numbers on a cluster)."""
    specs: list[GridSpec] = field(default_factory=list)
    """The grid files, when the sweep came from files."""

    @property
    def ledger_paths(self) -> list[Path]:
        """Where the ledgers of the sweep's grids are."""
        return [ledger_path(p.data_dir, p.name) for p in self.plans]

    def engine(
        self, resume: Resume, listeners: Sequence[Listener] = (), linger: Any = None
    ) -> Engine:
        """An engine for this sweep (not yet started)."""
        return Engine(
            self.plans,
            make_executor(self.options),
            budget=self.budget,
            fail_fast=self.options.fail_fast,
            resume=resume,
            listeners=listeners,
            linger=linger,
        )


def make_executor(options: RunOptions) -> Executor:
    """The backend the options name."""
    if options.backend == "slurm":
        from slc_tui.engine.slurm import SlurmExecutor

        return SlurmExecutor(options.slurm, mpiexec=options.mpiexec)
    from slc_tui.engine.local import LocalExecutor

    return LocalExecutor(options.mpiexec)


def engine_budget(plans: Sequence[GridPlan], options: RunOptions) -> list[int]:
    """Slots of the budget: this machine's cores, or on Slurm ``max_cpus`` CPUs of the
    cluster (``"auto"``: no limit of ours; ``[slurm] max_jobs`` and the queue decide)."""
    if options.backend != "slurm":
        return budget_cores(options.max_cpus)
    if isinstance(options.max_cpus, int):
        return list(range(options.max_cpus))
    return list(range(max(1, sum(r.num_cpu for p in plans for r in p.runs))))


def from_plans(plans: list[GridPlan], options: RunOptions, specs: Sequence[GridSpec] = ()) -> Sweep:
    """A sweep of plans already made: decide the budget and check the plans against it."""
    budget = engine_budget(plans, options)
    check_plans(plans, len(budget))
    return Sweep(plans, options, budget, list(specs))


def from_files(paths: Sequence[str | Path], flags: dict[str, Any] | None = None) -> Sweep:
    """Load, plan and check grid files, with command-line ``flags`` over their ``[run]``.

    Raises:
        InputError: a grid file is bad, or grid files disagree on a sweep-wide setting.
        SweepError: a run needs more CPUs than the budget, two grids share a run name.
    """
    from slc_tui.gridfile import load_grids

    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    specs = load_grids(paths)
    plans = plan_specs(specs, flags)
    check_shared_options(specs, flags)
    return from_plans(plans, specs[0].options.override(**flags), specs)


def from_grid(grid: ExperimentGrid, thunk: Any, options: RunOptions, **where: Any) -> Sweep:
    """A sweep of a grid built in Python (``ExperimentGrid.run``); ``where`` holds
    ``num_cpu``, ``data_dir`` and ``datestamp`` as :func:`~slc_tui.plan.plan_grid` takes them."""
    return from_plans([plan_grid(grid, thunk, options=options, **where)], options)


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
            if mine == theirs:
                continue
            if key == "slurm":
                raise spec.error(
                    "slurm",
                    f"differs from the [slurm] table of {first.shown_path}; grid files run "
                    "together share one; make them agree",
                )
            raise spec.error(
                f"run.{key}",
                f"{mine!r} differs from {theirs!r} in {first.shown_path}; grid files run "
                f"together share one {key}: make them agree, or give --{key.replace('_', '-')}",
            )
