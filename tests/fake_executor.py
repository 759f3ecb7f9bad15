"""A backend without processes: each run's outcome is scripted, and time is the engine's polls.

The engine polls its executor once per turn of its loop, so a run scripted with ``ticks=3``
ends on the third poll after it started. Nothing is forked; only the engine's own files (the
ledger, payloads, output folders) touch the disk. Tests act at a given turn with :meth:`at`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slc_tui.engine.executor import Exited, Launched
from slc_tui.engine.rundir import log_path
from slc_tui.engine.slots import Grant
from slc_tui.plan import Run

FOREVER = None
"""``ticks`` of a run that never ends by itself."""


@dataclass(frozen=True)
class Script:
    """What one attempt of a run does."""

    code: int | None = 0
    """Exit code when it ends by itself (None: it died of ``signal``)."""
    ticks: int | None = 1
    """Polls after its start until it ends by itself; FOREVER: never."""
    signal: int | None = None
    """The signal it dies of (with ``code=None``)."""
    reason: str = ""
    """The backend's own reason (Slurm's ``TIMEOUT``...)."""
    stopped: bool = False
    """It ends as stopped from outside the engine (``scancel``)."""
    requeue: bool = False
    """It ends as preempted (Slurm's ``PREEMPTED``): a new attempt that is no retry."""
    log: str = ""
    """What it writes to ``output.log`` when it starts."""
    epochs: int = 0
    """Progress rows it writes, one per poll, while it runs."""
    returns: tuple[float, ...] = ()
    """The ``AverageEpRet`` of each of those rows (default: 10, 20, 30...)."""
    stop_ticks: int = 1
    """Polls between a stop and its end (its grace, so to speak)."""
    ignores_stop: bool = False
    """A stop does not end it (only :meth:`FakeExecutor.shutdown` does)."""
    lost: bool = False
    """The backend loses track of it: a shutdown does not report its end."""
    start_error: str = ""
    """Starting it raises ``RuntimeError`` with this message."""


OK = Script()
FAIL = Script(code=1, log="Traceback (most recent call last):\nValueError: bad seed\n")
HANG = Script(ticks=FOREVER)


@dataclass
class Started:
    """One start the engine asked for."""

    name: str
    attempt: int
    cores: list[int]
    turn: int
    """The number of polls before this start."""
    busy: dict[str, list[int]]
    """Every running run's cores just after this start (this one included)."""
    payload: bool
    """Whether the payload file existed when the run started."""


@dataclass
class _Live:
    script: Script
    output_dir: str
    left: int | None
    """Polls until it ends (None: not by itself)."""
    cores: list[int]
    stop_left: int | None = None
    rows: int = 0


@dataclass
class FakeExecutor:
    """An :class:`~slc_tui.engine.executor.Executor` whose runs follow scripts."""

    scripts: dict[str, Script | Sequence[Script]] = field(default_factory=dict)
    """Per run name, its script, or one script per attempt (the last one repeats)."""
    default: Script = OK
    """The script of a run not in ``scripts``."""
    max_jobs: int | None = None
    """Runs in flight at most (as Slurm's ``max_jobs``); None: no limit of the backend's."""
    adoptable: set[str] = field(default_factory=set)
    """Job ids that :meth:`adopt` follows (they then run ``default``)."""
    max_polls: int = 1000
    """A loop that polls more often than this has hung: the poll raises."""
    poll_interval: float = 0.0

    polls: int = 0
    starts: list[Started] = field(default_factory=list)
    stops: list[tuple[str, float]] = field(default_factory=list)
    """Each stop asked for: run name and grace."""
    shutdowns: int = 0
    closes: int = 0
    adopted: list[str] = field(default_factory=list)
    queue_states: dict[str, str] = field(default_factory=dict)
    """Words handed to the engine at its next :meth:`take_queue_states` (then cleared)."""
    live: dict[str, _Live] = field(default_factory=dict)
    _actions: dict[int, list[Callable[[], None]]] = field(default_factory=dict)

    # -- scripting ---------------------------------------------------------------------------
    def script(self, name: str, attempt: int) -> Script:
        """The script of attempt ``attempt`` (1-based) of run ``name``."""
        s = self.scripts.get(name, self.default)
        if isinstance(s, Script):
            return s
        return s[min(attempt, len(s)) - 1]

    def at(self, turn: int, action: Callable[[], None]) -> None:
        """Call ``action`` at the start of poll number ``turn`` (1 is the first)."""
        self._actions.setdefault(turn, []).append(action)

    def started(self, name: str) -> list[Started]:
        """Starts of run ``name``, in order."""
        return [s for s in self.starts if s.name == name]

    def start_order(self) -> list[str]:
        """Run names in the order they started."""
        return [s.name for s in self.starts]

    # -- the Executor protocol --------------------------------------------------------------
    def flush(self) -> dict[str, str]:
        """Nothing to submit: the scripted runs start at once."""
        return {}

    def start(self, run: Run, payload: Path, attempt: int, grant: Grant) -> Launched:
        cores = grant.cores
        script = self.script(run.name, attempt)
        if script.start_error:
            raise RuntimeError(script.start_error)
        assert run.name not in self.live, f"{run.name} started twice at once"
        if script.log:
            with open(log_path(run.output_dir), "a") as f:
                f.write(script.log)
        self.live[run.name] = _Live(script, run.output_dir, script.ticks, list(cores))
        busy = {name: live.cores for name, live in self.live.items()}
        self.starts.append(Started(run.name, attempt, list(cores), self.polls, busy,
                                   payload.exists()))  # fmt: skip
        return Launched(pid=None, job_id=None, command=f"fake {run.name} attempt {attempt}")

    def poll(self) -> list[Exited]:
        self.polls += 1
        if self.polls > self.max_polls:
            raise AssertionError(f"the engine loop did not end after {self.max_polls} polls")
        for action in self._actions.pop(self.polls, []):
            action()
        ended: list[Exited] = []
        for name, live in list(self.live.items()):
            if live.stop_left is not None:
                live.stop_left -= 1
                if live.stop_left <= 0:
                    ended.append(self._end(name, Exited(name, None, signal.SIGTERM, stopped=True)))
                continue
            self._write_progress(live)
            if live.left is None:
                continue
            live.left -= 1
            if live.left <= 0:
                s = live.script
                ended.append(
                    self._end(name, Exited(name, s.code, s.signal, s.reason, s.stopped, s.requeue))
                )
        return ended

    def stop(self, name: str, grace: float = 5.0) -> None:
        self.stops.append((name, grace))
        live = self.live.get(name)
        if live is None or live.script.ignores_stop or live.stop_left is not None:
            return
        live.stop_left = live.script.stop_ticks

    def shutdown(self, grace: float = 5.0) -> list[Exited]:
        self.shutdowns += 1
        ended = []
        for name, live in list(self.live.items()):
            self.stops.append((name, grace))
            exited = self._end(name, Exited(name, None, signal.SIGTERM, stopped=True))
            if not live.script.lost:
                ended.append(exited)
        return ended

    def close(self) -> None:
        self.closes += 1

    def adopt(self, run: Run, job_id: str) -> bool:
        if job_id not in self.adoptable:
            return False
        self.adopted.append(run.name)
        self.live[run.name] = _Live(self.default, run.output_dir, self.default.ticks, [])
        return True

    def can_start(self) -> bool:
        return self.max_jobs is None or len(self.live) < self.max_jobs

    def take_queue_states(self) -> dict[str, str]:
        words, self.queue_states = self.queue_states, {}
        return words

    # -- plumbing ----------------------------------------------------------------------------
    def _end(self, name: str, exited: Exited) -> Exited:
        del self.live[name]
        return exited

    @staticmethod
    def _write_progress(live: _Live) -> None:
        if live.rows >= live.script.epochs:
            return
        path = Path(live.output_dir) / "progress.txt"
        path.parent.mkdir(parents=True, exist_ok=True)  # as a run's logger makes its folder
        with open(path, "a") as f:
            if live.rows == 0:
                f.write("Epoch\tAverageEpRet\n")
            returns = live.script.returns
            value = returns[live.rows] if live.rows < len(returns) else 10.0 * (live.rows + 1)
            f.write(f"{live.rows}\t{value}\n")
        live.rows += 1
