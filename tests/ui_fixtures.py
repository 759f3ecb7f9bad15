"""A ledger filled by hand and a tiny fake engine, for dashboard tests without processes."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from textual.app import App
from textual.pilot import Pilot

from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path
from slc_tui.procid import engine_token
from slc_tui.states import RunState
from slc_tui.ui.feed import SEND_GROUP

T0 = 1_000_000.0
"""When the fake sweep started."""
NOW = T0 + 192.0
"""The frozen clock of the tests (03:12 after the start)."""

TRACEBACK = """Traceback (most recent call last):
  File "cem.py", line 41, in train
    raise ValueError("population collapsed")
ValueError: population collapsed"""


def clock() -> float:
    """The frozen "now" of the tests."""
    return NOW


def write_progress(output_dir: Path, epochs: int, scale: float, slope: float = 1.0) -> None:
    """A SpinningUp-style ``progress.txt`` of ``epochs`` rows."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = ["Epoch\tAverageEpRet\tEpLen\tTime"]
    for e in range(1, epochs + 1):
        ret = scale * (1 - 0.8 ** (e * slope))
        lines.append(f"{e}\t{ret:.1f}\t{ret:.1f}\t{e * 0.7:.1f}")
    (output_dir / "progress.txt").write_text("\n".join(lines) + "\n")


def write_log(output_dir: Path, epochs: int, extra: str = "") -> None:
    """An ``output.log`` with one line per epoch, then ``extra``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Epoch {e} | AverageEpRet {e * 20.0:.1f} | EpLen {e * 20.0:.1f}"
        for e in range(1, 1 + epochs)
    ]
    if extra:
        lines.append(extra)
    (output_dir / "output.log").write_text("\n".join(lines) + "\n")


def make_sweep(
    root: Path,
    grid: str = "cartpole",
    pops: tuple[int, ...] = (16, 32, 64),
    seeds: tuple[int, ...] = (0, 10, 20),
    live: bool = True,
) -> Ledger:
    """A sweep of ``pops x seeds`` runs in several states, with logs and progress files.

    The first variant succeeded except one failed seed, the second has one run running, the
    rest pend. The engine token names this test process, so the engine counts as alive.
    """
    data = root / "data"
    ledger = Ledger.create(ledger_path(data, grid))
    records = []
    for p in pops:
        for s in seeds:
            name = f"{grid}_pop{p}_s{s}"
            out = data / f"{grid}_pop{p}" / name
            params = {"env_name": "CartPole-v1", "pop_size": p, "ac_kwargs": {"hidden": [8]}}
            params["seed"] = s
            variant = f"{grid}_pop{p}"
            records.append(RunRecord(name, len(records), grid, variant, s, params, str(out), 1))
    ledger.add_runs(records)
    ledger.set_meta(
        grid_name=grid,
        grid_file=f"grids/{grid}.toml",
        engine_pid=0,
        engine_token=engine_token() if live else "1:0",
        max_cpus=2,
        paused=False,
        status="running",
        started=T0,
        ended=None,
        backend="local",
    )
    cmd = "python -m slc_tui.entrypoint payload.pkl"
    for i, r in enumerate(records[: len(seeds)]):
        out = Path(r.output_dir)
        if i == len(seeds) - 1:
            write_progress(out, 3, 40.0)
            write_log(out, 3, TRACEBACK)
            ledger.update(
                r.name,
                state=RunState.FAILED,
                attempt=1,
                started=T0,
                ended=T0 + 9,
                exit_code=1,
                reason="ValueError: population collapsed",
                tail=TRACEBACK,
                epoch=3,
                metrics={"Epoch": 3.0, "AverageEpRet": 19.5},
                command=cmd,
            )
        else:
            write_progress(out, 20, 500.0 - 12 * i, slope=1 + i * 0.3)
            write_log(out, 20)
            ledger.update(
                r.name,
                state=RunState.SUCCEEDED,
                attempt=1,
                started=T0,
                ended=T0 + 60 + i,
                exit_code=0,
                epoch=20,
                cores=str(i),
                command=cmd,
                metrics={"Epoch": 20.0, "AverageEpRet": 500.0 - 12 * i, "EpLen": 480.0},
            )
    if len(records) > len(seeds):
        r = records[len(seeds)]
        write_progress(Path(r.output_dir), 12, 400.0)
        write_log(Path(r.output_dir), 12)
        ledger.update(
            r.name,
            state=RunState.RUNNING,
            attempt=1,
            started=T0 + 70,
            cores="0",
            command=cmd,
            epoch=12,
            metrics={"Epoch": 12.0, "AverageEpRet": 311.9, "EpLen": 311.9},
        )
    return ledger


class FakeEngine:
    """Acts on the dashboard's commands the way the engine would, when told to."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        """The ledger written."""
        self.seen: list[tuple[str, str | None]] = []
        """Every command taken, in order."""

    def step(self) -> list[tuple[str, str | None]]:
        """Take pending commands and apply them; return them."""
        taken = [(cmd.verb, cmd.target) for cmd in self.ledger.take_commands()]
        for verb, target in taken:
            self.seen.append((verb, target))
            if verb == "stop" and target:
                self.ledger.update(
                    target, state=RunState.CANCELLED, ended=NOW, reason="stopped by user"
                )
            elif verb == "rerun" and target:
                self.ledger.update(
                    target, state=RunState.PENDING, reason="", exit_code=None, ended=None
                )
            elif verb in ("pause", "resume"):
                self.ledger.set_meta(paused=verb == "pause")
            elif verb == "stop_all":
                for run in self.ledger.runs():
                    if run.state in (RunState.PENDING, RunState.RUNNING):
                        self.ledger.update(run.name, state=RunState.CANCELLED, ended=NOW)
                self.ledger.set_meta(status="stopped", ended=NOW)
        return taken

    def finish_all(self, state: str = RunState.SUCCEEDED) -> None:
        """End every pending or running run in ``state`` and mark the sweep finished."""
        for run in self.ledger.runs():
            if run.state in (RunState.PENDING, RunState.RUNNING):
                self.ledger.update(run.name, state=state, started=T0, ended=NOW)
        self.ledger.set_meta(status="finished", ended=NOW)


def write_lines(path: Path, lines: list[str], mode: str = "a") -> None:
    """Append (or write) lines to a log file."""
    with open(path, mode, encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def run_key(ledger_index: int, name: str) -> tuple[int, str]:
    """The dashboard's key of a run."""
    return (ledger_index, name)


__all__: list[Any] = ["FakeEngine", "make_sweep"]


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until ``condition()`` holds (fails after ``timeout`` seconds)."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "condition not met in time"


async def sent(pilot: Pilot) -> None:
    """Wait until the commands asked for so far reached the ledger (thread workers send them)."""
    workers = [w for w in pilot.app.workers if w.group == SEND_GROUP]
    if workers:
        await pilot.app.workers.wait_for_complete(workers)


async def taken(pilot: Pilot, engine: FakeEngine) -> list[tuple[str, str | None]]:
    """The commands the fake engine takes once the dashboard's sends are done."""
    await sent(pilot)
    return engine.step()


_SVG_TEXT = re.compile(r"<text ([^>]*)>([^<]*)</text>")
_SVG_X = re.compile(r'\bx="([0-9.]+)"')
_SVG_LINE = re.compile(r'clip-path="url\(#[^)]*-line-(\d+)\)"')
SVG_CHAR_WIDTH = 20 * 0.61
"""Rich's SVG export puts a cell 20 x 0.61 units wide (its default font aspect ratio)."""


def screen_lines(app: App[Any]) -> list[str]:
    """The text of the screen as drawn, one string per terminal line (read from the SVG
    screenshot, Textual's public export of what is on screen)."""
    width, height = app.size
    cells = [[" "] * width for _ in range(height)]
    for attrs, text in _SVG_TEXT.findall(app.export_screenshot()):
        x, line = _SVG_X.search(attrs), _SVG_LINE.search(attrs)
        if x is None or line is None:
            continue
        row, col = cells[int(line.group(1))], round(float(x.group(1)) / SVG_CHAR_WIDTH)
        for ch in html.unescape(text).replace("\xa0", " "):
            if col < width:
                row[col] = ch
            for extra in range(1, cell_len(ch)):  # a wide character fills the cells after it
                if col + extra < width:
                    row[col + extra] = ""
            col += max(cell_len(ch), 1)
    return ["".join(row) for row in cells]


def toasts(app: App[Any]) -> list[str]:
    """The messages of the toasts on screen, oldest first (a toast's last line is its message)."""
    return [str(toast.render()).split("\n")[-1] for toast in app.screen.query("Toast")]


async def toasts_shown(pilot: Pilot) -> list[str]:
    """The toasts on screen once they stop changing (a toast mounts a moment after notify)."""
    last: list[str] | None = None
    for _ in range(100):
        await pilot.pause(0.05)
        now = toasts(pilot.app)
        if now == last:
            return now
        last = now
    return last or []
