"""Running a prepared sweep: in the foreground with listeners, or in the background behind a
handle that can report, stop and revive it.

A background engine is ``python -m slc_tui.daemon``, in its own session, so that a
closed dashboard or a dropped SSH connection does not end the sweep. It answers on a pipe
once it has claimed its ledgers (or why it could not), so a start never guesses from polling.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slc_tui.engine.claim import engine_alive, lock_state
from slc_tui.engine.events import Listener
from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path, state_dir
from slc_tui.engine.paths import open_private, private_dir
from slc_tui.errors import InputError, SweepError
from slc_tui.procid import engine_token
from slc_tui.states import Resume
from slc_tui.sweep import reach
from slc_tui.sweep.prepare import Sweep, from_files
from slc_tui.sweep.state import SweepState

START_TIMEOUT = 30.0
"""Seconds a background engine may take to claim its ledgers."""
LEDGER_BACK = 3.0
"""Seconds a view waits for the ledger of a live engine to be made again after it was lost."""


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
    notices: list[str] = field(default_factory=list)
    """What else the start says (a ledger rebuilt from its journal...)."""
    progress: dict[str, str] = field(default_factory=dict)
    """Per grid that runs earlier successes again, the progress file its runs write."""


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
        again = engine.rerun_succeeded
        for line in notices(Started(again, engine.notices, progress_files(sweep, again))):
            notice(line)
    status = engine.run()
    return Outcome(status, sorted(engine.records.values(), key=lambda r: r.idx))


def notices(started: Started) -> list[str]:
    """The warnings a start gives (a ledger rebuilt, earlier successes that run again)."""
    from slc_tui.sweep.fmt import rerun_notice

    again = started.rerun_succeeded
    return [*started.notices, *(rerun_notice(g, n, started.progress.get(g))
                                for g, n in again.items() if n)]  # fmt: skip


def progress_files(sweep: Sweep, rerun: dict[str, int]) -> dict[str, str]:
    """Per grid that runs earlier successes again, the progress file its runs write."""
    from slc_tui.engine.progress import progress_kind_of

    kinds = {p.name: progress_kind_of(r.output_dir for r in p.runs) for p in sweep.plans
             if rerun.get(p.name)}  # fmt: skip
    return {grid: kind for grid, kind in kinds.items() if kind}


def start_background(sweep: Sweep, resume: bool | Resume = False) -> tuple[SweepHandle, Started]:
    """Start the sweep's engine as its own process; return once it has claimed the ledgers.

    While the calling process lives, the engine stays up after the last run, so that a
    rerun from a view still has an engine. Its own output goes to ``engine.log`` beside the
    first grid's ledger.

    Raises:
        SweepError: the engine refused to start (already running...), or died at once.
    """
    from slc_tui.engine.warm import close_prestarted
    from slc_tui.payload import Payload, write_payload

    close_prestarted()  # the engine runs elsewhere: it starts its own launchers
    state = private_dir(state_dir(sweep.plans[0].data_dir))
    spec = state / f"engine-{os.getpid()}-{time.time_ns()}.pkl"
    read_end, write_end = os.pipe()
    # A payload like a run's: the caller's sys.path comes first, so that the daemon can
    # unpickle thunks from the caller's modules.
    engine_args = {"sweep": sweep, "resume": Resume.of(resume), "viewer": engine_token(),
                   "ready_fd": write_end}  # fmt: skip
    write_payload(spec, Payload("slc_tui.daemon:serve", engine_args))
    log_path = state / "engine.log"
    try:
        log_fd = open_private(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(log_fd, "ab") as log:
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
        answer = reach.read_answer(read_end, START_TIMEOUT)
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
    again = answer.get("rerun_succeeded", {})
    started = Started(again, answer.get("notices", []), progress_files(sweep, again))
    return SweepHandle(sweep.ledger_paths, proc), started


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
        """The sweep of a grid file or ledger file (see :func:`ledger_for`). The ledger of a
        live engine that was deleted is waited for (its engine makes it again at once).

        Raises:
            InputError: no such ledger, or no sweep of the grid has run yet.
        """
        try:
            return cls([ledger_for(target)])
        except InputError as exc:
            path = reach.planned_ledger(target)
            if path is None:
                raise
            if lock_state(path) is not True:
                raise reach.with_journal(exc, path, target) from None
        deadline = time.monotonic() + LEDGER_BACK
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return cls([path])

    def state(self) -> SweepState:
        """The read model, polled once (the caller closes it).

        Raises:
            InputError: a ledger is gone, corrupt, locked or no ledger (one line).
        """
        state = _open_state(self.paths)
        try:
            state.poll()
        except BaseException:
            state.close()
            raise
        return state

    def alive(self) -> bool:
        """Whether an engine runs any of the grids."""
        state = self.state()
        try:
            return any(state.alive())
        finally:
            state.close()

    def stop(self, timeout: float = 60.0) -> str:
        """Stop every run and the engine; return a line that says what happened.

        Raises:
            SweepError: the engine did not stop in ``timeout`` seconds.
        """
        return reach.stop(self.paths[0], timeout)

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
        live = engine_alive(meta, lock_state(self.paths[0]))
        if live or not grid_file or not Path(grid_file).exists():
            return False
        start_background(from_files([grid_file]), Resume.KEEP)
        return True


def _open_state(paths: Sequence[Path]) -> SweepState:
    try:
        return SweepState.open(list(paths))
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
