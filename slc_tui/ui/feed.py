"""The dashboard's one way to the ledgers: reads on a worker thread, commands off the UI thread.

SQLite is used by one thread at a time (a lock), and never by the UI thread while the app
runs: a worker thread reads the ledgers every :data:`LEDGER_POLL` seconds, and commands
queue on the UI thread (in the order the keys were pressed) until a thread worker sends them.
The model changes only on the UI thread, in :meth:`SweepFeed.take`, so the views read it
without locks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from slc_tui.states import Verb
from slc_tui.sweep.state import LedgerRead, RunKey, SweepState

LEDGER_POLL = 0.5
"""Seconds between two reads of the ledgers."""
SEND_GROUP = "send"
"""The group of the thread workers that send commands (tests wait on them)."""


class SweepFeed:
    """Reads of the ledgers waiting for the UI thread, and commands waiting to be sent."""

    def __init__(self, model: SweepState, interval: float = LEDGER_POLL) -> None:
        self.model = model
        """The sweep fed (changed only by :meth:`take`, on the UI thread)."""
        self.interval = interval
        """Seconds between two reads."""
        self._io = threading.Lock()  # held while SQLite is in use; taken before _lock
        self._lock = threading.Lock()  # guards the queues
        self._since = model.revs()
        self._reads: list[LedgerRead] = []
        self._outbox: list[tuple[RunKey | int, Verb]] = []
        self._wake = threading.Event()
        self._closed = False

    # -- the UI thread ----------------------------------------------------------------------
    def read_now(self) -> set[RunKey]:
        """Read and take in at once: the first frame's data."""
        self._read()
        return self.take()

    def take(self) -> set[RunKey]:
        """Take in the reads that wait (oldest first); return the keys of the runs they changed."""
        with self._lock:
            reads, self._reads = self._reads, []
        changed: set[RunKey] = set()
        for read in reads:
            changed |= self.model.apply(read)
        return changed

    def queue(self, targets: list[RunKey] | list[int], verb: Verb) -> None:
        """Queue ``verb`` for each target (a run, or a ledger index); :meth:`flush` sends them."""
        with self._lock:
            self._outbox.extend((t, verb) for t in targets)

    def close(self) -> set[RunKey]:
        """At exit: send what is still queued, read a last time, close the ledgers.

        Waits for a read or send under way; the reader thread ends at its next turn.
        Returns the keys of the runs changed since the last :meth:`take`.
        """
        with self._io:
            if not self._closed:
                self._closed = True
                try:
                    self._send_queued()
                    self._read_locked()
                finally:
                    self.model.close()
        self._wake.set()
        return self.take()

    # -- worker threads ---------------------------------------------------------------------
    def follow(self, post: Callable[[int], object], cancelled: Callable[[], bool]) -> None:
        """Read the ledgers until ``cancelled()`` or :meth:`close`; after each read, ``post``
        the number of changed runs waiting (a reader thread's loop)."""
        while not cancelled() and self._read():
            with self._lock:
                waiting = sum(len(runs) for read in self._reads for runs in read.runs)
            post(waiting)
            self._wake.wait(self.interval)

    def flush(self) -> None:
        """Send the queued commands, in order (from a thread worker)."""
        with self._io:
            if not self._closed:
                self._send_queued()

    def _read(self) -> bool:
        with self._io:
            if self._closed:
                return False
            self._read_locked()
            return True

    def _read_locked(self) -> None:
        read = self.model.read(self._since)
        self._since = read.revs
        with self._lock:
            self._reads.append(read)

    def _send_queued(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, []
        for target, verb in outbox:
            self.model.send(target, verb)
