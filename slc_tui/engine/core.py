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
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from slc_tui.engine import ledger as L
from slc_tui.engine.events import (
    DONE,
    FINISHED,
    PAUSED,
    PROGRESS,
    RESUMED,
    RETRY,
    STARTED,
    STOPPING,
    Event,
    Listener,
)
from slc_tui.engine.executor import Executor, Exited
from slc_tui.engine.ledger import Ledger, RunRecord
from slc_tui.engine.progress import ProgressTail, epoch_of
from slc_tui.engine.reasons import failure_reason, log_reason, read_tail, signal_name
from slc_tui.engine.rundir import keep_earlier_attempt, log_path
from slc_tui.engine.slots import Slots
from slc_tui.engine.wakeup import Wakeup
from slc_tui.entrypoint import engine_token
from slc_tui.payload import Payload, write_payload
from slc_tui.plan import GridPlan, Run

TICK = 0.25
"""Longest sleep of the loop, in seconds."""
PROGRESS_EVERY = 1.0
"""Seconds between two reads of the running runs' progress files."""
STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped."""
INTERRUPTED = 130
FRESH: dict[str, Any] = {
    "pid": None, "job_id": None, "queue_state": "", "cores": "", "started": None,
    "ended": None, "exit_code": None, "signal": None, "reason": "", "tail": "",
    "epoch": None, "metrics": {},
}  # fmt: skip
"""What a run that waits for a new attempt keeps of its last one: nothing."""
STOP_ALL = -1
"""The value of ``_interrupt`` when a view asked to stop the sweep (no signal)."""
KEEP = "keep"
"""The resume mode that leaves every run's state as it is (lost runs aside)."""


class EngineError(RuntimeError):
    """The sweep cannot start: a run needs more CPUs than the budget, the grid runs already..."""


class Engine:
    """Runs the plans of one or more grids; :meth:`run` returns the sweep's exit status."""

    def __init__(
        self,
        plans: Sequence[GridPlan],
        executor: Executor,
        *,
        budget: list[int],
        fail_fast: bool = False,
        resume: bool | str = False,
        listeners: Iterable[Listener] = (),
        linger: Any = None,
    ) -> None:
        self.plans = list(plans)
        self.executor = executor
        self.slots = Slots(budget)
        """Cores of the CPU budget, free or taken."""
        self.fail_fast = fail_fast
        self.resume = resume
        """False: run everything; True: skip runs that succeeded; ``"keep"``: run only the
        pending ones (a view revives an engine to obey its queued commands)."""
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
        check_plans(self.plans, len(budget))

    # -- set-up ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Open the ledgers, claim them, and decide which runs are to run."""
        token = engine_token()
        for plan in self.plans:
            ledger = Ledger.create(L.ledger_path(plan.data_dir, plan.name))
            self.ledgers[plan.name] = ledger
            meta = ledger.meta()
            if engine_alive(meta) and meta.get("engine_token") != token:
                raise EngineError(
                    f"grid {plan.name!r} is already running (engine pid {meta.get('engine_pid')}); "
                    "watch it with 'slc-tui attach' or stop it first"
                )
            owner = str(meta.get("grid_file") or "")
            if owner and plan.source and owner != plan.source and os.path.exists(owner):
                raise EngineError(
                    f"{plan.source}: its grid name {plan.name!r} and data_dir are also those "
                    f"of {owner}, whose runs are in {ledger.path}; give one of them another "
                    "name or data_dir"
                )
            self._reconcile(ledger, plan)
            ledger.set_meta(
                grid_name=plan.name,
                grid_file=plan.source,
                engine_pid=os.getpid(),
                engine_token=token,
                max_cpus=len(self.slots.cores),
                paused=False,
                status="running",
                started=time.time(),
                ended=None,
                backend=type(self.executor).__name__.replace("Executor", "").lower(),
            )

    def _reconcile(self, ledger: Ledger, plan: GridPlan) -> None:
        known = {r.name: r for r in ledger.runs()}
        ledger.remove_runs([n for n in known if n not in {r.name for r in plan.runs}])
        ledger.add_runs(
            RunRecord(
                name=r.name, idx=r.idx, grid=plan.name, variant=r.variant, seed=r.seed,
                params=_jsonable(r.params), output_dir=r.output_dir, num_cpu=r.num_cpu,
            )
            for r in plan.runs
        )  # fmt: skip
        changes: dict[str, dict[str, Any]] = {}
        for run in plan.runs:
            old = known.get(run.name)
            if old is None:
                continue
            if self.resume and old.output_dir != run.output_dir and os.path.isdir(old.output_dir):
                self._keep_output_dir(run, old.output_dir)  # datestamped: resume in place
            elif old.output_dir != run.output_dir:
                changes[run.name] = {"output_dir": run.output_dir}
            if old.state == L.RUNNING and old.job_id and self._adopt(run, old):
                continue  # a cluster job that outlived its engine: follow it, do not resubmit
            if old.state == L.RUNNING:  # its engine died: the run died with it
                old.state, old.reason = L.LOST, "its engine ended"
                ledger.record_attempt(old)
            params = _jsonable(run.params)
            if params != old.params:  # the grid file changed this run's hyperparameters
                changes.setdefault(run.name, {})["params"] = params
            elif (self.resume and old.state == L.SUCCEEDED) or (
                self.resume == KEEP and old.state != L.LOST
            ):
                continue
            changes[run.name] = {**changes.get(run.name, {}), "state": L.PENDING, **FRESH}
        ledger.update_many(changes)
        for record in ledger.runs():
            self.records[record.name] = record

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

    def _keep_output_dir(self, run: Run, output_dir: str) -> None:
        run.output_dir = output_dir
        logger_kwargs = dict(run.kwargs.get("logger_kwargs") or {})
        logger_kwargs["output_dir"] = output_dir
        run.kwargs["logger_kwargs"] = logger_kwargs

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
        if self._active():
            return False
        pending = [r for r in self.records.values() if r.state == L.PENDING]
        if pending and (self._tripped or self._paused):
            if self._paused:
                return False
            for r in pending:
                self._set(r.name, state=L.CANCELLED, reason="not started: fail-fast")
            return True
        return not pending

    def _active(self) -> bool:
        return any(r.state == L.RUNNING for r in self.records.values())

    def _status(self) -> int:
        if self._interrupt is not None:
            return INTERRUPTED
        ok = all(r.state == L.SUCCEEDED for r in self.records.values())
        return 0 if ok else 1

    def _close(self) -> None:
        for ledger in self.ledgers.values():
            ledger.set_meta(
                status="stopped" if self._interrupt is not None else "finished", ended=time.time()
            )
        self._emit(Event(DONE))
        for ledger in self.ledgers.values():
            ledger.close()

    # -- starting ----------------------------------------------------------------------------
    def _start_ready(self) -> None:
        if self._paused or self._tripped:
            return
        for record in sorted(self.records.values(), key=lambda r: r.idx):
            if record.state != L.PENDING:
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
            self._set(run.name, state=L.RUNNING, attempt=attempt, started=time.time())
            self._finish(run.name, L.FAILED, f"could not start: {exc}", None, None)
            return
        self._cores[run.name] = cores
        self._tails[run.name] = ProgressTail(run.output_dir)
        if run.options.timeout:
            self._deadline[run.name] = time.monotonic() + run.options.timeout
        self._set(
            run.name, state=L.RUNNING, attempt=attempt, pid=launched.pid,
            job_id=launched.job_id, command=launched.command,
            cores=",".join(map(str, cores)), started=time.time(), ended=None,
            exit_code=None, signal=None, reason="", tail="", epoch=None, metrics={},
            queue_state="",
        )  # fmt: skip
        self._emit(Event(STARTED, self.records[run.name]))

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
                state, reason = L.SUCCEEDED, ""
            elif ex.stopped:  # cancelled outside slc-tui (scancel)
                state, reason = L.CANCELLED, ex.reason or "cancelled"
            else:
                state, reason = L.FAILED, ex.reason
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
        if state == L.FAILED and explain:
            # The backend's reason (Slurm's TIMEOUT...) first, then what the log adds to it.
            found = log_reason(tail) if reason else failure_reason(tail, code, sig)
            if found and found != reason:
                reason = f"{reason}: {found}" if reason else found
        self._set(
            name, state=state, reason=reason, exit_code=code, signal=sig,
            ended=time.time(), tail=tail if state != L.SUCCEEDED else tail[-2000:],
        )  # fmt: skip
        record = self.records[name]
        self.ledgers[record.grid].record_attempt(record)
        with suppress(OSError):
            self._payload_path(run).unlink()
        self._emit(Event(FINISHED, record))
        self._tries[name] += 1
        if state == L.FAILED and self._tries[name] <= run.options.retries:
            self._set(name, state=L.PENDING)  # the failed attempt stays visible until the next
            self._emit(Event(RETRY, self.records[name], f"attempt {record.attempt + 1}"))
        elif state in (L.FAILED, L.LOST) and self.fail_fast and not self._tripped:
            self._tripped = True

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for name, deadline in list(self._deadline.items()):
            if now >= deadline:
                del self._deadline[name]
                limit = self.runs[name].options.timeout
                self._stop(name, L.FAILED, f"timed out after {limit:g} s")

    def _stop(self, name: str, state: str, reason: str) -> None:
        if self.records[name].state != L.RUNNING or name in self._stopping:
            return
        self._stopping[name] = (state, reason)
        self.executor.stop(name, STOP_GRACE)
        self._emit(Event(STOPPING, self.records[name], reason))

    def _stop_everything(self, reason: str) -> None:
        for name, record in self.records.items():
            if record.state == L.RUNNING:
                self._stopping.setdefault(name, (L.CANCELLED, reason))
        self._reap(self.executor.shutdown(STOP_GRACE))
        for name, record in self.records.items():
            if record.state == L.RUNNING:  # the backend lost track of it
                self._finish(name, L.LOST, reason, None, None)

    def _take_queue_states(self) -> None:
        for name, word in self.executor.take_queue_states().items():
            record = self.records.get(name)
            if record is not None and record.queue_state != word:
                self._set(name, queue_state=word)

    # -- commands ----------------------------------------------------------------------------
    def _take_commands(self) -> None:
        for ledger in self.ledgers.values():
            for _id, verb, target in ledger.take_commands():
                self.command(verb, target)

    def command(self, verb: str, target: str | None = None) -> None:
        """Obey one command: stop, rerun, pause, resume, stop_all."""
        record = self.records.get(target or "")
        if verb == "stop" and record is not None:
            if record.state == L.RUNNING:
                self._stop(record.name, L.CANCELLED, "stopped by the user")
            elif record.state == L.PENDING:
                self._set(record.name, state=L.CANCELLED, reason="stopped by the user")
                self._emit(Event(FINISHED, self.records[record.name]))
        elif verb == "rerun" and record is not None and record.state in L.FINISHED:
            self._set(record.name, state=L.PENDING, **FRESH)
            self._tries[record.name] = 0
            self._tripped = False
        elif verb in ("pause", "resume"):
            self._paused = verb == "pause"
            for ledger in self.ledgers.values():
                ledger.set_meta(paused=self._paused)
            self._emit(Event(PAUSED if self._paused else RESUMED))
        elif verb == "stop_all":
            if self._active() or any(r.state == L.PENDING for r in self.records.values()):
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
        self._emit(Event(PROGRESS, self.records[name]))

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


def check_plans(plans: Sequence[GridPlan], budget: int) -> None:
    """Raise EngineError when a run needs more CPUs than the budget, or two share a name."""
    names: set[str] = set()
    for plan in plans:
        for run in plan.runs:
            if run.name in names:
                raise EngineError(f"two grids have a run named {run.name!r}; rename a grid")
            names.add(run.name)
            if run.num_cpu > budget and not run.options.oversubscribe:
                raise EngineError(
                    f"run {run.name!r} of {plan.source or plan.name} needs {run.num_cpu} CPUs "
                    f"but the CPU budget is {budget}; raise --max-cpus, lower num_cpu, or set "
                    "oversubscribe = true in [run]"
                )


def engine_alive(meta: dict[str, Any]) -> bool:
    """True while the engine named in a ledger's meta still runs its sweep.

    Its process must live (pid and start time match) and it must not have closed the
    sweep: an engine that ran inside a Python session that goes on is no longer alive.
    """
    from slc_tui.entrypoint import token_alive

    token = str(meta.get("engine_token") or "")
    return meta.get("status") == "running" and bool(token) and token_alive(token)


def _jsonable(value: Any) -> Any:
    from slc_tui.serialization import convert_json

    return convert_json(value)
