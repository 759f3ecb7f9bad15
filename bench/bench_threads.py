"""The thread cap on a real PyTorch workload: a sweep of 2 one-core runs on a 2-core budget.

Methods, run side by side (interleaved) in one invocation:

- ``capped``: slc-tui as it is: each 1-core run gets ``OMP_NUM_THREADS`` /
  ``MKL_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` = 1 (the cores it has per rank).
- ``uncapped``: the same sweep, but the thunk drops the three variables before importing
  torch, so each run starts the threads torch picks by itself (what every run did before).
- ``threads=2``: ``[run] threads = 2``: each run told to use as many threads as the machine
  has cores, as a user who sets the variables by hand for a single run would.

Each sweep's wall time, and each run's training time and torch's thread count as the run
recorded them. Usage: ``.venv/bin/python bench/bench_threads.py [--repeats 5] [--steps 300]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DIR, Series, machine, slc_tui_command, table, timed

METHODS = {
    "capped": ("", ""),
    "uncapped": ("uncap = true\n", ""),
    "threads=2": ("", "[run]\nthreads = 2\n"),
}


def grid_file(folder: Path, method: str, steps: int) -> Path:
    """A grid of two seeds of the torch training, on a 2-core budget."""
    params, run = METHODS[method]
    name = "bench-threads-" + method.replace("=", "")
    path = folder / f"{name}.toml"
    path.write_text(
        f'[grid]\nname = "{name}"\nthunk = "{BENCH_DIR / "torch_work.py"}:train"\n'
        f'data_dir = "{folder / "data"}"\n\n[params]\nsteps = {steps}\n{params}seed = [0, 1]\n'
        f"\n{run or '[run]'}\nmax_cpus = 2\n"
    )
    return path


def run_records(folder: Path) -> list[dict[str, float]]:
    """What each run of the sweep in ``folder`` recorded."""
    found = [json.loads(p.read_text()) for p in (folder / "data").rglob("torch.json")]
    if len(found) != 2:
        raise RuntimeError(f"expected 2 runs' records in {folder}, found {len(found)}")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    print(machine())
    series = {m: Series(m) for m in METHODS}
    train: dict[str, list[float]] = {m: [] for m in METHODS}
    threads: dict[str, set[int]] = {m: set() for m in METHODS}
    os_threads: dict[str, set[int]] = {m: set() for m in METHODS}
    for rep in range(args.repeats):
        for method in METHODS if rep % 2 == 0 else reversed(list(METHODS)):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                grid = grid_file(folder, method, args.steps)
                series[method].samples.append(timed([*slc_tui_command(), str(grid), "--no-ui"]))
                for rec in run_records(folder):
                    train[method].append(rec["train_s"])
                    threads[method].add(int(rec["threads"]))
                    os_threads[method].add(int(rec["os_threads"]))
            time.sleep(0.5)
    base = series["capped"].median
    rows = [
        [m, f"{s.median:.2f}", f"{s.lo:.2f}-{s.hi:.2f}", f"{s.median / base:.2f}x",
         f"{statistics.median(train[m]):.2f}", ",".join(map(str, sorted(threads[m]))),
         ",".join(map(str, sorted(os_threads[m])))]
        for m, s in series.items()
    ]  # fmt: skip
    head = ["method", "sweep s (median)", "range", "vs capped", "train s/run (median)",
            "torch threads", "OS threads of a run"]  # fmt: skip
    print(table(head, rows))


if __name__ == "__main__":
    main()
