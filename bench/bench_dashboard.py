"""The dashboard under a log flood: key latency, memory and CPU of the dashboard process.

Usage::

    .venv/bin/python bench/bench_dashboard.py [--seconds 40] [--rate 100000] [--out FILE]

Each scenario starts a real background engine on a grid of :func:`flood` runs in a temporary
directory and opens the real dashboard (``SlcApp``) on it with ``App.run_test`` in this
process, so this process *is* the dashboard process (the Pilot adds next to nothing):

- ``quiet``: 4 runs that print one line a second (the baseline);
- ``flood``: 4 runs, one of which prints ``--rate`` lines a second (100,000 by default);
  the cursor moves between that run and a quiet one, so every other key reloads the
  flooding log's tail;
- ``64 runs``: 64 runs at once (a budget of 64 on this machine's cores: runs share them),
  each printing 200 lines a second and a progress row every half second; the cursor walks
  down and up the 64 runs.

Key latency is the time from a Pilot key press to the first frame the dashboard renders
(``App._display``) with the tree's cursor moved ("cursor"), and to the first frame after
the details, curves and log panels switched to the newly selected run ("panels"), and to
the last frame before 50 ms without one ("settled": the follow-up frames of the relayout;
an upper bound, as an unrelated frame, a log poll, may fall in: the table gives the rate
of frames drawn between presses). Presses come every 100 to 200 ms after the last one
settled. RSS and CPU of this process are sampled every 0.25 s.

The flood thunk lives in this file and imports nothing heavy at import time: runs load the
file by path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from slc_tui.states import RunState, Verb
from slc_tui.ui.nodes import RunNode

THIS = Path(__file__).resolve()
"""This file: the thunk reference of the runs is ``THIS:flood``."""
SETTLE = 0.05
"""A press has settled when no frame followed its last one for this many seconds."""


def flood(
    seed: int = 0,
    logger_kwargs: Any = None,
    rate: float = 1.0,
    flooder: int = -1,
    flood_rate: float = 0.0,
    secs: float = 60.0,
    **_: Any,
) -> None:
    """Print ``rate`` lines a second (``flood_rate`` for seed ``flooder``) for ``secs``.

    Lines go out in batches every 10 ms, like a chatty training loop; a progress row is
    written every half second so that curves have something to show.
    """
    rate = flood_rate if seed == flooder else rate
    out = Path((logger_kwargs or {}).get("output_dir", "."))
    out.mkdir(parents=True, exist_ok=True)
    write = sys.stdout.write
    start = time.monotonic()
    sent, epoch, next_row = 0, 0, start
    with open(out / "progress.txt", "w") as progress:
        progress.write("Epoch\tAverageEpRet\tLoss\n")
        while (now := time.monotonic()) - start < secs:
            due = int((now - start) * rate) - sent
            if due > 0:
                base = sent
                write(
                    "".join(
                        f"step {base + i:>9} | loss {((base + i) % 997) / 997:.4f} | "
                        f"reward {(base + i) % 500:>3} | seed {seed}\n"
                        for i in range(due)
                    )
                )
                sent += due
            if now >= next_row:
                progress.write(
                    f"{epoch}\t{min(500.0, 10 + epoch * 7.5 + seed)}\t{1 / (1 + epoch)}\n"
                )
                progress.flush()
                epoch += 1
                next_row += 0.5
            time.sleep(0.01)
    sys.stdout.flush()


def log_lines(paths: list[Path]) -> int:
    """About how many lines the logs hold: their bytes over the mean length of a line."""
    total = 0
    for path in paths:
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                f.seek(max(size - 65536, 0))
                tail = f.read()
        except OSError:
            continue
        total += round(size * tail.count(b"\n") / max(len(tail), 1))
    return total


def first_run_line(tree: Any) -> int:
    """The tree line of the first run (grid and variant nodes come before it)."""
    for line in range(1000):
        node = tree.get_node_at_line(line)
        if node is not None and isinstance(node.data, RunNode):
            return line
    raise RuntimeError("no run in the tree")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Meter:
    """RSS and CPU of this process, sampled on a timer."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        """This process (the dashboard)."""
        self.rss: list[tuple[float, int]] = []
        """(seconds since start, bytes) samples."""
        self.t0 = time.monotonic()
        self.cpu0 = sum(self.proc.cpu_times()[:2])

    def sample(self) -> None:
        """Take one RSS sample."""
        self.rss.append((time.monotonic() - self.t0, self.proc.memory_info().rss))

    def cpu_percent(self) -> float:
        """CPU time over wall time since the start, in % of one core."""
        wall = time.monotonic() - self.t0
        return 100 * (sum(self.proc.cpu_times()[:2]) - self.cpu0) / max(wall, 1e-9)


async def scenario(
    name: str, runs: int, rate: float, flood_rate: float, seconds: float, walk: str
) -> dict[str, Any]:
    """Run one scenario in the current directory; its numbers."""
    from slc_tui.engine import ledger as L
    from slc_tui.options import RunOptions
    from slc_tui.plan import plan_grid
    from slc_tui.run_utils import ExperimentGrid
    from slc_tui.sweep.lifecycle import start_background
    from slc_tui.sweep.prepare import from_plans
    from slc_tui.ui.app import SlcApp
    from slc_tui.ui.variant_tree import VariantTree

    grid = ExperimentGrid("flood")
    grid.add("seed", list(range(runs)))
    grid.add("rate", rate)
    grid.add("flooder", 0 if flood_rate else -1)
    grid.add("flood_rate", flood_rate)
    grid.add("secs", seconds + 30)
    options = RunOptions(max_cpus=max(runs, 2))
    plan = plan_grid(grid, f"{THIS}:flood", data_dir="data", options=options)
    handle, _ = start_background(from_plans([plan], options))
    proc, paths = handle.process, handle.paths
    assert proc is not None
    meter = Meter()
    cursor_ms: list[float] = []
    panel_ms: list[float] = []
    settled_ms: list[float] = []
    frames: list[float] = []
    idle = [0.0, 0.0]  # frames drawn, seconds: between presses
    waiting: list[tuple[Any, asyncio.Future[float]]] = []
    try:
        app = SlcApp(paths)
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            frames.append(now)
            for cond, fut in list(waiting):
                if not fut.done() and cond():
                    fut.set_result(now)
                    waiting.remove((cond, fut))

        app._display = display  # type: ignore[method-assign]
        async with app.run_test(size=(120, 36)) as pilot:
            tree = app.screen.query_one(VariantTree)
            while sum(r.state == RunState.RUNNING for r in app.model.runs.values()) < runs:
                await pilot.pause(0.1)
            await pilot.pause(2.0)  # let the flood build up a backlog in the log file
            meter = Meter()
            logs = [Path(r.output_dir) / "output.log" for r in app.model.runs.values()]
            written0 = log_lines(logs)
            first = first_run_line(tree)
            tree.move_cursor_to_line(first)
            await pilot.pause(0.5)
            last = first + runs - 1
            direction = 1
            end = time.monotonic() + seconds
            next_sample = 0.0
            while time.monotonic() < end:
                if time.monotonic() >= next_sample:
                    meter.sample()
                    next_sample = time.monotonic() + 0.25
                line = tree.cursor_line
                if walk == "bounce":
                    direction = 1 if line == first else -1
                elif line >= last:
                    direction = -1
                elif line <= first:
                    direction = 1
                target = line + direction
                node = tree.get_node_at_line(target)
                assert node is not None and node.data is not None
                data = node.data
                loop = asyncio.get_running_loop()
                moved: asyncio.Future[float] = loop.create_future()
                shown: asyncio.Future[float] = loop.create_future()
                waiting.append((lambda t=target: tree.cursor_line == t, moved))
                waiting.append((lambda d=data: app.screen.selected == d, shown))  # type: ignore[attr-defined]
                t0 = time.perf_counter()
                press = asyncio.create_task(pilot.press("j" if direction > 0 else "K"))
                t_moved = await asyncio.wait_for(moved, 10)
                t_shown = await asyncio.wait_for(shown, 10)
                await press
                # Frames are noted by a synchronous hook: poll them.
                while time.perf_counter() - frames[-1] < SETTLE:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                cursor_ms.append((t_moved - t0) * 1000)
                panel_ms.append((t_shown - t0) * 1000)
                settled_ms.append((frames[-1] - t0) * 1000)
                n0, tp = len(frames), time.perf_counter()
                await pilot.pause(random.uniform(0.1, 0.2))
                idle[0] += len(frames) - n0
                idle[1] += time.perf_counter() - tp
            meter.sample()
            cpu = meter.cpu_percent()
            lines_per_s = (log_lines(logs) - written0) / (time.monotonic() - meter.t0)
    finally:
        for path in paths:
            L.Ledger.open(path).send(Verb.STOP_ALL)
        proc.wait(60)
    result = summarize(
        name, runs, cursor_ms, panel_ms, settled_ms, meter, cpu, lines_per_s, seconds
    )
    result["idle_fps"] = idle[0] / max(idle[1], 1e-9)
    return result


def summarize(
    name: str,
    runs: int,
    cursor_ms: list[float],
    panel_ms: list[float],
    settled_ms: list[float],
    meter: Meter,
    cpu: float,
    lines_per_s: float,
    seconds: float,
) -> dict[str, Any]:
    """The numbers of one scenario."""
    mb = [b / 2**20 for _, b in meter.rss]
    half = len(mb) // 2
    return {
        "scenario": name,
        "runs": runs,
        "presses": len(cursor_ms),
        "cursor_p50": statistics.median(cursor_ms),
        "cursor_p95": _pct(cursor_ms, 0.95),
        "cursor_max": max(cursor_ms),
        "panels_p50": statistics.median(panel_ms),
        "panels_p95": _pct(panel_ms, 0.95),
        "panels_max": max(panel_ms),
        "settled_p50": statistics.median(settled_ms),
        "settled_p95": _pct(settled_ms, 0.95),
        "settled_max": max(settled_ms),
        "under_100": sum(x < 100 for x in panel_ms) / len(panel_ms),
        "settled_under_100": sum(x < 100 for x in settled_ms) / len(settled_ms),
        "rss_start": mb[0],
        "rss_max_first_half": max(mb[: max(half, 1)]),
        "rss_max_second_half": max(mb[half:]),
        "rss_end": mb[-1],
        "cpu": cpu,
        "lines_per_s": lines_per_s,
        "seconds": seconds,
    }


def load_line() -> str:
    """The load average and the CPU count, for the report."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table of the scenarios."""
    head = (
        "| scenario | runs | presses | cursor p50 / p95 / max ms | panels p50 / p95 / max ms "
        "| settled p50 / p95 / max ms | panels / settled < 100 ms "
        "| frames/s between keys "
        "| RSS start → max (1st half / 2nd half) → end MB | CPU % of a core "
        "| lines/s printed (all runs) |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {r['scenario']} | {r['runs']} | {r['presses']} "
        f"| {r['cursor_p50']:.1f} / {r['cursor_p95']:.1f} / {r['cursor_max']:.1f} "
        f"| {r['panels_p50']:.1f} / {r['panels_p95']:.1f} / {r['panels_max']:.1f} "
        f"| {r['settled_p50']:.1f} / {r['settled_p95']:.1f} / {r['settled_max']:.1f} "
        f"| {100 * r['under_100']:.0f}% / {100 * r['settled_under_100']:.0f}% "
        f"| {r['idle_fps']:.1f} "
        f"| {r['rss_start']:.0f} → {r['rss_max_first_half']:.0f} / {r['rss_max_second_half']:.0f}"
        f" → {r['rss_end']:.0f} | {r['cpu']:.0f} | {r['lines_per_s']:,.0f} |"
        for r in results
    ]
    return head + "\n".join(rows) + "\n"


async def run_all(seconds: float, rate: float, only: list[str]) -> list[dict[str, Any]]:
    """Every scenario asked for, each in its own temporary directory."""
    plans = {
        "quiet": (4, 1.0, 0.0, "bounce"),
        "flood": (4, 1.0, rate, "bounce"),
        "64 runs": (64, 200.0, 0.0, "walk"),
    }
    results = []
    here = Path.cwd()
    for name, (runs, line_rate, flood_rate, walk) in plans.items():
        if only and name.split()[0] not in only:
            continue
        with tempfile.TemporaryDirectory(prefix="slc-bench-dash-") as tmp:
            os.chdir(tmp)
            try:
                print(f"{name}: {load_line()}", flush=True)
                r = await scenario(name, runs, line_rate, flood_rate, seconds, walk)
            finally:
                os.chdir(here)
        r["load"] = load_line()
        print(table([r]), flush=True)
        results.append(r)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print (or write) the table."""
    p = argparse.ArgumentParser(description="The dashboard under a log flood.")
    p.add_argument("--seconds", type=float, default=40.0, help="measured seconds per scenario")
    p.add_argument("--rate", type=float, default=100_000, help="lines a second of the flood")
    p.add_argument("--only", nargs="*", default=[], help="quiet, flood and/or 64")
    p.add_argument("--out", type=Path, help="append the table to this Markdown file")
    ns = p.parse_args(argv)
    results = asyncio.run(run_all(ns.seconds, ns.rate, ns.only))
    text = table(results) + "\n" + "\n".join(f"- {r['scenario']}: {r['load']}" for r in results)
    print(text)
    if ns.out:
        with open(ns.out, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
