"""The process a run is: ``python -m slc_tui.entrypoint PAYLOAD`` (under ``mpiexec`` for N ranks).

Kept to the standard library on its start-up path. It reads the payload, pins itself to the
cores the engine gave the run (``SLC_TUI_CORES``), watches the engine (``SLC_TUI_ENGINE``) so
that no run outlives it, builds ``env_fn`` from ``env_name``, and calls the thunk. In an MPI
job an exception in any rank aborts the whole communicator, so no rank is left blocked.

Each rank is a child subreaper (Linux): a process the thunk started stays its descendant
however it detaches (``setsid``, a double fork), and the rank ends every descendant it has
when the thunk returns or raises, when it aborts the MPI job, and when the engine is gone.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time

from slc_tui.procid import (
    CORES_ENV,
    ENGINE_ENV,
    RUN_ENV,
    become_subreaper,
    has_children,
    token_alive,
)

TYPE_CHECKING = False  # typing and traceback cost ~18 ms; a run imports them only if it fails
if TYPE_CHECKING:
    from typing import Any, Callable

ABORT_GRACE = 0.3
"""Seconds a failing rank waits between reporting its exception and aborting the job."""
WATCH_INTERVAL = 0.5
"""Seconds between two checks that the engine still lives."""
END_GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL for the processes a rank leaves when it ends."""


def _end_descendants(grace: float = END_GRACE) -> None:
    """End what the thunk left running (nothing to import when it left nothing)."""
    if has_children():
        from slc_tui.procid.reap import end_descendants

        end_descendants(grace)


def _watch_engine(token: str) -> None:
    while token_alive(token):
        time.sleep(WATCH_INTERVAL)
    # The engine is gone: SIGKILL the whole run at once (every rank, all they started).
    from slc_tui.procid.reap import end_run

    end_run(token, os.environ.get(RUN_ENV))
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _rank() -> int:
    return int(os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or 0)


def _size() -> int:
    return int(os.environ.get("PMI_SIZE") or os.environ.get("OMPI_COMM_WORLD_SIZE") or 1)


def _pin(cores: str) -> None:
    ids = [int(c) for c in cores.split(",") if c.strip()]
    if ids and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {ids[_rank() % len(ids)]})
        except OSError as exc:  # a core outside this process's affinity: run unpinned
            print(f"slc-tui: could not pin to core {ids}: {exc}", file=sys.stderr)


def _make_env(env_name: str, env_kwargs: dict[str, Any]) -> Any:
    import gymnasium as gym  # deferred: ~300 ms, only when the thunk makes an env

    return gym.make(env_name, **env_kwargs)


def prepare_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn ``env_name`` (and ``env_kwargs``) into an ``env_fn``, as the reference does."""
    kwargs = dict(kwargs)
    if "env_name" in kwargs:
        env_name = kwargs.pop("env_name")
        env_kwargs = kwargs.pop("env_kwargs", None) or {}

        def env_fn() -> Any:
            return _make_env(env_name, env_kwargs)

        kwargs["env_fn"] = env_fn
    return kwargs


def _report(exc: BaseException) -> str:
    """The traceback of an exception the thunk raised, from the thunk's frame on."""
    import traceback

    tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # skip run()'s own frame
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _abort_mpi(exc: BaseException) -> None:
    """Report the exception in one write (ranks share one output), then abort every rank."""
    summary = _report(exc).rstrip("\n").rsplit("\n", 1)[-1]
    sys.stderr.write(f"{_report(exc)}slc-tui: MPI rank {_rank()} raised {summary}\n")
    sys.stderr.flush()
    # The abort SIGKILLs every rank, so no exit hook runs: end this rank's processes now, at
    # once (another rank's abort may come first), then let mpiexec forward the report.
    start = time.monotonic()
    _end_descendants(0.0)
    time.sleep(max(0.0, start + ABORT_GRACE - time.monotonic()))
    from mpi4py import MPI

    MPI.COMM_WORLD.Abort(1)


def run(thunk: Callable[..., Any], kwargs: dict[str, Any]) -> int:
    """Call the thunk and return the exit status; in an MPI job of several ranks, abort all
    ranks if this one raises."""
    if _size() > 1:
        from mpi4py import MPI  # every rank joins the world, so that an Abort reaches all

        MPI.COMM_WORLD.Barrier()
    try:
        thunk(**kwargs)
    except SystemExit:
        raise
    except BaseException as exc:
        if _size() > 1:
            _abort_mpi(exc)
        sys.stderr.write(_report(exc))
        sys.stderr.flush()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the payload named on the command line; the exit status is the run's."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m slc_tui.entrypoint PAYLOAD", file=sys.stderr)
        return 2
    if become_subreaper():  # before the thunk starts anything; first in, so last at exit
        atexit.register(_end_descendants)
    token = os.environ.get(ENGINE_ENV)
    if token:
        threading.Thread(target=_watch_engine, args=(token,), daemon=True).start()
    cores = os.environ.get(CORES_ENV)
    if cores:
        _pin(cores)
    from slc_tui.payload import read_payload

    payload = read_payload(argv[0])
    thunk = payload.thunk
    if isinstance(thunk, str):
        from slc_tui.thunks import resolve

        thunk = resolve(thunk, base_dir=payload.cwd)
    return run(thunk, prepare_kwargs(payload.kwargs))


if __name__ == "__main__":
    sys.exit(main())
