"""Which engine owns a sweep: the liveness of a grid's engine, and its claim of the ledger.

The lock (``engine.lock``) decides which engine runs a grid; the claim then writes the
engine's facts into the ledger's meta, in one transaction with the check that no other grid
file owns the ledger.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from slc_tui.engine.ledger import Ledger
from slc_tui.engine.lock import held
from slc_tui.engine.paths import lock_path
from slc_tui.errors import SweepError
from slc_tui.plan import GridPlan
from slc_tui.procid import token_alive
from slc_tui.states import EngineStatus


def engine_alive(meta: dict[str, Any], locked: bool | None = None) -> bool:
    """True while the engine of a ledger still runs its sweep.

    ``locked`` is what :func:`lock_state` found: the lock decides when there is a lock file
    (an engine holds it for its whole life, and the kernel lets go of it however the engine
    ends). Without one (a ledger of an older slc-tui) the meta decides: the engine's process
    must live (pid and start time match) and it must not have closed the sweep.
    """
    if locked is not None:
        return locked
    token = str(meta.get("engine_token") or "")
    return meta.get("status") == EngineStatus.RUNNING and bool(token) and token_alive(token)


def lock_state(ledger: str | os.PathLike[str]) -> bool | None:
    """Whether an engine holds the lock of the ledger at ``ledger`` (None: no lock file)."""
    return held(lock_path(Path(ledger)))


def claim(ledger: Ledger, plan: GridPlan, token: str, **meta: Any) -> None:
    """Make the engine ``token`` (which holds the grid's lock) the owner of ``plan``'s
    ledger, or raise SweepError when another grid file that still exists wrote it (same
    grid name and data_dir)."""

    def check(current: dict[str, Any]) -> None:
        owner = str(current.get("grid_file") or "")
        if owner and plan.source and owner != plan.source and os.path.exists(owner):
            raise SweepError(
                f"{plan.source}: its grid name {plan.name!r} and data_dir are also those "
                f"of {owner}, whose runs are in {ledger.path}; give one of them another "
                "name or data_dir"
            )

    ledger.claim(
        check,
        grid_name=plan.name,
        grid_file=plan.source,
        engine_pid=os.getpid(),
        engine_token=token,
        paused=False,
        status=EngineStatus.RUNNING,
        started=time.time(),
        ended=None,
        **meta,
    )
