"""The engine's side of the warm launcher (:mod:`slc_tui.warm_launcher`): start one launcher
per preload (and per math-library thread count, which the libraries read when they are
imported), ask it for runs, and learn their ends.

A warm run is not the engine's child: its watcher (a process the launcher forks) writes
``pid N`` and later ``exit CODE`` (``-SIGNAL`` when a signal ended it, as ``Popen`` has it)
on the run's status pipe, and sends the engine SIGCHLD, which wakes its loop as a cold run's
end does. :class:`WarmProc` reads that pipe and looks like a ``Popen`` to the executor. A
launcher that died is started again at the next warm run; the runs it forked go on, since
their watchers hold their status pipes.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO

from slc_tui.launch import THREAD_VARS, LaunchError, run_env
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, LazyRuns
from slc_tui.procid import ENGINE_ENV
from slc_tui.warm_launcher import FAIL, READY, encode

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
LAUNCH = (
    f"import os, sys; sys.path[0] = {PACKAGE_PARENT!r}; import slc_tui; "
    "sys.path[0] = os.getcwd(); from slc_tui.warm_launcher import main; "
    "sys.exit(main(sys.argv[1:]))"
)
"""The launcher's ``python -c``: this slc-tui's package (whatever else is on the path), and
the path a cold run has (the working directory first), as :mod:`slc_tui.entrypoint` does."""
READY_WAIT = 600.0
"""Longest wait, in seconds, for a launcher to import its preload."""
PID_WAIT = 30.0
"""Longest wait, in seconds, for a launcher to fork a run."""
LOST = 1
"""The exit status of a run whose watcher died before it said the run's status."""
PR_SET_PDEATHSIG = 1
"""``prctl``'s option: the signal a process gets when its parent ends."""


class WarmProc:
    """A run forked by a launcher, seen through its status pipe (``pid``, ``poll()``)."""

    def __init__(self, pid: int, fd: int, rest: bytes) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.lost = False
        """True when the watcher died without saying the run's status."""
        self._fd = fd
        self._buffer = rest

    def poll(self) -> int | None:
        """The run's exit status once its watcher said it, else None."""
        if self.returncode is not None:
            return self.returncode
        while True:
            try:
                chunk = os.read(self._fd, 4096)
            except BlockingIOError:
                return self._parse(eof=False)
            if not chunk:
                return self._parse(eof=True)
            self._buffer += chunk

    def _parse(self, eof: bool) -> int | None:
        for line in self._buffer.decode(errors="replace").splitlines():
            word, _, value = line.partition(" ")
            if word == "exit":
                self.returncode = int(value)
        if self.returncode is None and eof:
            self.returncode, self.lost = LOST, True
        if self.returncode is not None:
            os.close(self._fd)
        return self.returncode


class Launcher:
    """One launcher process: imports ``preload`` once, forks runs on request."""

    def __init__(self, preload: tuple[str, ...], env: dict[str, str]) -> None:
        self.preload = preload
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        spec = encode({"preload": list(preload), "sys_path": list(sys.path)})
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(theirs.fileno()), spec],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env, cwd=os.getcwd(), start_new_session=True,
                preexec_fn=die_with_parent(),
            )  # fmt: skip
        finally:
            theirs.close()
        self.sock = ours
        answer = _recv(ours, READY_WAIT)
        if answer != READY:
            hung = not answer and self.popen.poll() is None
            self.close()
            text = answer[len(FAIL) :].decode(errors="replace") if answer else ""
            if hung:
                text = f"{', '.join(preload)}: not imported after {READY_WAIT:g} s"
            raise LaunchError(
                f"preload {text}" if text else "the warm launcher ended before it was ready"
            )

    def alive(self) -> bool:
        """Whether the launcher still runs."""
        return self.popen.poll() is None

    def fork(self, payload: str, env: dict[str, str], log: IO[bytes]) -> WarmProc:
        """Ask for a run of ``payload`` with ``env``, writing to ``log``; OSError when the
        launcher is gone."""
        read, write = os.pipe()
        try:
            request = {"payload": payload, "env": env, "cwd": os.getcwd(),
                       "engine": env.get(ENGINE_ENV, "")}  # fmt: skip
            socket.send_fds(self.sock, [marshal.dumps(request)], [log.fileno(), write])
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        os.set_blocking(read, False)
        deadline, data = time.monotonic() + PID_WAIT, b""
        while b"\n" not in data and time.monotonic() < deadline:
            select.select([read], [], [], 0.5)
            try:
                chunk = os.read(read, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
        line, _, rest = data.partition(b"\n")
        if not line.startswith(b"pid "):
            os.close(read)
            raise OSError("the warm launcher did not start the run")
        return WarmProc(int(line[4:]), read, rest)

    def close(self) -> None:
        """Hang up (the launcher then leaves) and reap it; SIGKILL after a moment."""
        self.sock.close()
        try:
            self.popen.wait(2.0)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()


def die_with_parent() -> Callable[[], None] | None:
    """What makes a launcher end (SIGKILL, from the kernel) when the process that started it
    ends, even while a preload's import hangs and nothing of its own could notice: Linux's
    ``PR_SET_PDEATHSIG``, set in the child before it runs the launcher (it survives the exec,
    and a fork clears it, so the runs it forks keep their own watch on the engine). None where
    ``prctl`` cannot be called."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return set_death_signal


def _recv(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    try:
        return sock.recv(4096)
    except OSError:
        return b""
    finally:
        sock.settimeout(None)


Key = tuple[tuple[str, ...], tuple[str, ...]]
"""A launcher's preload and the math libraries' thread counts of its environment."""
_prestarted: dict[Key, Launcher] = {}
"""Launchers started by a sweep's checks (:func:`prestart`), for this process's engine."""


def _key(preload: tuple[str, ...] | list[str], env: dict[str, str]) -> Key:
    return tuple(preload), tuple(env.get(var, "") for var in THREAD_VARS)


def _launcher_env(key: Key, unbuffered: str = "1") -> dict[str, str]:
    env = dict(os.environ)
    env.update(zip(THREAD_VARS, key[1]))
    env["PYTHONUNBUFFERED"] = unbuffered
    return env


def prestart(preload: tuple[str, ...], env: dict[str, str]) -> str | None:
    """Start the launcher of ``preload`` for runs of environment ``env`` now, as a sweep's
    check (the engine of this process takes it over: the modules are imported once); why it
    cannot start, in one line, or None."""
    key = _key(preload, env)
    if key in _prestarted and _prestarted[key].alive():
        return None
    try:
        _prestarted[key] = Launcher(preload, _launcher_env(key))
    except LaunchError as exc:
        return str(exc).removeprefix("preload ")
    return None


def prestart_plans(plans: Sequence[GridPlan], options: RunOptions) -> tuple[int, str] | None:
    """:func:`prestart` the launcher of each plan with a preload and runs of one rank; the
    first that cannot start, as (index of its plan, the problem)."""
    for i, plan in enumerate(plans):
        runs = plan.runs
        if isinstance(runs, LazyRuns):  # every run alike; never made one by one
            own, ranks = runs.options, {runs.num_cpu}
        else:
            own, ranks = (runs[0].options if runs else options), {r.num_cpu for r in runs}
        if own.preload and 1 in ranks:
            problem = prestart(tuple(own.preload), run_env(1, given_threads=own.threads))
            if problem:
                return i, problem
    return None


def close_prestarted() -> None:
    """End the launchers no engine of this process took (the engine runs elsewhere)."""
    for launcher in _prestarted.values():
        launcher.close()
    _prestarted.clear()


class WarmLaunchers:
    """The launchers of a sweep, one per preload and math-library threads; restarted when
    one died."""

    def __init__(self) -> None:
        self._launchers: dict[Key, Launcher] = {}

    def start(self, preload: tuple[str, ...], payload: str, env: dict[str, str],
              log: IO[bytes]) -> WarmProc:  # fmt: skip
        """Fork a run from the launcher of ``preload`` (started, or started again, first).

        Raises:
            LaunchError: a preload module does not import (the launcher is not kept).
        """
        key = _key(preload, env)
        for attempt in range(2):
            launcher = self._launchers.get(key) or _prestarted.pop(key, None)
            if launcher is None or not launcher.alive():
                if launcher is not None:
                    launcher.close()
                launcher = Launcher(preload, _launcher_env(key, env.get("PYTHONUNBUFFERED", "1")))
            self._launchers[key] = launcher
            try:
                return launcher.fork(payload, env, log)
            except OSError:
                if attempt:
                    raise
                launcher.close()
                del self._launchers[key]
        raise AssertionError("not reached")

    def close(self) -> None:
        """End every launcher (the runs they forked are not touched)."""
        for launcher in self._launchers.values():
            launcher.close()
        self._launchers.clear()
