"""Run order: slc-tui's engine against GNU parallel on the same commands, in plan order.

Two grids of CPU-bound runs of ``work.busy`` (a fixed number of loop iterations each):

- ``equal`` (a): ``--runs`` equal runs (seeds of one variant), today's benchmark;
- ``skewed`` (b): ``--variants`` variants of ``--seeds`` seeds each, where the last
  variant in plan order runs ``--factor`` times longer than the others;
- ``skewed-nap`` (b'): the same grid of ``work.nap`` runs, which sleep (``--ms`` for a short
  run) instead of computing: their length does not change with other load on the machine, so
  what the order gains shows through the noise of a shared machine.

Each grid is run by every method, in turn, ``--repeats`` times (the order rotates each
repeat, so that no method always runs first), each in a fresh data directory (no ledger of
an earlier sweep: what ``auto`` knows of durations it learns from the first seed of each
variant, as it does by itself on a new grid):

- ``engine-auto``: ``slc-tui GRID.toml --no-ui --max-cpus B`` (the default order, ``auto``);
- ``engine-plan``: the same with ``--order plan`` (the order before orders existed);
- ``engine-ledger`` (not by default: ``--methods``): ``engine-auto`` a second time on the same
  data directory, timed only the second time: it knows every duration from the first
  sweep's ledger before it starts (the sweep run again, as after a change of code);
- ``parallel``: ``parallel -j B python -m slc_tui.entrypoint ::: PAYLOADS``, the very
  processes the engine starts (payloads written beforehand from the same plan), in plan order;
- ``parallel-setsid``: the same, each job under ``setsid -w`` (a session of its own, as the
  engine starts its runs: with autogroup scheduling a session is a scheduling group).

Usage: ``.venv/bin/python bench/bench_order.py [--repeats 5] [--grids equal,skewed]``
"""

from __future__ import annotations

import argparse
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
from common import PYTHON, WORK_THUNK, Series, machine, slc_tui_command, table, timed

METHODS = ("engine-auto", "engine-plan", "parallel", "parallel-setsid")
REFERENCES = ("parallel", "parallel-setsid")
GOALS = {"equal": 1.00, "skewed": 0.90, "skewed-nap": 0.90}
"""The issue's goal for the engine (auto) over ``parallel -j B``, per grid."""


def grid_text(kind: str, args: argparse.Namespace, data: Path) -> str:
    """The grid file of ``kind``: values of ``n`` (iterations) by variant, then the seeds."""
    key, thunk, short = (
        ("ms", "nap", args.ms) if kind.endswith("nap") else ("n", "busy", args.iterations)
    )
    if kind == "equal":
        values, seeds = [short], range(args.runs)
    else:  # distinct values: one variant each; the long one last in plan order
        values = [short + i for i in range(args.variants - 1)]
        values.append(short * args.factor)
        seeds = range(args.seeds)
    return (
        f'[grid]\nname = "{kind}"\nthunk = "{WORK_THUNK}:{thunk}"\ndata_dir = "{data}"\n'
        f"datestamp = false\n\n[params]\n{key} = {values}\nseed = {list(seeds)}\n"
    )


def write_payloads(grid_file: Path, folder: Path) -> list[str]:
    """The payload of every run of ``grid_file``, planned as the engine plans it, in plan order."""
    from slc_tui.gridfile import load_grids
    from slc_tui.payload import Payload, write_payload
    from slc_tui.plan import plan_specs

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for plan in plan_specs(load_grids([grid_file]), {}):
        for run in plan.runs:
            path = folder / f"{run.name}.pkl"
            write_payload(path, Payload(run.thunk, run.kwargs))
            paths.append(str(path))
    return paths


def command(method: str, grid_file: Path, budget: int, payloads: Path) -> list[str]:
    """The argv that runs the whole grid with ``method``."""
    if method.startswith("engine-"):
        order = "auto" if method == "engine-ledger" else method.split("-", 1)[1]
        return [*slc_tui_command(), str(grid_file), "--no-ui", "--max-cpus", str(budget),
                "--order", order]  # fmt: skip
    files = write_payloads(grid_file, payloads)
    entry = [PYTHON, "-m", "slc_tui.entrypoint"]
    if method == "parallel-setsid":
        entry = ["setsid", "-w", *entry]
    return ["parallel", "-j", str(budget), *entry, ":::", *files]


def main() -> None:
    """Run both comparisons and print Markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--grids", default="equal,skewed,skewed-nap")
    ap.add_argument("--budget", type=int, default=2, help="CPU budget / parallel -j")
    ap.add_argument("--iterations", type=int, default=4_000_000, help="work of a short run")
    ap.add_argument("--ms", type=int, default=500, help="a short run of skewed-nap, ms")
    ap.add_argument("--runs", type=int, default=8, help="runs of the equal grid")
    ap.add_argument("--variants", type=int, default=4, help="variants of the skewed grid")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per variant (skewed)")
    ap.add_argument("--factor", type=int, default=5, help="the long variant's work, x short")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--quiet-wait", type=float, default=20.0, help="before each sample, "
                    "wait up to this long for a quiet machine")  # fmt: skip
    args = ap.parse_args()
    if not shutil.which("parallel"):
        sys.exit("GNU parallel is missing: apt-get install -y parallel")
    common.QUIET_WAIT = args.quiet_wait
    methods = args.methods.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="slc-bench-order-"))
    t0 = time.perf_counter()
    work.spin(args.iterations)
    short = time.perf_counter() - t0
    print(f"# {machine()}\n# budget {args.budget}, short run {args.iterations} iterations "
          f"(~{short:.2f} s alone), load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    results: dict[str, dict[str, Series]] = {}
    try:
        for kind in args.grids.split(","):
            series = results[kind] = {m: Series(m) for m in methods}
            for rep in range(args.repeats):
                turn = methods[rep % len(methods) :] + methods[: rep % len(methods)]
                for method in turn:
                    data = tmp / f"data-{kind}-{method}-{rep}"
                    grid_file = tmp / f"{kind}.toml"
                    grid_file.write_text(grid_text(kind, args, data))
                    argv = command(method, grid_file, args.budget, tmp / "payloads")
                    if method == "engine-ledger":  # the earlier sweep, not timed
                        timed(argv, cwd=tmp)
                    sample = timed(argv, cwd=tmp)
                    series[method].samples.append(sample)
                    shutil.rmtree(data, ignore_errors=True)
                    shutil.rmtree(tmp / "payloads", ignore_errors=True)
                    print(f"  {kind} rep {rep} {method:16s} {sample.wall:7.3f} s  cpu "
                          f"{sample.cpu:6.2f} s  load {sample.load:.2f}  busy before "
                          f"{sample.busy:.2f}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for kind, series in results.items():
        report(kind, series, args)


def report(kind: str, series: dict[str, Series], args: argparse.Namespace) -> None:
    """Print the medians, spreads and ratios of one grid."""
    refs = [r for r in REFERENCES if r in series]
    rows = []
    for s in series.values():
        row = [s.name, f"{s.median:.3f}", f"{s.lo:.3f}-{s.hi:.3f}", f"{s.cpu:.2f}"]
        row += [f"{s.median / series[r].median:.3f} ({s.lo / series[r].lo:.3f})" for r in refs]
        rows.append(row)
    busy = sorted(x.busy for s in series.values() for x in s.samples)
    loads = [x.load for s in series.values() for x in s.samples]
    goal = f"goal engine-auto <= {GOALS[kind]:.2f}x parallel" if kind in GOALS else ""
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"\n{kind}: budget {args.budget}, {args.repeats} repeats, load1 {min(loads):.2f}-"
          f"{max(loads):.2f}, CPU busy before a sample {busy[0]:.2f}-{busy[-1]:.2f} (median "
          f"{statistics.median(busy):.2f}), {when}; {goal}\n")  # fmt: skip
    header = ["method", "median wall s", "min-max", "child CPU s"]
    header += [f"÷ {r} median (of mins)" for r in refs]
    print(table(header, rows))


if __name__ == "__main__":
    main()
