"""Helpers shared by the benchmarks: timing a command, load, medians, grid files, tables."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
"""This folder (``work.py`` lives here)."""
PYTHON = sys.executable
"""The real interpreter of the venv (never the pyenv shim)."""
WORK_THUNK = f"{BENCH_DIR / 'work.py'}"
"""The file part of the thunk references ``work.py:busy`` / ``work.py:nothing``."""


def slc_tui_command() -> list[str]:
    """The ``slc-tui`` console script beside the interpreter, else ``python -m slc_tui``."""
    script = Path(PYTHON).parent / "slc-tui"
    return [str(script)] if script.exists() else [PYTHON, "-m", "slc_tui"]


def child_env() -> dict[str, str]:
    """The environment of every benchmarked command (the caller's, unbuffered output)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Sample:
    """One timed execution of a command."""

    wall: float
    """Wall-clock seconds."""
    cpu: float
    """User + system CPU seconds of all the children it waited for."""
    load: float
    """The 1-minute load average just before it started."""
    busy: float = 0.0
    """The fraction of all CPUs busy (with other work) just before it started."""


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from ``/proc/stat``."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_fraction(interval: float = 0.3) -> float:
    """The fraction of the machine's CPU time in use by anything, over ``interval`` seconds."""
    b0, t0 = _cpu_times()
    time.sleep(interval)
    b1, t1 = _cpu_times()
    return (b1 - b0) / max(t1 - t0, 1)


QUIET = 0.15
"""Busy fraction under which the machine counts as quiet (other load < 0.3 of 2 cores)."""
QUIET_WAIT = 0.0
"""Longest wait for a quiet machine before each sample, seconds (set by ``--quiet-wait``)."""


def wait_quiet() -> float:
    """Wait (at most ``QUIET_WAIT`` s) until the machine is quiet; return the busy fraction."""
    deadline = time.monotonic() + QUIET_WAIT
    busy = busy_fraction()
    while busy > QUIET and time.monotonic() < deadline:
        busy = busy_fraction(1.0)
    return busy


def timed(argv: Sequence[str], cwd: str | os.PathLike[str] | None = None) -> Sample:
    """Run ``argv`` (output discarded) and time it; raise if it fails."""
    busy = wait_quiet()
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        list(argv), cwd=cwd, env=child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall=wall, cpu=cpu, load=load, busy=busy)


@dataclass
class Series:
    """The samples of one method."""

    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def lo(self) -> float:
        return min(s.wall for s in self.samples)

    @property
    def hi(self) -> float:
        return max(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def load(self) -> float:
        return statistics.median(s.load for s in self.samples)

    @property
    def busy(self) -> float:
        return statistics.median(s.busy for s in self.samples)


def write_grid(
    path: Path, name: str, thunk: str, data_dir: Path, runs: int, extra: str = ""
) -> None:
    """A grid file of ``runs`` runs (seeds ``0..runs-1``) of ``thunk``."""
    seeds = ", ".join(str(s) for s in range(runs))
    path.write_text(
        f'[grid]\nname = "{name}"\nthunk = "{thunk}"\ndata_dir = "{data_dir}"\n'
        f"datestamp = false\n\n[params]\n{extra}seed = [{seeds}]\n"
    )


def machine() -> str:
    """A one-line description of this machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), affinity {len(os.sched_getaffinity(0))}, "
        f"Python {sys.version.split()[0]} at {PYTHON}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
