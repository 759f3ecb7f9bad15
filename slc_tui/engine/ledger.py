"""The ledger: one SQLite database per grid, the single source of truth on disk (WAL mode,
or a rollback journal on a network file system: :mod:`~slc_tui.engine.ledger_fs`).

The engine is its only writer of runs; views read it and append commands. Every state change
commits at once, so a crash of anything loses nothing already written. Each write to a run
bumps its ``rev``, so a view can ask only for what changed since it last looked.

Only the engine that holds the grid's lock (``engine.lock``) creates a ledger: it is built
under a temporary name and linked into place (never over an existing file), so a reader never
sees one without its tables. A view opens an existing ledger only (``mode=rw``: it never
creates one), and gets one line for a ledger it cannot read (``engine.faults``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from slc_tui.engine.faults import unreadable
from slc_tui.engine.ledger_file import ENGINE_TIMEOUT, VIEW_TIMEOUT, build, connect, ident
from slc_tui.engine.ledger_fs import journal_mode
from slc_tui.engine.paths import STATE_DIR, ledger_path, private_dir, refuse_link, state_dir
from slc_tui.engine.records import (
    ATTEMPT_COLUMNS,
    COLUMNS,
    JSON_COLUMNS,
    Command,
    RunRecord,
    record_of_row,
    row_of_record,
)
from slc_tui.engine.schema import upgrade
from slc_tui.states import RunState, Verb

__all__ = ["STATE_DIR", "Command", "Ledger", "RunRecord", "ledger_path", "state_dir"]


class Ledger:
    """A grid's ledger. Open it with :meth:`open` (readers) or :meth:`create` (the engine)."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection) -> None:
        self.path = Path(path)
        """The database file."""
        self._conn = conn
        self._rev = int(conn.execute("SELECT COALESCE(MAX(rev), 0) FROM runs").fetchone()[0])
        self.ident = ident(self.path)
        """(device, inode) of the file when it was opened."""

    @classmethod
    def create(cls, path: str | os.PathLike[str], timeout: float = ENGINE_TIMEOUT) -> Ledger:
        """Open ``path`` for writing, creating the database (0600, in a 0700 folder) if there
        is none. Only the holder of the grid's lock may call it (tests on their own ledgers).

        Raises:
            sqlite3.DatabaseError: the file is not a readable ledger (the engine moves it aside).
            LinkRefused: the ledger or its folder is a symbolic link.
        """
        path = Path(path)
        private_dir(path.parent)
        refuse_link(path)
        if not os.path.lexists(path):
            build(path)
        conn = connect(path, timeout)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if tables and "runs" not in tables:  # some other program's database
                raise sqlite3.DatabaseError("no such table: runs (not an slc-tui ledger)")
            conn.execute(f"PRAGMA journal_mode={journal_mode(path)}")
            upgrade(conn)
            return cls(path, conn)
        except BaseException:
            conn.close()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], timeout: float = VIEW_TIMEOUT) -> Ledger:
        """Open an existing ledger (a view's way: it never creates one).

        Raises:
            FileNotFoundError: there is none.
            LedgerUnreadable: it is corrupt, no ledger, or locked (one line to show).
            LinkRefused: the ledger or its folder is a symbolic link.
        """
        path = Path(path)
        refuse_link(path.parent)
        refuse_link(path)
        if not path.exists():
            raise FileNotFoundError(f"no ledger at {path}: has this grid run here?")
        try:
            conn = connect(path, timeout)
        except sqlite3.Error as exc:
            raise unreadable(path, exc) from None
        try:
            ledger = cls(path, conn)
            ledger.meta()
        except sqlite3.Error as exc:
            conn.close()
            raise unreadable(path, exc) from None
        return ledger

    def set_timeout(self, seconds: float) -> None:
        """How long a statement waits for a busy database before it fails."""
        self._conn.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    def vanished(self) -> bool:
        """Whether the file at :attr:`path` is gone or another one (deleted, replaced)."""
        return ident(self.path) != self.ident

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # a failed COMMIT (a full disk) leaves it open
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    # -- meta -------------------------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        """Store engine-wide facts (JSON values): engine pid, budget, paused, status..."""
        self.write(values, {}, [])

    def claim(self, check: Callable[[dict[str, Any]], None], **values: Any) -> None:
        """Read the meta, let ``check`` raise to refuse, then store ``values``: one
        transaction, so that two claimers never both pass."""
        with self._tx() as c:
            rows = c.execute("SELECT key, value FROM meta").fetchall()
            check({r["key"]: json.loads(r["value"]) for r in rows})
            _put_meta(c, values)

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
        if changes:
            self.write({}, changes, [])

    def record_attempt(self, run: RunRecord) -> None:
        """Keep the current attempt of ``run`` in the attempts history."""
        self.write({}, {}, [run])

    def write(
        self, meta: dict[str, Any], changes: dict[str, dict[str, Any]], ends: list[RunRecord]
    ) -> None:
        """Store meta values, runs' changes and attempts in one transaction."""
        with self._tx() as c:
            _put_meta(c, meta)
            for name, values in changes.items():
                values = dict(values)
                for k in JSON_COLUMNS:
                    if k in values:
                        values[k] = json.dumps(values[k])
                self._rev += 1
                values["rev"] = self._rev
                cols = ", ".join(f"{k} = ?" for k in values)
                c.execute(f"UPDATE runs SET {cols} WHERE name = ?", [*values.values(), name])
            _put_attempts(c, ends, "REPLACE")

    def put(self, records: Iterable[RunRecord], ends: Iterable[RunRecord] = (),
            replace_ends: bool = False) -> None:  # fmt: skip
        """Store whole records (a rebuild), each with a new rev, and attempts (kept where
        the ledger has them unless ``replace_ends``)."""
        with self._tx() as c:
            for record in records:
                self._rev += 1
                row = row_of_record(record)
                row["rev"] = self._rev
                marks = ", ".join("?" for _ in COLUMNS)
                c.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})",
                          [row[k] for k in COLUMNS])  # fmt: skip
            _put_attempts(c, list(ends), "REPLACE" if replace_ends else "IGNORE")

    # -- runs (readers) ---------------------------------------------------------------------
    def runs(self, since_rev: int = 0) -> list[RunRecord]:
        """Runs in plan order; only those changed after ``since_rev`` when given."""
        rows = self._conn.execute(
            "SELECT * FROM runs WHERE rev > ? ORDER BY idx", (since_rev,)
        ).fetchall()
        return [record_of_row(r) for r in rows]

    def run(self, name: str) -> RunRecord | None:
        """One run by name."""
        row = self._conn.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return record_of_row(row) if row else None

    def attempts(self, name: str) -> list[dict[str, Any]]:
        """Earlier attempts of a run, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM attempts WHERE name = ? ORDER BY attempt", (name,)
        ).fetchall()
        return [dict(r) for r in rows]

    def successes(self) -> list[tuple[str, str, str, float]]:
        """``(grid, variant, name, seconds)`` of every succeeded attempt of a planned run,
        oldest first (what earlier sweeps teach about durations)."""
        rows = self._conn.execute(
            "SELECT r.grid, r.variant, a.name, a.ended - a.started FROM attempts a JOIN runs r"
            " ON a.name = r.name WHERE a.state = ? AND a.started IS NOT NULL AND a.ended IS"
            " NOT NULL ORDER BY a.attempt",
            (str(RunState.SUCCEEDED),),
        ).fetchall()
        return [(r[0], r[1], r[2], float(r[3])) for r in rows]

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


def _put_meta(c: sqlite3.Connection, values: dict[str, Any]) -> None:
    c.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [(k, json.dumps(v)) for k, v in values.items()],
    )


def _put_attempts(c: sqlite3.Connection, ends: list[RunRecord], how: str) -> None:
    marks = ",".join("?" for _ in ATTEMPT_COLUMNS)
    c.executemany(
        f"INSERT OR {how} INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES ({marks})",
        [tuple(str(r.state) if k == "state" else getattr(r, k) for k in ATTEMPT_COLUMNS)
         for r in ends],
    )  # fmt: skip
