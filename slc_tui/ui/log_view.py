"""The selected run's ``output.log``, following its end with bounded memory.

The file is read on the widget's own timer (every :data:`LOG_POLL`, 100 ms), at most
:data:`CHUNK` bytes a time; a run that prints faster than that is skipped ahead to its last
:data:`TAIL_BYTES`. Lines live in a deque of :data:`MAX_LINES`, and only the visible ones are
drawn (the line API). A fresh run's log moves into the run's folder while it runs (see
:mod:`slc_tui.engine.rundir`): the view reads it where it is at each poll, from the same
offset (the move is a rename: the same file).
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

LOG_POLL = 0.1
"""Seconds between two reads of the log file shown."""
MAX_LINES = 5000
"""Lines kept in memory for the selected run."""
TAIL_BYTES = 256 * 1024
"""How much of the end of a log is read when a run is selected (or after a skip)."""
CHUNK = 1024 * 1024
"""The most bytes read in one poll; a larger backlog skips ahead to the tail."""
MAX_WIDTH = 1000
"""Characters of a line that can be scrolled to."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_ERROR = re.compile(r"^(Traceback \(most recent call last\)|\w*(Error|Exception)\b)")
TRACEBACK = "Traceback (most recent call last)"


def clean(line: str) -> str:
    """A printable line: ANSI codes removed, carriage returns resolved, tabs expanded."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if "\r" in line:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
    return line.expandtabs(4)[:MAX_WIDTH]


class LogView(ScrollView, can_focus=True):
    """Shows one log file and follows its end while scrolled to the bottom."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "follow", "Follow", show=False),
        Binding("home", "scroll_home", "Top", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        """The lines in memory (the newest last)."""
        self.following = True
        """Whether new lines scroll the view to the end."""
        self.path: Path | None = None
        """The log file shown, if any."""
        self.beside: Path | None = None
        """Where that log is until it moves to :attr:`path`, if anywhere."""
        self._offset = 0
        self._partial = ""
        self._width = 0
        self._error_style = Style(color="red", bold=True)

    def on_mount(self) -> None:
        """Follow the file shown on a timer of its own."""
        self.set_interval(LOG_POLL, self.poll)

    def show(
        self,
        path: Path | None,
        fallback: str = "",
        at_traceback: bool = False,
        beside: Path | None = None,
    ) -> None:
        """Show ``path`` from its tail (``fallback`` text when it does not exist), or
        ``beside``, where the log is until it moves to ``path``.

        With ``at_traceback`` the view opens at the last traceback instead of the end.
        """
        self.path, self.beside = path, beside
        self.lines.clear()
        self._offset, self._partial, self._width = 0, "", 0
        self.following = True
        where = self._where()
        if where is not None and where.exists():
            self._offset = max(where.stat().st_size - TAIL_BYTES, 0)
            self._read(skip_first=self._offset > 0)
        elif fallback:
            self._append(fallback.split("\n"))
        self._resize()
        start = self._traceback_line() if at_traceback else None
        if start is not None:
            self.following = False
            self.scroll_to(y=start, animate=False, immediate=True, force=True)
        else:
            self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)
        self._update_title()
        self.refresh()

    def poll(self) -> None:
        """Read what was appended to the file since the last poll."""
        if self.path is None:
            return
        before = (len(self.lines), self._partial, self._offset)
        dropped = self._read()
        if (len(self.lines), self._partial, self._offset) == before:
            return
        self._resize()
        if self.following:
            self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)
        elif dropped:
            y = max(self.scroll_y - dropped, 0)
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        self.refresh()

    def _where(self) -> Path | None:
        """Where the log is now: :attr:`path`, else :attr:`beside` (else :attr:`path`)."""
        path, beside = self.path, self.beside
        if path is None or beside is None or path.exists() or not beside.exists():
            return path
        return beside

    def _read(self, skip_first: bool = False) -> int:
        """Read new bytes; return how many old lines fell out of the deque."""
        where = self._where()
        assert where is not None
        try:
            size = where.stat().st_size
        except OSError:
            return 0
        if size < self._offset:  # rewritten (a rerun): start again
            self.lines.clear()
            self._offset, self._partial = 0, ""
        if size - self._offset > CHUNK:
            skipped = size - TAIL_BYTES - self._offset
            self._partial = ""
            self._append([f"… {skipped / 1e6:.1f} MB skipped …"])
            self._offset = size - TAIL_BYTES
            skip_first = True
        if size == self._offset:
            return 0
        try:
            with open(where, "rb") as f:
                f.seek(self._offset)
                data = f.read(min(size - self._offset, CHUNK))
        except OSError:  # moved into the run's folder just now: read it there next time
            return 0
        self._offset += len(data)
        parts = (self._partial + data.decode("utf-8", errors="replace")).split("\n")
        self._partial = parts.pop()
        if skip_first and parts:
            parts = parts[1:]
        return self._append(parts)

    def _append(self, lines: list[str]) -> int:
        dropped = max(len(self.lines) + len(lines) - MAX_LINES, 0)
        for line in lines[-MAX_LINES:]:
            text = clean(line)
            self._width = max(self._width, len(text))
            self.lines.append(text)
        return dropped

    def _resize(self) -> None:
        count = len(self.lines) + (1 if self._partial else 0)
        self.virtual_size = Size(self._width, count)

    def _traceback_line(self) -> int | None:
        for i in range(len(self.lines) - 1, -1, -1):
            if self.lines[i].startswith(TRACEBACK):
                return i
        return None

    def _update_title(self) -> None:
        if self.path is None:
            self.border_subtitle = ""
        else:
            self.border_subtitle = "following" if self.following else "End to follow"

    def watch_scroll_y(self, old: float, new: float) -> None:
        """Follow again when scrolled to the bottom; stop following when scrolled up."""
        super().watch_scroll_y(old, new)
        following = new >= self.max_scroll_y
        if following != self.following:
            self.following = following
            self._update_title()

    def on_resize(self) -> None:
        """Stay at the end when following (the panel may have grown or shrunk)."""
        if self.following:
            self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)

    def action_follow(self) -> None:
        """Jump to the end and follow it."""
        self.following = True
        self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)
        self._update_title()

    def render_line(self, y: int) -> Strip:
        """One visible line of the log."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index < len(self.lines):
            text = self.lines[index]
        elif index == len(self.lines) and self._partial:
            text = clean(self._partial)
        else:
            return Strip.blank(width, base)
        style = base + self._error_style if _ERROR.match(text) else base
        strip = Strip([Segment(text, style)]).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)
