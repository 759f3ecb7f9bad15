"""The command line and environment that start one run (local or inside a Slurm job)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from slc_tui.errors import SlcError

ENTRYPOINT = str(Path(__file__).resolve().with_name("entrypoint.py"))
"""The file a run's interpreter runs (``slc_tui/entrypoint.py``)."""
MPIEXEC_ENV = "SLC_TUI_MPIEXEC"
"""Environment variable naming another ``mpiexec`` than the mpich wheel's."""


class LaunchError(SlcError, RuntimeError):
    """A run cannot be started (no ``mpiexec`` for an MPI run, say)."""


def find_mpiexec(preferred: str | None = None) -> str:
    """The ``mpiexec`` to use: ``preferred``, ``$SLC_TUI_MPIEXEC``, the venv's, then ``PATH``."""
    for candidate in (preferred, os.environ.get(MPIEXEC_ENV)):
        if candidate:
            found = shutil.which(candidate)
            if not found:
                raise LaunchError(f"mpiexec {candidate!r} was not found")
            return found
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if not found:
        raise LaunchError(
            "no mpiexec found for a run of several ranks: install the 'mpich' wheel "
            f"or set {MPIEXEC_ENV}"
        )
    return found


def run_command(
    payload: str | os.PathLike[str], num_cpu: int, mpiexec: str | None = None
) -> list[str]:
    """The argv of a run: the entrypoint (as a file: see :mod:`slc_tui.entrypoint`), under
    ``mpiexec -n N`` when ``num_cpu > 1``."""
    argv = [sys.executable, ENTRYPOINT, os.fspath(payload)]
    if num_cpu > 1:
        argv = [find_mpiexec(mpiexec), "-n", str(num_cpu), *argv]
    return argv


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The math libraries' thread counts, set for each run to the cores it has per rank."""
GPU_ENV = "CUDA_VISIBLE_DEVICES"


def run_env(
    num_cpu: int,
    base: dict[str, str] | None = None,
    *,
    threads: int = 1,
    given_threads: int | None = None,
    gpus: list[int] | None = None,
) -> dict[str, str]:
    """The environment of a run: unbuffered output, the MPI settings for N > 1 ranks, the
    math libraries' threads, and its GPUs.

    Args:
        threads: cores per rank: each of :data:`THREAD_VARS` the environment does not set.
        given_threads: ``[run] threads``, which sets them all whatever the environment says.
        gpus: the run's devices (``[]``: none); None leaves ``CUDA_VISIBLE_DEVICES`` alone.
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    if num_cpu > 1:
        env["IN_MPI"] = "1"
    for var in THREAD_VARS:
        if given_threads is not None:
            env[var] = str(given_threads)
        else:
            env.setdefault(var, str(max(1, threads)))
    if gpus is not None:
        env[GPU_ENV] = ",".join(map(str, gpus))
    return env
