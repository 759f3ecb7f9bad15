"""Training functions for the warm launcher's tests: what a run sees of its process."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

LEFTOVER = "colorsys"
"""A standard module no launcher imports: each run imports it, so the next must not have it."""


def _grandparent() -> int:
    """The parent of this process's parent (the launcher, for a warm run)."""
    with open(f"/proc/{os.getppid()}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def state(seed: int, logger_kwargs: dict[str, Any], kill_launcher_at: int = -1, **_: Any) -> None:
    """Record what this run sees of its process in ``state.json``, then leave traces (a module
    imported, a variable set, an attribute on a preloaded module, a descriptor) that no later
    run may see; the run of seed ``kill_launcher_at`` then kills its launcher."""
    import __main__

    seen = {
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
        "grandparent": _grandparent(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "stdin": os.readlink("/proc/self/fd/0"),
        "stdout": os.readlink("/proc/self/fd/1"),
        "stderr_is_stdout": os.path.samestat(os.fstat(1), os.fstat(2)),
        "random": random.random(),
        "numpy": float(sys.modules["numpy"].random.random()) if "numpy" in sys.modules else None,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SLC_TUI_", "OMP_", "WARM_"))},
        "leftover": LEFTOVER in sys.modules,
        "dirty": "WARM_DIRTY" in os.environ or hasattr(json, "warm_dirty"),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "path": sys.path,
        "main": [getattr(__main__, "__file__", None), __main__.__spec__, __main__.__package__],
        "cores": sorted(os.sched_getaffinity(0)),
        "write_through": sys.stdout.write_through,
        "signals": [repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGCHLD)],
    }
    out = Path(logger_kwargs["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "state.json").write_text(json.dumps(seen))
    print("state recorded", flush=True)
    __import__(LEFTOVER)
    os.environ["WARM_DIRTY"] = "1"
    json.warm_dirty = True  # type: ignore[attr-defined]
    fd = os.open(os.devnull, os.O_RDONLY)  # a descriptor left open: the next run must not have it
    assert fd > 2
    if seed == kill_launcher_at:
        os.kill(seen["grandparent"], signal.SIGKILL)


def read_state(output_dir: str) -> dict[str, Any]:
    """What :func:`state` recorded."""
    return json.loads((Path(output_dir) / "state.json").read_text())  # type: ignore[no-any-return]
