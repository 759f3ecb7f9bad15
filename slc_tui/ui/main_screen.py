"""The main screen: header, variant tree, and the selected run's details, curves and log.

One thread worker reads the ledgers (:class:`~slc_tui.ui.feed.SweepFeed`) and posts a
coalescing :class:`~slc_tui.ui.messages.LedgersRead`; the screen takes the read in on the UI
thread and calls down into its widgets with what changed. The tree posts
:class:`VariantTree.Chosen` up when its cursor rests somewhere; the log follows its file on
its own timer.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.rundir import log_paths
from slc_tui.states import RunState
from slc_tui.sweep.state import RunKey, SweepState
from slc_tui.ui.commands import MAX_CURVES, runs_under, variant_dirs
from slc_tui.ui.curves import Curves
from slc_tui.ui.feed import SweepFeed
from slc_tui.ui.log_view import LogView
from slc_tui.ui.messages import LedgersRead
from slc_tui.ui.nodes import GridNode, NodeData, RunNode, VariantNode
from slc_tui.ui.proc_stats import ProcessSampler
from slc_tui.ui.run_actions import RunActions
from slc_tui.ui.run_details import RunDetails
from slc_tui.ui.status_bar import StatusBar
from slc_tui.ui.variant_tree import VariantTree

STATS_POLL = 1.0
"""Seconds between two samples of the selected run's processes (and reads of its curves)."""


class MainScreen(RunActions):
    """Everything at a glance; keys act on the node under the tree's cursor.

    Until the user moves the cursor, it follows the first running run (the dashboard often
    opens before any run has started).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "stop", "stop"),
        Binding("r", "rerun", "rerun"),
        Binding("p", "pause", "pause"),
        Binding("f", "filter", "filter"),
        Binding("slash", "search", "search", key_display="/"),
        Binding("s", "sort", "sort"),
        Binding("c", "compare", "compare"),
        Binding("e", "export", "csv"),
        Binding("m", "metric", "metric", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]
    # Textual annotates these as instance variables (mypy), so no ClassVar here.
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-narrow"),
        (110, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-short"),
        (32, "-tall"),
    ]

    def __init__(self, model: SweepState, feed: SweepFeed) -> None:
        super().__init__(model, feed)
        self.following = True
        """Whether the cursor still follows the first running run (until the user moves it)."""
        self.status_bar = StatusBar(model, id="status")
        """The header."""
        self.variant_tree = VariantTree(model, id="tree")
        """Grids, variants and runs; its cursor is the selection."""
        self.details = RunDetails(id="details")
        """What the selection is."""
        self.curves = Curves(id="curves")
        """The selection's learning curves."""
        self.log_view = LogView(id="log")
        """The output of the selection's run."""
        self.search_line = Input(
            placeholder="search run names (enter keeps, esc clears)", id="search"
        )
        """Where ``/`` types a search."""
        self._sampler = ProcessSampler()
        self._shown_log: tuple[str, int] | None = None
        self._shown_at = 0.0
        self._metric_toast_until = 0.0

    def compose(self) -> ComposeResult:
        """Header, tree on the left, details / curves / log on the right, footer."""
        yield self.status_bar
        with Horizontal(id="body"):
            yield self.variant_tree
            with Vertical(id="right"):
                yield self.details
                yield self.curves
                yield self.log_view
        yield self.search_line
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """A first read (so the first frame shows the sweep), then the ledger reader."""
        self.log_view.border_title = "output.log"
        self.feed.read_now()
        tree = self.variant_tree
        tree.border_title = "Variants"
        tree.rebuild()
        tree.focus()
        self.status_bar.update()
        self.call_after_refresh(self._select_first)
        self.run_worker(self._read_ledgers, thread=True, group="ledgers", name="ledger reader")

    def _read_ledgers(self) -> None:
        """(The reader thread.) Read the ledgers until the screen goes or the feed closes."""
        worker = get_current_worker()
        self.feed.follow(lambda n: self.post_message(LedgersRead(n)), lambda: worker.is_cancelled)

    def _select_first(self) -> None:
        first = self.first_selection()
        if first is not None:
            self._place(first)

    def _place(self, data: NodeData) -> None:
        """Put the cursor on ``data`` for the user (not a move of theirs)."""
        self.variant_tree.place(data)
        self.selected = data
        self.show_selection(reload_log=True)

    def first_selection(self) -> RunNode | None:
        """What the cursor starts on: a running run, else a failed one, else the first run."""
        runs = self.model.runs
        for state in (RunState.RUNNING, RunState.FAILED):
            for key, run in runs.items():
                if run.state == state:
                    return RunNode(key)
        return RunNode(next(iter(runs))) if runs else None

    def follow(self) -> None:
        """While following, move the cursor to the first running run (when it changed)."""
        if not self.following:
            return
        shows = self.variant_tree.shows
        runs = self.model.runs.items()
        running = next((k for k, r in runs if r.state == RunState.RUNNING and shows(k)), None)
        if running is not None and self.selected != RunNode(running):
            self._place(RunNode(running))
        elif self.selected is None and self.model.runs:
            self._select_first()

    # -- what goes up -----------------------------------------------------------------------
    def on_ledgers_read(self, message: LedgersRead) -> None:
        """Take the reads in; refresh the tree, header and selection with what changed.

        The selection is redrawn when its runs changed, and at least every
        :data:`STATS_POLL` seconds for its processes' usage and its curves. The message goes
        on up to the app.
        """
        changed = self.feed.take()
        if changed and not self.variant_tree.update_runs(changed):
            self._rebuild_tree()
        self.status_bar.update()
        if self.selected is not None and (
            time.monotonic() - self._shown_at >= STATS_POLL * 0.9
            or not changed.isdisjoint(runs_under(self.model, self.selected))
        ):
            self.show_selection(reload_log=False)
        if changed:
            self.follow()

    def on_variant_tree_chosen(self, message: VariantTree.Chosen) -> None:
        """The cursor rests on a node: show it; a move by the user ends following."""
        cursor = self.variant_tree.cursor_node
        if cursor is None or cursor.data != message.data:
            return  # the cursor has moved on since: a newer message follows
        if message.by_user:
            self.following = False
        if message.data == self.selected and self._shown_log is not None:
            return
        self.selected = message.data
        self.show_selection(reload_log=True)

    # -- what goes down ---------------------------------------------------------------------
    def _log_run(self, keys: list[RunKey]) -> RunRecord | None:
        """The run whose log a variant shows: a running one, else a failed one, else the last."""
        runs = [self.model.runs[k] for k in keys]
        for state in (RunState.RUNNING, RunState.FAILED):
            for run in runs:
                if run.state == state:
                    return run
        started = [r for r in runs if r.state != RunState.PENDING]
        return started[-1] if started else None

    def show_selection(self, reload_log: bool) -> None:
        """Fill details, curves and log for the selected node."""
        data = self.selected
        if data is None:
            return
        self._shown_at = time.monotonic()
        keys = runs_under(self.model, data)
        if isinstance(data, RunNode) and keys:
            run = self.model.runs[keys[0]]
            running = run.state == RunState.RUNNING
            usage = self._sampler.sample(run.pid, run.gpus) if running else None
            self.details.show_run(run, usage, self.model.clock())
        else:
            title = self.model.grid_name(data.li) if isinstance(data, GridNode) else data.key[1]
            params = (
                self.model.runs[keys[0]].params if isinstance(data, VariantNode) and keys else {}
            )
            self.details.show_group(title, self.model.summary(keys), params)
        if self.curves.display and isinstance(data, GridNode):
            self.curves.load_variants(variant_dirs(self.model, data.li))
        elif self.curves.display:
            self.curves.load([self.model.runs[k].output_dir for k in keys[:MAX_CURVES]])
        shows = self.variant_tree.shows
        log_run = self._log_run([k for k in keys if shows(k)] or keys)
        shown = (log_run.name, log_run.attempt) if log_run else None
        if reload_log or shown != self._shown_log:
            self._shown_log = shown
            self._show_log(log_run)

    def _show_log(self, run: RunRecord | None) -> None:
        log = self.log_view
        if run is None:
            log.border_title = "output.log"
            log.show(None, fallback="no output yet")
            return
        log.border_title = f"{run.name} · output.log"
        final, beside = log_paths(run.output_dir)
        log.show(final, run.tail, at_traceback=run.state == RunState.FAILED, beside=beside)

    def _rebuild_tree(self) -> None:
        """Rebuild the tree, keeping the selection (or showing where the cursor went)."""
        target = self.variant_tree.rebuild_keeping(self.selected)
        if target is not None and target != self.selected:
            self.selected = target
            self.show_selection(reload_log=True)

    # -- actions ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        """Show the next state filter's runs only."""
        self.variant_tree.cycle_filter()
        self._rebuild_tree()

    def action_sort(self) -> None:
        """Order variants by the next key (plan, metric, failures, name)."""
        self.variant_tree.cycle_sort()
        self._rebuild_tree()

    def action_search(self) -> None:
        """Open the search line."""
        self.search_line.add_class("-open")
        self.search_line.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Narrow the tree as the search text changes."""
        self.variant_tree.set_search(event.value)
        self._rebuild_tree()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Keep the search and go back to the tree."""
        event.input.remove_class("-open")
        self.variant_tree.focus()

    def on_key(self, event: events.Key) -> None:
        """Escape in the search line clears it."""
        search = self.search_line
        if event.key == "escape" and search.has_focus:
            search.value = ""
            search.remove_class("-open")
            self.variant_tree.focus()
            event.stop()

    def action_metric(self) -> None:
        """Plot the next metric column (one toast at a time, however fast ``m`` is pressed)."""
        if not self.curves.display:  # folded away at this size: nothing loaded, nothing to cycle
            self._metric_toast("curves are hidden at this size")
            return
        metric = self.curves.cycle_metric()
        self.show_selection(reload_log=False)
        self._metric_toast(f"plotting {metric}" if metric else "no metrics yet")

    def _metric_toast(self, message: str) -> None:
        """Show ``message`` in place of the last metric toast.

        Textual 8.2 takes down one toast only through private API, so while the last metric
        toast is up, every toast goes (:meth:`App.clear_notifications`) before the new one.
        """
        now = time.monotonic()
        if now < self._metric_toast_until:
            self.app.clear_notifications()
        timeout = self.app.NOTIFICATION_TIMEOUT
        self.notify(message, title="metric", timeout=timeout)
        self._metric_toast_until = now + timeout
