"""How an engine takes a grid: its lock first, then its ledger (made, checked, rebuilt from the
journal when lost or corrupt, caught up from the journal when behind), then the claim and the
reconciliation with the plan.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slc_tui.engine import journal as J
from slc_tui.engine.claim import claim
from slc_tui.engine.faults import LedgerLocked, is_bug, is_busy, is_corrupt
from slc_tui.engine.ledger import Ledger
from slc_tui.engine.ledger_file import move_aside
from slc_tui.engine.lock import EngineLock
from slc_tui.engine.paths import journal_path, ledger_path, lock_path, private_dir
from slc_tui.engine.reconcile import reconcile
from slc_tui.engine.records import RunRecord
from slc_tui.errors import SweepError
from slc_tui.plan import GridPlan, Run
from slc_tui.states import Resume, RunState


@dataclass
class Taken:
    """A grid an engine has taken."""

    lock: EngineLock
    journal: J.Journal
    ledger: Ledger
    records: list[RunRecord]
    rerun_succeeded: int
    """Runs that had succeeded and run again (no resume)."""
    notices: list[str] = field(default_factory=list)
    """What the start has to say (a ledger rebuilt from the journal...)."""


def take(
    plan: GridPlan,
    token: str,
    resume: Resume,
    adopt: Callable[[Run, RunRecord], bool],
    **meta: Any,
) -> Taken:
    """Lock, open, claim and reconcile the ledger of ``plan``.

    Raises:
        SweepError: another engine runs the grid, another grid file owns its ledger, the
            ledger is locked for long or cannot be written, a state file is a link.
    """
    path = ledger_path(plan.data_dir, plan.name)
    try:
        private_dir(path.parent)
        lock = EngineLock.acquire(lock_path(path), grid=plan.name, grid_file=plan.source,
                                  ledger=str(path.absolute()))  # fmt: skip
    except OSError as exc:
        raise _unwritable(plan, path, exc) from None
    journal: J.Journal | None = None
    ledger: Ledger | None = None
    try:
        journal = J.Journal(journal_path(path))
        ledger, notices = _open(path, journal.path)
        claim(ledger, plan, token, **meta)
        records, again = reconcile(ledger, plan, resume, adopt)
    except BaseException as exc:
        if ledger is not None:
            ledger.close()
        if journal is not None:
            journal.close()
        lock.release()
        if isinstance(exc, sqlite3.DatabaseError) and not is_bug(exc):
            raise _cannot(path, exc) from None
        if isinstance(exc, OSError):
            raise _unwritable(plan, path, exc) from None
        raise
    return Taken(lock, journal, ledger, records, again, notices)


def _open(path: Path, journal: Path) -> tuple[Ledger, list[str]]:
    """The ledger at ``path``, made if missing and moved aside if unreadable, and in both
    cases rebuilt from the journal; a ledger behind the journal catches up."""
    notices: list[str] = []
    existed = os.path.lexists(path)
    last, every = J.ends(journal)
    ledger: Ledger | None = None
    try:
        ledger = Ledger.create(path)
        known = {r.name: r for r in ledger.runs()}
        ledger.meta()
    except sqlite3.DatabaseError as exc:
        if ledger is not None:
            ledger.close()
        if is_bug(exc) or not is_corrupt(exc):
            raise
        aside = move_aside(path)
        notices.append(f"the ledger {path} could not be read ({exc}); moved it to {aside.name} "
                       f"and rebuilt it from the journal ({_ends(last)})")  # fmt: skip
        ledger, known = Ledger.create(path), {}
    else:
        if not existed and last:
            notices.append(f"the ledger {path} was missing; rebuilt it from the journal "
                           f"({_ends(last)})")  # fmt: skip
    behind = [r for name, r in last.items() if _behind(known.get(name), r)]
    if behind:
        ledger.put(behind, every)
        if not notices:
            notices.append(f"the ledger {path} lacked {len(behind)} runs' ends that its "
                           "journal holds; took them in")  # fmt: skip
    return ledger, notices


def _behind(ledger: RunRecord | None, journal: RunRecord) -> bool:
    """Whether the ledger lacks the end the journal holds of a run."""
    if ledger is None or ledger.attempt < journal.attempt:
        return True
    return ledger.attempt == journal.attempt and ledger.state == RunState.RUNNING


def _ends(last: dict[str, RunRecord]) -> str:
    succeeded = sum(r.state == RunState.SUCCEEDED for r in last.values())
    return f"{len(last)} runs' ends, {succeeded} succeeded"


def _cannot(path: Path, exc: BaseException) -> SweepError:
    if is_busy(exc):
        return LedgerLocked(
            f"the ledger {path} is locked by another process ({exc})",
            cli="try again when that process lets go of it",
            python="try again when that process lets go of it",
        )
    return SweepError(f"cannot use the ledger {path} ({exc})")


def _unwritable(plan: GridPlan, path: Path, exc: OSError) -> SweepError:
    return SweepError(f"cannot write the state of grid {plan.name!r} in {path.parent}: "
                      f"{exc.strerror or exc}")  # fmt: skip
