"""The engine: starts runs in the sweep's order inside the CPU budget, follows them, obeys commands.

One loop in one thread. It wakes when a child exits (SIGCHLD through a wakeup pipe), when a
signal arrives, or at the latest every ``TICK`` seconds, and records every state change in the
ledger as it happens.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any

from slc_tui.engine.book import Book, Live
from slc_tui.engine.commands import Commands, stop_reason
from slc_tui.engine.events import Listener
from slc_tui.engine.executor import Executor, Exited
from slc_tui.engine.follow import Follow
from slc_tui.engine.ledger import RunRecord
from slc_tui.engine.opening import take
from slc_tui.engine.paths import ledger_path, lock_path
from slc_tui.engine.prune import Prune
from slc_tui.engine.reasons import explain_failure, last_lines, read_end
from slc_tui.engine.reconcile import FRESH
from slc_tui.engine.rundir import log_path, payload_path, prepare_attempt, settle_log
from slc_tui.engine.schedule import Scheduler
from slc_tui.engine.slots import Grant, Resources
from slc_tui.engine.trials import Searches
from slc_tui.engine.wakeup import Wakeup
from slc_tui.errors import SweepError
from slc_tui.plan import GridPlan, Run
from slc_tui.procid import engine_token
from slc_tui.states import EngineStatus, EventKind, Resume, RunState, exit_status

TICK = 0.25
"""Longest sleep of the loop, in seconds."""
PROGRESS_EVERY = 1.0
"""Seconds between two reads of the running runs' progress files."""
CLOSE_WAIT = 30.0
"""Seconds an ending engine waits for a busy ledger to take its last records."""
STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped."""
INTERRUPTED = 130


class Engine(Commands, Follow, Prune):
    """Runs the plans of one or more grids; :meth:`run` returns the sweep's exit status."""

    def __init__(
        self,
        plans: Sequence[GridPlan],
        executor: Executor,
        *,
        budget: list[int],
        gpus: list[int] | None = None,
        fail_fast: bool = False,
        resume: Resume = Resume.ALL,
        order: str = "auto",
        listeners: Iterable[Listener] = (),
        linger: Any = None,
    ) -> None:
        self.plans = list(plans)
        self.executor = executor
        self.resources = Resources(budget, gpus)
        """Cores of the CPU budget and devices of the GPU budget, free or taken."""
        self.fail_fast = fail_fast
        self.schedule = Scheduler(order, len(budget))
        """The queue (``[run] order``) and the walk that starts runs into free resources."""
        self.resume = Resume.of(resume)
        """Which runs of an earlier sweep of these grids run again."""
        self.book = Book(listeners)
        """The runs' records and ledgers; every change goes through it."""
        self.records = self.book.records
        """Every run of the sweep, by name, as last written."""
        self.linger = linger
        """Callable returning True while the engine should stay up after the last run."""
        self.runs: dict[str, Run] = {run.name: run for plan in self.plans for run in plan.runs}
        self._data_dir = {plan.name: plan.data_dir for plan in self.plans}
        self.searches = Searches(self.plans, self.runs, self.book, len(self.resources.slots.cores))
        """The grids' searches: Optuna's trials asked as runs end (:mod:`engine.trials`)."""
        self.live: dict[str, Live] = {}
        """What the engine follows of each run it started: cores, progress, deadline."""
        self._stopping: dict[str, tuple[RunState, str]] = {}
        self._paused = self._closing = self._tripped = self._crashed = False
        self._tries: Counter[str] = Counter()
        """Attempts each run has had from this engine (retries count these, not the ledger's)."""
        self._interrupt: int | None = None
        self._next_progress = 0.0
        self.rerun_succeeded: dict[str, int] = {}
        """Per grid, how many runs that had succeeded before run again (set by prepare)."""
        self.notices: list[str] = []
        """What the start has to say (a ledger rebuilt from its journal...), set by prepare."""

    # -- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Take each grid (its lock first, then its ledger), claim it, and decide which runs
        are to run. The locks are taken in the order of their paths, so that two engines of
        overlapping grids never refuse each other.

        Raises:
            SweepError: another engine runs one of the grids, another grid file owns its
                ledger, or its ledger cannot be used.
        """
        token = engine_token()
        backend = type(self.executor).__name__.replace("Executor", "").lower()
        order = sorted(self.plans, key=lambda p: lock_path(ledger_path(p.data_dir, p.name)))
        try:
            self.searches.load(self.resume)
            for plan in order:
                taken = take(plan, token, self.resume, self._adopt,
                             max_cpus=len(self.resources.slots.cores), backend=backend)  # fmt: skip
                self.book.add(plan.name, taken.ledger, taken.journal, taken.lock)
                self.schedule.order.learn_ledger(taken.ledger)
                self.rerun_succeeded[plan.name] = taken.rerun_succeeded
                self.notices += taken.notices
                self.records.update((r.name, r) for r in taken.records)
            self.searches.start(self.resume)
        except BaseException:
            self.book.close(wait=0)
            raise

    def _adopt(self, run: Run, old: RunRecord) -> bool:
        """Follow the job of ``run`` that an earlier engine submitted, if the backend can."""
        try:
            adopted = self.executor.adopt(run, str(old.job_id))
        except Exception as exc:
            why = f"cannot re-attach to job {old.job_id} of run {run.name!r}: {exc}"
            raise SweepError(why) from exc
        if not adopted:
            return False
        spent = time.time() - (old.started or time.time())
        grant = self.resources.take(run) or Grant([])
        self.live[run.name] = Live.of(run, grant, spent)
        return True

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> int:
        """Run the sweep to its end; return 0, 1 (some run failed) or 130 (interrupted)."""
        if not self.book.files:
            self.prepare()
        try:
            with Wakeup(self.request_stop) as wakeup:
                while True:
                    self.book.tend()
                    self._take_commands()
                    self._reap(self.executor.poll())
                    self._take_queue_states()
                    self._check_timeouts()
                    if self._interrupt is not None:
                        self._stop_everything(stop_reason(self._interrupt))
                        break
                    self._start_ready()
                    for name, job_id in self.executor.flush().items():  # a Slurm array
                        self.book.set(name, job_id=job_id)
                        self.book.emit(EventKind.STARTED, name)
                    self._poll_progress(PROGRESS_EVERY)
                    self._prune(PROGRESS_EVERY)
                    self._cancel_tripped()
                    if self._finished() and (self._closing or not (self.linger and self.linger())):
                        break
                    wakeup.wait(TICK)
        except BaseException:
            self._crashed = True
            raise
        finally:
            if self._active():  # an exception left runs going: none outlives the engine
                self._stop_everything("the engine stopped")
            self.executor.close()
            self._close()
        return self._status()

    def _finished(self) -> bool:
        """Whether the loop has nothing left to do (a question only: it changes nothing)."""
        if self._active():
            return False
        pending = self.book.in_state(RunState.PENDING)
        done = not pending and not self.searches.more()
        return done or (self._tripped and not self._paused) or bool(self.book.halted)

    def _cancel_tripped(self) -> None:
        """After a fail-fast trip with nothing running, the runs not started are cancelled."""
        if not self._tripped or self._paused or self._active():
            return
        for name in self.book.in_state(RunState.PENDING):
            self.book.set(name, state=RunState.CANCELLED, reason="not started: fail-fast")
            self.book.emit(EventKind.FINISHED, name)

    def _active(self) -> bool:
        return bool(self.book.in_state(RunState.RUNNING))

    def _status(self) -> int:
        if self._interrupt is not None:
            return INTERRUPTED
        if self.book.halted and self.book.in_state(RunState.PENDING):
            return 1  # runs were left unstarted
        return exit_status(r.state for r in self.records.values())

    def _close(self) -> None:
        stopped = self._interrupt is not None or self._crashed or self.book.halted
        status = EngineStatus.STOPPED if stopped else EngineStatus.FINISHED
        self.book.set_meta(status=status, ended=time.time(), paused=False)
        self.book.emit(EventKind.DONE)
        self.book.close(CLOSE_WAIT)

    # -- starting ----------------------------------------------------------------------------
    def _start_ready(self) -> None:
        if self._paused or self._tripped or self.book.halted:
            return
        self.searches.turn()
        offered = self.schedule.starts(self.records.values(), self.runs, self.resources,
                                       self.executor.can_start)  # fmt: skip
        for run, grant in offered:
            self._start(run, self.records[run.name], grant)

    def _start(self, run: Run, record: RunRecord, grant: Grant) -> None:
        attempt = record.attempt + 1
        payload = payload_path(self._data_dir[run.grid], run)
        try:
            prepare_attempt(run, attempt, payload, self._data_dir[run.grid])
            launched = self.executor.start(run, payload, attempt, grant)
        except Exception as exc:
            self.resources.give(grant)
            self.book.set(run.name, **{**FRESH, "state": RunState.RUNNING, "attempt": attempt,
                          "command": "", "started": time.time()})  # fmt: skip
            self._finish(run.name, RunState.FAILED, f"could not start: {exc}", None, None)
            return
        self.live[run.name] = Live.of(run, grant)
        cores_text = ",".join(map(str, grant.cores))
        self.book.set(run.name, **{**FRESH, "state": RunState.RUNNING, "attempt": attempt,
                      "pid": launched.pid, "job_id": launched.job_id, "cores": cores_text,
                      "gpus": ",".join(map(str, grant.gpus or [])),
                      "command": launched.command, "started": time.time()})  # fmt: skip
        if not launched.queued:  # else once flush() submitted it
            self.book.emit(EventKind.STARTED, run.name)

    # -- ending ------------------------------------------------------------------------------
    def _reap(self, ended: list[Exited]) -> None:
        for ex in ended:
            if ex.name not in self.runs:
                continue
            forced = self._stopping.pop(ex.name, None)
            if ex.requeue and not forced:
                self._tries[ex.name] -= 1  # preempted: a new attempt, not one of its retries
            state, reason = forced or ex.outcome()
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
        self._read_progress(name)
        live = self.live.pop(name, None)
        if live:
            self.resources.give(live.grant)
        settle_log(run.output_dir)  # into its folder, if no rank of the run could move it
        end = read_end(log_path(run.output_dir))
        tail = last_lines(end)
        if state == RunState.FAILED and explain:
            reason = explain_failure(reason, end, code, sig)
        self.book.set(
            name, state=state, reason=reason, exit_code=code, signal=sig,
            ended=time.time(), tail=tail if state != RunState.SUCCEEDED else tail[-2000:],
        )  # fmt: skip
        record = self.records[name]
        self.book.ended(name)
        with suppress(OSError):
            payload_path(self._data_dir[run.grid], run).unlink()
        self.book.emit(EventKind.FINISHED, name)
        self._tries[name] += 1
        if state == RunState.FAILED and self._tries[name] <= run.options.retries:
            self.book.set(name, state=RunState.PENDING)  # the failed attempt shows until the next
            self.book.emit(EventKind.RETRY, name, f"attempt {record.attempt + 1}")
        elif state in (RunState.FAILED, RunState.LOST) and self.fail_fast and not self._tripped:
            self._tripped = True

    def _stop(self, name: str, state: RunState, reason: str) -> None:
        if self.records[name].state != RunState.RUNNING or name in self._stopping:
            return
        self._stopping[name] = (state, reason)
        self.executor.stop(name, STOP_GRACE)
        self.book.emit(EventKind.STOPPING, name, reason)

    def _stop_everything(self, reason: str) -> None:
        for name, record in self.records.items():
            if record.state == RunState.RUNNING:
                self._stopping.setdefault(name, (RunState.CANCELLED, reason))
        self._reap(self.executor.shutdown(STOP_GRACE))
        for name, record in self.records.items():
            if record.state == RunState.RUNNING:  # the backend lost track of it
                self._finish(name, RunState.LOST, reason, None, None)
