"""The ledger: one SQLite database (WAL) per grid, the single source of truth on disk.

The engine is its only writer of runs; views read it and append commands. Every state change
commits at once, so a crash of anything loses nothing already written. Each write to a run
bumps its ``rev``, so a view can ask only for what changed since it last looked.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slc_tui.engine.schema import SCHEMA
from slc_tui.states import RunState, Verb

STATE_DIR = ".slc-tui"
"""Folder inside a grid's data directory that holds ledgers and payloads."""


def state_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The folder of slc-tui's own files inside a data directory."""
    return Path(data_dir) / STATE_DIR


def ledger_path(data_dir: str | os.PathLike[str], grid_name: str) -> Path:
    """Where the ledger of grid ``grid_name`` lives."""
    return state_dir(data_dir) / f"{grid_name}.db"


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


_JSON_COLUMNS = ("params", "metrics")
_COLUMNS = [f for f in RunRecord.__dataclass_fields__ if f != "rev"] + ["rev"]


def _record(row: sqlite3.Row) -> RunRecord:
    values = {k: row[k] for k in _COLUMNS}
    for k in _JSON_COLUMNS:
        values[k] = json.loads(values[k] or "{}")
    values["seed"] = json.loads(values["seed"]) if values["seed"] is not None else None
    values["state"] = RunState(values["state"])
    return RunRecord(**values)


class Ledger:
    """A grid's ledger. Open it with :meth:`open` (readers) or :meth:`create` (the engine)."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection) -> None:
        self.path = Path(path)
        """The database file."""
        self._conn = conn
        self._rev = int(conn.execute("SELECT COALESCE(MAX(rev), 0) FROM runs").fetchone()[0])

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Ledger:
        """Open ``path`` for writing, creating the database (owner-only) if needed.

        A new database is built under a temporary name and renamed into place, so a reader
        never sees a ledger without its tables.
        """
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            conn = cls._connect(tmp)
            conn.executescript(SCHEMA)
            conn.close()
            with suppress(OSError):
                os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        conn = cls._connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        return cls(path, conn)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Ledger:
        """Open an existing ledger; FileNotFoundError when there is none."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no ledger at {path}: has this grid run here?")
        return cls(path, cls._connect(path))

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        """Store engine-wide facts (JSON values): engine pid, budget, paused, status..."""
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def claim(self, check: Callable[[dict[str, Any]], None], **values: Any) -> None:
        """Read the meta, let ``check`` raise to refuse, then store ``values``: one
        transaction, so that two claimers never both pass."""
        with self._tx() as c:
            rows = c.execute("SELECT key, value FROM meta").fetchall()
            check({r["key"]: json.loads(r["value"]) for r in rows})
            c.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        """All meta values."""
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    # -- runs (engine) ----------------------------------------------------------------------
    def add_runs(self, records: Iterable[RunRecord]) -> list[str]:
        """Insert planned runs that the ledger does not know yet; return their names.

        Runs already present keep their state and history (that is how resume works), but
        take the new plan position.
        """
        added: list[str] = []
        with self._tx() as c:
            for r in records:
                cur = c.execute("UPDATE runs SET idx = ? WHERE name = ?", (r.idx, r.name))
                if cur.rowcount:
                    continue
                self._rev += 1
                c.execute(
                    "INSERT INTO runs (name, idx, grid, variant, seed, params, output_dir, "
                    "num_cpu, state, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.name, r.idx, r.grid, r.variant, json.dumps(r.seed),
                        json.dumps(r.params), r.output_dir, r.num_cpu, str(RunState.PENDING),
                        self._rev,
                    ),
                )  # fmt: skip
                added.append(r.name)
        return added

    def remove_runs(self, names: Iterable[str]) -> None:
        """Forget runs that left the plan (their attempts stay in the history)."""
        with self._tx() as c:
            c.executemany("DELETE FROM runs WHERE name = ?", [(n,) for n in names])

    def update(self, name: str, **values: Any) -> None:
        """Change fields of one run (a state change, a pid, progress...) and bump its rev."""
        self.update_many({name: values})

    def update_many(self, changes: dict[str, dict[str, Any]]) -> None:
        """Apply several runs' changes in one transaction."""
        if not changes:
            return
        with self._tx() as c:
            for name, values in changes.items():
                values = dict(values)
                for k in _JSON_COLUMNS:
                    if k in values:
                        values[k] = json.dumps(values[k])
                self._rev += 1
                values["rev"] = self._rev
                cols = ", ".join(f"{k} = ?" for k in values)
                c.execute(f"UPDATE runs SET {cols} WHERE name = ?", [*values.values(), name])

    def record_attempt(self, run: RunRecord) -> None:
        """Keep the current attempt of ``run`` in the attempts history."""
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO attempts (name, attempt, state, pid, job_id, started, "
                "ended, exit_code, signal, reason, tail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.name, run.attempt, run.state, run.pid, run.job_id, run.started,
                    run.ended, run.exit_code, run.signal, run.reason, run.tail,
                ),
            )  # fmt: skip

    # -- runs (readers) ---------------------------------------------------------------------
    def runs(self, since_rev: int = 0) -> list[RunRecord]:
        """Runs in plan order; only those changed after ``since_rev`` when given."""
        rows = self._conn.execute(
            "SELECT * FROM runs WHERE rev > ? ORDER BY idx", (since_rev,)
        ).fetchall()
        return [_record(r) for r in rows]

    def run(self, name: str) -> RunRecord | None:
        """One run by name."""
        row = self._conn.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return _record(row) if row else None

    def attempts(self, name: str) -> list[dict[str, Any]]:
        """Earlier attempts of a run, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM attempts WHERE name = ? ORDER BY attempt", (name,)
        ).fetchall()
        return [dict(r) for r in rows]

    def max_rev(self) -> int:
        """The highest rev in the ledger (a cheap "did anything change?")."""
        return int(self._conn.execute("SELECT COALESCE(MAX(rev), 0) FROM runs").fetchone()[0])

    # -- commands ---------------------------------------------------------------------------
    def send(self, verb: Verb, target: str | None = None) -> int:
        """Queue a command for the engine; return its id."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO commands (ts, verb, target) VALUES (?, ?, ?)",
                (time.time(), Verb(verb).value, target),
            )
        return int(cur.lastrowid or 0)

    def take_commands(self) -> list[Command]:
        """Commands not yet taken, oldest first; they are marked done. A verb this version
        does not know (a newer view's) is dropped."""
        waiting = "SELECT id, verb, target FROM commands WHERE done IS NULL ORDER BY id"
        if not self._conn.execute(waiting).fetchone():
            return []  # the common case: a read, no write transaction
        with self._tx() as c:
            rows = c.execute(waiting).fetchall()
            if rows:
                c.execute("UPDATE commands SET done = ? WHERE done IS NULL", (time.time(),))
        known = {v.value for v in Verb}
        return [Command(r["id"], Verb(r["verb"]), r["target"]) for r in rows if r["verb"] in known]
