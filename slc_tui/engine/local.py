"""The local backend: each run a process group of this machine, pinned to its cores.

No process of a run outlives it: each rank ends what it started (it is a child subreaper, see
``slc_tui.entrypoint``); a stop signals the run's whole tree (detached processes included,
which stay under their rank) and SIGKILLs it after the grace; and once the run has ended, every
process still marked with the run in its environment (``SLC_TUI_RUN``, inherited by all it
started) is killed: what a rank killed with SIGKILL could not clean up.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from slc_tui.engine import procs
from slc_tui.engine.executor import Exited, Launched, drain
from slc_tui.engine.rundir import log_env, open_log
from slc_tui.engine.slots import Grant
from slc_tui.engine.warm import WarmLaunchers, WarmProc
from slc_tui.launch import run_command, run_env
from slc_tui.plan import Run
from slc_tui.procid import CORES_ENV, ENGINE_ENV, RUN_ENV, engine_token


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes] | WarmProc
    """The run's top process: a child, or a run a warm launcher forked."""
    log: IO[bytes]
    mark: dict[str, str]
    """The variables in the environment of every process of this run, and no other's."""
    stop_at: float | None = None
    """When the stop began (None while not stopping)."""
    grace: float = 5.0
    snapshot: list[psutil.Process] = field(default_factory=list)


class LocalExecutor:
    """Starts runs as local subprocesses; every run dies with the engine that started it."""

    poll_interval = 0.5

    def __init__(self, mpiexec: str | None = None) -> None:
        self._procs: dict[str, _Proc] = {}
        self._mpiexec = mpiexec
        self._token = engine_token()
        self._warm = WarmLaunchers()

    def start(self, run: Run, payload: Path, attempt: int, grant: Grant) -> Launched:
        """Start ``run`` writing to its log (beside its folder until the run makes the
        folder: see :mod:`slc_tui.engine.rundir`), in a session of its own, on the cores
        and devices of ``grant``. A 1-rank run of a sweep with ``preload`` is forked from
        its warm launcher (:mod:`slc_tui.engine.warm`)."""
        argv = run_command(payload, run.num_cpu, self._mpiexec or run.options.mpiexec)
        per_rank = len(set(grant.cores)) // max(1, run.num_cpu)
        env = run_env(run.num_cpu, threads=per_rank, given_threads=run.options.threads,
                      gpus=grant.gpus)  # fmt: skip
        env[ENGINE_ENV] = self._token
        env[CORES_ENV] = ",".join(map(str, grant.cores))
        env[RUN_ENV] = f"{run.name}:{attempt}"
        env.update(log_env(run.output_dir))
        log = open_log(run.output_dir)
        warm = bool(run.options.preload) and run.num_cpu == 1
        try:
            popen: subprocess.Popen[bytes] | WarmProc
            if warm:
                popen = self._warm.start(run.options.preload, argv[-1], env, log)
            else:
                popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=os.getcwd(),
                    start_new_session=True,
                )
        except BaseException:
            log.close()
            raise
        self._procs[run.name] = _Proc(popen, log, {ENGINE_ENV: self._token, RUN_ENV: env[RUN_ENV]})
        command = shlex.join(argv)
        if warm:
            command += f"  (forked from the warm launcher of {', '.join(run.options.preload)})"
        return Launched(pid=popen.pid, job_id=None, command=command)

    def flush(self) -> dict[str, str]:
        """Nothing to submit: local runs start at once."""
        return {}

    def poll(self) -> list[Exited]:
        """Reap runs that ended; push stops past their grace period to SIGKILL."""
        ended: list[Exited] = []
        now = time.monotonic()
        for name, proc in list(self._procs.items()):
            code = proc.popen.poll()
            if code is None:
                if proc.stop_at is not None and now - proc.stop_at > proc.grace:
                    procs.kill_all(
                        proc.snapshot + procs.tree(proc.popen.pid) + procs.marked(proc.mark)
                    )
                continue
            # No process the run started may outlive it.
            with suppress(OSError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            procs.kill_all(proc.snapshot + procs.marked(proc.mark))
            proc.log.close()
            del self._procs[name]
            sig = -code if code < 0 else None
            lost = isinstance(proc.popen, WarmProc) and proc.popen.lost
            ended.append(
                Exited(
                    name=name,
                    exit_code=None if sig else code,
                    signal=sig,
                    reason="its warm launcher's watcher died: exit status unknown" if lost else "",
                    stopped=proc.stop_at is not None,
                )
            )
        return ended

    def stop(self, name: str, grace: float = 5.0) -> None:
        """SIGTERM every process of the run now; SIGKILL them after ``grace`` seconds."""
        proc = self._procs.get(name)
        if proc is None or proc.stop_at is not None:
            return
        proc.snapshot = procs.tree(proc.popen.pid) + procs.marked(proc.mark)
        proc.stop_at, proc.grace = time.monotonic(), grace
        procs.signal_all(proc.snapshot, signal.SIGTERM)

    def shutdown(self, grace: float = 5.0) -> list[Exited]:
        """Stop every run and wait (at most ``grace`` plus a moment) until all have ended."""
        for name in list(self._procs):
            self.stop(name, grace)
        return drain(self.poll, lambda: bool(self._procs), grace + 5, 0.05)

    def close(self) -> None:
        """End the warm launchers (the engine calls it last; no run is left)."""
        self._warm.close()

    def adopt(self, run: Run, job_id: str) -> bool:
        """Local runs cannot outlive their engine, so there is nothing to adopt."""
        return False

    def can_start(self) -> bool:
        """Always: the CPU budget is the only limit locally."""
        return True

    def take_queue_states(self) -> dict[str, str]:
        """Local runs have no queue."""
        return {}
