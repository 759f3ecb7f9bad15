"""The process a run is: ``python …/slc_tui/entrypoint.py PAYLOAD`` (under ``mpiexec`` for N
ranks), run as a file (``-m`` costs every start ~4 ms: ``runpy``), with the ``sys.path`` that
``python -m slc_tui.entrypoint`` would have (the working directory first).

Kept to the standard library on its start-up path, and to modules that cost little there.
It reads the payload, pins itself to the cores the engine gave the run (``SLC_TUI_CORES``),
watches the engine (``SLC_TUI_ENGINE``) so that no run outlives it, builds ``env_fn`` from
``env_name``, and calls the thunk. In an MPI job an exception in any rank aborts the whole
communicator, so no rank is left blocked.

Each rank is a child subreaper (Linux): a process the thunk started stays its descendant
however it detaches (``setsid``, a double fork), and the rank ends every descendant it has
when the thunk returns or raises, when it aborts the MPI job, and when the engine is gone.

A fresh run's log starts beside the run's folder (``SLC_TUI_LOG``), so that the thunk's logger
makes the folder as it would without slc-tui (and does not warn that it exists). Rank 0 moves
the log into the folder (``SLC_TUI_LOG_TO``) once the folder is there, looking every
:data:`MOVE_INTERVAL`, and at the latest when the thunk ends, making the folder then: a rename,
so the run's open output writes on into the same file.

A failing rank ends its traceback with one line for the engine, however long the traceback
(:mod:`slc_tui.procid.failure`): ``slc-tui: raised TYPE: MESSAGE (at FILE:LINE in FUNCTION)``.
"""

from __future__ import annotations

import _thread  # threading costs a run's start-up ~2 ms more; the watcher needs none of it
import atexit
import os
import sys
import time

_HERE = os.path.dirname(os.path.realpath(__file__))
if __name__ == "__main__" and sys.path and os.path.realpath(sys.path[0]) == _HERE:
    # Run as a file: the package is this file's (the engine's slc-tui, whatever else is on
    # the path), and the path is the one ``-m`` gives, not slc_tui's own folder.
    sys.path[0] = os.path.dirname(_HERE)
    import slc_tui  # noqa: F401  # its submodules are found through its own __path__

    sys.path[0] = os.getcwd()

from slc_tui.procid import (  # noqa: E402  # after the path is set
    CORES_ENV,
    ENGINE_ENV,
    LOG_ENV,
    LOG_TO_ENV,
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
MOVE_INTERVAL = 0.05
"""Seconds between two looks for the run's folder while the log is beside it."""

_move_lock = _thread.allocate_lock()
_log_move: list[tuple[str, str]] = []
"""(where the log is, where it goes) while rank 0 has a log to move into the run's folder."""


def _end_descendants(grace: float = END_GRACE) -> None:
    """End what the thunk left running (nothing to import when it left nothing)."""
    if has_children():
        from slc_tui.procid.reap import end_descendants

        end_descendants(grace)


def _take_log_move() -> None:
    """Read (and drop: the thunk's processes are no runs) the log's move; rank 0 makes it."""
    beside, final = os.environ.pop(LOG_ENV, None), os.environ.pop(LOG_TO_ENV, None)
    if beside and final and _rank() == 0:
        _log_move.append((beside, final))


def _move_log(make: bool = False) -> bool:
    """Move the log into the run's folder if the folder exists (``make``: make it now);
    True once nothing is left to move. A log that cannot move stays beside the folder,
    where the views find it, and the engine moves it at the run's end."""
    with _move_lock:
        if not _log_move:
            return True
        beside, final = _log_move[0]
        folder = os.path.dirname(final)
        try:
            if make:
                os.makedirs(folder, exist_ok=True)
            elif not os.path.isdir(folder):
                return False
            if not os.path.lexists(final):  # never over a file the thunk put there
                os.rename(beside, final)
        except OSError:
            pass
        _log_move.clear()
        return True


def _watch(token: str | None) -> None:
    """Move the log once the run's folder exists; end the run when the engine is gone."""
    moved, next_check = _move_log(), 0.0
    while True:
        if token and time.monotonic() >= next_check:
            if not token_alive(token):
                _engine_gone(token)
            next_check = time.monotonic() + WATCH_INTERVAL
        elif moved and not token:
            return
        time.sleep(WATCH_INTERVAL if moved else MOVE_INTERVAL)
        moved = moved or _move_log()


def _engine_gone(token: str) -> None:
    # The engine is gone: SIGKILL the whole run at once (every rank, all they started).
    from slc_tui.procid.reap import end_run

    end_run(token, os.environ.get(RUN_ENV))
    os.killpg(os.getpgid(0), 9)  # SIGKILL (the signal module costs a start ~2 ms: enum)


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


def _abort_mpi(report: str) -> None:
    """Report the exception in one write (ranks share one output), then abort every rank."""
    sys.stderr.write(report)
    sys.stderr.flush()
    # The abort SIGKILLs every rank, so no exit hook runs: end this rank's processes now, at
    # once (another rank's abort may come first), then let mpiexec forward the report.
    start = time.monotonic()
    _end_descendants(0.0)
    time.sleep(max(0.0, start + ABORT_GRACE - time.monotonic()))
    from mpi4py import MPI

    MPI.COMM_WORLD.Abort(1)


def _failed(exc: BaseException, thunk: object) -> int:
    """Report an exception and return the exit status; in an MPI job of several ranks,
    abort all ranks."""
    _move_log(make=True)
    from slc_tui.procid.failure import report as failure_report

    report = failure_report(exc, thunk, 1, f"MPI rank {_rank()} " if _size() > 1 else "")
    if _size() > 1:
        _abort_mpi(report)
    sys.stderr.write(report)
    sys.stderr.flush()
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def run(thunk: Callable[..., Any], kwargs: dict[str, Any]) -> int:
    """Call the thunk and return the exit status; in an MPI job of several ranks, abort all
    ranks if this one raises."""
    if _size() > 1:
        from mpi4py import MPI  # every rank joins the world, so that an Abort reaches all

        MPI.COMM_WORLD.Barrier()
    try:
        thunk(**kwargs)
    except SystemExit:
        _move_log(make=True)
        raise
    except BaseException as exc:
        return _failed(exc, thunk)
    _move_log(make=True)
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
    _take_log_move()
    if token or _log_move:
        _thread.start_new_thread(_watch, (token,))  # a daemon: it never holds the exit up
    cores = os.environ.get(CORES_ENV)
    if cores:
        _pin(cores)
    try:
        from slc_tui.payload import read_payload

        payload = read_payload(argv[0])
        thunk = payload.thunk
        if isinstance(thunk, str):
            from slc_tui.thunks import resolve

            thunk = resolve(thunk, base_dir=payload.cwd)
        kwargs = prepare_kwargs(payload.kwargs)
    except SystemExit:
        _move_log(make=True)
        raise
    except BaseException as exc:  # no thunk to call: the payload or the thunk's import failed
        return _failed(exc, None)
    return run(thunk, kwargs)


if __name__ == "__main__":
    sys.exit(main())
