"""slc_tui.mpi_tools: plain numpy outside MPI (no mpi4py import), real reductions under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from slc_tui import mpi_tools
from slc_tui.launch import find_mpiexec

MPI_VARS = ("IN_MPI", "PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any MPI variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in MPI_VARS}
    env.update(extra)
    return env


@pytest.fixture
def no_mpi(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in MPI_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mpi_tools, "_comm", None)


def run_script(tmp_path: Path, code: str, argv: list[str], env: dict[str, str]) -> list[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    proc = subprocess.run(
        [*argv, str(script)], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_single_process_rank_and_size(no_mpi: None) -> None:
    assert mpi_tools.in_mpi() is False
    assert mpi_tools.proc_id() == 0
    assert mpi_tools.num_procs() == 1


def test_size_one_launcher_is_not_mpi(monkeypatch: pytest.MonkeyPatch, no_mpi: None) -> None:
    monkeypatch.setenv("PMI_SIZE", "1")
    assert mpi_tools.in_mpi() is False
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert mpi_tools.in_mpi() is True


def test_reductions_without_mpi(no_mpi: None) -> None:
    assert mpi_tools.mpi_sum(3) == 3.0
    assert isinstance(mpi_tools.mpi_avg(2), float)
    np.testing.assert_array_equal(mpi_tools.mpi_avg([1.0, 2.5]), [1.0, 2.5])
    np.testing.assert_array_equal(mpi_tools.mpi_min(np.array([4, -1])), [4, -1])
    assert mpi_tools.mpi_max(np.float32(1.5)) == 1.5
    big = 123_456_789  # float32 would round it
    assert mpi_tools.mpi_sum(big) == big
    x = np.array([1.0, 2.0, 3.0, 10.0])
    assert mpi_tools.mpi_statistics_scalar(x) == pytest.approx((x.mean(), x.std()))
    assert mpi_tools.mpi_statistics_scalar(list(x), with_min_and_max=True) == pytest.approx(
        (x.mean(), x.std(), 1.0, 10.0)
    )
    arr = np.arange(3.0)
    assert mpi_tools.broadcast(arr) is arr


def test_statistics_of_nothing_is_nan(no_mpi: None) -> None:
    mean, std, lo, hi = mpi_tools.mpi_statistics_scalar([], with_min_and_max=True)
    assert np.isnan(mean) and np.isnan(std)
    assert (lo, hi) == (np.inf, -np.inf)


def test_msg_names_the_rank(no_mpi: None, capsys: pytest.CaptureFixture[str]) -> None:
    mpi_tools.msg("hello", "worker")
    assert capsys.readouterr().out.startswith("Message from 0: worker")


def test_mpi_fork_is_a_noop_inside_mpi_or_for_one_rank(
    monkeypatch: pytest.MonkeyPatch, no_mpi: None
) -> None:
    mpi_tools.mpi_fork(1)
    monkeypatch.setenv("IN_MPI", "1")
    mpi_tools.mpi_fork(4)  # returns instead of re-launching


def test_mpi4py_is_not_imported_outside_mpi(tmp_path: Path) -> None:
    code = """
        import sys
        from slc_tui import mpi_tools as m
        m.proc_id(); m.num_procs(); m.mpi_avg([1.0]); m.mpi_statistics_scalar([1.0, 2.0], True)
        print("mpi4py" in sys.modules)
    """
    assert run_script(tmp_path, code, [sys.executable], clean_env()) == ["False"]


MPI_CHECK = """
    import json
    import sys
    import numpy as np
    from slc_tui import mpi_tools as m

    r = m.proc_id()
    x = np.arange(3.0 + r) * (r + 1)  # rank 0: [0 1 2], rank 1: [0 2 4 6]
    b = np.full(2, float(r))
    m.broadcast(b)
    sys.stdout.write(json.dumps({
        "rank": r, "size": m.num_procs(), "avg": m.mpi_avg(r + 1.0),
        "sum": m.mpi_sum([r, 1]).tolist(), "min": m.mpi_min(r), "max": m.mpi_max(r),
        "stats": m.mpi_statistics_scalar(x, with_min_and_max=True), "bcast": b.tolist(),
    }) + "\\n")  # one write per line: print() would let the ranks' lines interleave
"""


def check_two_ranks(lines: list[str]) -> None:
    results = sorted((json.loads(line) for line in lines), key=lambda d: d["rank"])
    assert [d["rank"] for d in results] == [0, 1]
    both = np.array([0.0, 1.0, 2.0, 0.0, 2.0, 4.0, 6.0])
    for d in results:
        assert d["size"] == 2
        assert d["avg"] == 1.5
        assert d["sum"] == [1.0, 2.0]
        assert (d["min"], d["max"]) == (0.0, 1.0)
        assert d["stats"] == pytest.approx([both.mean(), both.std(), 0.0, 6.0])
        assert d["bcast"] == [0.0, 0.0]


def test_two_ranks_under_mpiexec(tmp_path: Path) -> None:
    argv = [find_mpiexec(), "-n", "2", sys.executable]
    check_two_ranks(run_script(tmp_path, MPI_CHECK, argv, clean_env(IN_MPI="1")))


def test_mpi_fork_relaunches_the_script(tmp_path: Path) -> None:
    code = "from slc_tui import mpi_tools as m\nm.mpi_fork(2)\n" + textwrap.dedent(MPI_CHECK)
    check_two_ranks(run_script(tmp_path, code, [sys.executable], clean_env()))
