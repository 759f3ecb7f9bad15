"""call_experiment: real runs of small thunks in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import call_experiment_thunks
import pytest

from slc_tui.run_utils import ExperimentError, call_experiment


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Route tempfile (where payloads go) into a folder the test can inspect."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_module_thunk_runs_in_a_subprocess(
    tmp_path: Path, private_tmp: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    call_experiment(
        "exp", call_experiment_thunks.record, seed=5, data_dir=str(data), lr=0.1, sizes=(8, 8)
    )
    out_dir = data / "exp" / "exp_s5"
    got = read_json(out_dir / "received.json")
    assert got["seed"] == 5
    assert got["logger_kwargs"] == {"output_dir": str(out_dir), "exp_name": "exp"}
    assert got["values"] == {"lr": 0.1, "sizes": [8, 8]}
    assert got["kwargs"] == ["lr", "sizes"]
    assert list(private_tmp.iterdir()) == []  # the payload is deleted afterwards

    out = capfd.readouterr().out
    banner = out.index("Running experiment:")
    assert out.index("exp\n", banner) < out.index("with kwargs:")
    assert '"lr":\t0.1' in out and '"seed":\t5' in out and '"sizes":\t[' in out
    assert "End of experiment." in out and str(out_dir) in out


def test_string_thunk_and_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLC_TUI_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    call_experiment("named", "call_experiment_thunks:record")
    got = read_json(tmp_path / "data" / "named" / "named_s0" / "received.json")
    assert got["seed"] == 0
    assert got["logger_kwargs"]["output_dir"] == str(tmp_path / "data" / "named" / "named_s0")


def test_closure_and_lambda_thunks_go_through_cloudpickle(tmp_path: Path) -> None:
    marker = tmp_path / "closure.txt"
    factor = 7

    def train(logger_kwargs: dict, seed: int, lr: float) -> None:
        marker.write_text(f"{seed * factor} {lr} {logger_kwargs['exp_name']}")

    call_experiment("clo", train, seed=2, data_dir=str(tmp_path), lr=0.5)
    assert marker.read_text() == "14 0.5 clo"

    target = tmp_path / "lambda.txt"
    call_experiment(
        "lam",
        lambda logger_kwargs, seed, **kw: target.write_text(json.dumps([seed, kw])),
        seed=3,
        data_dir=str(tmp_path),
        x=[1, 2],
    )
    assert json.loads(target.read_text()) == [3, {"x": [1, 2]}]


def test_env_name_becomes_env_fn(tmp_path: Path) -> None:
    call_experiment(
        "env",
        call_experiment_thunks.make_env,
        data_dir=str(tmp_path),
        env_name="CartPole-v1",
        env_kwargs={"max_episode_steps": 50},
        other=1,
    )
    got = read_json(tmp_path / "env" / "env_s0" / "env.json")
    assert got == {"id": "CartPole-v1", "obs_len": 4, "max_episode_steps": 50, "kwargs": ["other"]}


def test_callers_kwargs_are_not_mutated(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ac_kwargs = {"hidden_sizes": [32]}
    kwargs = {"ac_kwargs": ac_kwargs}
    call_experiment("mut", call_experiment_thunks.mutate, data_dir=str(tmp_path), **kwargs)
    got = read_json(tmp_path / "mut" / "mut_s0" / "received.json")
    assert got["values"]["ac_kwargs"] == {"hidden_sizes": [32, 99]}  # the child's copy
    assert kwargs == {"ac_kwargs": {"hidden_sizes": [32]}} and ac_kwargs["hidden_sizes"] == [32]
    capfd.readouterr()


def test_given_logger_kwargs_merge_without_mutation(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    user_lk = {"verbose_fmt": "line", "verbose_vars": ["AverageEpRet"], "quiet": True}
    call_experiment(
        "lk", call_experiment_thunks.record, seed=1, data_dir=str(tmp_path), logger_kwargs=user_lk
    )
    got = read_json(tmp_path / "lk" / "lk_s1" / "received.json")
    assert got["logger_kwargs"] == {
        "output_dir": str(tmp_path / "lk" / "lk_s1"),
        "exp_name": "lk",
        "verbose_fmt": "line",
        "verbose_vars": None,  # SLC: a one-line format logs every variable
        "quiet": True,
    }
    assert user_lk == {"verbose_fmt": "line", "verbose_vars": ["AverageEpRet"], "quiet": True}
    assert "Note: Call experiment is not handling logger_kwargs." in capfd.readouterr().out


def test_failure_raises_called_process_error_without_the_payload(
    tmp_path: Path, private_tmp: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "SECRET-VALUE-4711"
    with pytest.raises(subprocess.CalledProcessError) as info:
        call_experiment("bad", call_experiment_thunks.fail, data_dir=str(tmp_path), token=secret)
    err = info.value
    assert isinstance(err, ExperimentError)
    assert err.returncode == 1 and err.exp_name == "bad"
    assert (
        str(err)
        == "experiment 'bad' failed with exit status 1; its traceback is in the output above"
    )
    assert secret not in str(err) and secret not in repr(err.cmd)
    assert all(secret not in str(arg) for arg in err.args)
    assert list(private_tmp.iterdir()) == []  # deleted on failure too
    captured = capfd.readouterr()
    assert "RuntimeError: thunk failed on purpose" in captured.err
    assert "There appears to have been an error in your experiment." in captured.out
    assert "End of experiment." not in captured.out


def test_killed_run_reports_the_signal() -> None:
    err = ExperimentError(-9, ["python"], "k")
    assert str(err) == "experiment 'k' was killed by signal 9; its traceback is in the output above"


def test_unpicklable_kwargs_name_the_experiment(tmp_path: Path, private_tmp: Path) -> None:
    with pytest.raises(TypeError, match="experiment 'lock': its thunk or kwargs cannot be pickled"):
        call_experiment(
            "lock", call_experiment_thunks.record, data_dir=str(tmp_path), lock=threading.Lock()
        )
    assert list(private_tmp.iterdir()) == []


def test_bad_arguments_fail_before_launching(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be callable"):
        call_experiment("x", 42, data_dir=str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        call_experiment("x", call_experiment_thunks.record, num_cpu=0, data_dir=str(tmp_path))
    assert not (tmp_path / "x").exists()


def test_num_cpu_two_runs_two_mpi_ranks(tmp_path: Path) -> None:
    call_experiment("mpi", call_experiment_thunks.mpi_ranks, num_cpu=2, data_dir=str(tmp_path))
    out_dir = tmp_path / "mpi" / "mpi_s0"
    assert sorted(p.name for p in out_dir.iterdir()) == ["rank0.txt", "rank1.txt"]
    assert (out_dir / "rank1.txt").read_text() == "1/2 1"
    assert os.environ.get("IN_MPI") is None  # only the child's environment has it
