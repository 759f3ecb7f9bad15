"""Grid wall time: slc-tui's engine vs the reference's sequential run vs GNU parallel.

The same CPU-bound grid (``--runs`` runs of ``work.busy``, each a fixed number of loop
iterations, by default about 0.75 s of one core here) is run by every method, in turn,
``--repeats`` times (the order rotates each repeat, so that no method always runs first):

- ``engine-cli``: ``slc-tui GRID.toml --no-ui --max-cpus B`` (thunk ``work.py:busy``).
- ``engine-api``: ``ExperimentGrid.run(work.busy, max_cpus=B)`` in a fresh interpreter.
- ``sequential``: the reference's ``ExperimentGrid.run``, i.e. ``call_experiment`` for each
  variant one after another (the reference's 5 s countdown is added afterwards, not slept).
- ``parallel-entrypoint``: ``parallel -j B python -m slc_tui.entrypoint ::: PAYLOADS``: the
  very processes the engine starts, scheduled by GNU parallel (payloads written beforehand).
- ``parallel-setsid``: the same under ``setsid -w``: each run in a session of its own, as the
  engine starts them. With the kernel's autogroup scheduling (on here) a session is a
  scheduling group, so on a loaded machine this is the like-for-like comparison.
- ``parallel-python-c``: ``parallel -j B python -c 'import work; work.busy(N)'``: the least a
  hand-written launcher must do.

Usage: ``.venv/bin/python bench/bench_engine.py [--repeats 7] [--runs 8] [--iterations N]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import work
from common import (
    BENCH_DIR,
    PYTHON,
    WORK_THUNK,
    Series,
    machine,
    slc_tui_command,
    table,
    timed,
    write_grid,
)

GRID = "bench-busy"
COUNTDOWN = 5.0
"""Seconds of the reference ``ExperimentGrid.run`` countdown before the first variant."""
METHODS = (
    "engine-cli",
    "engine-api",
    "sequential",
    "parallel-entrypoint",
    "parallel-setsid",
    "parallel-python-c",
)
ITERATIONS = 15_000_000
"""Default work per run: about 0.75 s of one core of the benchmark machine (when quiet)."""


def _grid(n: int, runs: int) -> object:
    from slc_tui.run_utils import ExperimentGrid

    grid = ExperimentGrid(GRID)
    grid.add("n", n)
    grid.add("seed", list(range(runs)))
    return grid


def child_api(n: int, runs: int, data_dir: str, budget: int) -> None:
    """``ExperimentGrid.run`` on slc-tui's engine (run in a fresh interpreter)."""
    grid = _grid(n, runs)
    grid.run(work.busy, data_dir=data_dir, max_cpus=budget)  # type: ignore[attr-defined]


def child_sequential(n: int, runs: int, data_dir: str) -> None:
    """The reference's ``ExperimentGrid.run``: ``call_experiment`` per variant, in order."""
    from slc_tui.run_utils import call_experiment

    grid = _grid(n, runs)
    grid.print()  # type: ignore[attr-defined]
    for var in grid.variants():  # type: ignore[attr-defined]
        call_experiment(grid.variant_name(var), work.busy, data_dir=data_dir, **var)  # type: ignore[attr-defined]


def write_payloads(folder: Path, n: int, runs: int, data_dir: Path) -> list[str]:
    """The payload files the engine would write for the grid (same thunk, same kwargs)."""
    from slc_tui.payload import Payload, write_payload
    from slc_tui.run_utils import setup_logger_kwargs

    paths = []
    for seed in range(runs):
        path = folder / f"{GRID}_s{seed}.pkl"
        kwargs = {"n": n, "seed": seed, "logger_kwargs": setup_logger_kwargs(GRID, seed, data_dir)}
        write_payload(path, Payload(f"{WORK_THUNK}:busy", kwargs))
        paths.append(str(path))
    return paths


def command(method: str, n: int, runs: int, budget: int, tmp: Path, data: Path) -> list[str]:
    """The argv that runs the whole grid with ``method``."""
    me = str(Path(__file__).resolve())
    if method == "engine-cli":
        grid_file = tmp / f"{GRID}.toml"
        write_grid(grid_file, GRID, f"{WORK_THUNK}:busy", data, runs, extra=f"n = {n}\n")
        return [*slc_tui_command(), str(grid_file), "--no-ui", "--max-cpus", str(budget)]
    if method == "engine-api":
        return [PYTHON, me, "_api", str(n), str(runs), str(data), str(budget)]
    if method == "sequential":
        return [PYTHON, me, "_seq", str(n), str(runs), str(data)]
    if method == "parallel-entrypoint":
        payloads = write_payloads(tmp / "payloads", n, runs, data)
        return ["parallel", "-j", str(budget), PYTHON, "-m", "slc_tui.entrypoint", ":::", *payloads]
    if method == "parallel-setsid":
        payloads = write_payloads(tmp / "payloads", n, runs, data)
        entry = [PYTHON, "-m", "slc_tui.entrypoint"]
        return ["parallel", "-j", str(budget), "setsid", "-w", *entry, ":::", *payloads]
    if method == "parallel-python-c":
        code = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import work; "
        code += f"work.busy({n}, {{}})"
        seeds = map(str, range(runs))
        return ["parallel", "-q", "-j", str(budget), PYTHON, "-c", code, ":::", *seeds]
    raise ValueError(method)


def main() -> None:
    """Run the comparison and print a Markdown table (and JSON with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=ITERATIONS, help="work per run")
    ap.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="calibrate the work per run to this many seconds instead (noisy)",
    )
    ap.add_argument("--budget", type=int, default=2, help="CPU budget / parallel -j")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", help="also write the raw samples here")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each sample, wait up to this long for a quiet machine",
    )
    args = ap.parse_args()
    if not shutil.which("parallel"):
        sys.exit("GNU parallel is missing: apt-get install -y parallel")
    methods = args.methods.split(",")
    common.QUIET_WAIT = args.quiet_wait
    n = work.calibrate(args.seconds) if args.seconds else args.iterations
    series = {m: Series(m) for m in methods}
    tmp = Path(tempfile.mkdtemp(prefix="slc-bench-engine-"))
    print(f"# {machine()}\n# {args.runs} runs x {n} iterations, budget {args.budget}, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    try:
        for rep in range(args.repeats):
            order = methods[rep % len(methods) :] + methods[: rep % len(methods)]
            for method in order:
                data = tmp / f"data-{method}-{rep}"
                argv = command(method, n, args.runs, args.budget, tmp, data)
                sample = timed(argv, cwd=tmp)
                series[method].samples.append(sample)
                shutil.rmtree(data, ignore_errors=True)
                shutil.rmtree(tmp / "payloads", ignore_errors=True)
                print(f"  rep {rep} {method:20s} {sample.wall:7.3f} s  cpu {sample.cpu:6.2f} s  "
                      f"load {sample.load:.2f}  busy before {sample.busy:.2f}",
                      flush=True)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(series, args, n)


def report(series: dict[str, Series], args: argparse.Namespace, n: int) -> None:
    """Print the medians and ratios."""
    refs = [m for m in METHODS if m.startswith("parallel") and m in series]
    rows = []
    for s in series.values():
        row = [s.name, f"{s.median:.3f}", f"{s.lo:.3f}-{s.hi:.3f}", f"{s.cpu:.2f}"]
        row += [f"{s.median / series[r].median:.3f} ({s.lo / series[r].lo:.3f})" for r in refs]
        rows.append(row)
        if s.name == "sequential":
            row = ["sequential + 5 s countdown", f"{s.median + COUNTDOWN:.3f}", "", ""]
            row += [
                f"{(s.median + COUNTDOWN) / series[r].median:.3f}"
                f" ({(s.lo + COUNTDOWN) / series[r].lo:.3f})"
                for r in refs
            ]
            rows.append(row)
    header = ["method", "median wall s", "min-max", "child CPU s"]
    header += [f"÷ {r} (of mins)" for r in refs]
    loads = [x.load for s in series.values() for x in s.samples]
    busy = sorted(x.busy for s in series.values() for x in s.samples)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"\n{args.runs} runs x {n} iterations, budget {args.budget}, {args.repeats} repeats, "
          f"load1 {min(loads):.2f}-{max(loads):.2f}, CPU busy before a sample "
          f"{busy[0]:.2f}-{busy[-1]:.2f} (median {statistics.median(busy):.2f}), "
          f"{when}\n")  # fmt: skip
    print(table(header, rows))
    if args.json:
        raw = {k: [vars(x) for x in s.samples] for k, s in series.items()}
        Path(args.json).write_text(json.dumps({"iterations": n, "samples": raw}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_api":
        child_api(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_seq":
        child_sequential(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
