"""What the engine needs of a backend that starts runs: the Executor protocol and its records."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from slc_tui.engine.slots import Grant
from slc_tui.plan import Run
from slc_tui.states import RunState


@dataclass
class Launched:
    """A run that a backend started."""

    pid: int | None
    """Local process id of the run's top process (None on a cluster)."""
    job_id: str | None
    """The cluster's job id (None locally)."""
    command: str
    """The command line, for the details panel."""
    queued: bool = False
    """Submitted at the backend's next :meth:`Executor.flush` (its job id comes from there)."""


@dataclass
class Exited:
    """A run that ended, as its backend saw it."""

    name: str
    exit_code: int | None
    """Exit status; None when it died of a signal."""
    signal: int | None = None
    """The signal that ended it, if any."""
    reason: str = ""
    """The backend's own reason (``TIMEOUT``, ``OUT_OF_MEMORY``...); the engine adds the log's."""
    stopped: bool = False
    """True when the engine asked for the stop (a cancel, a timeout)."""
    requeue: bool = False
    """Not the run's fault (preempted, a node failed): a new attempt, not counted as a retry."""

    def outcome(self) -> tuple[RunState, str]:
        """The run's state and reason when the engine did not stop it itself."""
        if self.exit_code == 0:
            return RunState.SUCCEEDED, ""
        if self.stopped:  # cancelled outside slc-tui (scancel)
            return RunState.CANCELLED, self.reason or "cancelled"
        return RunState.FAILED, self.reason


class Executor(Protocol):
    """A backend: local processes or Slurm jobs."""

    poll_interval: float
    """Seconds between two polls worth making."""

    def start(self, run: Run, payload: Path, attempt: int, grant: Grant) -> Launched:
        """Start one attempt of ``run`` on the cores (and devices) of ``grant``; its output
        goes to ``output.log`` in its folder."""
        ...

    def flush(self) -> dict[str, str]:
        """Submit the runs started since the last flush (Slurm: one array per shape); their
        job ids by run name. Called once per turn of the loop, after the starts."""
        ...

    def poll(self) -> list[Exited]:
        """Runs that ended since the last poll."""
        ...

    def stop(self, name: str, grace: float = 5.0) -> None:
        """Begin stopping a run (SIGTERM, SIGKILL after ``grace``); its end comes via poll."""
        ...

    def shutdown(self, grace: float = 5.0) -> list[Exited]:
        """Stop every run and wait until none is left; return their ends."""
        ...

    def close(self) -> None:
        """Let go of the backend's helpers (warm launchers) once no run is left."""
        ...

    def adopt(self, run: Run, job_id: str) -> bool:
        """Follow a run started by an earlier engine (Slurm); False when it is gone."""
        ...

    def can_start(self) -> bool:
        """False while the backend takes no more runs (Slurm's ``max_jobs`` in flight)."""
        ...

    def take_queue_states(self) -> dict[str, str]:
        """The cluster's word for each run whose job changed (``PENDING (Priority)``...)."""
        ...


def drain(
    poll: Callable[[], list[Exited]], busy: Callable[[], bool], seconds: float, every: float
) -> list[Exited]:
    """Poll a backend that is stopping its runs until none is left or ``seconds`` passed;
    return every end seen (for a backend's ``shutdown``)."""
    ended: list[Exited] = []
    deadline = time.monotonic() + seconds
    while busy() and time.monotonic() < deadline:
        ended += poll()
        if busy():
            time.sleep(every)
    return ended
