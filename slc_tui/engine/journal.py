"""The journal: an append-only file of JSON lines beside the ledger (``NAME.journal``), one
line for each end of a run, written and ``fsync``'d as the run ends.

It is the ledger's backup. A ledger that is lost or corrupt is rebuilt from it (every run that
ended, as it ended, and its attempts), and a ledger that fell behind (a crash while it was
locked) catches up from it, so nothing that succeeded runs again. A line cut short by a crash
is skipped on reading.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slc_tui.engine.paths import open_private
from slc_tui.engine.records import RunRecord, record_of_dict
from slc_tui.states import FINISHED

TAIL_KEPT = 4000
"""Characters of a run's output tail kept in its journal line."""


class Journal:
    """The journal of one grid, open for appending (the engine's)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._waiting: list[bytes] = []
        self._torn = False  # a short write left a line cut short: end it before the next
        self.error = ""
        """Why the last append failed ("" once the journal is written again)."""

    def end(self, record: RunRecord) -> bool:
        """Append the end of an attempt of a run (with what is not yet written); True once
        it is on disk."""
        values = dataclasses.asdict(record)
        values.pop("rev", None)
        values["tail"] = values["tail"][-TAIL_KEPT:]
        line = {"end": values, "t": time.time()}
        self._waiting.append((json.dumps(line, default=str) + "\n").encode())
        return self.flush()

    def flush(self) -> bool:
        """Write what waits (after a full disk); True when nothing waits any more."""
        if not self._waiting or self._fd < 0:
            return not self._waiting
        data = b"\n" * self._torn + b"".join(self._waiting)
        try:
            written = os.write(self._fd, data)
            if written < len(data):  # the disk filled up; the next write ends the cut line
                self._torn = True
                raise OSError(28, "No space left on device")
            self._torn = False
            os.fsync(self._fd)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            return False
        self._waiting.clear()
        self.error = ""
        return True

    def intact(self) -> bool:
        """Whether the journal file at :attr:`path` is still the one open here."""
        try:
            st, fst = os.lstat(self.path), os.fstat(self._fd)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)

    def reopen(self, records: list[RunRecord]) -> None:
        """After the journal was deleted: start a new one with the last end of each finished
        run of ``records`` (what the engine knows; the older attempts went with the file)."""
        if self.intact():
            return
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        for record in records:
            if record.state in FINISHED and record.attempt:
                self.end(record)

    @property
    def behind(self) -> int:
        """Ends not yet written."""
        return len(self._waiting)

    def close(self) -> None:
        """Write what waits, if it can, and close."""
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The journal's lines, oldest first (none when there is no journal)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    for raw in data.split(b"\n"):
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut short (or a short write that a later line completed)
        if isinstance(line, dict):
            yield line


def ends(path: str | os.PathLike[str]) -> tuple[dict[str, RunRecord], list[RunRecord]]:
    """Each run's last end in the journal, by name, and every end (its attempts), in order."""
    last: dict[str, RunRecord] = {}
    every: list[RunRecord] = []
    for line in lines(path):
        values = line.get("end")
        if not isinstance(values, dict):
            continue
        try:
            record = record_of_dict(values)
        except (TypeError, ValueError):
            continue
        every.append(record)
        last[record.name] = record
    return last, every
