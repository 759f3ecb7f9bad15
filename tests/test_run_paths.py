"""Nothing escapes data_dir: seeds, values and grid names as path parts, the payload's files."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli, one_line_error, write_grid

from slc_tui import payload as payload_mod
from slc_tui.engine import ledger, rundir
from slc_tui.payload import Payload, read_payload, write_payload
from slc_tui.plan import PlanError, plan_grid
from slc_tui.run_utils import ExperimentGrid, call_experiment, setup_logger_kwargs
from slc_tui.runpaths import STATE_DIR, payload_file
from slc_tui.serialization import seed_str

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _run(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    setup = None if umask is None else (lambda: os.umask(umask))
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          preexec_fn=setup)  # fmt: skip


def _escape(target: Path) -> str:
    return "/.." * 40 + str(target)


def test_a_seed_that_is_a_path_is_refused_and_writes_nothing(in_tmp: Path) -> None:
    outside = in_tmp / "outside" / "x"
    grid = write_grid(in_tmp / "g.toml", "esc", "work", f'seed = ["{_escape(outside)}"]')
    for args in (["--no-ui"], ["--dry-run"]):
        line = one_line_error(_run(str(grid), *args))
        assert f"{grid}:7: [params] seed: the seed " in line and "integer seed" in line
    assert not (in_tmp / "outside").exists() and not Path("data").exists()


def test_a_seed_that_is_a_path_is_refused_from_python(in_tmp: Path) -> None:
    eg = ExperimentGrid("py")
    eg.add("seed", [0, _escape(in_tmp / "outside")])
    with pytest.raises(PlanError, match=r"grid 'py': the seed '/\.\./.*' cannot be part"):
        eg.run("engine_thunks:nothing", data_dir="data")
    with pytest.raises(ValueError, match="cannot be part of a folder name"):
        call_experiment("e", "engine_thunks:nothing", seed="../../x", data_dir="data")
    assert not (in_tmp / "outside").exists() and not Path("data").exists()


@pytest.mark.parametrize(
    "seed", [0, 7, -3, 10**20, True, 0.5, 1e-05, float("nan"), "abc", "A-b_c.d", None]
)
def test_ordinary_seeds_keep_the_reference_names(seed: object, tmp_path: Path) -> None:
    kw = setup_logger_kwargs("exp", seed, str(tmp_path))
    tail = "exp" if seed is None else os.path.join("exp", f"exp_s{seed}")
    assert kw["output_dir"] == os.path.join(str(tmp_path), tail)  # the reference's f-string
    if seed is not None:
        assert seed_str(seed) == str(seed)


@pytest.mark.parametrize("seed", ["../x", "a/b", "a b", "x\0y", [1, 2], {"a": 1}, (1,)])
def test_unsafe_seeds_are_refused(seed: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be part of a folder name"):
        setup_logger_kwargs("exp", seed, str(tmp_path))  # type: ignore[arg-type]
    eg = ExperimentGrid("g")
    eg.add("seed", [seed])
    with pytest.raises(PlanError, match=r"cannot be part of a folder name|has a NUL byte"):
        plan_grid(eg, "m:f", data_dir=tmp_path)


@pytest.mark.parametrize("exp_name", ["..", "../x", "a/../../b", "x\0"])
def test_setup_logger_kwargs_keeps_folders_inside_data_dir(exp_name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"would not lie inside the data directory|has a NUL byte"):
        setup_logger_kwargs(exp_name, None, str(tmp_path))
    assert setup_logger_kwargs("a/b", 1, str(tmp_path))["output_dir"].startswith(str(tmp_path))


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".hidden", "-x", "a b", "é", "x" * 201])
def test_python_grid_names_that_are_no_file_name_are_refused(name: str, tmp_path: Path) -> None:
    eg = ExperimentGrid(name)
    eg.add("lr", [1, 2])
    with pytest.raises(PlanError, match="cannot serve as a file name"):
        plan_grid(eg, "m:f", data_dir=tmp_path)


def test_the_empty_grid_name_of_the_reference_still_plans(tmp_path: Path) -> None:
    eg = ExperimentGrid()
    eg.add("lr", [1, 2])
    assert [r.name for r in plan_grid(eg, "m:f", data_dir=tmp_path).runs] == ["lr1_s0", "lr2_s0"]


def test_values_that_look_like_paths_stay_inside_data_dir(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "v.toml", "val", "work",
                      f'seed = 0\ndir = ["{_escape(in_tmp / "outside")}", "../..", "a\\\\b"]\n'
                      'key = { values = ["/etc", "~"], shorthand = "../../k" }')  # fmt: skip
    res = _run(str(grid), "--no-ui", "--max-cpus", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    data = (in_tmp / "data").resolve()
    made = {p.resolve() for p in data.rglob("output.log")}
    assert len(made) == 6 and all(data in p.parents for p in made)
    assert not (in_tmp / "outside").exists()
    safe = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(set(p.parent.name) <= safe and p.parent.parent.parent == data for p in made)


def test_a_value_too_long_for_a_folder_name_is_refused_at_once(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "l.toml", "long", "work", f'seed = 0\nlr = ["{"x" * 300}", 1]')
    line = one_line_error(_run(str(grid), "--no-ui"))
    assert f"{grid}:8: [params] lr: the folder name long_lrxxx" in line
    assert "more than the file system's 255 bytes for a name" in line
    assert not Path("data").exists()


def test_a_path_beyond_path_max_is_refused(in_tmp: Path) -> None:
    deep = "/".join(["d" * 250] * 17)
    grid = write_grid(in_tmp / "p.toml", "deep", "work", "seed = 0").read_text()
    (in_tmp / "p.toml").write_text(grid.replace('data_dir = "data"', f'data_dir = "{deep}"'))
    line = one_line_error(_run("p.toml", "--dry-run"))
    assert "p.toml:4: [grid] data_dir: run 'deep_s0': the folder " in line
    assert "for a path" in line
    assert not Path("d" * 250).exists()


def test_the_planned_payload_path_is_the_engines(tmp_path: Path) -> None:
    assert ledger.STATE_DIR == STATE_DIR
    eg = ExperimentGrid("g")
    eg.add("seed", [1, 2])
    run = plan_grid(eg, "m:f", data_dir=tmp_path).runs[1]
    expected = rundir.payload_path(str(tmp_path), run)
    assert Path(payload_file(str(tmp_path), run.grid, run.name)) == expected


# --- the payload's files -----------------------------------------------------------------


@pytest.fixture
def umask_000() -> object:
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_payload_files_are_0600_and_its_folders_0700_whatever_the_umask(
    tmp_path: Path, umask_000: None
) -> None:
    path = tmp_path / "a" / "b" / "p.pkl"
    write_payload(path, Payload("m:f", {"x": 1}))
    assert (_mode(tmp_path / "a"), _mode(tmp_path / "a" / "b"), _mode(path)) == (
        0o700,
        0o700,
        0o600,
    )
    assert read_payload(path).kwargs == {"x": 1}
    assert os.listdir(path.parent) == ["p.pkl"]


def test_a_link_planted_as_the_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    folder = tmp_path / "payloads"
    folder.mkdir()
    planted, squatted = folder / ".tmp-planted", folder / ".tmp-squatted"
    planted.symlink_to(victim)
    squatted.write_text("someone else's")
    names = [str(planted), str(squatted), str(folder / ".tmp-free")]
    monkeypatch.setattr(payload_mod, "_temp_names", lambda _folder: iter(names))
    write_payload(folder / "run.pkl", Payload("m:f", {"x": 2}))
    assert victim.read_text() == "keep me" and planted.is_symlink()
    assert squatted.read_text() == "someone else's"
    assert read_payload(folder / "run.pkl").kwargs == {"x": 2}
    assert _mode(folder / "run.pkl") == 0o600


def test_a_link_at_the_payloads_own_name_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "run.pkl").symlink_to(victim)
    write_payload(tmp_path / "run.pkl", Payload("m:f", {}))
    assert victim.read_text() == "keep me" and not (tmp_path / "run.pkl").is_symlink()


def test_with_umask_000_a_sweep_leaves_no_payload_folder_open(in_tmp: Path) -> None:
    grid = write_grid(in_tmp / "u.toml", "um", "work", "seed = [0, 1]")
    res = _run(str(grid), "--no-ui", "--max-cpus", "2", umask=0)
    assert res.returncode == 0, res.stdout + res.stderr
    state = in_tmp / "data" / STATE_DIR / "um"
    assert _mode(state) == 0o700 and _mode(state / "payloads") == 0o700
    assert not [p for p in (state / "payloads").iterdir() if _mode(p) & 0o077]
