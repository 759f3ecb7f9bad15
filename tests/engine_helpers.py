"""Helpers of the engine tests: small plans, an in-process engine, grid files, waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from slc_tui.engine.events import Event
from slc_tui.engine.ledger import Ledger, ledger_path
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import Resume
from slc_tui.sweep.prepare import from_plans

THUNKS = Path(__file__).with_name("engine_thunks.py")


def make_plan(
    name: str,
    thunk: str,
    params: dict[str, Any],
    num_cpu: int = 1,
    datestamp: bool = False,
    **opts: Any,
) -> GridPlan:
    """A plan of grid ``name`` over ``params`` (lists are several values) in ./data."""
    grid = ExperimentGrid(name)
    for key, vals in params.items():
        grid.add(key, vals)
    return plan_grid(grid, f"engine_thunks:{thunk}", num_cpu=num_cpu, data_dir="data",
                     datestamp=datestamp, options=RunOptions(**opts))  # fmt: skip


def run_plans(
    *plans: GridPlan,
    max_cpus: int = 2,
    resume: bool = False,
    listeners: list[Callable[[Event], None]] | None = None,
    **opts: Any,
) -> tuple[int, Any, list[Event]]:
    """Run plans in this process; return the exit status, the engine and every event."""
    events: list[Event] = []
    sweep = from_plans(list(plans), RunOptions(max_cpus=max_cpus, **opts))
    engine = sweep.engine(Resume.of(resume), [events.append, *(listeners or [])])
    return engine.run(), engine, events


def ledger(name: str) -> Ledger:
    """The ledger of grid ``name`` in ./data (waiting for an engine to create it)."""
    path = ledger_path(Path("data").resolve(), name)
    wait_for(path.exists, what=f"the ledger {path}")
    return Ledger.open(path)


def times(output_dir: str, rank: int = 0) -> dict[str, Any]:
    """What engine_thunks.work recorded."""
    return json.loads((Path(output_dir) / f"times.{rank}.json").read_text())


def write_grid(path: Path, name: str, thunk: str, params: str, extra: str = "") -> Path:
    """Write a grid file whose thunk is a function of engine_thunks.py."""
    path.write_text(
        f'[grid]\nname = "{name}"\nthunk = "{THUNKS}:{thunk}"\ndata_dir = "data"\n'
        f"{extra}\n[params]\n{params}\n"
    )
    return path


def cli(*args: str) -> list[str]:
    """The argv of ``slc-tui ARGS`` with this interpreter."""
    return [sys.executable, "-m", "slc_tui", *args]


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it is truthy; AssertionError at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most of ``(start, end)`` spans that overlap at one moment."""
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    """The one ``slc-tui: ...`` line of a refused command (exit 2, no traceback)."""
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slc-tui: "), res.stderr
    return lines[0]
