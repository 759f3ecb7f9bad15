"""The main screen: header, variant tree, and the selected run's details, curves and log."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Tree

from slc_tui.engine.ledger import FAILED, PENDING, RUNNING, RunRecord
from slc_tui.ui.commands import (
    MAX_CURVES,
    describe,
    describe_stop,
    rerun_targets,
    runs_under,
    stop_targets,
    variant_dirs,
)
from slc_tui.ui.compare_table import CompareScreen, default_export_path, export_csv
from slc_tui.ui.curves import Curves
from slc_tui.ui.help_screen import HelpScreen
from slc_tui.ui.log_view import LogView
from slc_tui.ui.model import SweepModel
from slc_tui.ui.proc_stats import ProcessSampler
from slc_tui.ui.run_details import RunDetails
from slc_tui.ui.status_bar import StatusBar
from slc_tui.ui.variant_tree import NodeData, VariantTree

LEDGER_POLL = 0.5
"""Seconds between two reads of the ledgers."""
LOG_POLL = 0.1
"""Seconds between two reads of the visible log."""
STATS_POLL = 1.0
"""Seconds between two samples of the selected run's processes (and its curves)."""
CONFIRM_SECONDS = 3.0
"""How long a first ``k`` waits for the second one that stops."""
HELP = {
    "stop": "stop the selected run, or the running and pending runs of a variant or grid (twice)",
    "rerun": "rerun the selected finished run, or all failed runs of a variant or grid",
    "pause": "pause starting new runs (running ones go on); again to resume",
    "filter": "show only running / failed / pending / done runs, in turn",
    "search": "search run names (enter keeps the search, esc clears it)",
    "sort": "order variants by plan, metric, failures or name",
    "compare": "table of the latest metrics of every variant (s sorts, e exports)",
    "export": "write that table as CSV next to the runs",
    "metric": "plot the next column of the progress file",
    "help": "this list",
    "quit": "quit; asks whether to stop runs that still go or leave them running",
}
"""What each action does, at length, for the help screen."""


class MainScreen(Screen[None]):
    """Everything at a glance; keys act on the node under the tree's cursor."""

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

    def __init__(self, model: SweepModel) -> None:
        super().__init__()
        self.model = model
        """The sweep shown."""
        self.selected: NodeData | None = None
        """The tree node under the cursor."""
        self._sampler = ProcessSampler()
        self._armed: tuple[Any, float] | None = None
        self._shown_log: tuple[Any, int] | None = None

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
            self.query_one(VariantTree).select_data(first)
            self.selected = first
            self.show_selection(reload_log=True)

    def first_selection(self) -> NodeData | None:
        """What the cursor starts on: a running run, else a failed one, else the first run."""
        runs = self.model.runs
        for state in (RUNNING, FAILED):
            for key, run in runs.items():
                if run.state == state:
                    return ("run", key)
        return ("run", next(iter(runs))) if runs else None

    # -- polling ----------------------------------------------------------------------------
    def poll_ledger(self) -> None:
        """Read the ledgers; refresh the tree, header and selection with what changed."""
        changed = self.model.poll()
        tree = self.query_one(VariantTree)
        if changed and not tree.update_runs(changed):
            tree.rebuild()
        self.query_one(StatusBar).update()
        if self.selected and any(k in changed for k in runs_under(self.model, self.selected)):
            self.show_selection(reload_log=False)

    def refresh_selection(self) -> None:
        """Sample the selected run's processes and redraw its details and curves."""
        if self.selected is not None:
            self.show_selection(reload_log=False)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        """The cursor moved: show the node under it."""
        self.selected = event.node.data
        self.show_selection(reload_log=True)

    def _log_run(self, keys: list[Any]) -> RunRecord | None:
        """The run whose log a variant shows: a running one, else a failed one, else the last."""
        runs = [self.model.runs[k] for k in keys]
        for state in (RUNNING, FAILED):
            for run in runs:
                if run.state == state:
                    return run
        started = [r for r in runs if r.state != PENDING]
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
            usage = self._sampler.sample(run.pid) if run.state == RUNNING else None
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
        log_run = self._log_run(keys)
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
        log.show(Path(run.output_dir) / "output.log", run.tail, at_traceback=run.state == FAILED)

    # -- actions ----------------------------------------------------------------------------
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
        what = describe_stop(self.model, keys)
        for key in keys:
            self.model.send(key, "stop")
        self.notify(f"stopping {what}")

    def action_rerun(self) -> None:
        """Rerun the selected finished run, or the failed runs of a variant or grid."""
        keys = rerun_targets(self.model, self.selected)
        if not keys:
            self.notify("nothing to rerun here (runs still going?)", severity="warning")
            return
        for key in keys:
            self.model.send(key, "rerun")
        self.notify(f"rerunning {describe(keys)}")
        alive = self.model.alive()
        for li in sorted({li for li, _ in keys if not alive[li]}):
            self.run_worker(partial(self._revive, li), thread=True, group="revive")

    def _revive(self, li: int) -> None:
        """Start an engine again for a finished sweep, so that it obeys the rerun."""
        from slc_tui.engine.api import revive

        try:
            started = revive(self.model.ledgers[li].path)
        except Exception as exc:  # a grid file changed or broken since: say so, keep the view
            self.app.call_from_thread(self.notify, f"could not restart the engine: {exc}",
                                      severity="error")  # fmt: skip
            return
        if not started:
            self.app.call_from_thread(
                self.notify,
                "no engine to rerun with: this sweep was started from Python; run it again there",
                severity="warning",
            )

    def action_pause(self) -> None:
        """Hold back new runs (running ones go on), or start them again."""
        verb = "resume" if self.model.paused() else "pause"
        for li in range(len(self.model.ledgers)):
            self.model.send(li, verb)
        self.notify("resuming" if verb == "resume" else "paused: no new runs start")

    def action_filter(self) -> None:
        """Show the next state filter's runs only."""
        from slc_tui.ui.variant_tree import FILTERS

        tree = self.query_one(VariantTree)
        tree.filter_index = (tree.filter_index + 1) % len(FILTERS)
        self._retitle_tree()
        tree.rebuild()

    def action_sort(self) -> None:
        """Order variants by the next key (plan, metric, failures, name)."""
        from slc_tui.ui.variant_tree import SORTS

        tree = self.query_one(VariantTree)
        tree.sort_index = (tree.sort_index + 1) % len(SORTS)
        self._retitle_tree()
        tree.rebuild()

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
        tree.rebuild()

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

    def action_compare(self) -> None:
        """Open the table of all variants."""
        self.app.push_screen(CompareScreen(self.model))

    def action_export(self) -> None:
        """Write the comparison table as CSV."""
        path = export_csv(self.model, default_export_path(self.model))
        self.notify(f"exported {path}", title="export")

    def action_metric(self) -> None:
        """Plot the next metric column."""
        curves = self.query_one(Curves)
        metric = curves.cycle_metric()
        self.show_selection(reload_log=False)
        self.notify(f"plotting {metric}" if metric else "no metrics yet")

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
        """Quit; ask first when runs still go."""
        self.app.action_request_quit()  # type: ignore[attr-defined]
