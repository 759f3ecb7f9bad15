"""Ways to run a sweep: in the foreground (headless), or as a background engine for a view."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slc_tui.engine import ledger as L
from slc_tui.engine.budget import budget_cores
from slc_tui.engine.core import Engine
from slc_tui.engine.events import Listener
from slc_tui.engine.executor import Executor
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan

if TYPE_CHECKING:
    from slc_tui.run_utils import ExperimentGrid


class ExperimentsFailed(RuntimeError):
    """Raised by ``ExperimentGrid.run`` after the sweep when some runs did not succeed."""

    def __init__(self, failed: list[L.RunRecord]) -> None:
        self.failed = failed
        """The ledger records of the runs that did not succeed."""
        lines = [f"  {r.name}: {r.state}{': ' + r.reason if r.reason else ''}" for r in failed]
        super().__init__(f"{len(failed)} run(s) did not succeed:\n" + "\n".join(lines))


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


def make_engine(
    plans: Sequence[GridPlan],
    options: RunOptions,
    *,
    resume: bool = False,
    listeners: Sequence[Listener] = (),
    linger: Any = None,
) -> Engine:
    """An engine for ``plans`` with the budget, backend and flags of ``options``."""
    return Engine(
        plans,
        make_executor(options),
        budget=engine_budget(plans, options),
        fail_fast=options.fail_fast,
        resume=resume,
        listeners=listeners,
        linger=linger,
    )


def ledger_paths(plans: Sequence[GridPlan]) -> list[Path]:
    """Where the ledgers of ``plans`` are."""
    return [L.ledger_path(p.data_dir, p.name) for p in plans]


def launch_background(
    plans: Sequence[GridPlan], options: RunOptions, *, resume: bool | str = False
) -> subprocess.Popen[bytes]:
    """Start the engine of ``plans`` as its own process, in its own session.

    It outlives the caller (a closed dashboard, a dropped SSH connection); while the caller
    lives it stays up after the last run, so that a rerun from the view still has an engine.
    Its own output goes to ``engine.log`` beside the first grid's ledger.
    """
    from slc_tui.entrypoint import engine_token
    from slc_tui.payload import Payload, write_payload

    state = L.state_dir(plans[0].data_dir)
    spec = state / f"engine-{os.getpid()}-{time.time_ns()}.pkl"
    # A payload like a run's: the caller's sys.path comes first, so that the daemon can
    # unpickle thunks from the caller's modules.
    engine_args = {"plans": list(plans), "options": options, "resume": resume,
                   "viewer": engine_token()}  # fmt: skip
    write_payload(spec, Payload("slc_tui.engine.daemon:serve", engine_args))
    log = open(state / "engine.log", "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "slc_tui.engine.daemon", str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def wait_for_engine(
    paths: Sequence[Path], proc: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    """Wait until a background engine has claimed every ledger (or died: RuntimeError)."""
    from slc_tui.engine.core import engine_alive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and engine_alive(L.Ledger.open(p).meta()) for p in paths):
            return
        if proc.poll() is not None:
            raise RuntimeError(
                f"the engine ended at once (exit {proc.returncode}); see "
                f"{paths[0].parent / 'engine.log'}"
            )
        time.sleep(0.05)
    raise RuntimeError("the engine did not start in time")


def run_grid(
    grid: ExperimentGrid,
    thunk: Any,
    num_cpu: Any = 1,
    data_dir: str | None = None,
    datestamp: bool = False,
    *,
    ui: bool = False,
    resume: bool = False,
    **options: Any,
) -> None:
    """``ExperimentGrid.run``: every variant, in parallel inside the CPU budget.

    Args:
        grid: the grid.
        thunk: a callable, a ``module:function`` string, or the name of a grid key whose
            values are the callables (as in the reference).
        num_cpu: MPI ranks per run (int or ``"auto"``).
        data_dir: where results go.
        datestamp: add date and time to the output directories.
        ui: open the dashboard on the sweep.
        resume: skip runs that already succeeded.
        **options: fields of :class:`RunOptions` (``max_cpus``, ``retries``, ``timeout``...).

    Raises:
        ExperimentsFailed: after every run ended, when some did not succeed.
    """
    from slc_tui.headless import Printer, summary
    from slc_tui.plan import plan_grid

    opts = RunOptions().override(**options)
    plan = plan_grid(grid, thunk, num_cpu=num_cpu, data_dir=data_dir, datestamp=datestamp,
                     options=opts)  # fmt: skip
    grid.print()
    path = ledger_paths([plan])[0]
    if ui:
        from slc_tui.engine.core import engine_alive
        from slc_tui.ui.app import run_dashboard

        proc = launch_background([plan], opts, resume=resume)
        wait_for_engine([path], proc)
        status = run_dashboard([path], owns_engine=True)
        if engine_alive(L.Ledger.open(path).meta()):
            return  # left running in the background: the dashboard said how to reach it
    else:
        engine = make_engine([plan], opts, resume=resume, listeners=[Printer()])
        status = engine.run()
        summary(list(engine.records.values()))
        if status == 130:
            raise KeyboardInterrupt
    failed = [r for r in L.Ledger.open(path).runs() if r.state != L.SUCCEEDED]
    if failed:
        raise ExperimentsFailed(failed)


def revive(ledger_file: Path) -> bool:
    """Start a background engine for a sweep whose engine has ended, to obey queued commands.

    The new engine changes no run's state by itself (``resume="keep"``): it runs what the
    view has made pending (a rerun) and stays up while the calling view lives. Returns False
    when the sweep came from Python code rather than a grid file (nothing to restart from),
    or when an engine already runs.
    """
    from slc_tui.engine.core import KEEP, engine_alive
    from slc_tui.gridfile import load_grids
    from slc_tui.plan import plan_specs

    meta = L.Ledger.open(ledger_file).meta()
    grid_file = meta.get("grid_file")
    if engine_alive(meta) or not grid_file or not Path(grid_file).exists():
        return False
    specs = load_grids([grid_file])
    plans = plan_specs(specs)
    proc = launch_background(plans, specs[0].options, resume=KEEP)
    wait_for_engine(ledger_paths(plans), proc)
    return True
