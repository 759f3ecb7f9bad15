"""What the ledger holds of a run and of a view's command, and the rows they come from."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slc_tui.states import RunState, Verb


@dataclass
class RunRecord:
    """One run as the ledger holds it."""

    name: str
    """Unique run name, the basename of its output directory (``exp_name_s{seed}``)."""
    idx: int
    """Position in the plan (the order runs start in)."""
    grid: str
    variant: str
    """The seedless variant name (the reference's ``exp_name``)."""
    seed: Any
    params: dict[str, Any]
    """The thunk's keyword arguments as JSON (nested dicts for ``a:b`` keys)."""
    output_dir: str
    num_cpu: int
    state: RunState = RunState.PENDING
    attempt: int = 0
    pid: int | None = None
    cores: str = ""
    gpus: str = ""
    """The run's ``CUDA_VISIBLE_DEVICES`` (``""``: none given, or the sweep has no GPU budget)."""
    job_id: str | None = None
    command: str = ""
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    tail: str = ""
    """The last lines of the run's output, kept for a failed run."""
    epoch: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    """The latest row of the run's progress file."""
    rev: int = 0
    queue_state: str = ""
    """The cluster's own word for the job (``PENDING``, ``RUNNING``...), Slurm only."""

    @property
    def duration(self) -> float | None:
        """Seconds the current attempt ran (so far, when still running)."""
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


@dataclass(frozen=True)
class Command:
    """A view's request to the engine, as queued in the ledger."""

    id: int
    verb: Verb
    target: str | None = None
    """The run it is about; None for the whole sweep (pause, resume, stop_all)."""


JSON_COLUMNS = ("params", "metrics")
COLUMNS = [f for f in RunRecord.__dataclass_fields__ if f != "rev"] + ["rev"]
ATTEMPT_COLUMNS = ("name", "attempt", "state", "pid", "job_id", "started", "ended",
                   "exit_code", "signal", "reason", "tail")  # fmt: skip


def record_of_row(row: sqlite3.Row | Mapping[str, Any]) -> RunRecord:
    """A record from a ``runs`` row (JSON columns as text)."""
    have = row.keys()
    values = {k: row[k] for k in COLUMNS if k in have}  # an older ledger lacks later columns
    for k in JSON_COLUMNS:
        values[k] = json.loads(values[k] or "{}")
    values["seed"] = json.loads(values["seed"]) if values["seed"] is not None else None
    values["state"] = RunState(values["state"])
    return RunRecord(**values)


def row_of_record(record: RunRecord) -> dict[str, Any]:
    """A ``runs`` row of a record (JSON columns as text), every column."""
    row = dataclasses.asdict(record)
    for k in JSON_COLUMNS:
        row[k] = json.dumps(row[k])
    row["seed"] = json.dumps(row["seed"])
    row["state"] = str(row["state"])
    return row


def record_of_dict(values: Mapping[str, Any]) -> RunRecord:
    """A record from its fields as JSON holds them (a journal line); unknown keys dropped."""
    known = {k: v for k, v in values.items() if k in RunRecord.__dataclass_fields__}
    known["state"] = RunState(known.get("state", RunState.PENDING))
    return RunRecord(**known)
