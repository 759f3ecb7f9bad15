"""Pilot tests of the dashboard on a hand-filled ledger and a fake engine (no processes)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from textual.pilot import Pilot
from ui_fixtures import (
    TRACEBACK,
    FakeEngine,
    clock,
    make_sweep,
    taken,
    toasts_shown,
    until,
    write_lines,
)

from slc_tui.engine.ledger import Ledger
from slc_tui.states import RunState
from slc_tui.ui.app import SlcApp
from slc_tui.ui.compare_table import CompareScreen
from slc_tui.ui.curves import Curves
from slc_tui.ui.help_screen import HelpScreen
from slc_tui.ui.log_view import LogView
from slc_tui.ui.nodes import GridNode, RunNode, VariantNode
from slc_tui.ui.quit_dialog import QuitDialog
from slc_tui.ui.run_details import RunDetails
from slc_tui.ui.variant_tree import VariantTree

BIG = (160, 48)


@pytest.fixture
def ledger(in_tmp: Path) -> Ledger:
    return make_sweep(in_tmp)


@pytest.fixture
def app(ledger: Ledger) -> SlcApp:
    return SlcApp([ledger.path], clock=clock)


def tree_of(app: SlcApp) -> VariantTree:
    return app.screen.query_one(VariantTree)


def leaf_texts(app: SlcApp) -> dict[str, str]:
    return {key[1]: str(node.label) for key, node in tree_of(app).run_nodes.items()}


async def select(pilot: Pilot, name: str) -> None:
    tree = tree_of(pilot.app)  # type: ignore[arg-type]
    tree.select_data(RunNode((0, name)))
    await until(pilot, lambda: pilot.app.screen.selected == RunNode((0, name)))


async def test_tree_shows_names_states_and_selects_running_run(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        await until(pilot, lambda: len(leaf_texts(app)) == 9)
        labels = leaf_texts(app)
        assert labels["cartpole_pop16_s0"].startswith("✔ s0")
        assert labels["cartpole_pop16_s20"].startswith("✘ s20")
        assert labels["cartpole_pop32_s0"].startswith("● s0")
        assert labels["cartpole_pop64_s20"].startswith("○ s20")
        assert app.screen.selected == RunNode((0, "cartpole_pop32_s0"))
        details = app.screen.query_one(RunDetails)
        assert details.border_title == "cartpole_pop32_s0"
        log = app.screen.query_one(LogView)
        assert log.lines[-1].startswith("Epoch 12")


async def test_log_follows_the_end(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.lines and log.following)
        out = Path(app.model.runs[(0, "cartpole_pop32_s0")].output_dir) / "output.log"
        write_lines(out, [f"line {i}" for i in range(200)])
        await until(pilot, lambda: log.lines[-1] == "line 199")
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y > 0)
        assert log.following and log.border_subtitle == "following"


async def test_failed_run_opens_at_its_traceback(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        await select(pilot, "cartpole_pop16_s20")
        log = app.screen.query_one(LogView)
        index = next(i for i, line in enumerate(log.lines) if line.startswith("Traceback"))
        await until(pilot, lambda: log.scroll_y == min(index, log.max_scroll_y))
        # A long log opens with the traceback at the top, not following the end.
        out = Path(app.model.runs[(0, "cartpole_pop16_s20")].output_dir) / "output.log"
        write_lines(out, [f"noise {i}" for i in range(300)], mode="w")
        write_lines(out, TRACEBACK.splitlines() + [f"after {i}" for i in range(50)])
        await select(pilot, "cartpole_pop16_s0")
        await select(pilot, "cartpole_pop16_s20")
        await until(pilot, lambda: log.scroll_y == 300 and not log.following)
        assert log.lines[300].startswith("Traceback")
        await pilot.press("tab", "end")
        await until(pilot, lambda: log.following and log.scroll_y == log.max_scroll_y)


async def test_k_twice_stops_the_selected_run(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await select(pilot, "cartpole_pop32_s0")
        await pilot.press("k")
        assert await taken(pilot, engine) == []
        await pilot.press("k")
        assert await taken(pilot, engine) == [("stop", "cartpole_pop32_s0")]
        leaf = tree_of(app).run_nodes
        await until(pilot, lambda: str(leaf[(0, "cartpole_pop32_s0")].label).startswith("⊘"))
        assert app.model.runs[(0, "cartpole_pop32_s0")].state == RunState.CANCELLED


async def test_r_reruns_a_run_or_a_variants_failures(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await select(pilot, "cartpole_pop16_s0")
        await pilot.press("r")
        assert await taken(pilot, engine) == [("rerun", "cartpole_pop16_s0")]
        tree_of(app).select_data(VariantNode((0, "cartpole_pop16")))
        await until(pilot, lambda: app.screen.selected == VariantNode((0, "cartpole_pop16")))
        await pilot.press("r")
        assert await taken(pilot, engine) == [("rerun", "cartpole_pop16_s20")]
        await select(pilot, "cartpole_pop32_s0")
        await pilot.press("r")
        assert await taken(pilot, engine) == []


async def test_p_pauses_and_resumes(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("p")
        assert await taken(pilot, engine) == [("pause", None)]
        await until(pilot, app.model.paused)
        assert "paused" in app.screen.query_one("#status").render().plain
        await pilot.press("p")
        assert await taken(pilot, engine) == [("resume", None)]


async def test_f_filters_and_slash_searches(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        await until(pilot, lambda: len(leaf_texts(app)) == 9)
        await pilot.press("f")  # running
        assert list(leaf_texts(app)) == ["cartpole_pop32_s0"]
        await pilot.press("f")  # failed
        assert list(leaf_texts(app)) == ["cartpole_pop16_s20"]
        assert "filter failed" in str(tree_of(app).border_subtitle)
        await pilot.press("f", "f", "f")  # pending, done, all
        assert len(leaf_texts(app)) == 9
        await pilot.press("slash", *"pop64")
        assert sorted(leaf_texts(app)) == [f"cartpole_pop64_s{s}" for s in (0, 10, 20)]
        await pilot.press("enter")
        assert tree_of(app).has_focus
        await pilot.press("slash", "escape")
        assert len(leaf_texts(app)) == 9


def shown(app: SlcApp) -> tuple[object, str, str]:
    """The selection, the details' title and the log's title."""
    screen = app.screen
    details = str(screen.query_one(RunDetails).border_title)
    return screen.selected, details, str(screen.query_one(LogView).border_title)  # type: ignore[attr-defined]


async def test_sort_filter_and_search_keep_the_selected_run(app: SlcApp) -> None:
    failed = "cartpole_pop16_s20"
    here = (RunNode((0, failed)), failed, f"{failed} · output.log")
    async with app.run_test(size=BIG) as pilot:
        await until(pilot, lambda: len(leaf_texts(app)) == 9)
        await select(pilot, failed)
        await pilot.press("slash", *"s20", "enter")
        await pilot.pause()
        assert shown(app) == here
        await pilot.press("s")  # sort by metric: the run stays selected
        await pilot.pause()
        assert shown(app) == here and tree_of(app).cursor_node.data == here[0]
        await pilot.press("s", "s", "s")
        await pilot.pause()
        assert shown(app) == here
        await pilot.press("f", "f")  # failed: still shown
        await pilot.pause()
        assert shown(app) == here
        await pilot.press("f")  # pending: hidden, so the first pending run shown
        await pilot.pause()
        first = "cartpole_pop32_s20"
        assert shown(app) == (RunNode((0, first)), first, "output.log")
        assert tree_of(app).cursor_node.data == RunNode((0, first))
        await pilot.press("f", "f")  # all again: back to the run chosen before
        await pilot.pause()
        assert shown(app) == here
        tree_of(app).select_data(GridNode(0))  # the grid's log: a run the search shows
        await until(pilot, lambda: shown(app)[1] == "cartpole")
        assert shown(app)[2] == here[2]


async def test_s_sorts_variants(app: SlcApp, ledger: Ledger) -> None:
    ledger.update("cartpole_pop64_s0", state="succeeded", metrics={"AverageEpRet": 900.0})
    async with app.run_test(size=BIG) as pilot:
        grid = tree_of(app).grid_nodes[0]
        order = [str(n.label).split()[0] for n in grid.children]
        assert order == ["pop16", "pop32", "pop64"]  # without the grid name they repeat
        await pilot.press("s")  # metric: the best mean first
        order = [str(n.label).split()[0] for n in tree_of(app).grid_nodes[0].children]
        assert order == ["pop64", "pop16", "pop32"]
        assert "sort metric" in str(tree_of(app).border_subtitle)
        await pilot.press("s")  # failures first
        order = [str(n.label).split()[0] for n in tree_of(app).grid_nodes[0].children]
        assert order[0] == "pop16"


async def test_c_compares_and_e_exports(app: SlcApp, in_tmp: Path) -> None:
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        assert table.row_count == 3
        await pilot.press("s", "e")
        path = in_tmp / "data" / "cartpole_compare.csv"
        await until(pilot, path.exists)
        rows = list(csv.reader(path.open()))
        from slc_tui.sweep.ranking import CSV_COLUMNS

        assert rows[0] == list(CSV_COLUMNS) and len(rows) == 4
        assert [r[1] for r in rows[1:]] == [f"cartpole_pop{p}" for p in (16, 32, 64)]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CompareScreen))


async def test_help_lists_every_footer_binding(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = [row[0] for row in app.screen.key_rows]
        assert keys == ["k", "r", "p", "f", "/", "s", "c", "e", "m", "?", "q"]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_m_cycles_the_plotted_metric(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        curves = app.screen.query_one(Curves)
        await until(pilot, lambda: curves.border_title == "AverageEpRet")
        await pilot.press("m")
        await until(pilot, lambda: curves.border_title == "EpLen")


async def test_m_at_a_size_without_curves_says_so_once(app: SlcApp) -> None:
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.screen.selected == RunNode((0, "cartpole_pop32_s0")))
        assert not app.screen.query_one(Curves).display
        await pilot.press(*"mmmmmm")
        assert await toasts_shown(pilot) == ["curves are hidden at this size"]


async def test_m_says_no_metrics_only_without_metric_columns(app: SlcApp) -> None:
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await select(pilot, "cartpole_pop64_s0")  # pending: no progress file yet
        await pilot.press("m", "m")
        assert await toasts_shown(pilot) == ["no metrics yet"]
        await select(pilot, "cartpole_pop32_s0")
        await until(pilot, lambda: app.screen.query_one(Curves).columns)
        await pilot.press("m")
        assert await toasts_shown(pilot) == ["plotting EpLen"]


async def test_quit_leave_keeps_the_runs(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("l")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 0
    assert engine.step() == []


async def test_quit_stop_stops_everything(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, QuitDialog))
        await pilot.press("q", "s")
        await until(pilot, lambda: engine.step() == [("stop_all", None)])
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 130


async def test_quit_after_the_sweep_ends_asks_nothing(app: SlcApp, ledger: Ledger) -> None:
    FakeEngine(ledger).finish_all()
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 1  # one run failed
