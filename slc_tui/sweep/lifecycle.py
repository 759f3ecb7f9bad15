"""Running a prepared sweep: in the foreground with listeners, or in the background behind a
handle that can report, stop and revive it.

A background engine is ``python -m slc_tui.daemon``, in its own session, so that a
closed dashboard or a dropped SSH connection does not end the sweep. It answers on a pipe
once it has claimed its ledgers (or why it could not), so a start never guesses from polling.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slc_tui.engine.claim import engine_alive
from slc_tui.engine.events import Listener
from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path, state_dir
from slc_tui.errors import InputError, SweepError
from slc_tui.procid import engine_token
from slc_tui.states import STATES, Resume, Verb
from slc_tui.sweep.prepare import Sweep, from_files
from slc_tui.sweep.state import SweepState

START_TIMEOUT = 30.0
"""Seconds a background engine may take to claim its ledgers."""


@dataclass
class Outcome:
    """How a foreground sweep ended."""

    status: int
    """The exit status of DESIGN.md (0, 1, 130)."""
    records: list[RunRecord]
    """Every run, in plan order."""


@dataclass
class Started:
    """What an engine says once it has claimed its ledgers."""

    rerun_succeeded: dict[str, int] = field(default_factory=dict)
    """Per grid, how many runs that had succeeded run again (no ``--resume``)."""


def run_foreground(
    sweep: Sweep,
    resume: bool | Resume = False,
    listeners: Sequence[Listener] = (),
    on_started: Listener | None = None,
    notice: object = None,
) -> Outcome:
    """Run the sweep in this process until it ends (Ctrl-C stops every run).

    ``notice(text)`` is called with warnings once the ledgers are claimed.

    Raises:
        SweepError: the sweep cannot start (another engine runs it...).
    """
    engine = sweep.engine(Resume.of(resume), listeners)
    engine.prepare()
    if callable(notice):
        for line in notices(Started(engine.rerun_succeeded)):
            notice(line)
    status = engine.run()
    return Outcome(status, sorted(engine.records.values(), key=lambda r: r.idx))


def notices(started: Started) -> list[str]:
    """The warnings a start gives (earlier successes that run again)."""
    from slc_tui.sweep.fmt import rerun_notice

    return [rerun_notice(g, n) for g, n in started.rerun_succeeded.items() if n]


def start_background(sweep: Sweep, resume: bool | Resume = False) -> tuple[SweepHandle, Started]:
    """Start the sweep's engine as its own process; return once it has claimed the ledgers.

    While the calling process lives, the engine stays up after the last run, so that a
    rerun from a view still has an engine. Its own output goes to ``engine.log`` beside the
    first grid's ledger.

    Raises:
        SweepError: the engine refused to start (already running...), or died at once.
    """
    from slc_tui.payload import Payload, write_payload

    state = state_dir(sweep.plans[0].data_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    spec = state / f"engine-{os.getpid()}-{time.time_ns()}.pkl"
    read_end, write_end = os.pipe()
    # A payload like a run's: the caller's sys.path comes first, so that the daemon can
    # unpickle thunks from the caller's modules.
    engine_args = {"sweep": sweep, "resume": Resume.of(resume), "viewer": engine_token(),
                   "ready_fd": write_end}  # fmt: skip
    write_payload(spec, Payload("slc_tui.daemon:serve", engine_args))
    log_path = state / "engine.log"
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "slc_tui.daemon", str(spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(write_end,),
            )
    finally:
        os.close(write_end)
    try:
        answer = _read_answer(read_end, START_TIMEOUT)
    finally:
        os.close(read_end)
    if answer is None:
        code = proc.poll()
        ended = f"ended at once (exit {code})" if code is not None else "did not start in time"
        raise SweepError(f"the engine {ended}; see {log_path}")
    if "error" in answer:
        raise SweepError(
            answer["error"], cli=answer.get("cli", ""), python=answer.get("python", "")
        )
    return SweepHandle(sweep.ledger_paths, proc), Started(answer.get("rerun_succeeded", {}))


def _read_answer(fd: int, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    try:
        return json.loads(data.decode()) if data else None
    except ValueError:
        return None


def ledger_for(target: str | Path) -> Path:
    """The ledger of a grid file, or the ledger file itself (a sweep started from Python).

    A file that begins as an SQLite database is taken for a ledger whatever its name; a
    ``.db`` file that is no SQLite database, or an SQLite database without a ledger's
    tables, is refused in one line, as is a grid file that is none.

    Raises:
        InputError: no such ledger, a file that is no ledger, or no sweep of the grid has
            run yet.
    """
    import sqlite3

    from slc_tui.gridfile import load_grid

    magic = b"SQLite format 3\x00"

    def head(path: Path) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read(len(magic))
        except OSError as exc:
            raise InputError(f"{path}: cannot read it: {exc.strerror}") from None

    def checked(path: Path, shown: str) -> Path:
        if head(path) != magic:
            raise InputError(f"{shown}: not a slc-tui ledger (not an SQLite database)")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                tables = {row[0] for row in rows}
            finally:
                conn.close()
        except sqlite3.Error:
            return path  # the ledger's reader says what is wrong with it
        if not {"meta", "runs"} <= tables:
            raise InputError(
                f"{shown}: not a slc-tui ledger (an SQLite database without its tables)"
            )
        return path

    shown = str(target)
    given = Path(target)
    if given.is_file() and head(given) == magic:
        return checked(given, shown)
    if shown.endswith(".db"):
        if not given.is_file():
            raise InputError(f"{shown}: no such ledger")
        return checked(given, shown)
    spec = load_grid(shown, check_thunk=False)
    path = ledger_path(spec.data_dir, spec.name)
    if not path.exists():
        raise InputError(
            f"{shown}: no sweep of grid {spec.name!r} has run in {spec.data_dir} yet "
            f"(no ledger at {path})"
        )
    return checked(path, str(path))


class SweepHandle:
    """A sweep found by its ledgers: read it, stop it, revive its engine."""

    def __init__(
        self, paths: Sequence[Path], process: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.paths = [Path(p) for p in paths]
        """One ledger per grid."""
        self.process = process
        """The background engine, when this process started it."""

    @classmethod
    def find(cls, target: str | Path) -> SweepHandle:
        """The sweep of a grid file or ledger file (see :func:`ledger_for`)."""
        return cls([ledger_for(target)])

    def state(self) -> SweepState:
        """The read model, polled once (the caller closes it)."""
        state = SweepState.open(self.paths)
        state.poll()
        return state

    def alive(self) -> bool:
        """Whether an engine runs any of the grids."""
        state = SweepState.open(self.paths)
        try:
            state.poll()
            return any(state.alive())
        finally:
            state.close()

    def stop(self, timeout: float = 60.0) -> str:
        """Stop every run and the engine; return a line that says what happened.

        Raises:
            SweepError: the engine did not stop in ``timeout`` seconds.
        """
        ledger = Ledger.open(self.paths[0])
        try:
            meta = ledger.meta()
            if not engine_alive(meta):
                return f"{meta.get('grid_name')}: no engine is running; nothing to stop"
            ledger.send(Verb.STOP_ALL)
            deadline = time.monotonic() + timeout
            while engine_alive(ledger.meta()) and time.monotonic() < deadline:
                time.sleep(0.1)
            if engine_alive(ledger.meta()):
                raise SweepError(
                    f"the engine (pid {meta.get('engine_pid')}) did not stop in {timeout:g} s"
                )
            states = [r.state for r in ledger.runs()]
            counts = ", ".join(f"{states.count(s)} {s}" for s in STATES if states.count(s))
            return f"{meta.get('grid_name')}: stopped; {counts}"
        finally:
            ledger.close()

    def revive(self) -> bool:
        """Start a background engine for a sweep whose engine has ended, to obey the
        commands a view queued (a rerun). It changes no run's state by itself.

        Returns False when the sweep came from Python code rather than a grid file (nothing
        to restart from), or when an engine already runs.
        """
        ledger = Ledger.open(self.paths[0])
        try:
            meta = ledger.meta()
        finally:
            ledger.close()
        grid_file = meta.get("grid_file")
        if engine_alive(meta) or not grid_file or not Path(grid_file).exists():
            return False
        start_background(from_files([grid_file]), Resume.KEEP)
        return True
