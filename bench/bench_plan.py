"""Planning at scale: ``slc-tui GRID.toml --dry-run`` of 10^4, 10^5 and 10^6 variants.

Each size is one grid file (seeds x lr x a third key, 10 x 100 x 10^k), planned and printed by
the real interpreter (``sys.executable -m slc_tui``, never the pyenv shim), output discarded.
Two modes side by side: the default (a summary above ``dryrun.FULL_LIMIT`` runs) and
``--all`` (every run printed). Per sample: wall time, and the peak RSS of that one child
(``os.wait4``). A sample over ``--limit`` seconds is killed and reported as such.

    .venv/bin/python bench/bench_plan.py [--sizes 4,5,6] [--repeats 3] [--modes summary,all]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, WORK_THUNK, child_env, machine, table


def write_big_grid(path: Path, exponent: int, data_dir: Path) -> int:
    """A grid of 10**exponent variants: seed (10) x lr (100) x width (10**(exponent - 3))."""
    widths = ", ".join(str(w) for w in range(10 ** (exponent - 3)))
    lrs = ", ".join(f"{i / 1000:g}" for i in range(100))
    path.write_text(
        f'[grid]\nname = "big"\nthunk = "{WORK_THUNK}:nothing"\ndata_dir = "{data_dir}"\n\n'
        f"[params]\nseed = [{', '.join(str(s) for s in range(10))}]\nlr = [{lrs}]\n"
        f"width = [{widths}]\n"
    )
    return 10**exponent


def sample(argv: list[str], limit: float) -> tuple[float, float, int | None]:
    """(wall s, peak RSS MB, exit status or None when killed at ``limit``) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = t0 + limit
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return time.perf_counter() - t0, usage.ru_maxrss / 1024, None
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {err[-1000:]}")
    return wall, usage.ru_maxrss / 1024, code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4,5,6", help="exponents of 10, comma separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="summary,all", help="summary (default output), all")
    ap.add_argument("--limit", type=float, default=180.0, help="seconds before a sample is killed")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    print(machine())
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        for exponent in sizes:
            grid = Path(tmp) / f"big{exponent}.toml"
            n = write_big_grid(grid, exponent, Path(tmp) / "data")
            row = [f"{n:,}"]
            for mode in modes:
                argv = [PYTHON, "-m", "slc_tui", str(grid), "--dry-run", "--max-cpus", "2"]
                argv += ["--all"] if mode == "all" else []
                walls, rss, killed = [], [], False
                for _ in range(args.repeats):
                    wall, peak, code = sample(argv, args.limit)
                    walls.append(wall)
                    rss.append(peak)
                    print(f"  10^{exponent} {mode}: {wall:.2f} s, {peak:.0f} MB"
                          f"{' (killed)' if code is None else ''}", flush=True)  # fmt: skip
                    if code is None:
                        killed = True
                        break
                shown = f"> {args.limit:g} (killed)" if killed else (
                    f"{statistics.median(walls):.2f} ({min(walls):.2f}–{max(walls):.2f})"
                )  # fmt: skip
                row += [shown, f"{max(rss):.0f}"]
            rows.append(row)
            if not Path(tmp, "data").exists():
                continue
            print("  (dry-run created files!)", file=sys.stderr)
    header = ["variants"]
    for mode in modes:
        label = "--dry-run" if mode == "summary" else "--dry-run --all"
        header += [f"{label}: wall s, median (min–max)", f"{label}: peak RSS MB"]
    print(table(header, rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
