"""Helpers of the Slurm tests: plans of small thunks, submitting through the executor, waiting
for the jobs' ends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from slc_tui.engine.executor import Exited
from slc_tui.engine.slurm import SlurmExecutor
from slc_tui.options import RunOptions
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import GridPlan, Run, plan_grid
from slc_tui.run_utils import ExperimentGrid

THUNKS = """
import os, sys, time

def work(seed, logger_kwargs, secs=0.5, **_):
    out = logger_kwargs["output_dir"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "progress.txt"), "w") as f:
        f.write("Epoch\\tAverageEpRet\\n0\\t1.0\\n")
    time.sleep(secs)
    env = {k: os.environ.get(k, "") for k in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLC_TUI_ENGINE",
                                              "SLC_TUI_PREEMPT_SIGNAL")}
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    env["job"] = f"{array}_{task}" if array else env["SLURM_JOB_ID"]
    print("done", seed, env, flush=True)

def checkpointing(seed, logger_kwargs, **_):
    import signal
    name, start = os.environ["SLC_TUI_PREEMPT_SIGNAL"], time.monotonic()
    def checkpoint(signum, frame):
        print(f"checkpoint on SIG{name} after {time.monotonic() - start:.0f} s", flush=True)
    signal.signal(getattr(signal, "SIG" + name), checkpoint)
    work(seed, logger_kwargs, secs=600)

def fail(seed, logger_kwargs, **_):
    raise ValueError(f"bad seed {seed}")

def flaky(seed, logger_kwargs, marker="", **_):
    if seed == 1 and os.path.exists(marker):
        raise ValueError(f"bad seed {seed}")
    work(seed, logger_kwargs, secs=0.1)

def ranks(seed, logger_kwargs, **_):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    print(f"rank {comm.Get_rank()} of {comm.Get_size()}", flush=True)
    comm.Barrier()
"""


def make_plan(
    where: Path, thunk: str, seeds: tuple[int, ...] = (0,), num_cpu: int = 1, name: str = "",
    **params: Any,
) -> GridPlan:  # fmt: skip
    """A plan of ``thunk`` (a function of THUNKS) writing into ``where/data``."""
    thunks = where / "thunks.py"
    where.mkdir(parents=True, exist_ok=True)
    thunks.write_text(THUNKS)
    grid = ExperimentGrid(name or f"sl-{thunk}")
    grid.add("seed", list(seeds))
    for key, value in params.items():
        grid.add(key, value)
    return plan_grid(grid, f"{thunks}:{thunk}", num_cpu=num_cpu, data_dir=where / "data",
                     options=RunOptions(backend="slurm"))  # fmt: skip


def payload(where: Path, run: Run) -> Path:
    path = where / "payloads" / f"{run.name}.pkl"
    write_payload(path, Payload(run.thunk, run.kwargs))
    return path


def submit(ex: SlurmExecutor, where: Path, plan: GridPlan) -> dict[str, str]:
    """Start every run of ``plan`` (as one array, unless ``array = false``); job ids by name."""
    ids = {r.name: ex.start(r, payload(where, r), 1, []).job_id for r in plan.runs}
    return {name: str(job_id) for name, job_id in {**ids, **ex.flush()}.items()}


def wait_ends(ex: SlurmExecutor, timeout: float = 60, seen: list[str] | None = None
              ) -> dict[str, Exited]:  # fmt: skip
    """Poll until no job is in flight; the ends by name (queue states go into ``seen``)."""
    ended: dict[str, Exited] = {}
    deadline = time.monotonic() + timeout
    while ex.running() and time.monotonic() < deadline:
        ended.update({e.name: e for e in ex.poll()})
        if seen is not None:
            seen += ex.take_queue_states().values()
        time.sleep(0.1)
    assert not ex.running(), f"jobs still in flight: {ex.running()} ({ex.last_error})"
    return ended


def wait_queue(ex: SlurmExecutor, name: str, word: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ex.poll()
        if ex.take_queue_states().get(name, "").startswith(word):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never showed {word}")


def log_of(plan: GridPlan, i: int = 0) -> str:
    return (Path(plan.runs[i].output_dir) / "output.log").read_text()


FAST = {"poll_interval": 1}
