"""Asked on quit while runs still go: stop them, or leave them running in the background."""

from __future__ import annotations

from typing import ClassVar, Optional

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

STOP, LEAVE = "stop", "leave"
"""The answers: stop every run and quit, or quit and let the engine go on."""


class QuitDialog(ModalScreen[Optional[str]]):
    """Stop the runs, leave them running, or stay (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "answer('stop')", "Stop runs"),
        Binding("l", "answer('leave')", "Leave running"),
        Binding("escape,n", "answer('')", "Cancel"),
    ]

    DEFAULT_CSS = """
    QuitDialog {
        align: center middle;
    }
    QuitDialog > Vertical {
        width: auto;
        max-width: 76;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 0 1;
    }
    QuitDialog Label {
        width: 100%;
        margin-bottom: 1;
    }
    QuitDialog Horizontal {
        width: auto;
        height: auto;
    }
    QuitDialog Button {
        margin: 0 1 0 0;
        min-width: 10;
    }
    """

    def __init__(self, running: int, pending: int, owns_engine: bool, attach: str = "") -> None:
        super().__init__()
        self.running = running
        """Runs still going."""
        self.pending = pending
        """Runs not started yet."""
        self.owns_engine = owns_engine
        """Whether this dashboard started the engine (only wording differs)."""
        self.attach = attach
        """The command that brings the dashboard back."""
        self._leave = Button("Leave running (l)", id=LEAVE, variant="primary", compact=True)

    def compose(self) -> ComposeResult:
        """The question and three buttons."""
        runs = f"{self.running} run{'s' if self.running != 1 else ''} running"
        if self.pending:
            runs += f" and {self.pending} pending"
        engine = "the engine started here" if self.owns_engine else "the engine"
        with Vertical():
            yield Label(
                f"{runs}.\nStop them now, or leave them to {engine} in the background?\n"
                f"[dim]{self.attach or 'slc-tui attach GRID.toml'}[/] brings the dashboard back."
            )
            with Horizontal():
                yield Button("Stop runs (s)", id=STOP, variant="error", compact=True)
                yield self._leave
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Leaving the runs is the safe default."""
        self._leave.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.action_answer(event.button.id if event.button.id in (STOP, LEAVE) else "")

    def action_answer(self, answer: str) -> None:
        """Close with ``answer`` (empty: cancel)."""
        self.dismiss(answer or None)
