"""The warm launcher: a process that imports ``[run] preload`` once and forks each 1-rank run.

Started by the engine (:mod:`slc_tui.engine.warm`) as ``python -c LAUNCH FD SPEC`` (``main``
of this module, with the engine's slc-tui package and a cold run's ``sys.path``): ``FD`` is
its end of a ``SOCK_SEQPACKET`` socket pair, ``SPEC`` the preload and the engine's
``sys.path`` (hex of a ``marshal`` dict). It imports the modules, answers ``ready``
(or ``fail MODULE: TYPE: MESSAGE``: nothing is forked then), and serves one request per run:
the payload, the run's environment, its working directory and the engine's token, with two
descriptors, the run's log and the write end of its status pipe.

For each request it forks a watcher, which forks the run and waits for it (the run is not the
engine's child, so the watcher says its pid and its exit status on the status pipe, then wakes
the engine with SIGCHLD); a watcher outlives a launcher that dies, so no status is lost. The
run, before the thunk: its own session, stdin ``/dev/null``, stdout and stderr to its log and
no other descriptor, the run's environment and cwd, the launcher's pristine ``sys.path``, a
fresh ``__main__`` and ``sys.argv`` as ``python …/slc_tui/entrypoint.py PAYLOAD`` has them,
``random`` and numpy's global generator reseeded from the OS; then the entrypoint's code, as
in a cold run. The launcher never runs a thunk, so nothing a run does reaches the next.

Standard library only (the modules it preloads aside).
"""

from __future__ import annotations

import marshal
import os
import signal
import socket
import sys
from contextlib import suppress
from types import CodeType

from slc_tui.procid import become_subreaper, has_children, token_alive

READY = b"ready"
FAIL = b"fail "
MAX_REQUEST = 1 << 20
"""Largest request in bytes (a run's environment is a few kilobytes)."""
WARM_IMPORTS = ("slc_tui.payload", "slc_tui.thunks", "slc_tui.procid")
"""What the entrypoint imports on its way to the thunk, imported once here."""


def encode(value: dict[str, object]) -> str:
    """The ``SPEC`` argument of a value (dicts, lists and strings)."""
    return marshal.dumps(value).hex()  # type: ignore[arg-type]  # plain data


def preload(modules: list[str], sys_path: list[str]) -> str | None:
    """Import ``modules`` with ``sys_path`` added; the first problem as one line, or None."""
    for entry in sys_path:
        if entry not in sys.path:
            sys.path.append(entry)
    for name in modules:
        try:
            __import__(name)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt of a module too
            message = " ".join(str(exc).split())[:300]
            return f"{name}: {type(exc).__name__}" + (f": {message}" if message else "")
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and getattr(cuda, "is_initialized", lambda: False)():
        return "torch initialised CUDA on import: a forked run cannot use it (see the README)"
    return None


def _entry_code() -> tuple[CodeType, str, object]:
    """The entrypoint's code (compiled once), its file and its loader, as a cold run's
    ``python …/slc_tui/entrypoint.py`` has them."""
    from importlib.machinery import SourceFileLoader

    origin = os.path.join(os.path.dirname(os.path.realpath(__file__)), "entrypoint.py")
    loader = SourceFileLoader("__main__", origin)
    code = loader.get_code("__main__")
    assert code is not None
    return code, origin, loader


def serve(sock: socket.socket) -> dict | None:
    """Fork a watcher and a run for each request until the engine hangs up; returns only in a
    forked run (its request), None in the launcher when the engine is gone."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ended watchers are reaped by the kernel
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 2)
        except OSError:
            return None
        if not data:
            return None
        job = marshal.loads(data)
        try:
            pid = os.fork()
        except OSError as exc:  # the status pipe's EOF tells the engine
            print(f"slc-tui: the warm launcher could not fork: {exc}", file=sys.stderr)
            pid = -1
        if pid == 0:
            sock.detach()  # the descriptor is closed below; no object may close it again
            return _watcher(job, *fds)
        for fd in fds:
            os.close(fd)


def _watcher(job: dict, log_fd: int, status_fd: int) -> dict | None:
    """In the watcher: fork the run, say its pid, wait for it, end what it left, say its
    status. Returns the request in the run."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    become_subreaper()  # what the run leaves when it is killed stays here, to be ended
    try:
        pid = os.fork()
    except OSError as exc:
        print(f"slc-tui: the warm launcher could not fork: {exc}", file=sys.stderr)
        os._exit(1)
    if pid == 0:
        job["log_fd"] = log_fd
        return job
    _close_fds_but(status_fd)
    _say(status_fd, f"pid {pid}\n")
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 255 << 8
            break
        if done == pid:
            break
    if has_children():  # the run was killed: its processes are ours now
        from slc_tui.procid.reap import end_descendants

        end_descendants(0.0)
    _say(status_fd, f"exit {os.waitstatus_to_exitcode(status)}\n")
    token = job["engine"]
    if token and token_alive(token):
        with suppress(OSError):
            os.kill(int(token.partition(":")[0]), signal.SIGCHLD)  # wake the engine's loop
    os._exit(0)


def _say(fd: int, text: str) -> None:
    with suppress(OSError):  # the engine is gone
        os.write(fd, text.encode())


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


def _close_fds_but(*keep: int) -> None:
    """Close every descriptor above 2 but ``keep``."""
    for fd in _open_fds():
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                continue


def _streams(unbuffered: bool) -> None:
    """New ``sys.stdin``/``stdout``/``stderr`` on the run's 0, 1 and 2, as a fresh start
    makes them (write-through when ``PYTHONUNBUFFERED``)."""
    import io

    def out(fd: int, errors: str) -> io.TextIOWrapper:
        raw = io.FileIO(fd, "w", closefd=False)
        buffer = raw if unbuffered else io.BufferedWriter(raw)
        encoding = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
        return io.TextIOWrapper(buffer, encoding, errors, "\n", write_through=unbuffered)  # type: ignore[arg-type]

    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    sys.stdin, sys.stdout, sys.stderr = stdin, out(1, "strict"), out(2, "backslashreplace")
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]


def _reseed() -> None:
    """Fresh random state from the OS, as a fresh interpreter has (``random``, numpy)."""
    if "random" in sys.modules:
        sys.modules["random"].seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def become_run(job: dict, pristine_path: list[str], entry: tuple[CodeType, str, object]) -> None:
    """Turn this forked process into the run of ``job`` and run the entrypoint's code."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(job["log_fd"], 1)
    os.dup2(job["log_fd"], 2)
    _close_fds_but()
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    sys.path[:] = pristine_path
    _streams(bool(job["env"].get("PYTHONUNBUFFERED")))
    _reseed()
    code, origin, loader = entry
    main = type(sys)("__main__")
    main.__dict__.update(__file__=origin, __cached__=None, __loader__=loader, __package__=None,
                         __spec__=None, __builtins__=sys.modules["builtins"])  # fmt: skip
    sys.modules["__main__"] = main
    sys.argv = [origin, job["payload"]]
    exec(code, main.__dict__)  # ends with sys.exit(main()): the run's exit status


def main(argv: list[str]) -> int:
    """``FD SPEC``: be the launcher on the socket ``FD``."""
    spec = marshal.loads(bytes.fromhex(argv[1]))
    sock = socket.socket(fileno=int(argv[0]))
    pristine_path = list(sys.path)
    problem = preload(spec["preload"], spec["sys_path"])
    if problem is not None:
        sock.send(FAIL + problem.encode())
        return 2
    for name in WARM_IMPORTS:
        __import__(name)
    entry = _entry_code()
    import gc

    gc.freeze()  # what is loaded now stays out of the runs' collections: no copy-on-write
    sock.send(READY)
    job = serve(sock)
    if job is None:
        return 0
    keep = sys.modules["__main__"]  # noqa: F841  # this module's globals stay alive in the run
    become_run(job, pristine_path, entry)
    return 0  # not reached: the entrypoint's code exits


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
