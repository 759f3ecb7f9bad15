"""Reaching an engine from another process: its answer on the ready pipe, its ledger when it
is lost for a moment, and stopping it.

A sweep is stopped by a command in its ledger, or, when the
ledger cannot carry one (deleted, corrupt, locked by another process), by SIGTERM to the
engine that holds the grid's lock (its pid and start time are in the lock file, so a reused
pid is never signalled). Either way the engine stops every run and lets go of the lock.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slc_tui.engine.claim import engine_alive, lock_state
from slc_tui.engine.faults import LedgerUnreadable, is_bug
from slc_tui.engine.ledger import Ledger
from slc_tui.engine.lock import read_holder
from slc_tui.engine.paths import journal_path, ledger_path, lock_path
from slc_tui.errors import InputError, SweepError
from slc_tui.procid import token_alive
from slc_tui.states import STATES, Verb


def alive(ledger: Ledger | None, path: Path) -> bool:
    """Whether the engine of the ledger at ``path`` lives: its lock says, else its meta."""
    locked = lock_state(path)
    if locked is not None or ledger is None:
        return bool(locked)
    return engine_alive(ledger.meta())


def stop(path: Path, timeout: float) -> str:
    """Stop the sweep of the ledger at ``path``; a line that says what happened.

    Raises:
        SweepError: the engine did not stop in ``timeout`` seconds.
        InputError: no ledger there and no engine either; LedgerUnreadable: the same, for a
            ledger that cannot be read.
    """
    try:
        ledger = Ledger.open(path)
    except (LedgerUnreadable, FileNotFoundError) as exc:
        if not alive(None, path):
            if isinstance(exc, FileNotFoundError):
                raise InputError(str(exc)) from None
            raise
        return _by_signal(path, timeout, str(exc))
    try:
        meta = ledger.meta()
        grid = meta.get("grid_name") or path.stem
        if not alive(ledger, path):
            return f"{grid}: no engine is running; nothing to stop"
        try:
            ledger.send(Verb.STOP_ALL)
        except sqlite3.DatabaseError as exc:
            if is_bug(exc):
                raise
            return _by_signal(path, timeout, str(exc))
        _wait(lambda: alive(ledger, path), timeout, meta.get("engine_pid"))
    finally:
        ledger.close()
    return f"{grid}: stopped; {_counts(path)}"


def _by_signal(path: Path, timeout: float, why: str) -> str:
    holder = read_holder(lock_path(path))
    pid, token = holder.get("pid"), str(holder.get("token") or "")
    if not isinstance(pid, int) or not token or not token_alive(token):
        raise SweepError(f"{path}: its engine cannot be reached ({why}), and its lock names "
                         "no live process")  # fmt: skip
    os.kill(pid, signal.SIGTERM)
    _wait(lambda: bool(lock_state(path)), timeout, pid)
    counts = f"; {_counts(path)}" if _counts(path) else ""
    grid = holder.get("grid") or path.stem
    return (f"{grid}: stopped (engine pid {pid}, by SIGTERM: its ledger could not carry the "
            f"command: {why}){counts}")  # fmt: skip


def _wait(going: Callable[[], bool], timeout: float, pid: object) -> None:
    deadline = time.monotonic() + timeout
    while going() and time.monotonic() < deadline:
        time.sleep(0.1)
    if going():
        raise SweepError(f"the engine (pid {pid}) did not stop in {timeout:g} s")


def _counts(path: Path) -> str:
    """``2 cancelled, 1 succeeded`` from the ledger as it is now ("" when unreadable)."""
    try:
        ledger = Ledger.open(path)
    except (OSError, InputError, SweepError):
        return ""
    try:
        states = [r.state for r in ledger.runs()]
    except sqlite3.DatabaseError:
        return ""
    finally:
        ledger.close()
    return ", ".join(f"{states.count(s)} {s}" for s in STATES if states.count(s))


def read_answer(fd: int, timeout: float) -> dict[str, Any] | None:
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


def planned_ledger(target: str | Path) -> Path | None:
    """Where the ledger of ``target`` (a grid file or a ledger) is, whether or not it exists
    (None when the grid file cannot be read): :func:`ledger_for` without its check."""
    from slc_tui.gridfile import load_grid

    if str(target).endswith(".db"):
        return Path(target)
    try:
        spec = load_grid(str(target), check_thunk=False)
    except Exception:
        return None
    return ledger_path(spec.data_dir, spec.name)


def with_journal(exc: InputError, path: Path, target: str | Path) -> InputError:
    """``exc`` (no ledger, or no readable one, at ``path``), with the way back when its journal
    is there."""
    journal = journal_path(path)
    if not journal.exists() or exc.cli_advice:
        return exc
    how = "moves it aside and rebuilds it" if path.exists() else "rebuilds the ledger"
    python = f"its journal {journal} is there: running the sweep again with resume=True {how} "
    python += "from it"
    if str(target).endswith(".db"):  # a sweep started from Python
        return InputError(exc.message, cli=python, python=python)
    cli = f"its journal {journal} is there: 'slc-tui {target} --resume' {how} from it"
    return InputError(exc.message, cli=cli, python=python)
