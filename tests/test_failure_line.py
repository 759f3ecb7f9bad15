"""A failed run's reason is its exception in one line, however long its traceback.

The entrypoint ends a failing rank's traceback with ``slc-tui: raised TYPE: MESSAGE (at
FILE:LINE in FUNCTION)`` (``slc-tui: MPI rank N raised ...`` in an MPI job), the place being
the innermost frame of the thunk's own code; the engine takes the reason from that line.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ledger, make_plan, run_plans
from engine_thunks import raised_at

from slc_tui import entrypoint
from slc_tui.engine.reasons import TAIL_LINES, failure_reason
from slc_tui.launch import run_command
from slc_tui.payload import Payload, write_payload
from slc_tui.procid.failure import MESSAGE_MAX, summary
from slc_tui.states import RunState

pytestmark = pytest.mark.usefixtures("no_leftovers")
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _failed(grid: str, thunk: str, params: dict[str, Any], num_cpu: int = 1) -> Any:
    plan = make_plan(grid, thunk, {"seed": 0, **params}, num_cpu=num_cpu)
    assert run_plans(plan, max_cpus=2)[0] == 1
    (run,) = ledger(grid).runs()
    assert run.state == RunState.FAILED
    return run


def test_a_traceback_longer_than_the_tail_still_gives_its_exception_and_place() -> None:
    run = _failed("deep", "deep_raise", {})
    assert run.reason == f"ValueError: raised deep down the stack (at {raised_at('deep_raise')})"
    assert "Traceback (most recent call last)" not in run.tail  # 120 lines: only the tail kept
    assert run.tail.count("\n") == TAIL_LINES - 1
    assert f"slc-tui: raised {run.reason}" in run.tail.splitlines()


def test_output_after_the_traceback_does_not_hide_it() -> None:
    run = _failed("chatter", "fail_then_chatter", {"lines": 50})
    assert run.reason == f"KeyError: 'no such column' (at {raised_at('fail_then_chatter')})"
    assert run.tail.splitlines()[-1] == "closing 49"


def test_an_mpi_rank_raising_deep_down_names_itself_and_the_place() -> None:
    run = _failed("mpideep", "mpi_deep_rank1", {}, num_cpu=2)
    where = raised_at("deep_raise")
    assert run.reason == f"MPI rank 1 raised ValueError: raised deep down the stack (at {where})"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (CPU wheel: see NOTES.md)")
def test_an_error_raised_inside_torch_names_the_thunk_s_line() -> None:
    plan = make_plan("torch", "torch_dtype", {"seed": 0, "how": ["linear", "matmul"]})
    assert run_plans(plan, max_cpus=2)[0] == 1
    runs = {r.name: r for r in ledger("torch").runs()}
    linear, matmul = runs["torch_howlinear_s0"], runs["torch_howmatmul_s0"]
    assert linear.reason.startswith("RuntimeError: mat1 and mat2 must have the same dtype")
    assert linear.reason.endswith(f"(at {raised_at('torch_dtype', 'Linear(3, 2)(batch)')})")
    assert "site-packages" in linear.tail  # torch.nn's frames are below ours
    assert matmul.reason == (
        "RuntimeError: expected m1 and m2 to have the same dtype, but got: float != double "
        f"(at {raised_at('torch_dtype', '@ batch.T')})"
    )
    assert all("Traceback (most recent call last)" not in r.tail for r in runs.values())


# -- the line itself, in this process --------------------------------------------------------
def _modules(tmp_path: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder and a site-packages with a framework (``fakealgo``, installed as SLC
    is from the registry) and a numeric library (``fakelib``, as torch)."""
    site = tmp_path / "venv" / "lib" / "site-packages"
    _modules(tmp_path, {
        "venv/lib/site-packages/fakelib/__init__.py": """\
            def forward(x):
                return _check(x)

            def _check(x):
                raise TypeError(f"bad dtype {x}")
            """,
        "venv/lib/site-packages/fakealgo/__init__.py": "",
        "venv/lib/site-packages/fakealgo/sac.py": """\
            import fakelib

            def sac(**kwargs):
                update()

            def update():
                fakelib.forward("double")
            """,
        "user/mytrain.py": """\
            import fakelib
            import myhelpers

            def train(**kwargs):
                myhelpers.step()
            """,
        "user/myhelpers.py": """\
            import fakelib

            def step():
                fakelib.forward("half")
            """,
    })  # fmt: skip
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path / "user"))
    for name in ("fakelib", "fakealgo", "fakealgo.sac", "mytrain", "myhelpers"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def _line(thunk: Any, capsys: pytest.CaptureFixture[str]) -> str:
    assert entrypoint.run(thunk, {}) == 1
    return capsys.readouterr().err.rstrip("\n").splitlines()[-1]


def test_the_place_is_the_user_s_innermost_frame_outside_libraries(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mytrain

    line = _line(mytrain.train, capsys)
    assert line == "slc-tui: raised TypeError: bad dtype half (at myhelpers.py:4 in step)"


def test_a_thunk_installed_in_site_packages_counts_as_the_thunk_s_code(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakealgo.sac import sac

    assert (
        _line(sac, capsys) == "slc-tui: raised TypeError: bad dtype double (at sac.py:7 in update)"
    )


def test_the_message_is_one_bounded_line() -> None:
    def thunk() -> None:
        raise ValueError("first line\nsecond   line\n" + "x" * 1000)

    try:
        thunk()
    except ValueError as exc:
        line = summary(exc, thunk, exc.__traceback__)
    assert line.startswith("ValueError: first line second line xxx")
    assert line.endswith(
        f"... (at test_failure_line.py:{thunk.__code__.co_firstlineno + 1} in thunk)"
    )
    assert len(line) < MESSAGE_MAX + 60


def test_an_exception_raised_while_loading_the_thunk_names_the_user_s_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.py").write_text("import os\n\nraise ImportError('no module named gym')\n")
    payload = tmp_path / "p.pkl"
    write_payload(payload, Payload(f"{tmp_path / 'broken.py'}:train", {}))
    res = subprocess.run(run_command(payload, 1), capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    line = res.stderr.rstrip("\n").splitlines()[-1]
    assert line.startswith("slc-tui: raised slc_tui.thunks.ThunkError: thunk ")
    assert line.endswith("ImportError: no module named gym (at broken.py:3 in <module>)")


def test_the_engine_prefers_the_line_over_the_traceback() -> None:
    tail = (
        'Traceback (most recent call last):\n  File "x.py", line 3, in f\n'
        "RuntimeError: inner\nslc-tui: raised RuntimeError: inner (at x.py:3 in f)\n"
    )
    assert failure_reason(tail, 1, None) == "RuntimeError: inner (at x.py:3 in f)"
