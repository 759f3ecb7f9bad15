"""``slc-tui status`` and ``slc-tui stop``: one-shot views on a sweep found from its grid file."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from slc_tui.engine.ledger import RunRecord
from slc_tui.states import STATES, RunState
from slc_tui.sweep.lifecycle import SweepHandle


def status_command(target: str, *, as_json: bool = False) -> int:
    """Print the sweep's state: a table, or JSON for scripts.

    Raises:
        InputError: no sweep of that grid file (or no such ledger).
    """
    from slc_tui.headless import counts, table, use_color

    state = SweepHandle.find(target).state()
    try:
        meta = state.metas[0]
        alive = state.alive()[0]
        records = state.records()
        engine = state.engine_words(0)
    finally:
        state.close()
    if as_json:
        doc = {
            "grid": meta.get("grid_name"),
            "grid_file": meta.get("grid_file"),
            "engine": {"alive": alive, "pid": meta.get("engine_pid"), "status": engine},
            "paused": bool(meta.get("paused")),
            "counts": {str(s): sum(r.state == s for r in records) for s in STATES},
            "runs": [asdict(r) for r in records],
        }
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    paused = ", paused" if meta.get("paused") and alive else ""
    print(f"{meta.get('grid_name')}: engine {engine}{paused}")
    print(table(records, use_color(sys.stdout)))
    print(counts(records))
    for line in device_lines(records):
        print(line)
    return 0


def device_lines(records: list[RunRecord]) -> list[str]:
    """Where NVML answers: each device the running runs hold, its use, and each run's own
    memory on it (the run's processes found from its pid)."""
    from slc_tui.engine.procs import tree
    from slc_tui.gpus import device_usage, ids_of, usage_line

    running = [r for r in records if r.state == RunState.RUNNING and r.gpus]
    held = sorted({d for r in running for d in ids_of(r.gpus)})
    usage = device_usage(held) if held else {}
    lines = []
    for index in held:
        if index not in usage:
            continue
        lines.append(usage_line(usage[index]))
        for r in running:
            if index in ids_of(r.gpus):
                used = usage[index].of_pids([p.pid for p in tree(r.pid)] if r.pid else [])
                lines.append(f"  {r.name}  {used / 1e9:.1f} GB")
    return lines


def stop_command(target: str, timeout: float = 60.0) -> int:
    """Stop a sweep's runs and engine (as the dashboard's quit, "stop runs", does).

    Raises:
        InputError: no sweep of that grid file; SweepError: the engine did not stop.
    """
    print(SweepHandle.find(target).stop(timeout))
    return 0
