"""The dashboard's own messages: what goes up from a worker or a widget to the screen and app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class LedgersRead(Message):
    """The ledger worker read the ledgers again; what it found waits in the feed.

    High-rate and coalescing: a newer one replaces one not handled yet, and loses nothing,
    since the reads themselves queue in :class:`~slc_tui.ui.feed.SweepFeed` until taken.
    It bubbles from the main screen up to the app (which waits on it while runs stop).
    """

    runs: int
    """Changed runs read so far and not yet taken (0: only the engines' meta was read)."""

    def can_replace(self, message: Message) -> bool:
        """A newer read supersedes an older one."""
        return isinstance(message, LedgersRead)


class QuitAsked(Message):
    """The user asked to quit (``q``); the app decides whether to ask first."""
