"""How the engine's loop sleeps: until a child exits, a signal arrives, or a timeout."""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from contextlib import suppress
from typing import Any, Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop a sweep (Ctrl-C, kill, a hung-up terminal)."""


class Wakeup:
    """Signal handlers and a wakeup pipe for the duration of a ``with`` block.

    In the main thread, SIGCHLD and the stop signals write to a pipe that :meth:`wait`
    selects on, so the loop answers a run's exit at once. Elsewhere (``ExperimentGrid.run``
    from a thread) no handler can be installed and :meth:`wait` polls every 50 ms.
    """

    def __init__(self, on_stop: Callable[[int], None]) -> None:
        self._on_stop = on_stop
        self._pipe: tuple[int, int] | None = None
        self._saved: dict[int, Any] = {}
        self._old_fd = -1

    def __enter__(self) -> Wakeup:
        if threading.current_thread() is not threading.main_thread():
            return self
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._pipe = (r, w)
        self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # under nohup a hang-up is ignored, and stays so
            self._saved[sig] = signal.signal(sig, lambda signum, _f: self._on_stop(signum))
        self._saved[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pipe is None:
            return
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_fd)
        for fd in self._pipe:
            os.close(fd)
        self._pipe = None

    def wait(self, timeout: float) -> None:
        """Sleep until something happens, at most ``timeout`` seconds."""
        if self._pipe is None:
            time.sleep(min(timeout, 0.05))
            return
        with suppress(InterruptedError):
            ready, _, _ = select.select([self._pipe[0]], [], [], timeout)
            if ready:
                with suppress(BlockingIOError):
                    os.read(self._pipe[0], 512)
