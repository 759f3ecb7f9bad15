"""Training functions for the airtight tests: each run notes itself in a counter file (one line
per run that ran, appended in one write), then waits for a gate file or sleeps."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def _note(counter: str, logger_kwargs: dict[str, Any]) -> None:
    fd = os.open(counter, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{logger_kwargs['output_dir']}\n".encode())
    finally:
        os.close(fd)


def gated(seed: int, logger_kwargs: dict[str, Any], counter: str, gate: str, **_: Any) -> None:
    """Note this run, then wait (at most a minute) until the file ``gate`` exists."""
    _note(counter, logger_kwargs)
    print(f"seed {seed} waits for {gate}", flush=True)
    deadline = time.monotonic() + 60
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def counted(seed: int, logger_kwargs: dict[str, Any], counter: str, secs: float = 0.0,
            **_: Any) -> None:  # fmt: skip
    """Note this run, then sleep ``secs``."""
    _note(counter, logger_kwargs)
    time.sleep(secs)
