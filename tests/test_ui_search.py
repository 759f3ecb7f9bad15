"""The dashboard shows a search's best variant so far, from the ledger's meta."""

from __future__ import annotations

from pathlib import Path

from ui_fixtures import clock, make_sweep, until

from slc_tui.ui.app import SlcApp


async def test_header_shows_the_search_and_its_best_so_far(in_tmp: Path) -> None:
    ledger = make_sweep(in_tmp)
    app = SlcApp([ledger.path], clock=clock)
    async with app.run_test(size=(200, 40)) as pilot:
        status = app.screen.query_one("#status")
        await until(pilot, lambda: "cartpole" in status.render().plain)
        assert "search" not in status.render().plain  # no search: nothing said
        ledger.set_meta(search={"method": "optuna", "trials": 12, "done": 3, "metric": "Score",
                                "mode": "max", "objective": "mean", "best": "cartpole_pop32",
                                "value": 412.25})  # fmt: skip
        await until(pilot, lambda: "search 3/12 best pop32 412.2" in status.render().plain)
        ledger.set_meta(search={"method": "optuna", "trials": 12, "done": 4, "best": None})
        await until(pilot, lambda: "search 4/12" in status.render().plain)
        assert "best" not in status.render().plain
