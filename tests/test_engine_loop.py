"""The engine's loop over a scripted backend (no processes): packing, every state, retries,
timeout, fail-fast, pause, commands, resume modes and the exit status, in milliseconds.

What only real processes show (pinning, MPI ranks, signals, children, logs) is in
``test_engine_processes.py``.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_executor import FAIL, FOREVER, HANG, OK, FakeExecutor, Script

from slc_tui.engine import core
from slc_tui.engine.core import Engine
from slc_tui.engine.events import Event
from slc_tui.engine.ledger import Command, Ledger, RunRecord, ledger_path
from slc_tui.errors import SweepError
from slc_tui.grid import ExperimentGrid
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, plan_grid
from slc_tui.states import EngineStatus, EventKind, Resume, RunState, Verb
from slc_tui.sweep.state import SweepState


def grid(
    name: str, seeds: Any = (0,), *, num_cpu: int = 1, start: int = 0, **opts: Any
) -> GridPlan:
    """A plan of grid ``name`` with one run per seed (``name_s{seed}``), in ./data."""
    g = ExperimentGrid(name)
    g.add("seed", list(seeds))
    return plan_grid(g, "engine_thunks:nothing", num_cpu=num_cpu, data_dir="data",
                     options=RunOptions(**opts), start_idx=start)  # fmt: skip


class Loop:
    """An engine over the fake backend, prepared, with a view's ledger per grid."""

    def __init__(self, fake: FakeExecutor, plans: list[GridPlan], budget: Any, **kw: Any) -> None:
        self.fake = fake
        self.events: list[Event] = []
        self._hooks: list[Callable[[Event], None]] = []
        cores = list(range(budget)) if isinstance(budget, int) else list(budget)
        self.engine = Engine(plans, fake, budget=cores, listeners=[self._tell], **kw)
        self.engine.prepare()
        self.views = {p.name: Ledger.open(ledger_path(p.data_dir, p.name)) for p in plans}

    def send(self, verb: Verb, target: str | None = None) -> None:
        """Queue a command as a view in another process would (in the run's grid's ledger)."""
        grid = target.rsplit("_s", 1)[0] if target else ""
        self.views.get(grid, next(iter(self.views.values()))).send(verb, target)

    def run(self) -> int:
        return self.engine.run()

    def runs(self) -> dict[str, RunRecord]:
        """Every run as the ledgers hold it now."""
        return {r.name: r for view in self.views.values() for r in view.runs()}

    def attempts(self, name: str) -> list[tuple[int, str, str]]:
        """The attempts history of ``name``: (attempt, state, reason)."""
        view = self.views[name.rsplit("_s", 1)[0]]
        return [(a["attempt"], a["state"], a["reason"]) for a in view.attempts(name)]

    def kinds(self, name: str | None = None) -> list[EventKind]:
        return [e.kind for e in self.events if name is None or (e.run and e.run.name == name)]

    def meta(self) -> dict[str, Any]:
        return next(iter(self.views.values())).meta()

    def on(self, kind: EventKind, name: str, action: Callable[[RunRecord], None]) -> None:
        """Call ``action(record)`` at each event ``kind`` of run ``name`` (inside the loop)."""

        def listener(event: Event) -> None:
            if event.kind == kind and event.run and event.run.name == name:
                action(event.run)

        self._hooks.append(listener)

    def _tell(self, event: Event) -> None:
        self.events.append(event)
        for hook in self._hooks:
            hook(event)


@pytest.fixture
def sweep(fake_executor: FakeExecutor, in_tmp: Path) -> Iterator[Callable[..., Loop]]:
    """Make a :class:`Loop`: ``sweep(*plans, budget=2, scripts=..., **engine_kwargs)``."""
    made: list[Loop] = []

    def make(*plans: GridPlan, budget: Any = 2, fake: FakeExecutor | None = None,
             scripts: dict[str, Any] | None = None, **kw: Any) -> Loop:  # fmt: skip
        fake = fake or fake_executor
        fake.scripts.update(scripts or {})
        made.append(Loop(fake, list(plans), budget, **kw))
        return made[-1]

    yield make
    for s in made:
        for view in s.views.values():
            view.close()


def states(s: Loop) -> dict[str, RunState]:
    return {name: r.state for name, r in s.runs().items()}


# -- packing -----------------------------------------------------------------------------------
def test_runs_start_in_plan_order_two_at_a_time_in_a_budget_of_two(sweep) -> None:
    s = sweep(grid("g", range(4)), budget=2, order="plan",
              scripts={f"g_s{i}": Script(ticks=3) for i in range(4)})  # fmt: skip
    assert s.run() == 0
    assert s.fake.start_order() == ["g_s0", "g_s1", "g_s2", "g_s3"]
    turns = [st.turn for st in s.fake.starts]
    assert turns[0] == turns[1] < turns[2] == turns[3]  # the second pair when the first ended
    assert max(len(st.busy) for st in s.fake.starts) == 2
    assert set(states(s).values()) == {RunState.SUCCEEDED}


def test_a_run_that_does_not_fit_lets_later_smaller_runs_go_first(sweep) -> None:
    small, big, later = grid("small"), grid("big", num_cpu=2, start=1), grid("later", start=2)
    s = sweep(small, big, later, budget=[4, 7], order="plan",
              scripts={"small_s0": Script(ticks=5), "later_s0": Script(ticks=2)})  # fmt: skip
    assert s.run() == 0
    assert s.fake.start_order() == ["small_s0", "later_s0", "big_s0"]
    first, second, third = s.fake.starts
    assert first.turn == second.turn  # the 2-rank run waits; the later 1-rank run does not
    assert third.turn >= first.turn + 5  # only once both cores were free
    assert third.cores == [4, 7] and third.busy == {"big_s0": [4, 7]}
    assert {first.cores[0], second.cores[0]} == {4, 7}
    assert s.runs()["big_s0"].cores == "4,7"


def test_running_runs_never_share_a_core(sweep) -> None:
    one = grid("one", range(5))
    two = grid("two", range(3), num_cpu=2, start=5)
    scripts = {f"one_s{i}": Script(ticks=1 + i % 3) for i in range(5)}
    scripts |= {f"two_s{i}": Script(ticks=2) for i in range(3)}
    s = sweep(one, two, budget=[0, 1, 2], scripts=scripts)
    assert s.run() == 0
    assert len(s.fake.starts) == 8
    for st in s.fake.starts:
        taken = [c for cores in st.busy.values() for c in cores]
        assert len(taken) == len(set(taken)) and set(taken) <= {0, 1, 2}, st
    assert all(len(st.cores) == 2 for st in s.fake.starts if st.name.startswith("two"))


def test_a_run_larger_than_the_budget_takes_all_of_it(sweep) -> None:
    s = sweep(grid("over", num_cpu=3), grid("next", start=1), budget=2)
    assert s.run() == 0
    assert [st.cores for st in s.fake.starts] == [[0, 1], [0]]


def test_the_backend_may_hold_runs_that_fit_the_budget(sweep, fake_executor) -> None:
    fake_executor.max_jobs = 1  # Slurm's max_jobs
    s = sweep(grid("g", range(3)), budget=4)
    assert s.run() == 0
    assert max(len(st.busy) for st in s.fake.starts) == 1
    assert len({st.turn for st in s.fake.starts}) == 3


# -- every end state ---------------------------------------------------------------------------
def test_success_and_failures_are_recorded_with_their_reasons(sweep) -> None:
    s = sweep(grid("g", range(5)), budget=5, scripts={
        "g_s1": FAIL,
        "g_s2": Script(code=None, signal=signal.SIGKILL),
        "g_s3": Script(code=3),
        "g_s4": Script(code=1, reason="TIMEOUT", log="slurmstepd: error: CANCELLED DUE TO TIME"),
    })  # fmt: skip
    assert s.run() == 1
    runs = s.runs()
    assert (runs["g_s0"].state, runs["g_s0"].exit_code, runs["g_s0"].reason) == (
        RunState.SUCCEEDED, 0, "")  # fmt: skip
    assert (runs["g_s1"].state, runs["g_s1"].exit_code) == (RunState.FAILED, 1)
    assert runs["g_s1"].reason == "ValueError: bad seed"
    assert "Traceback" in runs["g_s1"].tail
    assert (runs["g_s2"].signal, runs["g_s2"].reason) == (9, "killed by SIGKILL (out of memory?)")
    assert runs["g_s3"].reason == "exit code 3"
    assert runs["g_s4"].reason == "TIMEOUT"  # the backend's reason; the log had no exception
    assert all(r.attempt == 1 and r.ended for r in runs.values())
    assert s.attempts("g_s1") == [(1, RunState.FAILED, "ValueError: bad seed")]
    assert s.kinds().count(EventKind.STARTED) == 5
    assert s.kinds().count(EventKind.FINISHED) == 5
    assert s.kinds()[-1] == EventKind.DONE
    assert s.meta()["status"] == EngineStatus.FINISHED


def test_a_run_the_backend_cannot_start_fails_and_frees_its_cores(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, scripts={"g_s0": Script(start_error="no queue")})
    assert s.run() == 1
    runs = s.runs()
    assert (runs["g_s0"].state, runs["g_s0"].reason) == (
        RunState.FAILED,
        "could not start: no queue",
    )
    assert runs["g_s0"].attempt == 1
    assert (runs["g_s1"].state, runs["g_s2"].state) == (RunState.SUCCEEDED, RunState.SUCCEEDED)


def test_a_payload_is_written_before_the_start_and_removed_after_the_end(sweep) -> None:
    s = sweep(grid("g", range(2)))
    assert s.run() == 0
    assert all(st.payload for st in s.fake.starts)
    assert not list(Path("data/.slc-tui/g/payloads").glob("*.pkl"))


def test_stop_commands_cancel_a_running_run_and_a_pending_one(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, scripts={"g_s0": HANG, "g_s1": HANG})

    def stop_s0_and_s2(_: RunRecord) -> None:
        s.send(Verb.STOP, "g_s0")
        s.send(Verb.STOP, "g_s2")  # still pending: cancelled, never started

    s.on(EventKind.STARTED, "g_s0", stop_s0_and_s2)
    s.on(EventKind.STARTED, "g_s1", lambda _: s.send(Verb.STOP, "g_s1"))
    assert s.run() == 1
    runs = s.runs()
    assert {r.state for r in runs.values()} == {RunState.CANCELLED}
    assert {r.reason for r in runs.values()} == {"stopped by the user"}
    assert s.fake.start_order() == ["g_s0", "g_s1"]
    assert [name for name, _ in s.fake.stops] == ["g_s0", "g_s1"]
    assert s.fake.stops[0][1] == core.STOP_GRACE
    assert (runs["g_s0"].signal, runs["g_s1"].attempt, runs["g_s2"].attempt) == (15, 1, 0)
    assert s.kinds("g_s0") == [EventKind.STARTED, EventKind.STOPPING, EventKind.FINISHED]
    assert s.fake.shutdowns == 0  # the sweep ended by itself
    assert s.fake.closes == 1  # and let its backend's helpers go (warm launchers)


def test_a_run_cancelled_outside_the_engine_is_cancelled_not_failed(sweep) -> None:
    s = sweep(grid("g"), scripts={"g_s0": Script(code=None, signal=15, stopped=True)})
    assert s.run() == 1
    run = s.runs()["g_s0"]
    assert (run.state, run.reason) == (RunState.CANCELLED, "cancelled")


def test_a_run_the_backend_loses_on_shutdown_is_lost(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=2, scripts={"g_s0": Script(ticks=FOREVER, lost=True),
                                                      "g_s1": HANG})  # fmt: skip
    s.fake.at(3, lambda: s.send(Verb.STOP_ALL))
    assert s.run() == 130
    runs = s.runs()
    assert (runs["g_s0"].state, runs["g_s0"].reason) == (RunState.LOST, "stopped by the user")
    assert (runs["g_s1"].state, runs["g_s1"].reason) == (RunState.CANCELLED, "stopped by the user")
    assert (runs["g_s2"].state, runs["g_s2"].attempt) == (RunState.PENDING, 0)  # never started
    assert s.attempts("g_s0") == [(1, RunState.LOST, "stopped by the user")]
    assert s.fake.shutdowns == 1
    assert s.meta()["status"] == EngineStatus.STOPPED


def test_a_signal_stops_every_run_and_names_itself(sweep) -> None:
    s = sweep(grid("g", range(2)), scripts={"g_s0": HANG, "g_s1": HANG})
    s.fake.at(2, lambda: s.engine.request_stop(signal.SIGTERM))
    assert s.run() == 130
    assert {r.reason for r in s.runs().values()} == {"interrupted (SIGTERM)"}
    assert set(states(s).values()) == {RunState.CANCELLED}


def test_an_error_in_the_loop_leaves_no_run_running(sweep) -> None:
    s = sweep(grid("g", range(2)), scripts={"g_s0": HANG, "g_s1": HANG})

    def crash() -> None:
        raise RuntimeError("a bug")

    s.fake.at(3, crash)
    with pytest.raises(RuntimeError, match="a bug"):
        s.run()
    assert s.fake.shutdowns == 1 and not s.fake.live
    assert {(r.state, r.reason) for r in s.runs().values()} == {
        (RunState.CANCELLED, "the engine stopped")
    }
    assert s.kinds()[-1] == EventKind.DONE


# -- retries -----------------------------------------------------------------------------------
def test_a_failing_run_is_retried_and_every_attempt_recorded(sweep) -> None:
    s = sweep(grid("g", retries=2), scripts={"g_s0": [FAIL, Script(code=2), OK]})
    assert s.run() == 0
    run = s.runs()["g_s0"]
    assert (run.state, run.attempt, run.reason) == (RunState.SUCCEEDED, 3, "")
    assert s.attempts("g_s0") == [
        (1, RunState.FAILED, "ValueError: bad seed"),
        (2, RunState.FAILED, "exit code 2"),
        (3, RunState.SUCCEEDED, ""),
    ]
    assert [st.attempt for st in s.fake.starts] == [1, 2, 3]
    assert [e.text for e in s.events if e.kind == EventKind.RETRY] == ["attempt 2", "attempt 3"]


def test_retries_run_out(sweep) -> None:
    s = sweep(grid("g", retries=1), scripts={"g_s0": FAIL})
    assert s.run() == 1
    assert (s.runs()["g_s0"].state, s.runs()["g_s0"].attempt) == (RunState.FAILED, 2)
    assert len(s.fake.starts) == 2


def test_retries_count_this_engines_attempts_not_earlier_ones(sweep, fake_executor) -> None:
    for _ in range(2):
        assert sweep(grid("g"), scripts={"g_s0": FAIL}).run() == 1
    fake_executor.starts.clear()
    assert sweep(grid("g", retries=1)).run() == 1
    assert [st.attempt for st in fake_executor.starts] == [3, 4]


def test_a_stopped_run_is_not_retried(sweep) -> None:
    s = sweep(grid("g", retries=3), scripts={"g_s0": HANG})
    s.on(EventKind.STARTED, "g_s0", lambda _: s.send(Verb.STOP, "g_s0"))
    assert s.run() == 1
    assert len(s.fake.starts) == 1
    assert s.runs()["g_s0"].state == RunState.CANCELLED


# -- timeout -----------------------------------------------------------------------------------
def test_a_run_past_its_timeout_is_stopped_and_failed(sweep) -> None:
    s = sweep(grid("slow", timeout=0.02), grid("quick", start=1, timeout=5),
              scripts={"slow_s0": HANG})  # fmt: skip
    assert s.run() == 1
    slow, quick = s.runs()["slow_s0"], s.runs()["quick_s0"]
    assert (slow.state, slow.reason) == (RunState.FAILED, "timed out after 0.02 s")
    assert quick.state == RunState.SUCCEEDED
    assert [name for name, _ in s.fake.stops] == ["slow_s0"]
    assert slow.ended - slow.started > 0.015  # not stopped early


def test_a_timed_out_run_is_retried(sweep) -> None:
    s = sweep(grid("g", timeout=0.02, retries=1), scripts={"g_s0": [HANG, OK]})
    assert s.run() == 0
    assert s.attempts("g_s0") == [
        (1, RunState.FAILED, "timed out after 0.02 s"),
        (2, RunState.SUCCEEDED, ""),
    ]


# -- fail-fast ---------------------------------------------------------------------------------
def test_fail_fast_cancels_the_runs_not_started(sweep) -> None:
    s = sweep(grid("g", range(4)), budget=2, fail_fast=True,
              scripts={"g_s0": FAIL, "g_s1": Script(ticks=5)})  # fmt: skip
    assert s.run() == 1
    runs = s.runs()
    assert runs["g_s0"].state == RunState.FAILED
    assert runs["g_s1"].state == RunState.SUCCEEDED  # a running run is let finish
    assert s.fake.stops == []
    assert s.fake.start_order() == ["g_s0", "g_s1"]
    for name in ("g_s2", "g_s3"):
        assert (runs[name].state, runs[name].reason) == (
            RunState.CANCELLED,
            "not started: fail-fast",
        )
        assert runs[name].attempt == 0


def test_fail_fast_waits_for_retries_to_run_out(sweep) -> None:
    s = sweep(grid("g", range(3), retries=1), budget=1, fail_fast=True,
              scripts={"g_s0": [FAIL, OK]})  # fmt: skip
    assert s.run() == 0
    assert set(states(s).values()) == {RunState.SUCCEEDED}


def test_without_fail_fast_the_other_runs_go_on(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, scripts={"g_s0": FAIL})
    assert s.run() == 1
    assert states(s) == {"g_s0": RunState.FAILED, "g_s1": RunState.SUCCEEDED,
                         "g_s2": RunState.SUCCEEDED}  # fmt: skip


# -- pause and resume --------------------------------------------------------------------------
def test_pause_holds_new_runs_until_resume(sweep) -> None:
    s = sweep(grid("g", range(2)))
    s.send(Verb.PAUSE)  # queued before the loop starts
    seen: dict[str, Any] = {}

    def look_then_resume() -> None:
        seen.update(
            starts=len(s.fake.starts), paused=s.meta()["paused"], states=set(states(s).values())
        )
        s.send(Verb.RESUME)

    s.fake.at(20, look_then_resume)
    assert s.run() == 0
    assert seen == {"starts": 0, "paused": True, "states": {RunState.PENDING}}
    assert min(st.turn for st in s.fake.starts) >= 20
    assert s.meta()["paused"] is False
    assert s.kinds()[:2] == [EventKind.PAUSED, EventKind.RESUMED]


def test_a_pause_lets_running_runs_finish_and_holds_the_next(sweep) -> None:
    s = sweep(grid("g", range(2)), budget=1, scripts={"g_s0": Script(ticks=3)})
    s.on(EventKind.STARTED, "g_s0", lambda _: s.send(Verb.PAUSE))
    s.on(EventKind.FINISHED, "g_s0", lambda _: s.fake.at(s.fake.polls + 10,
                                                         lambda: s.send(Verb.RESUME)))  # fmt: skip
    assert s.run() == 0
    first, second = s.fake.starts
    assert second.turn >= first.turn + 3 + 10
    assert s.fake.stops == []


def test_a_fail_fast_trip_while_paused_cancels_after_resume(sweep) -> None:
    s = sweep(
        grid("g", range(3)), budget=1, fail_fast=True, scripts={"g_s0": Script(code=1, ticks=3)}
    )
    s.on(EventKind.STARTED, "g_s0", lambda _: s.send(Verb.PAUSE))
    s.fake.at(15, lambda: s.send(Verb.RESUME))
    assert s.run() == 1
    assert states(s) == {"g_s0": RunState.FAILED, "g_s1": RunState.CANCELLED,
                         "g_s2": RunState.CANCELLED}  # fmt: skip
    assert s.fake.polls >= 15  # the engine waited for the resume


# -- commands ----------------------------------------------------------------------------------
def test_rerun_runs_a_finished_run_again(sweep) -> None:
    s = sweep(grid("g", range(2)), scripts={"g_s0": [FAIL, OK], "g_s1": Script(ticks=20)})
    s.on(EventKind.FINISHED, "g_s0", lambda r: r.attempt == 1 and s.send(Verb.RERUN, "g_s0"))
    assert s.run() == 0
    run = s.runs()["g_s0"]
    assert (run.state, run.attempt, run.reason, run.exit_code) == (RunState.SUCCEEDED, 2, "", 0)
    assert s.attempts("g_s0") == [(1, RunState.FAILED, "ValueError: bad seed"),
                                  (2, RunState.SUCCEEDED, "")]  # fmt: skip


def test_rerun_after_fail_fast_runs_only_that_run(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, fail_fast=True, linger=lambda: True,
              scripts={"g_s0": [FAIL, OK]})  # fmt: skip

    def on_finished(run: RunRecord) -> None:  # g_s1 and g_s2 are cancelled in this same turn
        s.send(Verb.RERUN if run.attempt == 1 else Verb.STOP_ALL, "g_s0")

    s.on(EventKind.FINISHED, "g_s0", on_finished)
    assert s.run() == 1  # g_s1 and g_s2 stay cancelled
    assert s.fake.start_order() == ["g_s0", "g_s0"]
    assert states(s) == {"g_s0": RunState.SUCCEEDED, "g_s1": RunState.CANCELLED,
                         "g_s2": RunState.CANCELLED}  # fmt: skip


def test_rerun_and_stop_of_what_cannot_take_them_change_nothing(sweep) -> None:
    s = sweep(grid("g", range(2)), scripts={"g_s0": Script(ticks=10)})

    def commands(_: RunRecord) -> None:
        s.send(Verb.RERUN, "g_s0")  # running
        s.send(Verb.STOP, "nobody_s0")  # no such run
        s.send(Verb.STOP, "g_s1")  # ... but g_s1 has already finished: nothing to stop

    s.on(EventKind.FINISHED, "g_s1", commands)
    assert s.run() == 0
    assert s.fake.start_order() == ["g_s0", "g_s1"]
    assert set(states(s).values()) == {RunState.SUCCEEDED}


def test_stop_all_interrupts_running_and_pending_runs(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, scripts={"g_s0": HANG})
    s.fake.at(2, lambda: s.send(Verb.STOP_ALL))
    assert s.run() == 130
    assert states(s) == {"g_s0": RunState.CANCELLED, "g_s1": RunState.PENDING,
                         "g_s2": RunState.PENDING}  # fmt: skip
    assert s.meta()["status"] == EngineStatus.STOPPED


def test_stop_all_ends_a_lingering_engine_with_its_runs_status(sweep) -> None:
    s = sweep(grid("g", range(2)), linger=lambda: True, scripts={"g_s1": FAIL})
    s.fake.at(30, lambda: s.send(Verb.STOP_ALL))
    assert s.run() == 1  # not 130: nothing was interrupted
    assert s.fake.polls >= 30 and s.fake.shutdowns == 0
    assert s.meta()["status"] == EngineStatus.FINISHED


def test_commands_reach_the_engine_directly_too(sweep) -> None:
    from slc_tui.engine.ledger import Command

    s = sweep(grid("g", range(2)), budget=1, scripts={"g_s0": HANG})
    s.on(EventKind.STARTED, "g_s0", lambda _: s.engine.command(Command(0, Verb.STOP, "g_s1")))
    s.fake.at(5, lambda: s.engine.command(Command(0, Verb.STOP, "g_s0")))
    assert s.run() == 1
    assert s.fake.start_order() == ["g_s0"]
    assert set(states(s).values()) == {RunState.CANCELLED}


# -- resume modes: a second engine over the same ledger -----------------------------------------
def _first_sweep(sweep) -> None:
    assert sweep(grid("g", range(2)), scripts={"g_s1": FAIL}).run() == 1


def test_resume_failed_reruns_only_what_did_not_succeed(sweep) -> None:
    _first_sweep(sweep)
    again = FakeExecutor()
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.FAILED)
    assert s.run() == 0
    assert again.start_order() == ["g_s1"]
    runs = s.runs()
    assert (runs["g_s0"].attempt, runs["g_s1"].attempt) == (1, 2)
    assert s.engine.rerun_succeeded == {"g": 0}


def test_resume_all_runs_everything_again(sweep) -> None:
    _first_sweep(sweep)
    again = FakeExecutor()
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.ALL)
    assert s.run() == 0
    assert again.start_order() == ["g_s0", "g_s1"]
    assert {r.attempt for r in s.runs().values()} == {2}
    assert s.engine.rerun_succeeded == {"g": 1}


def test_resume_keep_runs_nothing_but_what_a_view_queued(sweep) -> None:
    _first_sweep(sweep)
    again = FakeExecutor()
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.KEEP)
    assert states(s) == {"g_s0": RunState.SUCCEEDED, "g_s1": RunState.FAILED}
    assert s.run() == 1  # nothing to do: the failure stands
    assert again.starts == []
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.KEEP)
    s.send(Verb.RERUN, "g_s1")
    assert s.run() == 0
    assert again.start_order() == ["g_s1"]


def test_a_run_its_dead_engine_left_running_is_lost_then_run_again(sweep) -> None:
    _first_sweep(sweep)
    path = ledger_path(Path("data").resolve(), "g")
    dead = Ledger.open(path)  # as if an engine died with g_s0 running
    dead.update("g_s0", state=RunState.RUNNING, attempt=2)
    dead.close()
    again = FakeExecutor()
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.FAILED)
    assert s.attempts("g_s0")[-1] == (2, RunState.LOST, "its engine ended")
    assert s.run() == 0
    assert again.start_order() == ["g_s0", "g_s1"]
    assert s.runs()["g_s0"].attempt == 3


def test_a_cluster_job_left_running_is_followed_not_started_again(sweep) -> None:
    _first_sweep(sweep)
    dead = Ledger.open(ledger_path(Path("data").resolve(), "g"))
    dead.update("g_s1", state=RunState.RUNNING, attempt=2, job_id="42")
    dead.close()
    again = FakeExecutor(adoptable={"42"})
    s = sweep(grid("g", range(2)), fake=again, resume=Resume.FAILED)
    assert s.run() == 0
    assert (again.adopted, again.starts) == (["g_s1"], [])
    run = s.runs()["g_s1"]
    assert (run.state, run.attempt, run.job_id) == (RunState.SUCCEEDED, 2, "42")


# -- what the loop reads of running runs --------------------------------------------------------
def test_progress_rows_reach_the_ledger_while_a_run_runs(sweep) -> None:
    s = sweep(grid("g"), scripts={"g_s0": Script(ticks=6, epochs=3)})
    assert s.run() == 0
    run = s.runs()["g_s0"]
    assert (run.epoch, run.metrics) == (2, {"Epoch": 2.0, "AverageEpRet": 30.0})
    progress = [e.run.epoch for e in s.events if e.kind == EventKind.PROGRESS and e.run]
    assert progress and progress == sorted(progress) and progress[-1] == 2


def test_the_backends_queue_state_is_recorded(sweep) -> None:
    s = sweep(grid("g"), scripts={"g_s0": Script(ticks=5)})
    s.fake.at(2, lambda: s.fake.queue_states.update({"g_s0": "RUNNING", "other": "PENDING"}))
    assert s.run() == 0
    assert s.runs()["g_s0"].queue_state == "RUNNING"


# -- the exit status ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scripts", "interrupt", "status"),
    [
        ({}, False, 0),
        ({"g_s1": FAIL}, False, 1),
        ({"g_s1": Script(code=None, signal=15, stopped=True)}, False, 1),
        ({"g_s0": HANG}, True, 130),
    ],
    ids=["all-succeeded", "one-failed", "one-cancelled", "interrupted"],
)
def test_the_exit_status(sweep, scripts: dict[str, Script], interrupt: bool, status: int) -> None:
    s = sweep(grid("g", range(2)), scripts=scripts)
    if interrupt:
        s.fake.at(3, s.engine.request_stop)
    assert s.run() == status


# -- what the loop's first users found ---------------------------------------------------------
def test_fail_fast_tells_the_listeners_of_each_run_it_cancels(sweep) -> None:
    s = sweep(grid("g", range(3)), budget=1, fail_fast=True, scripts={"g_s0": FAIL})
    assert s.run() == 1
    assert s.kinds("g_s1") == [EventKind.FINISHED] == s.kinds("g_s2")


def test_an_error_in_the_loop_leaves_the_sweep_stopped_not_finished(sweep) -> None:
    s = sweep(grid("g", range(1)), scripts={"g_s0": HANG})

    def crash() -> None:
        raise RuntimeError("a bug")

    s.fake.at(2, crash)
    with pytest.raises(RuntimeError):
        s.run()
    assert s.meta()["status"] == EngineStatus.STOPPED


def test_a_sweep_that_ends_paused_is_not_left_paused(sweep) -> None:
    s = sweep(grid("g", range(1)), scripts={"g_s0": Script(ticks=5)})
    s.on(EventKind.STARTED, "g_s0", lambda _: s.engine.command(Command(0, Verb.PAUSE)))
    assert s.run() == 0
    assert s.meta()["paused"] is False


def test_a_failed_start_keeps_nothing_of_the_attempt_before(sweep) -> None:
    s = sweep(grid("g", range(1)), scripts={"g_s0": [FAIL, Script(start_error="gone")]},
              budget=1)  # fmt: skip
    s.on(EventKind.FINISHED, "g_s0",
         lambda r: r.attempt == 1 and s.engine.command(Command(0, Verb.RERUN, "g_s0")))  # fmt: skip
    assert s.run() == 1
    run = s.runs()["g_s0"]
    assert (run.attempt, run.reason) == (2, "could not start: gone")
    assert run.command == "" and run.pid is None


# -- the ledger's faults (Airtight) ------------------------------------------------------------
class FullDisk:
    """A ledger connection whose write transactions fail as on a full disk, while ``full``."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.full = conn, True

    def execute(self, sql: str, *args: Any) -> Any:
        if self.full and sql.startswith("BEGIN"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def locker(name: str) -> sqlite3.Connection:
    """Another connection to grid ``name``'s ledger (for ``BEGIN EXCLUSIVE``)."""
    return sqlite3.connect(ledger_path("data", name), isolation_level=None,
                           check_same_thread=False)  # fmt: skip


def test_a_ledger_locked_by_another_process_loses_and_mislabels_nothing(sweep) -> None:
    s = sweep(grid("busy", range(2)), budget=1)
    said: list[str] = []
    s.engine.book.say = said.append
    other = locker("busy")
    other.execute("BEGIN EXCLUSIVE")
    unlocked = threading.Event()
    ends: list[bool] = []
    for name in ("busy_s0", "busy_s1"):
        s.on(EventKind.FINISHED, name, lambda _: ends.append(unlocked.is_set()))

    def unlock() -> None:
        time.sleep(1.5)
        unlocked.set()
        other.execute("COMMIT")

    threading.Thread(target=unlock, daemon=True).start()
    assert s.run() == 0
    assert ends == [False, False]  # both ran and ended while the ledger was locked
    assert states(s) == {"busy_s0": RunState.SUCCEEDED, "busy_s1": RunState.SUCCEEDED}
    assert [a[:2] for a in s.attempts("busy_s1")] == [(1, RunState.SUCCEEDED)]
    assert s.meta()["status"] == EngineStatus.FINISHED
    assert any("is locked by another process" in line for line in said), said


def test_a_full_disk_stops_new_starts_and_keeps_the_running_runs_ends(sweep) -> None:
    s = sweep(grid("full", range(3)), budget=2, scripts={"full_s0": Script(ticks=3),
              "full_s1": Script(ticks=4)})  # fmt: skip
    said: list[str] = []
    s.engine.book.say = said.append
    files = s.engine.book.files["full"]
    s.fake.at(2, lambda: setattr(files.ledger, "_conn", FullDisk(files.ledger._conn)))
    assert s.run() == 1  # a run was left unstarted
    assert s.fake.start_order() == ["full_s0", "full_s1"]
    assert [line for line in said if "cannot write the ledger" in line] == [
        f"cannot write the ledger {files.ledger.path} (database or disk is full): no new run "
        f"starts; the running runs go on, and their ends are kept (journal "
        f"{files.journal.path})"
    ]
    assert s.engine.records["full_s1"].state == RunState.SUCCEEDED  # the engine's own record
    assert states(s)["full_s1"] == RunState.RUNNING  # the ledger could not take it...
    view = SweepState.open([files.ledger.path])
    view.poll()  # ...but a view tells it from the journal, not "lost"
    assert {r.name: r.state for r in view.records()} == {"full_s0": RunState.SUCCEEDED,
        "full_s1": RunState.SUCCEEDED, "full_s2": RunState.PENDING}  # fmt: skip
    view.close()
    again = sweep(grid("full", range(3)), fake=FakeExecutor(), resume=Resume.FAILED)
    assert again.run() == 0
    assert again.fake.start_order() == ["full_s2"]  # what succeeded did not run again
    assert set(states(again).values()) == {RunState.SUCCEEDED}


def test_a_ledger_deleted_under_its_engine_is_made_again_from_its_records(
    sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slc_tui.engine import sync

    monkeypatch.setattr(sync, "CHECK_EVERY", 0.0)
    s = sweep(grid("del", range(3), retries=1), budget=1, scripts={"del_s0": [FAIL, OK]})
    said: list[str] = []
    s.engine.book.say = said.append
    path = ledger_path("data", "del")

    def delete() -> None:
        for part in ("", "-wal", "-shm"):
            Path(f"{path}{part}").unlink()

    s.on(EventKind.STARTED, "del_s1", lambda _: delete())
    assert s.run() == 0
    assert len(said) == 1 and said[0].endswith(
        "del.db was deleted; made it again from the engine's records"), said  # fmt: skip
    view = Ledger.open(path)
    assert {r.name: r.state for r in view.runs()} == dict.fromkeys(
        ("del_s0", "del_s1", "del_s2"), RunState.SUCCEEDED)  # fmt: skip
    assert [(a["attempt"], a["state"]) for a in view.attempts("del_s0")] == [
        (1, "failed"), (2, "succeeded")]  # fmt: skip
    assert view.meta()["status"] == EngineStatus.FINISHED
    view.close()


def test_a_ledger_still_locked_when_the_engine_ends_catches_up_from_the_journal(
    sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "CLOSE_WAIT", 0.3)
    s = sweep(grid("late", range(2)))
    said: list[str] = []
    s.engine.book.say = said.append
    other = locker("late")
    s.fake.at(1, lambda: other.execute("BEGIN EXCLUSIVE"))
    assert s.run() == 0
    assert "they are in the journal" in said[-1], said
    other.execute("COMMIT")
    again = sweep(grid("late", range(2)), fake=FakeExecutor(), resume=Resume.FAILED)
    assert again.fake.start_order() == [] and again.run() == 0
    assert set(states(again).values()) == {RunState.SUCCEEDED}


def test_a_second_engine_is_refused_by_the_lock_before_it_touches_the_ledger(sweep) -> None:
    s = sweep(grid("twice"), grid("other"))
    path = ledger_path("data", "twice")
    before = path.stat()
    second = Engine([grid("twice")], FakeExecutor(), budget=[0])
    with pytest.raises(SweepError, match=r"'twice' is already running \(engine pid \d+"):
        second.prepare()
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    overlapping = Engine([grid("other"), grid("twice")], FakeExecutor(), budget=[0])
    with pytest.raises(SweepError, match="'other' is already running"):  # locks in path order
        overlapping.prepare()
    assert s.run() == 0
