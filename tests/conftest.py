"""Shared fixtures: a private working directory, a check that no run outlives its test, and a
fast engine loop over a backend without processes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from fake_executor import FakeExecutor


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside ``tmp_path`` (``data/`` lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_processes(marker: str, engine_pid: int | None = None) -> list[psutil.Process]:
    """Processes whose command line mentions ``marker`` (a tmp path), or that belong to a run of
    the engine ``engine_pid`` (their environment names it: descendants of runs included)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            if proc.pid == os.getpid():
                continue
            cmd = " ".join(proc.info["cmdline"] or [])
            owner = (proc.info["environ"] or {}).get("SLC_TUI_ENGINE", "")
            if marker in cmd or (engine_pid and owner.startswith(f"{engine_pid}:")):
                found.append(proc)
        except (psutil.Error, TypeError):
            continue
    return found


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Wait until none of ``pids`` runs; return those still alive at the timeout."""
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture
def no_leftovers(in_tmp: Path) -> Iterator[Path]:
    """Fail the test if a process started under its tmp dir is still alive at the end."""
    yield in_tmp
    left = run_processes(str(in_tmp), os.getpid())
    alive = wait_gone([p.pid for p in left], timeout=10)
    for pid in alive:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    assert not alive, f"processes left behind: {alive}"


@pytest.fixture
def fast_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the engine's loop turn every millisecond (and read progress, and stop, at once)."""
    from slc_tui.engine import core

    monkeypatch.setattr(core, "TICK", 0.001)
    monkeypatch.setattr(core, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(core, "STOP_GRACE", 0.01)


@pytest.fixture
def fake_executor(fast_loop: None) -> FakeExecutor:
    """A backend whose runs are scripted (see ``fake_executor.py``), for a fast engine loop."""
    from fake_executor import FakeExecutor

    return FakeExecutor()
