"""``slc-tui status`` and ``slc-tui attach``: views on a sweep found from its grid file."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from slc_tui.cli import fail


def _ledger_for(grid_file: str) -> Path:
    """The ledger of a grid file, or the ledger file itself (a sweep started from Python)."""
    from slc_tui.engine.ledger import ledger_path
    from slc_tui.gridfile import load_grid

    if grid_file.endswith(".db"):
        if not Path(grid_file).is_file():
            raise FileNotFoundError(f"{grid_file}: no such ledger")
        return Path(grid_file)

    spec = load_grid(grid_file, check_thunk=False)
    path = ledger_path(spec.data_dir, spec.name)
    if not path.exists():
        raise FileNotFoundError(
            f"{grid_file}: no sweep of grid {spec.name!r} has run in {spec.data_dir} yet "
            f"(no ledger at {path})"
        )
    return path


def status_command(grid_file: str, *, as_json: bool = False) -> int:
    """Print the sweep's state: a table, or JSON for scripts."""
    from slc_tui.engine import ledger as L
    from slc_tui.engine.core import engine_alive
    from slc_tui.gridfile import GridFileError
    from slc_tui.headless import counts, table, use_color

    try:
        ledger = L.Ledger.open(_ledger_for(grid_file))
    except (GridFileError, FileNotFoundError) as exc:
        return fail(str(exc))
    meta = ledger.meta()
    alive = engine_alive(meta)
    records = ledger.runs()
    for r in records:
        if r.state == L.RUNNING and not alive and meta.get("backend") != "slurm":
            r.state, r.reason = L.LOST, "its engine ended"
    engine = (
        f"running (pid {meta.get('engine_pid')})"
        if alive
        else {"finished": "finished", "stopped": "stopped"}.get(
            str(meta.get("status")), "gone (it ended without finishing)"
        )
    )
    if as_json:
        doc = {
            "grid": meta.get("grid_name"),
            "grid_file": meta.get("grid_file"),
            "engine": {"alive": alive, "pid": meta.get("engine_pid"), "status": engine},
            "paused": bool(meta.get("paused")),
            "counts": {s: sum(r.state == s for r in records) for s in L.STATES},
            "runs": [asdict(r) for r in records],
        }
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    paused = ", paused" if meta.get("paused") and alive else ""
    print(f"{meta.get('grid_name')}: engine {engine}{paused}")
    print(table(records, use_color(sys.stdout)))
    print(counts(records))
    return 0


def attach_command(grid_file: str, *, no_mouse: bool = False) -> int:
    """Open the dashboard on a sweep another slc-tui process runs (or ran)."""
    from slc_tui.gridfile import GridFileError

    try:
        path = _ledger_for(grid_file)
    except (GridFileError, FileNotFoundError) as exc:
        return fail(str(exc))
    from slc_tui.ui.app import run_dashboard

    return run_dashboard([path], owns_engine=False, no_mouse=no_mouse)


def stop_command(grid_file: str, timeout: float = 60.0) -> int:
    """Stop a sweep's runs and engine (as the dashboard's quit, "stop runs", does)."""
    import time

    from slc_tui.engine import ledger as L
    from slc_tui.engine.core import engine_alive
    from slc_tui.gridfile import GridFileError

    try:
        ledger = L.Ledger.open(_ledger_for(grid_file))
    except (GridFileError, FileNotFoundError) as exc:
        return fail(str(exc))
    meta = ledger.meta()
    if not engine_alive(meta):
        print(f"{meta.get('grid_name')}: no engine is running; nothing to stop")
        return 0
    ledger.send("stop_all")
    deadline = time.monotonic() + timeout
    while engine_alive(ledger.meta()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if engine_alive(ledger.meta()):
        return fail(f"the engine (pid {meta.get('engine_pid')}) did not stop in {timeout:g} s")
    counts = {s: sum(r.state == s for r in ledger.runs()) for s in L.STATES}
    print(
        f"{meta.get('grid_name')}: stopped; "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    )
    return 0
