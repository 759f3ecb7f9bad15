"""Pilot tests of what a user trial of the dashboard found wrong (one test per finding)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable
from ui_fixtures import (
    NOW,
    FakeEngine,
    clock,
    make_sweep,
    screen_lines,
    taken,
    toasts,
    until,
)

from slc_tui.engine.ledger import Ledger
from slc_tui.states import RunState
from slc_tui.ui.app import SlcApp, run_dashboard
from slc_tui.ui.compare_table import CompareScreen
from slc_tui.ui.curves import Curves, curve, load_progress, mean_band
from slc_tui.ui.help_screen import HelpScreen
from slc_tui.ui.hints import cd_prefix
from slc_tui.ui.nodes import GridNode, NodeData, RunNode, VariantNode
from slc_tui.ui.quit_dialog import QuitDialog
from slc_tui.ui.run_details import RunDetails
from slc_tui.ui.status_bar import StatusBar
from slc_tui.ui.variant_tree import VariantTree

SMALL, BIG = (80, 24), (160, 48)
GRID = "cartpole-faulty"
POP16 = (0, f"{GRID}_pop16")
LONG_REASON = (
    "MPI rank 1 raised slc_tui.examples.faulty.InjectedFailure: rank 1 crashed at epoch 3 "
    "(crash_rank=1)"
)


@pytest.fixture
def ledger(in_tmp: Path) -> Ledger:
    """The fixture sweep under a long grid name, its failed run with a long MPI reason."""
    book = make_sweep(in_tmp, grid=GRID)
    book.update(f"{GRID}_pop16_s20", reason=LONG_REASON)
    return book


@pytest.fixture
def app(ledger: Ledger) -> SlcApp:
    return SlcApp([ledger.path], clock=clock)


def region_text(app: SlcApp, widget: object) -> str:
    """The drawn lines inside ``widget``'s content region, stripped and joined by spaces."""
    region = widget.content_region  # type: ignore[attr-defined]
    lines = screen_lines(app)[region.y : region.bottom]
    return " ".join(line[region.x : region.right].strip() for line in lines)


def notes(app: SlcApp) -> list[str]:
    """The messages of the notifications shown so far (their toasts, oldest first)."""
    return toasts(app)


async def select(pilot: Pilot, data: NodeData) -> None:
    pilot.app.screen.query_one(VariantTree).select_data(data)
    await until(pilot, lambda: pilot.app.screen.selected == data)
    await pilot.pause()


async def test_80x24_names_variants_without_the_grid_and_shows_a_whole_reason(
    app: SlcApp,
) -> None:
    async with app.run_test(size=SMALL) as pilot:
        await select(pilot, RunNode((0, f"{GRID}_pop16_s20")))
        tree = app.screen.query_one(VariantTree)
        tree_text = region_text(app, tree)
        for pop, summary in (("pop16", "2/3 ✘1"), ("pop32", "0/3 ●1"), ("pop64", "0/3")):
            assert f"▼ {pop}  {summary}" in tree_text, tree_text
        assert f"{GRID}_pop" not in tree_text
        assert "✘ s20 ep   3  Injected" in tree_text  # the tree's short form of the reason
        details = app.screen.query_one(RunDetails)
        assert details.border_title == f"{GRID}_pop16_s20"  # full names stay in the details
        await until(pilot, lambda: LONG_REASON in region_text(app, details))
        assert region_text(app, details).startswith("✘ failed · MPI rank 1 raised")


async def test_k_on_a_variant_names_its_running_and_pending_runs(
    app: SlcApp, ledger: Ledger
) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await select(pilot, VariantNode((0, f"{GRID}_pop32")))
        await pilot.press("k")
        await until(pilot, lambda: notes(app))
        assert notes(app)[-1] == "press k again to stop 1 running and 2 pending runs"
        assert await taken(pilot, engine) == []
        await pilot.press("k")
        await until(pilot, lambda: len(notes(app)) == 2)
        assert notes(app)[-1] == "stopping 1 running and 2 pending runs"
        stopped = [t for _, t in await taken(pilot, engine)]
        assert stopped == [f"{GRID}_pop32_s{s}" for s in (0, 10, 20)]
        await select(pilot, RunNode((0, f"{GRID}_pop64_s0")))
        await pilot.press("k")
        await until(pilot, lambda: len(notes(app)) == 3)
        assert notes(app)[-1] == f"press k again to stop {GRID}_pop64_s0 (pending)"
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        stop_help = dict(app.screen.key_rows)["k"]
        assert "running and pending" in stop_help and "variant" in stop_help


async def test_curves_of_a_grid_are_one_seed_mean_per_variant(app: SlcApp) -> None:
    async with app.run_test(size=BIG) as pilot:
        curves = app.screen.query_one(Curves)
        await select(pilot, GridNode(0))
        # pop16 (3 seeds) and pop32 (1 running seed) have progress files; pop64 none yet.
        await until(pilot, lambda: len(curves.series) == 2)
        assert curves.border_subtitle == "2 variants (seed means) · m metric"
        assert [s.label for s in curves.series] == ["pop16", "pop32"]  # the legend, no prefix
        # The mean leaves the failed seed (s20, 3 epochs) out: the two that succeeded.
        keys = app.model.variants[POP16][:2]
        seeds = [load_progress(app.model.runs[k].output_dir) for k in keys]
        expected, _ = mean_band([curve(cols, rows, "AverageEpRet") for cols, rows in seeds])
        assert curves.series[0].points == expected and len(expected) == 20
        await select(pilot, VariantNode(POP16))
        await until(pilot, lambda: curves.border_subtitle.startswith("2 seeds + mean"))
        assert curves.border_subtitle == "2 seeds + mean, 1 failed left out · m metric"
        assert [s.label for s in curves.series] == ["s0", "s10", "✘ s20", "mean"]
        mean = curves.series[-1]
        assert mean.points == expected and mean.band is not None and mean.band_label == "± std"
        text = region_text(app, curves)
        assert "━ s0  ━ s10  ━ ✘ s20  ━ mean  █ ± std" in text, text


async def test_compare_puts_variants_that_cannot_succeed_last(app: SlcApp, ledger: Ledger) -> None:
    for s in (0, 10, 20):  # pop64: every run failed part-way, with a high partial return
        ledger.update(
            f"{GRID}_pop64_s{s}", state=RunState.FAILED, epoch=2, metrics={"AverageEpRet": 900.0}
        )
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        table = app.screen.query_one(DataTable)
        variants = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        # pop16 succeeded, pop32 still runs, pop64 can no longer succeed: last, marked, and
        # its failed runs' partial 900 is in no mean.
        assert variants == ["pop16", "pop32", "✘ pop64"]  # no grid prefix: it is the title's
        assert str(table.get_row_at(2)[4]) == "-" and str(table.get_row_at(2)[2]) == "0 ✘3"
        assert str(table.border_title).startswith(f"{GRID} · AverageEpRet at the final epoch")
        assert "✘ failed variants last" in str(table.border_subtitle)
        await pilot.press("m")  # EpLen, the next metric: the same tiers
        await until(pilot, lambda: "EpLen" in str(table.border_title))
        assert str(table.get_row_at(2)[1]) == "✘ pop64"
        for _ in range(len(table.columns) - 3):  # round to the variant column: no tiers
            await pilot.press("s")
        await until(pilot, lambda: str(table.border_subtitle) == "sorted by variant")
        assert [str(table.get_row_at(i)[1]) for i in range(3)] == ["pop16", "pop32", "✘ pop64"]


def test_commands_cd_to_the_sweep_directory_when_needed(tmp_path: Path) -> None:
    assert cd_prefix(["/grids/g.toml"], cwd="/grids") == ""
    assert cd_prefix(["g.toml"], cwd="/work") == ""  # a relative grid file in the directory
    assert cd_prefix(["/grids/g.toml"], cwd="/my runs") == "cd '/my runs' && "
    assert cd_prefix(["grids/g.toml"], cwd="/work") == "cd /work && "


async def test_leaving_shows_and_prints_how_to_attach_and_stop(app: SlcApp, in_tmp: Path) -> None:
    attach = f"cd {in_tmp} && slc-tui attach grids/{GRID}.toml"
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        assert app.screen.attach == attach  # type: ignore[attr-defined]
        await until(pilot, lambda: "&& slc-tui attach" in " ".join(screen_lines(app)))
        await pilot.press("l")
        await until(pilot, lambda: app.return_value is not None)
    stop = f"cd {in_tmp} && slc-tui stop grids/{GRID}.toml"
    assert app.exit_line == (
        f"{GRID}: 2 succeeded, 1 failed, 1 running, 5 pending; the runs go on: "
        f"`{attach}` shows them, `{stop}` stops them"
    )


async def test_a_sweep_without_grid_file_names_its_ledger(ledger: Ledger, in_tmp: Path) -> None:
    ledger.set_meta(grid_file="")  # started from Python: ExperimentGrid.run(..., ui=True)
    app = SlcApp([ledger.path.relative_to(in_tmp)], clock=clock)
    book = shlex.quote(str(in_tmp / ledger.path.relative_to(in_tmp)))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        assert app.screen.attach == f"slc-tui attach {book}"  # type: ignore[attr-defined]
        await pilot.press("l")
        await until(pilot, lambda: app.return_value is not None)
    assert app.exit_line.endswith(
        f"the runs go on: `slc-tui attach {book}` shows them, `slc-tui stop {book}` stops them"
    )


async def test_stopping_leaves_one_line_of_counts(app: SlcApp, ledger: Ledger) -> None:
    engine = FakeEngine(ledger)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("q", "s")
        await until(pilot, lambda: engine.step() == [("stop_all", None)])
        await until(pilot, lambda: app.return_value is not None)
    assert app.exit_line == f"{GRID}: 2 succeeded, 1 failed, 6 cancelled"


def test_run_dashboard_prints_the_exit_line(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeEngine(ledger).finish_all(RunState.FAILED)

    def run_headless(self: SlcApp, *, mouse: bool = True) -> int | None:
        async def quit_at_once(pilot: Pilot) -> None:
            await pilot.press("q")

        return App.run(self, headless=True, size=SMALL, auto_pilot=quit_at_once, mouse=mouse)

    monkeypatch.setattr(SlcApp, "run", run_headless)
    assert run_dashboard([ledger.path], owns_engine=False) == 1
    assert capsys.readouterr().out.splitlines() == [f"{GRID}: 2 succeeded, 7 failed"]


async def test_a_finished_sweep_shows_how_long_its_runs_took(app: SlcApp, ledger: Ledger) -> None:
    FakeEngine(ledger).finish_all()
    ledger.set_meta(started=NOW + 60, ended=NOW + 60.3)  # a later --resume had nothing to do
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: "finished" in screen_lines(app)[0])
        assert "finished  03:12" in screen_lines(app)[0]


@pytest.mark.parametrize("width", [80, 120, 160])
async def test_the_header_keeps_its_label_and_style(
    ledger: Ledger, width: int, in_tmp: Path
) -> None:
    app = SlcApp([ledger.path], clock=clock)
    async with app.run_test(size=(width, 30)) as pilot:
        bar = app.screen.query_one(StatusBar)
        await until(pilot, lambda: "running" in screen_lines(app)[0])
        compact = bar.compact
        assert compact == (width < 140)
        for s in (0, 10):  # the user stops two runs; more runs start and succeed
            ledger.update(f"{GRID}_pop32_s{s}", state=RunState.CANCELLED)
        ledger.update(f"{GRID}_pop64_s0", state=RunState.RUNNING)
        ledger.update(f"{GRID}_pop64_s10", state=RunState.SUCCEEDED)
        await until(pilot, lambda: "⊘" in screen_lines(app)[0])
        header = screen_lines(app)[0]
        assert header.startswith(" slc-tui  cartpole-faulty ") and bar.compact == compact
        assert ("● 1 running" in header) != compact and ("●1 " in header) == compact
        assert re.search(r"ETA \d\d:\d\d$", header.rstrip()), header  # nothing cut off


async def test_the_cursor_follows_the_first_running_run_until_the_user_moves(
    ledger: Ledger,
) -> None:
    names = [r.name for r in ledger.runs()]
    for name in names:  # the dashboard opens before any run started
        ledger.update(name, state=RunState.PENDING, epoch=None, metrics={}, reason="")
    app = SlcApp([ledger.path], clock=clock)
    async with app.run_test(size=SMALL) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.selected == RunNode((0, names[0])))
        ledger.update(names[4], state=RunState.RUNNING, started=NOW)
        await until(pilot, lambda: screen.selected == RunNode((0, names[4])))
        assert screen.query_one(RunDetails).border_title == names[4]
        ledger.update(names[4], state=RunState.SUCCEEDED, ended=NOW)
        ledger.update(names[7], state=RunState.RUNNING, started=NOW)
        await until(pilot, lambda: screen.selected == RunNode((0, names[7])))
        await pilot.press("K")  # the user moves: the cursor stays where they put it
        await until(pilot, lambda: screen.selected == RunNode((0, names[6])))
        ledger.update(names[7], state=RunState.SUCCEEDED, ended=NOW)
        ledger.update(names[8], state=RunState.RUNNING, started=NOW)
        await until(pilot, lambda: app.model.runs[(0, names[8])].state == RunState.RUNNING)
        await pilot.pause(0.6)
        assert screen.selected == RunNode((0, names[6])) and not screen.following
