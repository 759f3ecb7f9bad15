"""What the main screen's keys do to runs: stop, rerun, pause, compare, export, help, quit.

:class:`RunActions` is the main screen's base: it holds the actions that act on the runs
under the tree's cursor (or on the whole sweep), so that the screen itself keeps to layout,
the ledger reads and the selection. Commands queue in the key order and go to the ledgers
from a thread worker (SQLite may wait up to its busy timeout): the UI thread never waits.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.screen import Screen

from slc_tui.states import RunState, Verb
from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.commands import describe, describe_stop, rerun_targets, stop_targets
from slc_tui.ui.compare_table import CompareScreen, default_export_path, export_csv
from slc_tui.ui.curves import Curves
from slc_tui.ui.feed import SEND_GROUP, SweepFeed
from slc_tui.ui.help_screen import HelpScreen
from slc_tui.ui.messages import QuitAsked
from slc_tui.ui.nodes import NodeData

CONFIRM_SECONDS = 3.0
"""How long a first ``k`` waits for the second one that stops."""
HELP = {
    "stop": "stop the selected run, or the running and pending runs of a variant or grid (twice)",
    "rerun": "rerun the selected finished run, or all failed runs of a variant or grid",
    "pause": "pause starting new runs (running ones go on); again to resume",
    "filter": "show only running / failed / pending / done runs, in turn",
    "search": "search run names (enter keeps the search, esc clears it)",
    "sort": "order variants by plan, metric, failures or name",
    "compare": "variants ranked over seeds: mean ± std, 95% CI (s sorts, m metric, e exports)",
    "export": "write that ranking as CSV next to the runs (the CSV of slc-tui compare --csv)",
    "metric": "plot the next column of the progress file",
    "help": "this list",
    "quit": "quit; asks whether to stop runs that still go or leave them running",
}
"""What each action does, at length, for the help screen."""


class RunActions(Screen[None]):
    """Actions on the selected node's runs and on the sweep (the main screen's base)."""

    def __init__(self, model: SweepState, feed: SweepFeed) -> None:
        super().__init__()
        self.model = model
        """The sweep shown."""
        self.feed = feed
        """Where commands go (and reads come from)."""
        self.selected: NodeData | None = None
        """The tree node under the cursor."""
        self._armed: tuple[Any, float] | None = None

    def on_mount(self) -> None:
        """Tell the curves which runs failed: they leave those out of every mean."""
        for curves in self.query(Curves):
            curves.use_states(self.states_of)

    def states_of(self, output_dirs: list[str]) -> list[RunState | None]:
        """The states of the runs whose output folders are ``output_dirs`` (None: no run)."""
        by_dir = {r.output_dir: r.state for r in self.model.runs.values()}
        return [by_dir.get(d) for d in output_dirs]

    def action_stop(self) -> None:
        """Stop the selected run (or a variant's runs); a second ``k`` confirms."""
        keys = stop_targets(self.model, self.selected)
        if not keys:
            self.notify("nothing to stop here", severity="warning")
            return
        now = time.monotonic()
        if (
            self._armed is None
            or self._armed[0] != self.selected
            or (now - self._armed[1] > CONFIRM_SECONDS)
        ):
            self._armed = (self.selected, now)
            self.notify(f"press k again to stop {describe_stop(self.model, keys)}", title="stop?")
            return
        self._armed = None
        self.send(keys, Verb.STOP, f"stopping {describe_stop(self.model, keys)}")

    def action_rerun(self) -> None:
        """Rerun the selected finished run, or the failed runs of a variant or grid."""
        keys = rerun_targets(self.model, self.selected)
        if not keys:
            self.notify("nothing to rerun here (runs still going?)", severity="warning")
            return
        alive = self.model.alive()
        dead = sorted({li for li, _ in keys if not alive[li]})
        self.send(keys, Verb.RERUN, f"rerunning {describe(keys)}", revive=dead)

    def action_pause(self) -> None:
        """Hold back new runs (running ones go on), or start them again."""
        verb = Verb.RESUME if self.model.paused() else Verb.PAUSE
        done = "resuming" if verb == Verb.RESUME else "paused: no new runs start"
        self.send(list(range(len(self.model.ledgers))), verb, done)

    def send(
        self,
        targets: list[RunKey] | list[int],
        verb: Verb,
        done: str,
        revive: list[int] | None = None,
    ) -> None:
        """Send ``verb`` to each target (a run, or a ledger index) off the UI thread.

        Once sent, the toast ``done`` says so; then the engines of ledgers ``revive`` (which
        had ended) start again, to obey.
        """
        self.feed.queue(targets, verb)
        work = partial(self._deliver, done, revive or [])
        self.run_worker(work, thread=True, group=SEND_GROUP, name=f"send {verb}")

    def _deliver(self, done: str, revive: list[int]) -> None:
        """(A thread worker.) Send what is queued, say so, and revive ended engines."""
        self.feed.flush()
        self.notify(done)
        for li in revive:
            self._revive(li)

    def _revive(self, li: int) -> None:
        """Start an engine again for a finished sweep, so that it obeys the rerun."""
        from slc_tui.sweep.lifecycle import SweepHandle

        try:
            started = SweepHandle([self.model.ledgers[li].path]).revive()
        except Exception as exc:  # a grid file changed or broken since: say so, keep the view
            self.notify(f"could not restart the engine: {exc}", severity="error")
            return
        if not started:
            self.notify(
                "no engine to rerun with: this sweep was started from Python; run it again there",
                severity="warning",
            )

    def action_compare(self) -> None:
        """Open the table of all variants."""
        self.app.push_screen(CompareScreen(self.model))

    def action_export(self) -> None:
        """Write the comparison table as CSV."""
        path = export_csv(self.model, default_export_path(self.model))
        self.notify(f"exported {path}", title="export")

    def action_help(self) -> None:
        """List every key."""
        rows = [
            (b.key_display or b.key, HELP.get(b.action, b.description))
            for b in self._action_bindings()
        ]
        self.app.push_screen(HelpScreen(rows))

    def _action_bindings(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    def action_quit(self) -> None:
        """Quit; the app asks first when runs still go."""
        self.post_message(QuitAsked())
