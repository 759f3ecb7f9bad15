"""MPI helpers with the reference API (SpinningUp / stable-learning-control ``mpi_tools``).

mpi4py is imported lazily, on the first call that needs it: a process that is not part of an
MPI job (no ``IN_MPI``, and ``PMI_SIZE`` / ``OMPI_COMM_WORLD_SIZE`` absent or 1) has rank 0 of
1, and the reductions work on plain numpy without loading MPI (about 100 ms saved per run).
Reductions use float64 buffers (the reference used float32, which rounds large counts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np

_SIZE_ENV_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
"""Environment variables an MPI launcher sets to the number of ranks (MPICH, Open MPI)."""

_comm: Any = None
"""``MPI.COMM_WORLD`` once loaded; None while the process runs without MPI."""


def in_mpi() -> bool:
    """Return True when this process is (or must behave as) a rank of an MPI job."""
    if os.environ.get("IN_MPI"):
        return True
    for var in _SIZE_ENV_VARS:
        try:
            if int(os.environ.get(var) or 1) > 1:
                return True
        except ValueError:
            continue
    return False


def _world() -> Any:
    """``MPI.COMM_WORLD`` (importing mpi4py), or None when not under MPI."""
    global _comm
    if _comm is None and in_mpi():
        from mpi4py import MPI  # deferred: ~100 ms

        _comm = MPI.COMM_WORLD
    return _comm


def mpi_fork(n: int, bind_to_core: bool = False) -> None:
    """Re-launch the current script as ``n`` MPI ranks, then exit with their status.

    A no-op when ``n <= 1`` or when already under MPI (``IN_MPI`` set: slc-tui's engine starts
    a run of N ranks that way). Uses the mpich wheel's ``mpiexec`` (see
    :func:`slc_tui.launch.find_mpiexec`).

    Args:
        n: Number of ranks to split into.
        bind_to_core: Bind each rank to a core (``-bind-to core``).
    """
    if n <= 1 or os.environ.get("IN_MPI"):
        return
    from slc_tui.launch import find_mpiexec

    env = dict(os.environ, MKL_NUM_THREADS="1", OMP_NUM_THREADS="1", IN_MPI="1")
    args = [find_mpiexec(), "-n", str(n)]
    if bind_to_core:
        args += ["-bind-to", "core"]
    # sys.orig_argv keeps "-m module" (Python 3.10+); sys.argv would lose it.
    orig = getattr(sys, "orig_argv", None)
    args += [sys.executable, *(orig[1:] if orig else sys.argv)]
    sys.exit(subprocess.call(args, env=env))


def proc_id() -> int:
    """Rank of the calling process (0 when not under MPI)."""
    comm = _world()
    return 0 if comm is None else int(comm.Get_rank())


def num_procs() -> int:
    """Number of ranks in the job (1 when not under MPI)."""
    comm = _world()
    return 1 if comm is None else int(comm.Get_size())


def msg(m: object, string: str = "") -> None:
    """Print ``m`` prefixed with the rank of the calling process (one write, one line)."""
    # A single write: print() writes the text and the newline separately, and mpiexec can
    # interleave two ranks' output between them when stdout is unbuffered.
    sys.stdout.write(f"Message from {proc_id()}: {string} \t {m}\n")
    sys.stdout.flush()


def broadcast(x: Any, root: int = 0) -> Any:
    """Broadcast the numpy array ``x`` from rank ``root`` in place (and return it)."""
    comm = _world()
    if comm is not None:
        comm.Bcast(x, root=root)
    return x


def allreduce(*args: Any, **kwargs: Any) -> Any:
    """``MPI.COMM_WORLD.Allreduce`` (only meaningful under MPI)."""
    comm = _world()
    if comm is None:
        raise RuntimeError("allreduce needs an MPI job: run under mpiexec or use mpi_fork")
    return comm.Allreduce(*args, **kwargs)


def mpi_op(x: Any, op: str) -> Any:
    """Reduce a scalar or array over all ranks with ``op`` ("SUM", "MIN" or "MAX").

    Returns a float for a scalar ``x`` and a float64 array otherwise.
    """
    scalar = np.isscalar(x) or np.ndim(x) == 0
    buf = np.array([x] if scalar else x, dtype=np.float64)
    comm = _world()
    if comm is not None:
        from mpi4py import MPI

        out = np.zeros_like(buf)
        comm.Allreduce(buf, out, op=getattr(MPI, op))
        buf = out
    return float(buf[0]) if scalar else buf


def mpi_sum(x: Any) -> Any:
    """Sum a scalar or vector over all ranks."""
    return mpi_op(x, "SUM")


def mpi_min(x: Any) -> Any:
    """Element-wise minimum of a scalar or vector over all ranks."""
    return mpi_op(x, "MIN")


def mpi_max(x: Any) -> Any:
    """Element-wise maximum of a scalar or vector over all ranks."""
    return mpi_op(x, "MAX")


def mpi_avg(x: Any) -> Any:
    """Average a scalar or vector over all ranks."""
    return mpi_sum(x) / num_procs()


def mpi_statistics_scalar(x: Any, with_min_and_max: bool = False) -> tuple[float, ...]:
    """Mean and std (and min and max) of the samples ``x`` of all ranks together.

    Args:
        x: The samples of this rank (any length, possibly empty).
        with_min_and_max: Also return the global minimum and maximum.

    Returns:
        ``(mean, std)`` or ``(mean, std, min, max)``; the std is the population std.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    global_sum, global_n = mpi_sum(np.array([np.sum(x), len(x)]))
    mean = global_sum / global_n if global_n else float("nan")
    global_sum_sq = mpi_sum(float(np.sum((x - mean) ** 2)))
    std = float(np.sqrt(global_sum_sq / global_n)) if global_n else float("nan")
    if with_min_and_max:
        global_min = mpi_min(float(np.min(x)) if len(x) else np.inf)
        global_max = mpi_max(float(np.max(x)) if len(x) else -np.inf)
        return float(mean), std, global_min, global_max
    return float(mean), std
