"""The main screen: header, variant tree, and the selected run's details, curves and log."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Tree

from slc_tui.engine.ledger import RunRecord
from slc_tui.states import RunState
from slc_tui.sweep.state import SweepState
from slc_tui.ui.commands import (
    MAX_CURVES,
    runs_under,
    variant_dirs,
)
from slc_tui.ui.curves import Curves
from slc_tui.ui.log_view import LogView
from slc_tui.ui.proc_stats import ProcessSampler
from slc_tui.ui.run_actions import RunActions
from slc_tui.ui.run_details import RunDetails
from slc_tui.ui.status_bar import StatusBar
from slc_tui.ui.variant_tree import NodeData, VariantTree

LEDGER_POLL = 0.5
"""Seconds between two reads of the ledgers."""
LOG_POLL = 0.1
"""Seconds between two reads of the visible log."""
STATS_POLL = 1.0
"""Seconds between two samples of the selected run's processes (and its curves)."""


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

    def __init__(self, model: SweepState) -> None:
        super().__init__(model)
        self.following = True
        """Whether the cursor still follows the first running run (until the user moves it)."""
        self._sampler = ProcessSampler()
        self._shown_log: tuple[Any, int] | None = None
        self._placed: NodeData | None = None
        self._wanted: NodeData | None = None

    def compose(self) -> ComposeResult:
        """Header, tree on the left, details / curves / log on the right, footer."""
        yield StatusBar(self.model, id="status")
        with Horizontal(id="body"):
            yield VariantTree(self.model, id="tree")
            with Vertical(id="right"):
                yield RunDetails(id="details")
                yield Curves(id="curves")
                yield LogView(id="log")
        yield Input(placeholder="search run names (enter keeps, esc clears)", id="search")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """First read, then the timers."""
        self.query_one("#log", LogView).border_title = "output.log"
        self.model.poll()
        tree = self.query_one(VariantTree)
        tree.border_title = "Variants"
        tree.rebuild()
        tree.focus()
        self.query_one(StatusBar).update()
        self.call_after_refresh(self._select_first)
        self.set_interval(LEDGER_POLL, self.poll_ledger)
        self.set_interval(LOG_POLL, self.query_one(LogView).poll)
        self.set_interval(STATS_POLL, self.refresh_selection)

    def _select_first(self) -> None:
        first = self.first_selection()
        if first is not None:
            self._place(first)

    def _place(self, data: NodeData) -> None:
        """Put the cursor on ``data`` for the user (not a move of theirs)."""
        self._placed = data
        self._wanted = None
        self.query_one(VariantTree).select_data(data)
        self.selected = data
        self.show_selection(reload_log=True)

    def first_selection(self) -> NodeData | None:
        """What the cursor starts on: a running run, else a failed one, else the first run."""
        runs = self.model.runs
        for state in (RunState.RUNNING, RunState.FAILED):
            for key, run in runs.items():
                if run.state == state:
                    return ("run", key)
        return ("run", next(iter(runs))) if runs else None

    def follow(self) -> None:
        """While following, move the cursor to the first running run (when it changed)."""
        if not self.following:
            return
        shows = self.query_one(VariantTree).shows
        runs = self.model.runs.items()
        running = next((k for k, r in runs if r.state == RunState.RUNNING and shows(k)), None)
        if running is not None and self.selected != ("run", running):
            self._place(("run", running))
        elif self.selected is None and self.model.runs:
            self._select_first()

    # -- polling ----------------------------------------------------------------------------
    def poll_ledger(self) -> None:
        """Read the ledgers; refresh the tree, header and selection with what changed."""
        changed = self.model.poll()
        tree = self.query_one(VariantTree)
        if changed and not tree.update_runs(changed):
            self._rebuild_tree()
        self.query_one(StatusBar).update()
        if self.selected and any(k in changed for k in runs_under(self.model, self.selected)):
            self.show_selection(reload_log=False)
        if changed:
            self.follow()

    def refresh_selection(self) -> None:
        """Sample the selected run's processes and redraw its details and curves."""
        if self.selected is not None:
            self.show_selection(reload_log=False)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        """The cursor moved: show the node under it; a move by the user ends following."""
        if event.node is not self.query_one(VariantTree).cursor_node:
            return  # the cursor has moved on since: a newer event follows
        if event.node.data != self._placed:
            self.following = False
            self._wanted = None
        if event.node.data == self.selected and self._shown_log is not None:
            return
        self.selected = event.node.data
        self.show_selection(reload_log=True)

    def _log_run(self, keys: list[Any]) -> RunRecord | None:
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
        details = self.query_one(RunDetails)
        keys = runs_under(self.model, data)
        if data[0] == "run" and keys:
            run = self.model.runs[keys[0]]
            usage = self._sampler.sample(run.pid) if run.state == RunState.RUNNING else None
            details.show_run(run, usage, self.model.clock())
        else:
            title = self.model.grid_name(data[1]) if data[0] == "grid" else data[1][1]
            params = self.model.runs[keys[0]].params if data[0] == "variant" and keys else {}
            details.show_group(title, self.model.summary(keys), params)
        curves = self.query_one(Curves)
        if curves.display and data[0] == "grid":
            curves.load_variants(variant_dirs(self.model, data[1]))
        elif curves.display:
            curves.load([self.model.runs[k].output_dir for k in keys[:MAX_CURVES]])
        shows = self.query_one(VariantTree).shows
        log_run = self._log_run([k for k in keys if shows(k)] or keys)
        shown = (log_run.name, log_run.attempt) if log_run else None
        if reload_log or shown != self._shown_log:
            self._shown_log = shown
            self._show_log(log_run)

    def _show_log(self, run: RunRecord | None) -> None:
        log = self.query_one(LogView)
        if run is None:
            log.border_title = "output.log"
            log.show(None, fallback="no output yet")
            return
        log.border_title = f"{run.name} · output.log"
        log.show(
            Path(run.output_dir) / "output.log", run.tail, at_traceback=run.state == RunState.FAILED
        )

    # -- actions ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        """Show the next state filter's runs only."""
        from slc_tui.ui.variant_tree import FILTERS

        tree = self.query_one(VariantTree)
        tree.filter_index = (tree.filter_index + 1) % len(FILTERS)
        self._retitle_tree()
        self._rebuild_tree()

    def action_sort(self) -> None:
        """Order variants by the next key (plan, metric, failures, name)."""
        from slc_tui.ui.variant_tree import SORTS

        tree = self.query_one(VariantTree)
        tree.sort_index = (tree.sort_index + 1) % len(SORTS)
        self._retitle_tree()
        self._rebuild_tree()

    def _rebuild_tree(self) -> None:
        """Rebuild the tree and keep the selection; when it no longer shows, take the first run.

        The node the user chose is remembered until they move: it comes back once a later
        filter or search shows it again.
        """
        tree = self.query_one(VariantTree)
        tree.rebuild()
        wanted = self._wanted or self.selected
        target = wanted
        if target is None or not tree.holds(target):
            target = tree.first_run() or (("grid", 0) if self.model.ledgers else None)
        self._wanted = None if target == wanted else wanted
        if target is None:
            return
        self._placed = target
        tree.select_data(target)
        if target != self.selected:
            self.selected = target
            self.show_selection(reload_log=True)

    def _retitle_tree(self) -> None:
        tree = self.query_one(VariantTree)
        parts = [f"filter {tree.filter_name}" if tree.filter_index else ""]
        parts.append(f"sort {tree.sort_name}" if tree.sort_index else "")
        parts.append(f"/{tree.search}" if tree.search else "")
        tree.border_subtitle = " · ".join(p for p in parts if p)

    def action_search(self) -> None:
        """Open the search line."""
        search = self.query_one("#search", Input)
        search.add_class("-open")
        search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Narrow the tree as the search text changes."""
        tree = self.query_one(VariantTree)
        tree.search = event.value.strip()
        self._retitle_tree()
        self._rebuild_tree()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Keep the search and go back to the tree."""
        event.input.remove_class("-open")
        self.query_one(VariantTree).focus()

    def on_key(self, event: Any) -> None:
        """Escape in the search line clears it."""
        search = self.query_one("#search", Input)
        if event.key == "escape" and search.has_focus:
            search.value = ""
            search.remove_class("-open")
            self.query_one(VariantTree).focus()
            event.stop()

    def action_metric(self) -> None:
        """Plot the next metric column (one toast at a time, however fast ``m`` is pressed)."""
        curves = self.query_one(Curves)
        if not curves.display:  # folded away at this size: nothing loaded, nothing to cycle
            self._metric_toast("curves are hidden at this size")
            return
        metric = curves.cycle_metric()
        self.show_selection(reload_log=False)
        self._metric_toast(f"plotting {metric}" if metric else "no metrics yet")

    def _metric_toast(self, message: str) -> None:
        """Show ``message`` in place of the last metric toast (Textual has no public replace)."""
        for old in [n for n in self.app._notifications if n.title == "metric"]:
            self.app._unnotify(old, refresh=False)
        self.notify(message, title="metric")
