"""Training functions for the engine tests: short, real processes with known behaviour."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def raised_at(name: str, text: str = "raise ") -> str:
    """Where thunk ``name`` raises, as a failed run's reason names it: ``engine_thunks.py:LINE
    in NAME``, LINE that of its first line holding ``text``."""
    lines, start = inspect.getsourcelines(globals()[name])
    offset = next(i for i, line in enumerate(lines) if text in line)
    return f"{Path(__file__).name}:{start + offset} in {name}"


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
        "mkl": os.environ.get("MKL_NUM_THREADS"),
        "openblas": os.environ.get("OPENBLAS_NUM_THREADS"),
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
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


def record(seed: int, logger_kwargs: dict[str, Any], **kwargs: Any) -> None:
    """Write what the run received (``env_fn`` as the id of the environment it makes) to
    ``received.json`` in its output directory."""
    env_fn = kwargs.pop("env_fn", None)
    got = {"seed": seed, "logger_kwargs": logger_kwargs, "kwargs": kwargs}
    if env_fn is not None:
        got["env"] = env_fn().spec.id
    (_out(logger_kwargs) / "received.json").write_text(json.dumps(got))


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


DAEMON = """
import os, signal, sys, time
if os.fork():  # the session leader leaves at once: its child is an orphan (a double fork)
    os._exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[2] != "hold":  # a daemon lets go of the run's output; "hold" keeps it open
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


def _wait_file(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path}")
        time.sleep(0.01)
    return path.read_text()


def detach(
    seed: int, logger_kwargs: dict[str, Any], then: str = "return", hold: bool = False, **_: Any
) -> None:
    """Start a daemon (setsid, a second fork, SIGTERM ignored; with ``hold`` it keeps the run's
    stdout open), write ``pids.<rank>`` (this rank's pid and the daemon's), then ``then``:
    ``return``, ``hang``, ``raise``, or ``fail_rank1`` (rank 1 raises once rank 0 has written
    its pids, rank 0 hangs)."""
    out = _out(logger_kwargs)
    rank = os.environ.get("PMI_RANK", "0")
    daemon_file = out / f"daemon.{rank}"
    child = subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(daemon_file), "hold" if hold else "let-go"],
        start_new_session=True,
    )
    child.wait()  # the session leader has left: the daemon is on its own
    pids = out / f"pids.{rank}"
    tmp = pids.with_name(pids.name + ".tmp")
    tmp.write_text(f"{os.getpid()} {_wait_file(daemon_file)}")
    tmp.replace(pids)
    print(f"rank {rank} detached a daemon", flush=True)
    if then == "hang" or (then == "fail_rank1" and rank == "0"):
        time.sleep(600)
    elif then == "raise":
        raise RuntimeError("the thunk failed after detaching")
    elif then == "fail_rank1":
        _wait_file(out / "pids.0")
        raise ValueError("rank one broke after detaching")


def _deeper(thunk: Any, seed: int, logger_kwargs: dict[str, Any], depth: int, **kw: Any) -> None:
    """Call ``thunk`` one frame further down."""
    thunk(seed, logger_kwargs, depth=depth, **kw)


def deep_raise(seed: int, logger_kwargs: dict[str, Any], depth: int = 60, **_: Any) -> None:
    """Raise from ``depth`` frames down: a traceback far longer than the tail the ledger keeps
    (through :func:`_deeper` every other frame, since a traceback folds repeated frames)."""
    if depth:
        _deeper(deep_raise, seed, logger_kwargs, depth - 1)
    raise ValueError("raised deep down the stack")


def torch_dtype(
    seed: int, logger_kwargs: dict[str, Any], how: str = "linear", depth: int = 15, **_: Any
) -> None:
    """Fail inside torch as a mixed-precision bug does, from ``depth`` frames down: a float64
    batch through a float32 layer (``linear``: raised in torch.nn's Python code, below our
    frames) or in a product with a float32 matrix (``matmul``: raised in torch's C code)."""
    import torch

    if depth:
        _deeper(torch_dtype, seed, logger_kwargs, depth - 1, how=how)
    batch = torch.zeros(2, 3, dtype=torch.float64)
    if how == "linear":
        torch.nn.Linear(3, 2)(batch)
    else:
        torch.zeros(2, 3) @ batch.T


def mpi_deep_rank1(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Rank 1 raises from deep down the stack; rank 0 waits for a message that never comes."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == 1:
        time.sleep(0.2)
        deep_raise(seed, logger_kwargs)
    comm.recv(source=1)


def fail_then_chatter(seed: int, logger_kwargs: dict[str, Any], lines: int = 50, **_: Any) -> None:
    """Raise, with exit hooks that print ``lines`` lines after the traceback (as a TensorBoard
    or Weights & Biases writer does when it closes)."""
    import atexit

    atexit.register(lambda: print("\n".join(f"closing {i}" for i in range(lines)), flush=True))
    raise KeyError("no such column")


def _log_in_folder(output_dir: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the run's log is in its folder (moved there by the run's rank 0); note
    whether it came and how long it took."""
    start = time.monotonic()
    log = Path(output_dir, "output.log")
    while not log.exists() and time.monotonic() - start < timeout:
        time.sleep(0.01)
    return {"in_folder": log.exists(), "after": time.monotonic() - start}


def logx_train(seed: int, logger_kwargs: dict[str, Any], epochs: int = 3, **_: Any) -> None:
    """Train with slc_tui.logx's EpochLogger (the reference's API); note in ``seen.json``
    whether the run's log was in the folder while the run ran."""
    from slc_tui.logx import EpochLogger

    logger = EpochLogger(**logger_kwargs)
    logger.save_config({"seed": seed, "epochs": epochs})
    seen = _log_in_folder(str(logger.output_dir)) if logger.output_dir else {}
    for epoch in range(epochs):
        logger.store(EpRet=float(seed + epoch))
        logger.log_tabular("Epoch", epoch)
        logger.log_tabular("EpRet", with_min_and_max=True)
        logger.dump_tabular()
    if logger.output_dir:
        Path(logger.output_dir, "seen.json").write_text(json.dumps(seen))


def spinup_logger(
    seed: int, logger_kwargs: dict[str, Any], go: str = "", csv: bool = False, **_: Any
) -> None:
    """A stand-in for SpinningUp's (and stable-learning-control's) Logger: warn when the
    output folder exists at the start, else make it. With ``go``, print a line and wait for
    that file before making the folder. Notes in ``seen.json`` whether the run's log was in
    the folder while the run ran; writes ``progress.csv`` with ``csv`` (as SLC does)."""
    output_dir = logger_kwargs["output_dir"]
    print("before the folder", flush=True)
    if go:
        _wait_file(Path(go))
    if os.path.exists(output_dir):
        print(f"Warning: Log dir {output_dir} already exists! Storing info there anyway.")
    else:
        os.makedirs(output_dir)
    name = "progress.csv" if csv else "progress.txt"
    with open(os.path.join(output_dir, name), "w") as f:
        f.write("Epoch,AverageEpRet\n0,1.0\n" if csv else "Epoch\tAverageEpRet\n0\t1.0\n")
    print(f"Logging data to {f.name}", flush=True)
    seen = _log_in_folder(output_dir)
    print("after the folder", flush=True)
    Path(output_dir, "seen.json").write_text(json.dumps(seen))
    if go:
        _wait_file(Path(go + ".end"))


def print_only(seed: int, logger_kwargs: dict[str, Any], **_: Any) -> None:
    """Print, and never make the run's folder."""
    print(f"no folder for seed {seed}", flush=True)


def curve(
    seed: int, logger_kwargs: dict[str, Any], score: float = 0.0, epochs: int = 5,
    secs: float = 0.05, long_below: float | None = None, **_: Any,
) -> None:  # fmt: skip
    """Write ``epochs`` progress rows of ``AverageEpRet = score + seed``, one every ``secs``
    (five times as many when ``score < long_below``: a poor run that only a stop ends soon)."""
    out = _out(logger_kwargs)
    if long_below is not None and score < long_below:
        epochs *= 5
    with open(out / "progress.txt", "w") as f:
        f.write("Epoch\tAverageEpRet\n")
        for epoch in range(epochs):
            time.sleep(secs)
            f.write(f"{epoch}\t{score + seed}\n")
            f.flush()
