"""slc_tui.logx: the reference file formats, rank-0-only writing, statistics over ranks."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from slc_tui import logx
from slc_tui.launch import find_mpiexec
from slc_tui.logx import EpochLogger, Logger


def read_progress(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_progress_file_is_tab_separated_and_flushed_per_row(tmp_path: Path) -> None:
    logger = Logger(output_dir=str(tmp_path / "run"), exp_name="exp", quiet=True)
    progress = tmp_path / "run" / "progress.txt"
    for epoch in range(3):
        logger.log_tabular("Epoch", epoch)
        logger.log_tabular("AverageEpRet", 10.5 * epoch)
        logger.log_tabular("Name", "x")
        logger.dump_tabular()
        # Readable before the logger is closed: the dashboard tails the file live.
        assert len(read_progress(progress)) == epoch + 2
    assert read_progress(progress) == [
        ["Epoch", "AverageEpRet", "Name"],
        ["0", "0.0", "x"],
        ["1", "10.5", "x"],
        ["2", "21.0", "x"],
    ]


def test_missing_value_is_empty_and_new_keys_are_refused(tmp_path: Path) -> None:
    logger = Logger(output_dir=str(tmp_path), quiet=True)
    logger.log_tabular("A", 1)
    logger.log_tabular("B", 2)
    with pytest.raises(KeyError, match="already set B"):
        logger.log_tabular("B", 3)
    logger.dump_tabular()
    logger.log_tabular("B", 4)
    logger.dump_tabular()
    with pytest.raises(KeyError, match="new key C"):
        logger.log_tabular("C", 5)
    assert read_progress(tmp_path / "progress.txt")[1:] == [["1", "2"], ["", "4"]]


def test_save_config_writes_reference_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = Logger(output_dir=str(tmp_path), exp_name="cartpole")

    def env_fn() -> None: ...

    logger.save_config({"seed": 3, "hidden_sizes": (16, 16), "env_fn": env_fn, "lr": 1e-3})
    text = (tmp_path / "config.json").read_text()
    assert json.loads(text) == {
        "seed": 3,
        "hidden_sizes": [16, 16],
        "env_fn": "env_fn",
        "lr": 0.001,
        "exp_name": "cartpole",
    }
    assert '"seed":\t3' in text  # the reference's separators and indent
    out = capsys.readouterr().out
    assert "Logging data to" in out and "Saving config" in out
    assert "\x1b[" not in out  # no color codes when stdout is not a terminal


def test_line_and_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = Logger(output_dir=str(tmp_path / "a"))
    table = Logger(output_dir=str(tmp_path / "b"), verbose_fmt="table")
    capsys.readouterr()
    for logger in (line, table):
        logger.log_tabular("Epoch", 3)
        logger.log_tabular("AverageEpRet", np.float64(268.25))
        logger.log_tabular("Time", 1.23456)
        logger.dump_tabular()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 3 | AverageEpRet 268.2 | Time 1.235"
    assert out[1].startswith("-") and out[-1] == out[1]
    assert out[3] == "|    AverageEpRet |           268.2 |"


def test_verbose_vars_quiet_and_ignored_kwargs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = Logger(output_dir=str(tmp_path / "a"), verbose_vars=["Loss"], use_tensorboard=False)
    quiet = Logger(output_dir=str(tmp_path / "b"), quiet=True)
    capsys.readouterr()
    for lg in (logger, quiet):
        for key, val in (("Epoch", 1), ("Loss", 0.5), ("Other", 2)):
            lg.log_tabular(key, val)
        lg.dump_tabular()
    assert capsys.readouterr().out == "Epoch 1 | Loss 0.5\n"
    assert read_progress(tmp_path / "b" / "progress.txt")[0] == ["Epoch", "Loss", "Other"]


def test_epoch_logger_statistics(tmp_path: Path) -> None:
    logger = EpochLogger(output_dir=str(tmp_path), quiet=True)
    for ret in (1.0, 2.0, 6.0):
        logger.store(EpRet=ret, EpLen=int(ret) * 10)
    logger.store(Q=np.array([1.0, 3.0]))
    logger.store(Q=np.array([5.0]))
    assert logger.get_stats("EpRet") == pytest.approx((3.0, np.std([1.0, 2.0, 6.0])))
    logger.log_tabular("Epoch", 0)
    logger.log_tabular("EpRet", with_min_and_max=True)
    logger.log_tabular("EpLen", average_only=True)
    logger.log_tabular("Q")
    logger.dump_tabular()
    header, row = read_progress(tmp_path / "progress.txt")
    values = dict(zip(header, map(float, row)))
    assert header == [
        "Epoch", "AverageEpRet", "StdEpRet", "MaxEpRet", "MinEpRet", "EpLen", "AverageQ", "StdQ",
    ]  # fmt: skip
    assert values["AverageEpRet"] == 3.0 and values["MaxEpRet"] == 6.0
    assert values["MinEpRet"] == 1.0 and values["EpLen"] == 30.0
    assert values["AverageQ"] == 3.0
    assert values["StdQ"] == pytest.approx(np.std([1.0, 3.0, 5.0]))
    assert logger.epoch_dict["EpRet"] == []  # cleared for the next epoch


def test_save_state_pickles_numpy(tmp_path: Path) -> None:
    logger = Logger(output_dir=str(tmp_path), quiet=True)
    logger.save_state({"mean": np.arange(3.0)}, itr=2)
    with open(tmp_path / "vars2.pkl", "rb") as f:
        np.testing.assert_array_equal(pickle.load(f)["mean"], [0.0, 1.0, 2.0])


def test_other_ranks_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logx, "proc_id", lambda: 1)
    logger = EpochLogger(output_dir=str(tmp_path / "run"), exp_name="x")
    logger.save_config({"a": 1})
    logger.log_tabular("Epoch", 0)
    logger.dump_tabular()
    assert logger.output_dir is None and not (tmp_path / "run").exists()


def test_statistics_over_two_mpi_ranks(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from slc_tui.logx import EpochLogger
            from slc_tui.mpi_tools import proc_id

            logger = EpochLogger(output_dir={str(tmp_path / "run")!r})
            for ret in ([1.0, 2.0] if proc_id() == 0 else [3.0, 4.0, 10.0]):
                logger.store(EpRet=ret)
            logger.log_tabular("Epoch", 0)
            logger.log_tabular("EpRet", with_min_and_max=True)
            logger.dump_tabular()
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_"))}
    env["IN_MPI"] = "1"
    proc = subprocess.run(
        [find_mpiexec(), "-n", "2", sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Logging data to") == 1  # rank 0 only
    header, row, *rest = read_progress(tmp_path / "run" / "progress.txt")
    assert rest == []
    both = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    assert dict(zip(header, map(float, row))) == pytest.approx(
        {"Epoch": 0, "AverageEpRet": 4.0, "StdEpRet": both.std(), "MaxEpRet": 10, "MinEpRet": 1}
    )
