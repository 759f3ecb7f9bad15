"""Failure reasons read from the end of a run's log."""

from __future__ import annotations

from slc_tui.engine.reasons import explain_failure, failure_reason

TRACEBACK = """Epoch 0 | AverageEpRet 12.0
Traceback (most recent call last):
  File "x.py", line 3, in train
    env = env_fn()
{line}
"""


def test_the_exception_line_of_the_last_traceback() -> None:
    for line in (
        "ValueError: bad lr",
        "gymnasium.error.NameNotFound: Environment `CartPol` doesn't exist.",
        "KeyboardInterrupt",
        "mymod.Boom",
    ):
        assert failure_reason(TRACEBACK.format(line=line), 1, None) == line


def test_a_chained_exception_gives_the_last_one() -> None:
    tail = (
        TRACEBACK.format(line="KeyError: 'a'")
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + TRACEBACK.format(line="RuntimeError: wrapped")
        + "some later output\n"
    )
    assert failure_reason(tail, 1, None) == "RuntimeError: wrapped"


def test_the_raising_mpi_rank_wins() -> None:
    tail = TRACEBACK.format(line="ValueError: x") + "slc-tui: MPI rank 1 raised ValueError: x\n"
    assert failure_reason(tail, 1, None) == "MPI rank 1 raised ValueError: x"


def test_without_a_traceback_the_signal_or_exit_code() -> None:
    assert failure_reason("hello\n", None, 9) == "killed by SIGKILL (out of memory?)"
    assert failure_reason("hello\n", None, 15) == "killed by SIGTERM"
    assert failure_reason("hello\n", 3, None) == "exit code 3"
    assert failure_reason("KILLED BY SIGNAL: 9 (Killed)\n", 137, None).endswith("SIGKILL")


def test_the_entrypoint_s_line_wins_and_is_found_beyond_the_tail() -> None:
    reason = "RuntimeError: mat1 and mat2 must have the same dtype (at sac.py:212 in update)"
    after = "".join(f"wandb: syncing {i}\n" for i in range(40))  # exit hooks print on
    end = TRACEBACK.format(line="RuntimeError: mat1 and mat2 must have the same dtype")
    end += f"slc-tui: raised {reason}"
    assert failure_reason(f"{end}\n{after}", 1, None) == reason
    mpi = "slc-tui: MPI rank 3 raised ValueError: x (at a.py:1 in f)\n" + after
    assert failure_reason(mpi, 1, None) == "MPI rank 3 raised ValueError: x (at a.py:1 in f)"


def test_a_traceback_is_read_from_the_tail_only() -> None:
    end = TRACEBACK.format(line="ValueError: long ago") + "".join(f"{i}\n" for i in range(40))
    assert failure_reason(end, None, 9) == "killed by SIGKILL (out of memory?)"
    assert explain_failure("TIMEOUT", end, 1, None) == "TIMEOUT"
