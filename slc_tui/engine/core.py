"""The engine: starts runs in plan order inside the CPU budget, follows them, obeys commands.

One loop in one thread. It wakes when a child exits (SIGCHLD through a wakeup pipe), when a
signal arrives, or at the latest every ``TICK`` seconds, and records every state change in the
ledger as it happens.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from slc_tui.engine import ledger as L
from slc_tui.engine.claim import claim
from slc_tui.engine.events import Event, Listener
from slc_tui.engine.executor import Executor, Exited
from slc_tui.engine.ledger import Command, Ledger, RunRecord
from slc_tui.engine.progress import ProgressTail, epoch_of
from slc_tui.engine.reasons import failure_reason, log_reason, read_tail, signal_name
from slc_tui.engine.reconcile import FRESH, reconcile
from slc_tui.engine.rundir import keep_earlier_attempt, log_path
from slc_tui.engine.slots import Slots
from slc_tui.engine.wakeup import Wakeup
from slc_tui.errors import SweepError
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import GridPlan, Run
from slc_tui.procid import engine_token
from slc_tui.states import FINISHED, EngineStatus, EventKind, Resume, RunState, Verb, exit_status

TICK = 0.25
"""Longest sleep of the loop, in seconds."""
PROGRESS_EVERY = 1.0
"""Seconds between two reads of the running runs' progress files."""
STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped."""
INTERRUPTED = 130
STOP_ALL = -1
"""The value of ``_interrupt`` when a view asked to stop the sweep (no signal)."""


class EngineError(SweepError):
    """The engine cannot go on as asked (a cluster job it cannot follow again, say)."""


class Engine:
    """Runs the plans of one or more grids; :meth:`run` returns the sweep's exit status."""

    def __init__(
        self,
        plans: Sequence[GridPlan],
        executor: Executor,
        *,
        budget: list[int],
        fail_fast: bool = False,
        resume: Resume = Resume.ALL,
        listeners: Iterable[Listener] = (),
        linger: Any = None,
    ) -> None:
        self.plans = list(plans)
        self.executor = executor
        self.slots = Slots(budget)
        """Cores of the CPU budget, free or taken."""
        self.fail_fast = fail_fast
        self.resume = Resume.of(resume)
        """Which runs of an earlier sweep of these grids run again."""
        self.listeners = list(listeners)
        self.linger = linger
        """Callable returning True while the engine should stay up after the last run."""
        self.runs: dict[str, Run] = {run.name: run for plan in self.plans for run in plan.runs}
        self.records: dict[str, RunRecord] = {}
        self.ledgers: dict[str, Ledger] = {}
        self._data_dir = {plan.name: plan.data_dir for plan in self.plans}
        self._cores: dict[str, list[int]] = {}
        self._deadline: dict[str, float] = {}
        self._stopping: dict[str, tuple[str, str]] = {}
        self._tails: dict[str, ProgressTail] = {}
        self._paused = False
        self._closing = False
        self._tries: Counter[str] = Counter()
        """Attempts each run has had from this engine (retries count these, not the ledger's)."""
        self._tripped = False
        self._interrupt: int | None = None
        self._next_progress = 0.0
        self.rerun_succeeded: dict[str, int] = {}
        """Per grid, how many runs that had succeeded before run again (set by prepare)."""

    # -- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Open the ledgers, claim them, and decide which runs are to run.

        Raises:
            SweepError: another engine runs one of the grids, or another grid file owns its
                ledger.
        """
        token = engine_token()
        backend = type(self.executor).__name__.replace("Executor", "").lower()
        for plan in self.plans:
            ledger = Ledger.create(L.ledger_path(plan.data_dir, plan.name))
            self.ledgers[plan.name] = ledger
            claim(ledger, plan, token, max_cpus=len(self.slots.cores), backend=backend)
            records, again = reconcile(ledger, plan, self.resume, self._adopt)
            self.rerun_succeeded[plan.name] = again
            self.records.update((r.name, r) for r in records)

    def _adopt(self, run: Run, old: RunRecord) -> bool:
        """Follow the job of ``run`` that an earlier engine submitted, if the backend can."""
        try:
            adopted = self.executor.adopt(run, str(old.job_id))
        except Exception as exc:
            raise EngineError(
                f"cannot re-attach to job {old.job_id} of run {run.name!r}: {exc}"
            ) from exc
        if not adopted:
            return False
        self._cores[run.name] = self.slots.take(run.num_cpu) or []
        self._tails[run.name] = ProgressTail(run.output_dir)
        if run.options.timeout:
            spent = time.time() - (old.started or time.time())
            self._deadline[run.name] = time.monotonic() + run.options.timeout - spent
        return True

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> int:
        """Run the sweep to its end; return 0, 1 (some run failed) or 130 (interrupted)."""
        if not self.ledgers:
            self.prepare()
        try:
            with Wakeup(self.request_stop) as wakeup:
                while True:
                    self._take_commands()
                    self._reap(self.executor.poll())
                    self._take_queue_states()
                    self._check_timeouts()
                    if self._interrupt is not None:
                        self._stop_everything(_stop_reason(self._interrupt))
                        break
                    self._start_ready()
                    self._poll_progress()
                    self._cancel_tripped()
                    if self._finished() and (self._closing or not (self.linger and self.linger())):
                        break
                    wakeup.wait(TICK)
        finally:
            if self._active():  # an exception left runs going: none outlives the engine
                self._stop_everything("the engine stopped")
            self._close()
        return self._status()

    def request_stop(self, sig: int = signal.SIGINT) -> None:
        """Stop the sweep at the next turn of the loop (safe from a signal handler)."""
        self._interrupt = sig

    def _finished(self) -> bool:
        """Whether the loop has nothing left to do (a question only: it changes nothing)."""
        if self._active():
            return False
        pending = any(r.state == RunState.PENDING for r in self.records.values())
        return not pending or (self._tripped and not self._paused)

    def _cancel_tripped(self) -> None:
        """After a fail-fast trip with nothing running, the runs not started are cancelled."""
        if not self._tripped or self._paused or self._active():
            return
        for r in list(self.records.values()):
            if r.state == RunState.PENDING:
                self._set(r.name, state=RunState.CANCELLED, reason="not started: fail-fast")

    def _active(self) -> bool:
        return any(r.state == RunState.RUNNING for r in self.records.values())

    def _status(self) -> int:
        if self._interrupt is not None:
            return INTERRUPTED
        return exit_status(r.state for r in self.records.values())

    def _close(self) -> None:
        status = EngineStatus.STOPPED if self._interrupt is not None else EngineStatus.FINISHED
        for ledger in self.ledgers.values():
            ledger.set_meta(status=status, ended=time.time())
        self._emit(Event(EventKind.DONE))
        for ledger in self.ledgers.values():
            ledger.close()

    # -- starting ----------------------------------------------------------------------------
    def _start_ready(self) -> None:
        if self._paused or self._tripped:
            return
        for record in sorted(self.records.values(), key=lambda r: r.idx):
            if record.state != RunState.PENDING:
                continue
            if not self.executor.can_start():
                return
            run = self.runs[record.name]
            cores = self.slots.take(run.num_cpu)
            if cores is None:
                if self.slots.free_count() == 0:
                    return
                continue
            self._start(run, record, cores)

    def _start(self, run: Run, record: RunRecord, cores: list[int]) -> None:
        attempt = record.attempt + 1
        payload = self._payload_path(run)
        try:
            os.makedirs(run.output_dir, exist_ok=True)
            keep_earlier_attempt(run.output_dir, attempt)
            write_payload(payload, Payload(run.thunk, run.kwargs))
            launched = self.executor.start(run, payload, attempt, cores)
        except Exception as exc:
            self.slots.give(cores)
            self._set(run.name, state=RunState.RUNNING, attempt=attempt, started=time.time())
            self._finish(run.name, RunState.FAILED, f"could not start: {exc}", None, None)
            return
        self._cores[run.name] = cores
        self._tails[run.name] = ProgressTail(run.output_dir)
        if run.options.timeout:
            self._deadline[run.name] = time.monotonic() + run.options.timeout
        self._set(
            run.name, state=RunState.RUNNING, attempt=attempt, pid=launched.pid,
            job_id=launched.job_id, command=launched.command,
            cores=",".join(map(str, cores)), started=time.time(), ended=None,
            exit_code=None, signal=None, reason="", tail="", epoch=None, metrics={},
            queue_state="",
        )  # fmt: skip
        self._emit(Event(EventKind.STARTED, self.records[run.name]))

    def _payload_path(self, run: Run) -> Path:
        return L.state_dir(self._data_dir[run.grid]) / run.grid / "payloads" / f"{run.name}.pkl"

    # -- ending ------------------------------------------------------------------------------
    def _reap(self, ended: list[Exited]) -> None:
        for ex in ended:
            if ex.name not in self.runs:
                continue
            forced = self._stopping.pop(ex.name, None)
            if forced:
                state, reason = forced
            elif ex.exit_code == 0:
                state, reason = RunState.SUCCEEDED, ""
            elif ex.stopped:  # cancelled outside slc-tui (scancel)
                state, reason = RunState.CANCELLED, ex.reason or "cancelled"
            else:
                state, reason = RunState.FAILED, ex.reason
            self._finish(ex.name, state, reason, ex.exit_code, ex.signal, explain=not forced)

    def _finish(
        self,
        name: str,
        state: str,
        reason: str,
        code: int | None,
        sig: int | None,
        *,
        explain: bool = True,
    ) -> None:
        """Record the end of a run; ``explain`` adds the reason read from its log."""
        run = self.runs[name]
        self.slots.give(self._cores.pop(name, []))
        self._deadline.pop(name, None)
        self._read_progress(name)
        self._tails.pop(name, None)
        tail = read_tail(log_path(run.output_dir))
        if state == RunState.FAILED and explain:
            # The backend's reason (Slurm's TIMEOUT...) first, then what the log adds to it.
            found = log_reason(tail) if reason else failure_reason(tail, code, sig)
            if found and found != reason:
                reason = f"{reason}: {found}" if reason else found
        self._set(
            name, state=state, reason=reason, exit_code=code, signal=sig,
            ended=time.time(), tail=tail if state != RunState.SUCCEEDED else tail[-2000:],
        )  # fmt: skip
        record = self.records[name]
        self.ledgers[record.grid].record_attempt(record)
        with suppress(OSError):
            self._payload_path(run).unlink()
        self._emit(Event(EventKind.FINISHED, record))
        self._tries[name] += 1
        if state == RunState.FAILED and self._tries[name] <= run.options.retries:
            self._set(name, state=RunState.PENDING)  # the failed attempt shows until the next
            self._emit(Event(EventKind.RETRY, self.records[name], f"attempt {record.attempt + 1}"))
        elif state in (RunState.FAILED, RunState.LOST) and self.fail_fast and not self._tripped:
            self._tripped = True

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for name, deadline in list(self._deadline.items()):
            if now >= deadline:
                del self._deadline[name]
                limit = self.runs[name].options.timeout
                self._stop(name, RunState.FAILED, f"timed out after {limit:g} s")

    def _stop(self, name: str, state: str, reason: str) -> None:
        if self.records[name].state != RunState.RUNNING or name in self._stopping:
            return
        self._stopping[name] = (state, reason)
        self.executor.stop(name, STOP_GRACE)
        self._emit(Event(EventKind.STOPPING, self.records[name], reason))

    def _stop_everything(self, reason: str) -> None:
        for name, record in self.records.items():
            if record.state == RunState.RUNNING:
                self._stopping.setdefault(name, (RunState.CANCELLED, reason))
        self._reap(self.executor.shutdown(STOP_GRACE))
        for name, record in self.records.items():
            if record.state == RunState.RUNNING:  # the backend lost track of it
                self._finish(name, RunState.LOST, reason, None, None)

    def _take_queue_states(self) -> None:
        for name, word in self.executor.take_queue_states().items():
            record = self.records.get(name)
            if record is not None and record.queue_state != word:
                self._set(name, queue_state=word)

    # -- commands ----------------------------------------------------------------------------
    def _take_commands(self) -> None:
        for ledger in self.ledgers.values():
            for cmd in ledger.take_commands():
                self.command(cmd)

    def command(self, cmd: Command) -> None:
        """Obey one command of a view."""
        record = self.records.get(cmd.target or "")
        handlers: dict[Verb, Callable[[RunRecord | None], None]] = {
            Verb.STOP: self._on_stop,
            Verb.RERUN: self._on_rerun,
            Verb.PAUSE: lambda _: self._set_paused(True),
            Verb.RESUME: lambda _: self._set_paused(False),
            Verb.STOP_ALL: lambda _: self._on_stop_all(),
        }
        handlers[cmd.verb](record)

    def _on_stop(self, record: RunRecord | None) -> None:
        if record is None:
            return
        if record.state == RunState.RUNNING:
            self._stop(record.name, RunState.CANCELLED, "stopped by the user")
        elif record.state == RunState.PENDING:
            self._set(record.name, state=RunState.CANCELLED, reason="stopped by the user")
            self._emit(Event(EventKind.FINISHED, self.records[record.name]))

    def _on_rerun(self, record: RunRecord | None) -> None:
        if record is None or record.state not in FINISHED:
            return
        self._set(record.name, state=RunState.PENDING, **FRESH)
        self._tries[record.name] = 0
        self._tripped = False

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        for ledger in self.ledgers.values():
            ledger.set_meta(paused=paused)
        self._emit(Event(EventKind.PAUSED if paused else EventKind.RESUMED))

    def _on_stop_all(self) -> None:
        if self._active() or any(r.state == RunState.PENDING for r in self.records.values()):
            self._interrupt = self._interrupt or STOP_ALL
        self._closing = True  # a lingering engine with nothing to do just ends

    # -- progress ----------------------------------------------------------------------------
    def _poll_progress(self) -> None:
        now = time.monotonic()
        if now < self._next_progress:
            return
        self._next_progress = now + PROGRESS_EVERY
        for name in list(self._tails):
            self._read_progress(name)

    def _read_progress(self, name: str) -> None:
        tail = self._tails.get(name)
        row = tail.poll() if tail else None
        if tail is None or row is None:
            return
        metrics = {k: v for k, v in row.items() if isinstance(v, float)}
        self._set(name, epoch=epoch_of(row, tail.rows), metrics=metrics)
        self._emit(Event(EventKind.PROGRESS, self.records[name]))

    # -- plumbing ----------------------------------------------------------------------------
    def _set(self, name: str, **values: Any) -> None:
        record = self.records[name]
        self.ledgers[record.grid].update(name, **values)
        self.records[name] = dataclasses.replace(record, **values)

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


def _stop_reason(sig: int) -> str:
    """Why runs were cancelled: ``interrupted (SIGTERM)``, or a view's stop command."""
    if sig == STOP_ALL:
        return "stopped by the user"
    return f"interrupted ({signal_name(sig)})"
