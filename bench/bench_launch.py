"""Per-run launch overhead: slc-tui's engine and entrypoint vs a bare ``python -c pass``.

Parts (each can be skipped):

1. ``loop``: ``--runs`` (50) launches, one after another, of each of: ``python -c pass``;
   ``python …/slc_tui/entrypoint.py PAYLOAD`` (a run's command) of the no-op thunk
   ``noop.nothing``; the engine (``slc-tui GRID.toml --no-ui --max-cpus 1``) on a grid of
   ``--runs`` no-op runs, and on a grid of 1 run (its fixed cost), so that the engine's cost
   per run is ``(T(runs) - T(1)) / (runs - 1)``; the same grid with ``--max-cpus 2``; and all
   of it again warm (``[run] preload = ["json"]``). Repeated ``--repeats`` times,
   interleaved; medians.
2. ``hyperfine``: the single commands under hyperfine (``-N``, warm-up), medians.
3. ``importtime``: ``python -X importtime …/slc_tui/entrypoint.py PAYLOAD`` against
   ``python -X importtime -c pass``: what the entrypoint imports beyond the bare interpreter,
   and what each costs (medians over several starts).
4. ``profile``: the engine itself under cProfile on the no-op grid (where its time per run goes).

Usage: ``.venv/bin/python bench/bench_launch.py [--runs 50] [--repeats 5] [--parts ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (
    PYTHON,
    Sample,
    Series,
    child_env,
    machine,
    slc_tui_command,
    table,
    timed,
    write_grid,
)

GRID = "bench-noop"
NOOP = f"{Path(__file__).resolve().with_name('noop.py')}:nothing"
"""A thunk that imports nothing (``work.nothing``'s module imports ``typing``: 4 ms)."""
PARTS = ("loop", "hyperfine", "importtime", "profile")


def noop_payload(folder: Path) -> str:
    """A payload of the no-op thunk, as the engine writes it for a grid file's run."""
    from slc_tui.payload import Payload, write_payload
    from slc_tui.run_utils import setup_logger_kwargs

    path = folder / "noop.pkl"
    kwargs = {"seed": 0, "logger_kwargs": setup_logger_kwargs(GRID, 0, folder / "data")}
    write_payload(path, Payload(NOOP, kwargs))
    return str(path)


def loop_of(argv: list[str], runs: int) -> Sample:
    """``runs`` launches of ``argv`` one after another, as one sample."""
    busy = common.wait_quiet()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    for _ in range(runs):
        subprocess.run(argv, env=child_env(), stdin=subprocess.DEVNULL, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return Sample(wall=time.perf_counter() - t0, cpu=0.0, load=load, busy=busy)


def part_loop(tmp: Path, payload: str, runs: int, repeats: int) -> str:
    """Part 1: sequential launches vs the engine on a no-op grid, cold and warm."""
    from slc_tui.launch import ENTRYPOINT

    grids = {}
    for count in (1, runs):
        for warm in (False, True):
            grids[count, warm] = tmp / f"noop{count}{'-warm' if warm else ''}.toml"
            write_grid(grids[count, warm], GRID, NOOP, tmp / "data", count)
            if warm:
                text = grids[count, warm].read_text()
                grids[count, warm].write_text(text + '\n[run]\npreload = ["json"]\n')
    cli = slc_tui_command()
    keys = ("bare", "entrypoint", "engine1", "engine", "engine-2cpu", "warm1", "warm", "warm-2cpu")
    series = {k: Series(k) for k in keys}
    for rep in range(repeats):
        for key in series:
            if key == "bare":
                sample = loop_of([PYTHON, "-c", "pass"], runs)
            elif key == "entrypoint":
                sample = loop_of([PYTHON, ENTRYPOINT, payload], runs)
            else:
                warm = key.startswith("warm")
                grid = grids[1 if key in ("engine1", "warm1") else runs, warm]
                cpus = "2" if key.endswith("2cpu") else "1"
                sample = timed([*cli, str(grid), "--no-ui", "--max-cpus", cpus], cwd=tmp)
                shutil.rmtree(tmp / "data", ignore_errors=True)
            series[key].samples.append(sample)
            print(f"  rep {rep} {key:12s} {sample.wall:7.3f} s  load {sample.load:.2f}  "
                  f"busy before {sample.busy:.2f}", flush=True)  # fmt: skip
    ms = 1000.0

    def per_run(key: str, fixed: str) -> tuple[float, float, float]:
        """Marginal ms per run: median, and the lowest and highest of the repeats."""
        each = [(a.wall - b.wall) / (runs - 1) * ms
                for a, b in zip(series[key].samples, series[fixed].samples)]  # fmt: skip
        med = (series[key].median - series[fixed].median) / (runs - 1) * ms
        return med, min(each), max(each)

    bare, entry = (series[k].median / runs * ms for k in ("bare", "entrypoint"))
    bare_each, entry_each = ([s.wall / runs * ms for s in series[k].samples]
                             for k in ("bare", "entrypoint"))  # fmt: skip
    rows = [["`python -c pass`", f"{series['bare'].median:.3f}",
             f"{bare:.1f} ({min(bare_each):.1f}–{max(bare_each):.1f})", "0 (baseline)"],
            ["`python …/entrypoint.py P` (no-op), alone", f"{series['entrypoint'].median:.3f}",
             f"{entry:.1f} ({min(entry_each):.1f}–{max(entry_each):.1f})",
             f"**{entry - bare:+.1f}**"]]  # fmt: skip
    for label, key, fixed in (("cold", "engine", "engine1"), ("warm", "warm", "warm1")):
        rows.append([f"engine {label}, grid of 1 run, `--max-cpus 1`",
                     f"{series[fixed].median:.3f}", "(fixed cost)", ""])  # fmt: skip
        med, lo, hi = per_run(key, fixed)
        rows.append([f"engine {label}, grid of {runs} runs, `--max-cpus 1`",
                     f"{series[key].median:.3f}", f"{med:.1f} ({lo:.1f}–{hi:.1f}) marginal",
                     f"**{med - bare:+.1f}**"])  # fmt: skip
        med2, lo2, hi2 = per_run(f"{key}-2cpu", fixed)
        rows.append([f"engine {label}, grid of {runs} runs, `--max-cpus 2`",
                     f"{series[f'{key}-2cpu'].median:.3f}",
                     f"{med2:.1f} ({lo2:.1f}–{hi2:.1f}) marginal, 2 at a time", ""])  # fmt: skip
    loads = [x.load for s in series.values() for x in s.samples]
    busy = sorted(x.busy for s in series.values() for x in s.samples)
    head = (f"{runs} launches per sample, {repeats} repeats, "
            f"load1 {min(loads):.2f}-{max(loads):.2f}, CPU busy before a sample "
            f"{busy[0]:.2f}-{busy[-1]:.2f} (median {statistics.median(busy):.2f}); warm: "
            '`[run] preload = ["json"]`\n\n')  # fmt: skip
    return head + table(["what", "median wall s", "ms per run (min–max)", "ms beyond bare"], rows)


def part_hyperfine(tmp: Path, payload: str) -> str:
    """Part 2: single commands under hyperfine."""
    from slc_tui.launch import ENTRYPOINT

    if not shutil.which("hyperfine"):
        return "hyperfine is missing: apt-get install -y hyperfine"
    cmds = {
        "python -c pass": f"{PYTHON} -c pass",
        "python -S -c pass (no site)": f"{PYTHON} -S -c pass",
        "python -c 'import slc_tui.entrypoint'": f"{PYTHON} -c 'import slc_tui.entrypoint'",
        "python -m slc_tui.entrypoint P (no-op)": f"{PYTHON} -m slc_tui.entrypoint {payload}",
        "python …/entrypoint.py P (no-op, the run's command)": f"{PYTHON} {ENTRYPOINT} {payload}",
        "python -c 'import pickle'": f"{PYTHON} -c 'import pickle'",
        "python -c 'import dataclasses'": f"{PYTHON} -c 'import dataclasses'",
        "python -c 'import threading, traceback'": f"{PYTHON} -c 'import threading, traceback'",
    }
    out = tmp / "hyperfine.json"
    busy = common.wait_quiet()
    subprocess.run(
        ["hyperfine", "-N", "--warmup", "5", "--runs", "40", "--export-json", str(out),
         *cmds.values()],
        check=True, stdout=subprocess.DEVNULL, env=child_env(),
    )  # fmt: skip
    results = json.loads(out.read_text())["results"]
    base = results[0]["median"]
    rows = [
        [name, f"{r['median'] * 1000:.1f}", f"{r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f}",
         f"{(r['median'] - base) * 1000:+.1f}"]
        for name, r in zip(cmds, results)
    ]  # fmt: skip
    head = f"40 runs each after 5 warm-up runs, `-N` (no shell); CPU busy before: {busy:.2f}\n\n"
    header = ["command", "median ms", "mean ± sd ms", "ms beyond `python -c pass`"]
    return head + table(header, rows)


_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(argv: list[str]) -> dict[str, tuple[int, int, int]]:
    """``{module: (self us, cumulative us, depth)}`` from one ``-X importtime`` start."""
    proc = subprocess.run(argv, env=child_env(), capture_output=True, text=True, check=True)
    found = {}
    for line in proc.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            found[m.group(4)] = (int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2)
    return found


def part_importtime(payload: str, starts: int = 9) -> str:
    """Part 3: the entrypoint's imports beyond the bare interpreter's, medians of ``starts``."""
    from slc_tui.launch import ENTRYPOINT

    common.wait_quiet()
    bare = [importtime([PYTHON, "-X", "importtime", "-c", "pass"]) for _ in range(starts)]
    entry = [
        importtime([PYTHON, "-X", "importtime", ENTRYPOINT, payload])
        for _ in range(starts)
    ]
    base_mods = set().union(*bare)
    selfs: dict[str, list[int]] = defaultdict(list)
    cums: dict[str, list[int]] = defaultdict(list)
    depth: dict[str, int] = {}
    for run in entry:
        for mod, (s, c, d) in run.items():
            selfs[mod].append(s)
            cums[mod].append(c)
            depth[mod] = d
    extra = [m for m in selfs if m not in base_mods]
    total = sum(statistics.median(selfs[m]) for m in extra) / 1000
    top = [m for m in extra if depth[m] == 1]
    top.sort(key=lambda m: -statistics.median(cums[m]))
    rows = [
        [f"`{m}`", f"{statistics.median(cums[m]) / 1000:.1f}",
         f"{statistics.median(selfs[m]) / 1000:.1f}"]
        for m in top
    ]  # fmt: skip
    heavy = sorted(extra, key=lambda m: -statistics.median(selfs[m]))[:15]
    rows2 = [[f"`{m}`", f"{statistics.median(selfs[m]) / 1000:.1f}"] for m in heavy]
    return (
        f"{len(extra)} modules beyond `python -c pass`, {total:.1f} ms of import time in all "
        f"(sum of self times, medians of {starts} starts).\n\nTop-level imports "
        "(cumulative = with everything they import):\n\n"
        + table(["module", "cumulative ms", "self ms"], rows)
        + "\n\nThe 15 most expensive modules by self time:\n\n"
        + table(["module", "self ms"], rows2)
    )


def part_profile(tmp: Path, runs: int) -> str:
    """Part 4: the engine in-process under cProfile, on ``runs`` no-op runs, one core."""
    code = f"""
import cProfile, pstats, io, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
import work
from slc_tui.run_utils import ExperimentGrid
from slc_tui.plan import plan_grid
from slc_tui.options import RunOptions
from slc_tui.sweep.prepare import from_plans
from slc_tui.states import Resume
g = ExperimentGrid({GRID!r}); g.add("seed", list(range({runs})))
opts = RunOptions().override(max_cpus=1)
plan = plan_grid(g, {NOOP!r}, data_dir={str(tmp / "pdata")!r}, options=opts)
eng = from_plans([plan], opts).engine(Resume.ALL)
pr = cProfile.Profile(); t0 = time.perf_counter(); pr.enable()
eng.run()
pr.disable(); wall = time.perf_counter() - t0
s = io.StringIO(); st = pstats.Stats(pr, stream=s)
print(f"engine.run: {{wall:.3f}} s wall for {runs} runs, {{st.total_tt:.3f}} s profiled",
      file=sys.stderr)
st.sort_stats("tottime").print_stats(18)
print(s.getvalue(), file=sys.stderr)
"""
    proc = subprocess.run([PYTHON, "-c", code], env=child_env(), capture_output=True, text=True,
                          check=True, cwd=tmp)  # fmt: skip
    shutil.rmtree(tmp / "pdata", ignore_errors=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return "```\n" + "\n".join(lines[:40]) + "\n```"


def main() -> None:
    """Run the chosen parts and print Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each sample, wait up to this long for a quiet machine",
    )
    args = ap.parse_args()
    common.QUIET_WAIT = args.quiet_wait
    parts = args.parts.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="slc-bench-launch-"))
    print(f"# {machine()}\n# {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}",
          flush=True)  # fmt: skip
    try:
        payload = noop_payload(tmp)
        if "loop" in parts:
            print("\n## Sequential launches\n\n" + part_loop(tmp, payload, args.runs, args.repeats))
        if "hyperfine" in parts:
            print("\n## hyperfine\n\n" + part_hyperfine(tmp, payload), flush=True)
        if "importtime" in parts:
            print("\n## importtime\n\n" + part_importtime(payload), flush=True)
        if "profile" in parts:
            print("\n## engine profile\n\n" + part_profile(tmp, args.runs), flush=True)
        print(f"\n# load at the end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
