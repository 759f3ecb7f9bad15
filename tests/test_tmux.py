"""A real ``slc-tui GRID.toml`` in tmux survives its terminal going away, and attach shows it.

The dashboard runs in a pane of a private tmux server (its own socket in the test's tmp dir).
Killing the tmux session hangs up the pane, as a dropped SSH connection does: the dashboard
quits, the engine goes on and finishes the sweep, and ``slc-tui attach`` in a new session
(``TERM=screen``, ``NO_COLOR=1``) shows the finished sweep.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import wait_gone
from engine_helpers import ledger, wait_for, write_grid

from slc_tui.engine import ledger as L
from slc_tui.engine.claim import engine_alive
from slc_tui.states import RunState

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
GRID = "tmuxgrid"
SEEDS = (0, 1, 2, 3)
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_CUBE_GREYS = {16, 59, 102, 145, 188, 231}
"""The greys among the 6x6x6 colour cube of the 256 colours."""


def slc_tui_command() -> list[str]:
    """The installed ``slc-tui`` script beside this interpreter, else ``python -m slc_tui``."""
    script = Path(sys.executable).with_name("slc-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "slc_tui"]


def chromatic(escaped: str) -> set[str]:
    """The colours other than greys that the SGR sequences in ``escaped`` set.

    Textual honours ``NO_COLOR`` by drawing in greys (monochrome), so greys may remain.
    """
    found = set()
    for match in _SGR.finditer(escaped):
        codes = [int(c) if c else 0 for c in match.group(1).split(";")]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    n = codes[i + 2]
                    if 1 <= n <= 6 or 9 <= n <= 14 or (16 <= n <= 231 and n not in _CUBE_GREYS):
                        found.add(f"{code};5;{n}")
                    i += 3
                    continue
                if codes[i + 1] == 2 and i + 4 < len(codes):
                    r, g, b = codes[i + 2 : i + 5]
                    if not r == g == b:
                        found.add(f"{code};2;{r};{g};{b}")
                    i += 5
                    continue
            if code % 10 in range(1, 7) and code // 10 in (3, 4, 9, 10):
                found.add(str(code))
            i += 1
    return found


class Tmux:
    """A private tmux server: sessions that run one command each, and their screens."""

    def __init__(self, root: Path) -> None:
        self.socket = str(root / "tmux.sock")
        """The server's socket (its path names the test's tmp dir)."""
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        """The environment of the server and so of its panes."""

    def __call__(self, *args: str) -> str:
        """Run a tmux command against this server; its output."""
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, env=self.env
        )
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self, name: str, command: list[str], size: tuple[int, int] = (120, 36)) -> int:
        """Start session ``name`` running ``command``; the pid of the pane's process."""
        cols, rows = size
        line = "exec " + shlex.join(command)
        self("new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows), line)
        return int(self("list-panes", "-t", name, "-F", "#{pane_pid}").split()[0])

    def screen(self, name: str, escapes: bool = False) -> str:
        """What the session's pane shows (with its escape codes, if asked)."""
        return self("capture-pane", "-p", *(["-e"] if escapes else []), "-t", name)

    def sessions(self) -> list[str]:
        """The names of the sessions alive (none once the server has gone)."""
        done = subprocess.run(
            ["tmux", "-S", self.socket, "list-sessions", "-F", "#{session_name}"],
            capture_output=True,
            text=True,
            env=self.env,
        )
        return done.stdout.split() if done.returncode == 0 else []

    def kill_server(self) -> None:
        """End the server and every pane."""
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(no_leftovers: Path) -> Iterator[Tmux]:
    """A tmux server of its own; at the end it is killed and any engine left is stopped."""
    server = Tmux(no_leftovers)
    yield server
    server.kill_server()
    path = L.ledger_path(no_leftovers / "data", GRID)
    if path.exists():
        meta = L.Ledger.open(path).meta()
        if engine_alive(meta):
            L.Ledger.open(path).send("stop_all")
            wait_gone([int(meta["engine_pid"])], timeout=30)


def pid_gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie counts as ended)."""
    return not wait_gone([pid], timeout=0.1)


def test_dashboard_survives_a_killed_tmux_and_attach_shows_the_finished_sweep(
    tmux: Tmux, in_tmp: Path
) -> None:
    params = "seed = [0, 1, 2, 3]\nsecs = 3.0\nepochs = 4"
    grid = write_grid(in_tmp / "g.toml", GRID, "work", params, extra="\n[run]\nmax_cpus = 2")
    names = [f"{GRID}_s{s}" for s in SEEDS]

    dash = tmux.start("dash", [*slc_tui_command(), str(grid)])
    # At 120 columns the header counts with glyphs (the style it keeps all session).
    running = f" slc-tui  {GRID}  ●2 "
    wait_for(lambda: running in tmux.screen("dash"), timeout=60, what="two running runs")
    screen = tmux.screen("dash")
    assert GRID in screen and all(f"s{s}" in screen for s in SEEDS), screen
    assert chromatic(tmux.screen("dash", escapes=True)), "the dashboard draws in colour"
    book = ledger(GRID)
    meta = book.meta()
    assert engine_alive(meta) and meta["status"] == "running"
    engine_pid = int(meta["engine_pid"])
    assert {r.state for r in book.runs()} != {RunState.SUCCEEDED}, "the sweep ended too soon"

    tmux("kill-session", "-t", "dash")  # the pane hangs up, as on a dropped connection
    wait_for(lambda: pid_gone(dash), timeout=15, what="the dashboard to quit on the hangup")
    assert psutil.pid_exists(engine_pid), "the engine died with the dashboard"

    wait_for(lambda: book.meta().get("status") == "finished", timeout=90, what="the sweep")
    assert {r.name: r.state for r in book.runs()} == dict.fromkeys(names, RunState.SUCCEEDED)
    wait_for(lambda: pid_gone(engine_pid), timeout=15, what="the engine to end after its sweep")

    attach = ["env", "TERM=screen", "NO_COLOR=1", *slc_tui_command(), "attach", str(grid)]
    viewer = tmux.start("attach", attach, size=(100, 30))
    done = f" slc-tui  {GRID}  ✔4 "
    wait_for(lambda: done in tmux.screen("attach"), timeout=30, what="the finished sweep")
    screen = tmux.screen("attach")
    assert "finished" in screen and "4/4" in screen, screen
    assert all(f"✔ s{s}" in screen for s in SEEDS), screen
    assert psutil.Process(viewer).environ().get("TERM") == "screen"
    assert not chromatic(tmux.screen("attach", escapes=True)), "NO_COLOR: greys only"

    tmux("set-option", "-t", "attach", "remain-on-exit", "on")  # keep what it prints last
    tmux("send-keys", "-t", "attach", "q")  # the sweep ended: quits without asking
    wait_for(lambda: pid_gone(viewer), timeout=15, what="attach to quit on q")

    # Back on the terminal, one line sums the sweep up (nothing goes on: no commands); tmux
    # may scroll it into the history when it notes the dead pane.
    def printed() -> list[str]:
        shown = tmux("capture-pane", "-p", "-S", "-100", "-t", "attach").splitlines()
        return [line for line in shown if line.strip() and not line.startswith("Pane is dead")]

    wait_for(lambda: f"{GRID}: 4 succeeded" in printed(), timeout=5, what="the exit line")
    assert printed() == [f"{GRID}: 4 succeeded"]
    tmux("kill-session", "-t", "attach")
