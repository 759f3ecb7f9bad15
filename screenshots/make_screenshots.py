"""Make the README's pictures of the real dashboard on the bundled example grids.

Run it from anywhere (about two minutes; needs ``rsvg-convert``, Debian ``librsvg2-bin``)::

    .venv/bin/python screenshots/make_screenshots.py [--out DIR] [--svg]

It runs ``grids/sweep.toml`` and ``grids/failing.toml`` for real, each with a background
engine in a temporary directory, opens the dashboard on them with ``App.run_test`` and a
Pilot, saves SVG screenshots and turns them into PNGs:

- ``dashboard.png``: the sweep running, 120x36: runs in several states, the selected running
  run's details, learning curve and live log;
- ``small.png``: the same sweep at 80x24 (curves fold away on short terminals);
- ``curves.png``: the finished sweep, a variant selected: all its seeds' curves and their mean;
- ``compare.png``: the table comparing every variant's latest metrics;
- ``failure.png``: ``grids/failing.toml`` finished, a run whose rank crashed selected, its log
  open at the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from slc_tui.engine import ledger as L
from slc_tui.states import RunState, Verb
from slc_tui.sweep.lifecycle import start_background
from slc_tui.sweep.prepare import from_files
from slc_tui.sweep.state import RunKey
from slc_tui.ui.app import SlcApp
from slc_tui.ui.log_view import LogView
from slc_tui.ui.nodes import NodeData, RunNode, VariantNode
from slc_tui.ui.variant_tree import VariantTree

REPO = Path(__file__).resolve().parent.parent
"""The repository (the grids are read from there)."""
BIG, SMALL = (120, 36), (80, 24)
"""Terminal sizes of the pictures."""


class Sweep:
    """A grid file run by a background engine in the current directory."""

    def __init__(self, grid_file: Path) -> None:
        handle, _ = start_background(from_files([str(grid_file)]))
        self.paths = handle.paths
        """The sweep's ledgers."""
        assert handle.process is not None
        self.proc = handle.process
        """The engine process."""

    def stop(self) -> None:
        """Stop the engine (it lingers while this process lives) and wait for it."""
        if self.proc.poll() is None:
            for path in self.paths:
                L.Ledger.open(path).send(Verb.STOP_ALL)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def until(pilot: Pilot, cond: Callable[[], object], timeout: float, what: str) -> None:
    """Let the app run until ``cond()`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


async def select(pilot: Pilot, app: SlcApp, data: NodeData) -> None:
    """Move the tree's cursor to ``data`` and wait until the panels show it."""
    app.screen.query_one(VariantTree).select_data(data)
    await until(pilot, lambda: app.screen.selected == data, 10, f"selecting {data}")  # type: ignore[attr-defined]
    await settle(pilot)


async def settle(pilot: Pilot) -> None:
    """Let timers fire (the log polls every 0.1 s, the ledger every 0.5 s) and redraw."""
    await pilot.pause(1.2)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def to_png(svg: Path, png: Path) -> None:
    """SVG to PNG with monospace columns intact (rsvg squeezes ``&#160;`` otherwise).

    With ``pngquant`` on the PATH (Debian ``pngquant``) the PNG shrinks to a palette of at
    most 256 colours, about a third of the size, with no difference to see.
    """
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    subprocess.run(["rsvg-convert", "-f", "png", "-o", str(png)], input=text.encode(), check=True)
    if shutil.which("pngquant"):
        quant = ["pngquant", "--quality=80-98", "--speed=1", "--force", "--output"]
        subprocess.run([*quant, str(png), str(png)], check=True)


class Camera:
    """Saves screenshots as PNGs (and SVGs when asked) into one directory."""

    def __init__(self, out: Path, keep_svg: bool) -> None:
        self.out = out
        """Where the pictures go."""
        self.keep_svg = keep_svg
        """Keep the SVGs beside the PNGs."""
        self.svg_dir = Path(tempfile.mkdtemp(prefix="slc-shots-"))

    async def shoot(self, pilot: Pilot, app: SlcApp, name: str) -> None:
        """Save the screen as ``NAME.png``."""
        await settle(pilot)
        svg = Path(app.save_screenshot(filename=f"{name}.svg", path=str(self.svg_dir)))
        png = self.out / f"{name}.png"
        to_png(svg, png)
        if self.keep_svg:
            shutil.copy(svg, self.out / svg.name)
        print(f"{png}: {png.stat().st_size // 1024} KB")


def running_with_curve(app: SlcApp, min_epoch: int) -> RunKey | None:
    """The running run with the fewest epochs past ``min_epoch`` (it goes on longest)."""
    found = [
        (run.epoch or 0, key)
        for key, run in app.model.runs.items()
        if run.state == RunState.RUNNING and (run.epoch or 0) >= min_epoch
    ]
    return min(found)[1] if found else None


async def shoot_running(
    pilot: Pilot, app: SlcApp, camera: Camera, name: str, min_epoch: int
) -> None:
    """Select a running run with a curve and shoot; again if it ended before the picture."""
    for _ in range(10):
        await until(pilot, lambda: running_with_curve(app, min_epoch), 120, "a running run")
        key = running_with_curve(app, min_epoch)
        assert key is not None
        await select(pilot, app, RunNode(key))
        await camera.shoot(pilot, app, name)
        if app.model.runs[key].state == RunState.RUNNING:
            return
    raise RuntimeError(f"{name}: every selected run ended before its picture")


def count(app: SlcApp, state: str) -> int:
    """How many runs are in ``state``."""
    return sum(r.state == state for r in app.model.runs.values())


def widest_variant(app: SlcApp, metric: str = "AverageEpRet") -> tuple[int, str]:
    """The variant whose seeds ended furthest apart (its curves show seeds and mean best)."""
    spread: dict[tuple[int, str], list[float]] = {}
    for (li, _), run in app.model.runs.items():
        value = (run.metrics or {}).get(metric)
        if isinstance(value, (int, float)):
            spread.setdefault((li, run.variant), []).append(float(value))
    return max(spread, key=lambda k: (len(spread[k]), max(spread[k]) - min(spread[k])))


async def sweep_pictures(camera: Camera) -> None:
    """dashboard, small, curves and compare, on grids/sweep.toml."""
    sweep = Sweep(REPO / "grids" / "sweep.toml")
    try:
        app = SlcApp(sweep.paths, owns_engine=True)
        async with app.run_test(size=BIG) as pilot:
            await until(pilot, lambda: count(app, RunState.SUCCEEDED) >= 5, 180, "five runs done")
            await shoot_running(pilot, app, camera, "dashboard", min_epoch=8)
        app = SlcApp(sweep.paths, owns_engine=True)
        async with app.run_test(size=SMALL) as pilot:
            await shoot_running(pilot, app, camera, "small", min_epoch=3)
        app = SlcApp(sweep.paths, owns_engine=True)
        async with app.run_test(size=BIG) as pilot:
            await until(pilot, lambda: not app.model.active(), 300, "the sweep to finish")
            await select(pilot, app, VariantNode(widest_variant(app)))
            await camera.shoot(pilot, app, "curves")
            await pilot.press("c")
            await camera.shoot(pilot, app, "compare")
    finally:
        sweep.stop()


def crashed_rank(app: SlcApp) -> RunKey | None:
    """A failed run whose rank raised mid-training (else any failed run with a traceback)."""
    failed = [(k, r) for k, r in app.model.runs.items() if r.state == RunState.FAILED]
    for key, run in failed:
        if run.params.get("crash_mode") == "raise" and run.params.get("elite_frac") == 0.2:
            return key
    return next((k for k, r in failed if "Traceback" in (r.tail or "")), None)


def traceback_shown(log: LogView) -> bool:
    """Whether a ``Traceback`` line is in the log view's visible lines."""
    top = round(log.scroll_y)
    visible = list(log.lines)[top : top + log.scrollable_content_region.height]
    return any(line.startswith("Traceback") for line in visible)


async def failure_picture(camera: Camera) -> None:
    """failure, on grids/failing.toml."""
    sweep = Sweep(REPO / "grids" / "failing.toml")
    try:
        app = SlcApp(sweep.paths, owns_engine=True)
        async with app.run_test(size=BIG) as pilot:
            await until(pilot, lambda: not app.model.active(), 300, "the failing grid to end")
            key = crashed_rank(app)
            assert key is not None, "no failed run with a traceback"
            await select(pilot, app, RunNode(key))
            log = app.screen.query_one(LogView)
            await until(pilot, lambda: traceback_shown(log), 10, "the log at the traceback")
            await camera.shoot(pilot, app, "failure")
    finally:
        sweep.stop()


async def main_async(out: Path, keep_svg: bool) -> None:
    """Every picture, each grid in its own temporary directory."""
    camera = Camera(out, keep_svg)
    try:
        for scene in (sweep_pictures, failure_picture):
            with tempfile.TemporaryDirectory(prefix="slc-shots-") as tmp:
                os.chdir(tmp)
                await scene(camera)
    finally:
        shutil.rmtree(camera.svg_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and make the pictures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    p.add_argument("--svg", action="store_true", help="keep the SVGs beside the PNGs")
    ns = p.parse_args(argv)
    if shutil.which("rsvg-convert") is None:
        print("make_screenshots: rsvg-convert is missing (apt-get install librsvg2-bin)")
        return 2
    out = ns.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    try:
        asyncio.run(main_async(out, ns.svg))
    finally:
        os.chdir(here)
    return 0


if __name__ == "__main__":
    sys.exit(main())
