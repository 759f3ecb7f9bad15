"""Training functions for the engine tests: short, real processes with known behaviour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _out(logger_kwargs: dict[str, Any]) -> Path:
    path = Path(logger_kwargs["output_dir"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def work(
    seed: int, logger_kwargs: dict[str, Any], secs: float = 0.2, epochs: int = 3, **_: Any
) -> None:
    """Busy for ``secs``, writing ``epochs`` progress rows and a record of when and where."""
    out = _out(logger_kwargs)
    start = time.time()
    with open(out / "progress.txt", "w") as f:
        f.write("Epoch\tAverageEpRet\n")
        for epoch in range(epochs):
            end = time.time() + secs / epochs
            while time.time() < end:
                pass
            f.write(f"{epoch}\t{10.0 * (epoch + 1) + seed}\n")
            f.flush()
    print(f"done seed={seed}", flush=True)
    rank = os.environ.get("PMI_RANK", "0")
    record = {
        "start": start,
        "end": time.time(),
        "cpus": sorted(os.sched_getaffinity(0)),
        "pid": os.getpid(),
        "in_mpi": os.environ.get("IN_MPI"),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "size": os.environ.get("PMI_SIZE"),
    }
    (out / f"times.{rank}.json").write_text(json.dumps(record))


def fail(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Print a little, then raise."""
    print("about to fail", flush=True)
    raise ValueError(f"bad hyperparameter for seed {seed}")


def hang(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Start a grandchild, note both pids, then sleep for a long time."""
    out = _out(logger_kwargs)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pids = out / f"pids.{os.environ.get('PMI_RANK', '0')}"
    tmp = pids.with_name(pids.name + ".tmp")  # renamed into place: never read half written
    tmp.write_text(f"{os.getpid()} {child.pid}")
    tmp.replace(pids)
    print("hanging", flush=True)
    time.sleep(600)


def flaky(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Fail on the first attempt, succeed on the second."""
    marker = _out(logger_kwargs) / "tried"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("first attempt fails")
    print("second attempt works", flush=True)


def nothing(**_: Any) -> None:
    """Return at once."""


def self_kill(**_: Any) -> None:
    """Die of SIGKILL."""
    os.kill(os.getpid(), signal.SIGKILL)


def mpi_fail_rank1(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Rank 1 raises; rank 0 waits for a message that never comes."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == 1:
        time.sleep(0.2)
        raise ValueError("rank one broke")
    comm.recv(source=1)


def hang_if_file(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Hang (with a grandchild) while ``hang`` exists in the working directory, else succeed."""
    if Path("hang").exists():
        hang(seed, logger_kwargs)
    print("no hang file: done", flush=True)


def fail_if_file(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Fail when ``bad_seed_<seed>`` exists in the working directory, else do a little work."""
    if Path(f"bad_seed_{seed}").exists():
        raise ValueError(f"seed {seed} is marked bad")
    work(seed, logger_kwargs, secs=0.05, epochs=1)
