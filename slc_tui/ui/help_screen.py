"""``?``: every key binding of the dashboard, in one table."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

MOVES = [
    ("↑ ↓  j K", "move in the tree (K: up, since k stops a run)"),
    ("← →  h l", "close / open a variant; h goes to the parent"),
    ("g G  PgUp PgDn", "top / bottom / page of the tree"),
    ("enter space", "open or close a node"),
    ("tab shift+tab", "move focus: tree, log"),
    ("End (in log)", "follow the end of the log again"),
]
"""Movement keys, described once (they do not show in the footer)."""


class HelpScreen(ModalScreen[None]):
    """A table of keys and what they do."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 96;
        max-width: 96%;
        height: auto;
        max-height: 90%;
        border: round $primary;
        border-title-align: center;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.key_rows = bindings
        """(key, description) of each action binding."""

    def compose(self) -> ComposeResult:
        """The table."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, text in [*self.key_rows, *MOVES]:
            table.add_row(key, text)
        with VerticalScroll() as scroll:
            scroll.border_title = "keys · esc closes"
            yield Static(table)
