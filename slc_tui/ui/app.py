"""The Textual dashboard: a thin App around the main screen, and :func:`run_dashboard`.

The App only reads the ledgers and log files and sends commands (both through one
:class:`~slc_tui.ui.feed.SweepFeed`, off the UI thread); the engine is another process, so
closing the dashboard (or losing the terminal) never stops the sweep unless the user says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from slc_tui.states import RunState, Verb
from slc_tui.sweep.state import SweepState
from slc_tui.ui.feed import SEND_GROUP, SweepFeed
from slc_tui.ui.hints import exit_summary, grid_command
from slc_tui.ui.main_screen import MainScreen
from slc_tui.ui.messages import LedgersRead, QuitAsked
from slc_tui.ui.quit_dialog import LEAVE, STOP, QuitDialog

INTERRUPTED = 130
"""Exit status after the user stopped the runs (or the dashboard was interrupted)."""
HANGUP = 129
"""Exit status after the terminal went away (the sweep goes on)."""
STOP_WAIT = 15.0
"""Seconds the dashboard waits for the engine to confirm a stop before it quits anyway."""
SHUTDOWN_WATCHDOG = 5.0
"""Seconds a hung-up dashboard may take to shut down before it exits hard."""
LEDGER_WAIT = 15.0
"""Seconds :func:`run_dashboard` waits for a starting engine to create its ledger."""


class SlcApp(App[int]):
    """The dashboard on one or more grids' ledgers."""

    CSS_PATH = "app.tcss"
    TITLE = "slc-tui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "request_quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        ledger_paths: list[Path],
        *,
        owns_engine: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.ledger_paths = [Path(p) for p in ledger_paths]
        """The ledgers shown, one per grid."""
        self.owns_engine = owns_engine
        """Whether this process started the engine (changes wording only)."""
        self.model = SweepState.open(self.ledger_paths, clock)
        """The sweep, as read from the ledgers."""
        self.feed = SweepFeed(self.model)
        """The reads of the ledgers and the commands to them (off the UI thread)."""
        self.cwd = os.getcwd()
        """Where the dashboard started: relative ``data_dir`` values resolve against it."""
        self.exit_line = ""
        """The one line :func:`run_dashboard` prints once the app closed (set on unmount)."""
        self.animation_level = "none"
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self._stop_since: float | None = None

    def on_mount(self) -> None:
        """Show the main screen."""
        self._signal_loop = asyncio.get_running_loop()
        self.push_screen(MainScreen(self.model, self.feed))

    def on_quit_asked(self, message: QuitAsked) -> None:
        """``q`` on a screen: quit, or ask first."""
        self.action_request_quit()

    def action_request_quit(self) -> None:
        """Quit; with runs still going, ask whether to stop them or leave them running."""
        if self._stop_since is not None or isinstance(self.screen, QuitDialog):
            return
        if not self.model.active():
            self.exit(self.model.exit_status())
            return
        states = [r.state for r in self.model.runs.values()]
        dialog = QuitDialog(
            states.count(RunState.RUNNING),
            states.count(RunState.PENDING),
            self.owns_engine,
            self.attach_command(),
        )
        self.push_screen(dialog, self._quit_answered)

    def _quit_answered(self, answer: str | None) -> None:
        if answer == LEAVE:
            self.exit(0)
        elif answer == STOP:
            self.stop_all_and_quit()

    def attach_command(self) -> str:
        """``slc-tui attach GRID.toml`` (or the ledger) for the grids shown, ``cd`` if needed."""
        return grid_command(self.model, "attach", self.cwd)

    def stop_all_and_quit(self) -> None:
        """Tell every live engine to stop all runs, then quit once they are down (or after
        :data:`STOP_WAIT` seconds)."""
        live = [li for li, alive in enumerate(self.model.alive()) if alive]
        self.feed.queue(live, Verb.STOP_ALL)
        self.run_worker(self.feed.flush, thread=True, group=SEND_GROUP, name="send stop_all")
        self._stop_since = time.monotonic()
        self.notify("stopping all runs…", timeout=STOP_WAIT)
        self.set_timer(STOP_WAIT, partial(self.exit, INTERRUPTED))

    def on_ledgers_read(self, message: LedgersRead) -> None:
        """While the runs stop, quit once none goes any more (the screen took the read in)."""
        if self._stop_since is not None and not self.model.active():
            self.exit(INTERRUPTED)

    def hangup(self, status: int = HANGUP) -> None:
        """Shut down from a signal handler (thread-safe); the sweep goes on."""
        if self._signal_loop is not None:
            self._signal_loop.call_soon_threadsafe(self.exit, status)

    def on_unmount(self) -> None:
        """Send what is still queued, read the ledgers a last time, close them, and note the
        exit line."""
        self.feed.close()
        self.exit_line = exit_summary(self.model, self.model.active(), self.cwd)


def _watchdog(status: int, done: threading.Event) -> None:
    if not done.wait(SHUTDOWN_WATCHDOG):
        os._exit(status)


def install_signal_handlers(app: SlcApp) -> Callable[[], None]:
    """Quit cleanly on SIGHUP and SIGTERM; return a function to call once the app returned.

    That function disarms the watchdog and restores the old handlers.

    The SIGHUP handler first resets SIGCONT: after a real hangup Textual's SIGCONT handler
    would re-enter application mode on the dead terminal and hang the shutdown. A watchdog
    exits hard if shutdown hangs anyway.
    """
    previous: dict[int, Any] = {}
    done = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        status = HANGUP if signum == signal.SIGHUP else 128 + signum
        if signum == signal.SIGHUP:
            signal.signal(signal.SIGCONT, signal.SIG_DFL)
        signal.signal(signum, signal.SIG_IGN)
        threading.Thread(target=_watchdog, args=(status, done), daemon=True).start()
        app.hangup(status)

    for signum in (signal.SIGHUP, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)

    def restore() -> None:
        done.set()
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


def _wait_for(paths: list[Path], seconds: float) -> list[Path]:
    deadline = time.monotonic() + seconds
    while True:
        missing = [p for p in paths if not p.exists()]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.05)


def print_line(line: str) -> None:
    """Print ``line`` on stdout; a terminal that went away (hangup) is no error."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


def run_dashboard(ledger_paths: list[Path], *, owns_engine: bool, no_mouse: bool = False) -> int:
    """Open the dashboard on ``ledger_paths`` until the user quits; return the exit status.

    Once the dashboard closed (however it did), one line sums up the sweep on stdout, with the
    commands to attach and stop when its runs go on in the background.

    0 when every run succeeded (or the user left them running), 1 when some failed, 130 when
    the user stopped them, 129 when the terminal hung up. With ``owns_engine`` the ledgers
    may not exist yet: the engine that was just started creates them.
    """
    paths = [Path(p) for p in ledger_paths]
    missing = _wait_for(paths, LEDGER_WAIT if owns_engine else 0)
    if missing:
        print(f"slc-tui: no ledger at {missing[0]}: has this grid run here?")
        return 2
    app = SlcApp(paths, owns_engine=owns_engine)
    restore = install_signal_handlers(app)
    try:
        result = app.run(mouse=not no_mouse)
    finally:
        restore()
    if app.exit_line:
        print_line(app.exit_line)
    if result is None:
        return app.return_code or 0
    return int(result)
