"""Import-heavy runs (issue 15 (c)): the warm launcher against GNU parallel and cold starts.

Each of ``--runs`` runs imports a training stack, then works about 0.5 s (a fixed number of
loop iterations of ``work.spin``): ``light`` is numpy, gymnasium and ``slow_import`` (a
stand-in that costs 0.3 s of CPU to import); ``torch`` adds torch (where installed). Methods,
in a rotating order, ``--repeats`` times, budget ``--budget`` cores:

- ``parallel``: ``parallel -j B python …/slc_tui/entrypoint.py ::: PAYLOADS``, the commands a
  cold engine starts, in plan order (payloads written beforehand, the same thunk and kwargs);
- ``parallel-setsid``: the same, each job under ``setsid -w``: a session of its own, as the
  engine starts each run (with autogroup scheduling, the like-for-like comparison on a
  loaded machine);
- ``engine-cold``: ``slc-tui GRID.toml --no-ui --max-cpus B``;
- ``engine-warm``: the same grid with ``[run] preload`` = the stack.

Every command runs in this folder (so ``slow_import`` imports in a run and in the launcher).
Usage: ``.venv/bin/python bench/bench_warm.py [--runs 8] [--repeats 5] [--stacks light,torch]``
"""

from __future__ import annotations

import argparse
import importlib.util
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
from common import BENCH_DIR, PYTHON, Series, machine, slc_tui_command, table, timed

STACKS = {
    "light": ["numpy", "gymnasium", "slow_import"],
    "torch": ["numpy", "gymnasium", "torch", "slow_import"],
}
THUNK = f"{BENCH_DIR / 'work_imports.py'}:heavy"
METHODS = ("parallel", "parallel-setsid", "engine-cold", "engine-warm")


def grid_text(name: str, data: Path, runs: int, n: int, modules: list[str], warm: bool) -> str:
    seeds = ", ".join(str(s) for s in range(runs))
    preload = f"\n[run]\npreload = {modules!r}\n".replace("'", '"') if warm else ""
    return (f'[grid]\nname = "{name}"\nthunk = "{THUNK}"\ndata_dir = "{data}"\n'
            f'datestamp = false\n{preload}\n[params]\nn = {n}\nmodules = "{",".join(modules)}"\n'
            f"seed = [{seeds}]\n")  # fmt: skip


def payloads(folder: Path, name: str, runs: int, n: int, modules: list[str]) -> list[str]:
    """The payloads of the grid's runs, as the engine writes them."""
    from slc_tui.payload import Payload, write_payload
    from slc_tui.run_utils import setup_logger_kwargs

    out = []
    for seed in range(runs):
        path = folder / f"{name}-{seed}.pkl"
        kwargs = {"n": n, "modules": ",".join(modules), "seed": seed,
                  "logger_kwargs": setup_logger_kwargs(name, seed, folder / "pdata")}  # fmt: skip
        write_payload(path, Payload(THUNK, kwargs, cwd=str(BENCH_DIR)))
        out.append(str(path))
    return out


def bench_stack(tmp: Path, stack: str, runs: int, repeats: int, budget: int, n: int) -> str:
    modules = STACKS[stack]
    data = tmp / "data"
    grids = {}
    for method in ("engine-cold", "engine-warm"):
        grids[method] = tmp / f"{stack}-{method}.toml"
        grids[method].write_text(grid_text(f"imports-{stack}", data, runs, n, modules,
                                           warm=method == "engine-warm"))  # fmt: skip
    from slc_tui.launch import ENTRYPOINT

    jobs = payloads(tmp, f"imports-{stack}", runs, n, modules)
    cmds = {
        "parallel": ["parallel", "-j", str(budget), PYTHON, ENTRYPOINT, ":::", *jobs],
        "parallel-setsid": ["parallel", "-j", str(budget), "setsid", "-w", PYTHON, ENTRYPOINT,
                            ":::", *jobs],
        "engine-cold": [*slc_tui_command(), str(grids["engine-cold"]), "--no-ui",
                        "--max-cpus", str(budget)],
        "engine-warm": [*slc_tui_command(), str(grids["engine-warm"]), "--no-ui",
                        "--max-cpus", str(budget)],
    }  # fmt: skip
    series = {m: Series(m) for m in METHODS}
    for rep in range(repeats):
        order = METHODS[rep % len(METHODS) :] + METHODS[: rep % len(METHODS)]
        for method in order:
            sample = timed(cmds[method], cwd=BENCH_DIR)
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(tmp / "pdata", ignore_errors=True)
            series[method].samples.append(sample)
            print(f"  {stack} rep {rep} {method:12s} {sample.wall:7.3f} s  load "
                  f"{sample.load:.2f}  busy before {sample.busy:.2f}", flush=True)  # fmt: skip
    base, fair = series["parallel"], series["parallel-setsid"]
    rows = []
    for method in METHODS:
        s = series[method]
        ratios = [a.wall / b.wall for a, b in zip(s.samples, base.samples)]
        rows.append([f"`{method}`", f"{s.median:.3f}", f"{s.lo:.3f}–{s.hi:.3f}",
                     f"{s.cpu:.2f}", f"**{s.median / base.median:.3f}**",
                     f"{min(ratios):.2f}–{max(ratios):.2f}", f"{s.median / fair.median:.3f}"])  # fmt: skip
    loads = [x.load for s in series.values() for x in s.samples]
    head = (f"stack `{stack}` ({', '.join(modules)}), {runs} runs, budget {budget}, "
            f"{repeats} repeats, load1 {min(loads):.2f}–{max(loads):.2f}\n\n")  # fmt: skip
    header = ["method", "median wall s", "min–max s", "child CPU s", "÷ parallel (medians)",
              "÷ parallel (per repeat, min–max)", "÷ parallel-setsid (medians)"]  # fmt: skip
    return head + table(header, rows)


def import_costs(modules: list[str], starts: int = 5) -> str:
    """Seconds each module costs a fresh interpreter to import, medians of ``starts``."""
    import subprocess

    rows = []
    for name in modules:
        code = ("import time; t = time.perf_counter(); import " + name +
                "; print(time.perf_counter() - t)")  # fmt: skip
        secs = [float(subprocess.run([PYTHON, "-c", code], cwd=BENCH_DIR, capture_output=True,
                                     text=True, check=True).stdout) for _ in range(starts)]  # fmt: skip
        rows.append([f"`{name}`", f"{statistics.median(secs):.3f}",
                     f"{min(secs):.3f}–{max(secs):.3f}"])  # fmt: skip
    return table(["module", "median import s", "min–max s"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=int, default=2)
    ap.add_argument("--work", type=float, default=0.5, help="seconds of work per run")
    ap.add_argument("--stacks", default="light,torch")
    ap.add_argument("--quiet-wait", type=float, default=30.0)
    args = ap.parse_args()
    common.QUIET_WAIT = args.quiet_wait
    stacks = [s for s in args.stacks.split(",")
              if s != "torch" or importlib.util.find_spec("torch")]  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="slc-bench-warm-"))
    n = work.calibrate(args.work)
    print(f"# {machine()}\n# {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}, "
          f"{n} iterations of work.spin per run (~{args.work} s)", flush=True)  # fmt: skip
    try:
        print("\n## Import costs\n\n" + import_costs(STACKS["torch"]), flush=True)
        for stack in stacks:
            print(f"\n## {stack}\n\n" + bench_stack(tmp, stack, args.runs, args.repeats,
                                                    args.budget, n), flush=True)  # fmt: skip
        print(f"\n# load at the end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
