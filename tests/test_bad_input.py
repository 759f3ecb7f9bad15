"""Bad input is exit 2 and one line naming the file, key and line (or the value), before
anything runs or is written: no traceback, no late failure, no ledger left behind."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli, one_line_error, write_grid

from slc_tui.errors import InputError
from slc_tui.plan import PlanError
from slc_tui.run_utils import ExperimentGrid

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _created(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix != ".toml")


@pytest.mark.parametrize(
    ("params", "extra", "says"),
    [
        ('seed = 0\nenv = "Cart\\u0000Pole"', "", ':8: [params] env: "Cart\\u0000Pole" has a NUL'),
        ('seed = [0]\nhid = [["a\\u0000"]]', "", ":8: [params] hid: "),
        ('seed = 0\n"a\\u0000b" = 1', "", ":8: [params]: the key 'a\\x00b' has a NUL byte"),
        ("seed = 0", '\n[run]\nmpiexec = "x\\u0000"', ':7: [run] mpiexec: "x\\u0000" has a NUL'),
        ("seed = [1979-05-27T07:32:00]", "", ":7: [params] seed: 1979-05-27T07:32:00 is a TOML"),
        ("seed = 0\nwhen = 1979-05-27", "", ':8: [params] when: 1979-05-27 is a TOML date or '
         'time, which no run can take; write it as a string, "1979-05-27"'),
        ("seed = 0\nat = { values = [07:32:00] }", "", ":8: [params] at.values: 07:32:00 is a"),
        ("seed = 0", "\n[run]\ntimeout = nan", ":7: [run] timeout: nan is not allowed"),
        ("seed = 0", "\n[run]\ntimeout = inf", ":7: [run] timeout: inf is not allowed"),
        ("seed = 0", "\n[run]\nmax_cpus = 100000000000", ":7: [run] max_cpus: max_cpus 1000"),
        ("seed = 0", "num_cpu = 100000000000", ":5: [grid] num_cpu: num_cpu 100000000000 is"),
        ('seed = ["a b"]', "", ":7: [params] seed: the seed 'a b' cannot be part of a folder"),
        ("seed = 0\n\"seed:x\" = 1", "", ":8: [params] seed:x: 'seed' and 'seed:x' both set"),
        (f'seed = 0\nlr = ["{"y" * 260}", 1]', "", ":8: [params] lr: the folder name fo_lryyy"),
    ],
)  # fmt: skip
def test_bad_values_exit_2_in_one_line_before_anything(
    in_tmp: Path, params: str, extra: str, says: str
) -> None:
    grid = write_grid(in_tmp / "g.toml", "fo", "work", params, extra)
    for args in (["--no-ui"], ["--dry-run"]):
        line = one_line_error(_run(str(grid), *args))
        assert says in line, line
    assert _created(in_tmp) == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-1"), ("--timeout", "1e999"),
     ("--retries", "-1"), ("--retries", "1.5"), ("--max-cpus", "0"), ("--max-cpus", "x")],
)  # fmt: skip
def test_bad_flags_exit_2_in_one_line(in_tmp: Path, flag: str, value: str) -> None:
    grid = write_grid(in_tmp / "g.toml", "fl", "work", "seed = 0")
    line = one_line_error(_run(str(grid), "--no-ui", flag, value))
    assert f"argument {flag}: expected" in line and repr(value) in line
    assert _created(in_tmp) == []


def test_a_data_dir_under_a_file_exits_2(in_tmp: Path) -> None:
    (in_tmp / "afile").write_text("not a folder")
    grid = write_grid(in_tmp / "g.toml", "df", "work", "seed = 0")
    grid.write_text(grid.read_text().replace('data_dir = "data"', 'data_dir = "afile/data"'))
    for args in (["--no-ui"], ["--dry-run"]):
        line = one_line_error(_run(str(grid), *args))
        assert f"{grid}:4: [grid] data_dir: {in_tmp}/afile/data cannot be created: " in line
        assert f"{in_tmp}/afile is a file, not a folder" in line
    assert (in_tmp / "afile").read_text() == "not a folder"


@pytest.mark.parametrize("where", ["locked", "/proc/1"])
def test_a_data_dir_that_cannot_be_written_exits_2(in_tmp: Path, where: str) -> None:
    parent = in_tmp / where if where == "locked" else Path(where)
    if where == "locked":
        parent.mkdir()
        parent.chmod(0o500)
    if os.access(parent, os.W_OK):
        pytest.skip(f"{parent} is writable here (root ignores modes)")
    grid = write_grid(in_tmp / "g.toml", "ro", "work", "seed = 0")
    grid.write_text(grid.read_text().replace('data_dir = "data"', f'data_dir = "{parent}/d"'))
    line = one_line_error(_run(str(grid), "--no-ui"))
    assert f":4: [grid] data_dir: {parent}/d cannot be created: {parent} is not writable" in line


def test_status_of_files_that_are_no_ledger_exits_2(in_tmp: Path) -> None:
    (in_tmp / "text.db").write_text("hello")
    (in_tmp / "empty.db").touch()
    other = sqlite3.connect(in_tmp / "other.sqlite")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    (in_tmp / "notes.md").write_text("# not toml = [\n")
    cases = {
        "text.db": "text.db: not a slc-tui ledger (not an SQLite database)",
        "empty.db": "empty.db: not a slc-tui ledger (not an SQLite database)",
        "other.sqlite": "other.sqlite: not a slc-tui ledger (an SQLite database without",
        "notes.md": "notes.md: the [grid] table is missing",
        "gone.db": "gone.db: no such ledger",
    }
    before = sorted(os.listdir(in_tmp))
    for target, says in cases.items():
        for command in ("status", "stop"):
            assert says in one_line_error(_run(command, target))
    assert sorted(os.listdir(in_tmp)) == before


def test_python_callers_get_the_same_checks(in_tmp: Path) -> None:
    (in_tmp / "afile").write_text("")
    grid = ExperimentGrid("py")
    grid.add("seed", [0, 1])
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"timeout": float("nan")}, InputError, "timeout nan is not allowed"),
        ({"timeout": float("inf")}, InputError, "timeout inf is not allowed"),
        ({"timeout": -1}, InputError, "timeout -1 is not allowed"),
        ({"retries": -1}, InputError, "retries -1 is not allowed"),
        ({"max_cpus": 0}, InputError, "max_cpus 0 is not allowed"),
        ({"backend": "nope"}, InputError, "backend 'nope' is not allowed"),
        ({"data_dir": "afile/sub"}, InputError, "afile is a file, not a folder"),
        ({"data_dir": "da\0ta"}, PlanError, "has a NUL byte"),
    ]
    for kwargs, kind, says in cases:
        with pytest.raises(kind, match=says):
            grid.run("engine_thunks:nothing", **{"data_dir": "data", **kwargs})
    nul = ExperimentGrid("nul")
    nul.add("env", ["a\0b"])
    with pytest.raises(PlanError, match=r"\[env\] the value 'a\\x00b' has a NUL byte"):
        nul.run("engine_thunks:nothing", data_dir="data")
    assert _created(in_tmp) == ["afile"]
