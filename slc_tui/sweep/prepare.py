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

from slc_tui.cpus import MAX_BUDGET, budget_cores, budget_problem
from slc_tui.engine.core import Engine
from slc_tui.engine.events import Listener
from slc_tui.engine.executor import Executor
from slc_tui.engine.ledger import ledger_path
from slc_tui.envs import grid_env_problem
from slc_tui.errors import InputError, SweepError
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, check_plans, plan_grid, plan_specs
from slc_tui.states import Resume
from slc_tui.sweep.checks import check_options, data_dir_problem
from slc_tui.sweep.gpu_budget import gpu_budget

if TYPE_CHECKING:
    from slc_tui.grid import ExperimentGrid
    from slc_tui.gridfile import GridSpec

ENGINE_WIDE = ("max_cpus", "backend", "fail_fast", "slurm", "gpus", "order")
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
    gpus: list[int] | None = None
    """Devices of the GPU budget (None: the sweep has none)."""
    notices: list[str] = field(default_factory=list)
    """What to say once before the sweep runs (``gpus = "auto"`` found no device...)."""

    @property
    def ledger_paths(self) -> list[Path]:
        """Where the ledgers of the sweep's grids are."""
        return [ledger_path(p.data_dir, p.name) for p in self.plans]

    def engine(
        self, resume: Resume, listeners: Sequence[Listener] = (), linger: Any = None
    ) -> Engine:
        """An engine for this sweep (not yet started), with the sweep's notices."""
        engine = Engine(
            self.plans,
            make_executor(self.options),
            budget=self.budget,
            gpus=self.gpus,
            fail_fast=self.options.fail_fast,
            resume=resume,
            order=self.options.order,
            listeners=listeners,
            linger=linger,
        )
        engine.notices += self.notices
        return engine


def make_executor(options: RunOptions) -> Executor:
    """The backend the options name."""
    if options.backend == "slurm":
        from slc_tui.engine.slurm import SlurmExecutor

        return SlurmExecutor(options.slurm, mpiexec=options.mpiexec)
    from slc_tui.engine.local import LocalExecutor

    return LocalExecutor(options.mpiexec)


def engine_budget(plans: Sequence[GridPlan], options: RunOptions) -> list[int]:
    """Slots of the budget: this machine's cores, or on Slurm ``max_cpus`` CPUs of the
    cluster (``"auto"``: no limit of ours but :data:`~slc_tui.cpus.MAX_BUDGET`; ``[slurm]
    max_jobs`` and the queue decide).

    Raises:
        SweepError: ``max_cpus`` far beyond the machine, or beyond ``MAX_BUDGET``.
    """
    local = options.backend != "slurm"
    problem = budget_problem(options.max_cpus, local=local, oversubscribe=options.oversubscribe)
    if problem:
        capped = options.max_cpus != "auto" and int(options.max_cpus) > MAX_BUDGET
        raise SweepError(
            problem,
            cli="give a smaller --max-cpus (or 'auto')"
            + ("" if capped else ", or --oversubscribe"),
            python="give a smaller max_cpus= (or 'auto')"
            + ("" if capped else ", or oversubscribe=True"),
        )
    if local:
        return budget_cores(options.max_cpus)
    if isinstance(options.max_cpus, int):
        return list(range(options.max_cpus))
    total = sum(count * cpus for p in plans for count, cpus in p.segments())
    return list(range(max(1, min(total, MAX_BUDGET))))


def from_plans(plans: list[GridPlan], options: RunOptions, specs: Sequence[GridSpec] = ()) -> Sweep:
    """A sweep of plans already made: check the options and the data directories, decide the
    budget and check the plans against it.

    Raises:
        InputError: bad options, or a data directory no run could write into.
        SweepError: a budget beyond the machine, a run beyond the budget.
    """
    check_options(options)
    for i, plan in enumerate(plans):
        problem = data_dir_problem(plan.data_dir)
        if problem and i < len(specs) and specs[i].name == plan.name:
            raise specs[i].error("grid.data_dir", f"{plan.data_dir} {problem}")
        if problem:
            raise InputError(f"the data directory {plan.data_dir} {problem}")
    check_preloads(plans, options, specs)
    budget = engine_budget(plans, options)
    check_plans(plans, len(budget))
    gpus, notice = gpu_budget(plans, options)
    return Sweep(plans, options, budget, list(specs), gpus, [notice] if notice else [])


def check_preloads(plans: list[GridPlan], options: RunOptions, specs: Sequence[GridSpec]) -> None:
    """Raise InputError (GridFileError naming ``run.preload``) when a module of a grid's
    ``preload`` does not import; the warm launchers it starts serve this process's engine."""
    from slc_tui.engine.warm import prestart_plans

    failed = prestart_plans(plans, options) if options.backend != "slurm" else None
    if failed and failed[0] < len(specs) and specs[failed[0]].name == plans[failed[0]].name:
        raise specs[failed[0]].error("run.preload", f"cannot be preloaded: {failed[1]}")
    if failed:
        raise InputError(f"preload: cannot be preloaded: {failed[1]}")


def from_files(
    paths: Sequence[str | Path], flags: dict[str, Any] | None = None, lazy: bool = False
) -> Sweep:
    """Load, plan and check grid files, with command-line ``flags`` over their ``[run]``.

    ``lazy`` (a dry run) makes no run until it is asked for, so that a huge grid is never
    held whole: such a sweep is for printing, not for an engine.

    Raises:
        InputError: a grid file is bad (an ``env_name`` gymnasium does not know included),
            or grid files disagree on a sweep-wide setting.
        SweepError: a run needs more CPUs than the budget, two grids share a run name.
    """
    from slc_tui.gridfile import load_grids

    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    specs = load_grids(paths)  # imports each thunk: the environments it registers are known
    for spec in specs:
        if problem := grid_env_problem(spec.grid):
            raise spec.error("params.env_name", problem)
    plans = plan_specs(specs, flags, lazy=lazy)
    check_shared_options(specs, flags)
    options = specs[0].options.override(**flags)
    local = options.backend != "slurm"
    if "max_cpus" not in flags and (
        problem := budget_problem(
            options.max_cpus, local=local, oversubscribe=options.oversubscribe
        )
    ):
        raise specs[0].error("run.max_cpus", f'{problem}; give a smaller number, or "auto"')
    return from_plans(plans, options, specs)


def from_grid(grid: ExperimentGrid, thunk: Any, options: RunOptions, **where: Any) -> Sweep:
    """A sweep of a grid built in Python (``ExperimentGrid.run``); ``where`` holds
    ``num_cpu``, ``gpus_per_run``, ``data_dir`` and ``datestamp`` as
    :func:`~slc_tui.plan.plan_grid` takes them.

    Raises:
        InputError: an ``env_name`` value gymnasium does not know, or a plan or options
            that cannot run (see :func:`from_plans`).
    """
    check_envs(grid, thunk)
    return from_plans([plan_grid(grid, thunk, options=options, **where)], options)


def check_envs(grid: ExperimentGrid, thunk: Any) -> None:
    """Raise InputError when an ``env_name`` value of ``grid`` names no environment. A
    ``module:function`` thunk is imported first (a run imports it before it makes its
    environment, so the environments its module registers count)."""
    if "env_name" not in grid.keys:
        return
    if isinstance(thunk, str) and thunk not in grid.keys:
        import contextlib

        from slc_tui.thunks import ThunkError, resolve

        with contextlib.suppress(ThunkError):  # the runs report it; its environments are unknown
            resolve(thunk)
    if problem := grid_env_problem(grid):
        raise InputError(
            f"env_name {problem}",
            cli="fix the env_name values",
            python="fix the values given to add('env_name', ...)",
        )


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
