"""Which engine owns a sweep: the liveness of the engine a ledger names, and its claim.

A claim reads and writes the ledger's meta in one transaction, so of two engines started
on one grid at once, the second sees the first.
"""

from __future__ import annotations

import os
import time
from typing import Any

from slc_tui.engine.ledger import Ledger
from slc_tui.errors import SweepError
from slc_tui.plan import GridPlan
from slc_tui.procid import token_alive
from slc_tui.states import EngineStatus


def engine_alive(meta: dict[str, Any]) -> bool:
    """True while the engine named in a ledger's meta still runs its sweep.

    Its process must live (pid and start time match) and it must not have closed the
    sweep: an engine that ran inside a Python session that goes on is no longer alive.
    """
    token = str(meta.get("engine_token") or "")
    return meta.get("status") == EngineStatus.RUNNING and bool(token) and token_alive(token)


def already_running(meta: dict[str, Any], grid: str) -> SweepError:
    """The one error for a second start of a sweep whose engine runs."""
    return SweepError(
        f"{grid!r} is already running (engine pid {meta.get('engine_pid')})",
        cli=f"watch it with 'slc-tui attach {meta.get('grid_file') or grid}' or stop it with "
        f"'slc-tui stop {meta.get('grid_file') or grid}'",
        python="watch it with 'slc-tui attach' on its grid file or ledger, or stop it first",
    )


def claim(ledger: Ledger, plan: GridPlan, token: str, **meta: Any) -> None:
    """Make the engine ``token`` the owner of ``plan``'s ledger, or raise SweepError.

    Refused when another live engine owns it, or when another grid file that still exists
    wrote it (same grid name and data_dir).
    """

    def check(current: dict[str, Any]) -> None:
        if engine_alive(current) and current.get("engine_token") != token:
            raise already_running(current, plan.name)
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
