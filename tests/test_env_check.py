"""``env_name`` values are resolved as ``gymnasium.make`` resolves them before anything runs:
an unknown id is one error (exit 2, file, key and line, the nearest ids), not a failed run per
variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import THUNKS, cli, write_grid

from slc_tui.envs import env_problem, grid_env_problem
from slc_tui.errors import InputError
from slc_tui.run_utils import ExperimentGrid

pytestmark = pytest.mark.usefixtures("no_leftovers")

REGISTERS = """\
import gymnasium
gymnasium.register(id="{id}", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
"""
TRAIN = """
import json, os
def train(seed, logger_kwargs, env_fn, **_):
    os.makedirs(logger_kwargs["output_dir"], exist_ok=True)
    with open(os.path.join(logger_kwargs["output_dir"], "env.json"), "w") as f:
        json.dump(env_fn().spec.id, f)
"""


def _run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          **kw)  # type: ignore[call-overload]  # fmt: skip


def _env(path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(THUNKS.parent)])}


TYPO = "'CartPol-v1' is not a registered gymnasium environment (did you mean 'CartPole-v1'"


@pytest.mark.parametrize(
    ("env_id", "says"),
    [
        ("CartPol-v1", TYPO),
        ("cartpole-v1", "(did you mean 'CartPole-v1'"),
        ("CartPole-v7", "(did you mean 'CartPole-v1'"),
        ("NoSuchThing-v0", "if a package registers it, write 'package:NoSuchThing-v0'"),
        ("no_such_mod:X-v0", "its module 'no_such_mod' cannot be imported"),
        ("gymnasium:X-v0", "importing 'gymnasium' registered no environment 'X-v0'"),
        ("a:b:c", "is not an environment id; write 'Env-v0' or 'module:Env-v0'"),
        ("Bad Id", "is not an environment id (Malformed environment ID"),
        (3, "3 is not an environment id; give a string"),
    ],
)
def test_unknown_ids_say_why(env_id: object, says: str) -> None:
    problem = env_problem(env_id)
    assert problem is not None and says in problem, problem


def test_ids_gymnasium_make_takes_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny_envs.py").write_text(REGISTERS.format(id="TinyCheck-v0"))
    monkeypatch.syspath_prepend(str(tmp_path))
    import gymnasium

    for env_id in (
        "CartPole-v1",
        "CartPole",
        "tiny_envs:TinyCheck-v0",
        gymnasium.spec("Acrobot-v1"),
    ):
        assert env_problem(env_id) is None, env_id
    assert not list(tmp_path.glob("__pycache__"))  # checking writes nothing


def test_a_grid_without_env_name_imports_no_gymnasium() -> None:
    code = (
        "import sys; from slc_tui.envs import grid_env_problem; from slc_tui.grid import "
        "ExperimentGrid; g = ExperimentGrid('x'); g.add('lr', [1, 2]); "
        "assert grid_env_problem(g) is None; assert 'gymnasium' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_distinct_value_is_checked() -> None:
    grid = ExperimentGrid("e")
    grid.add("env_name", ["CartPole-v1", "CartPole-v1", "Pendulum-v1", "Pendulm-v1"])
    problem = grid_env_problem(grid)
    assert problem is not None and problem.startswith("'Pendulm-v1' is not a registered")


@pytest.mark.parametrize(
    "line", ['env_name = ["CartPole-v1", "CartPol-v1"]',
             'env_name = { values = ["CartPol-v1"], shorthand = "env", in_name = true }'],
)  # fmt: skip
def test_a_grid_file_with_a_typo_exits_2_naming_key_and_line(in_tmp: Path, line: str) -> None:
    grid = write_grid(in_tmp / "typo.toml", "typo", "record", f"seed = [0, 1]\n{line}")
    for flag in ("--dry-run", "--no-ui"):
        res = _run(str(grid), flag)
        assert res.returncode == 2
        assert res.stderr.startswith(
            f"slc-tui: {grid}:8: [params] env_name: 'CartPol-v1' is not a registered gymnasium "
            "environment (did you mean 'CartPole-v1'"
        ), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not (in_tmp / "data").exists()


def test_ids_registered_by_a_module_or_by_the_thunks_module_run(in_tmp: Path) -> None:
    (in_tmp / "tiny_envs.py").write_text(REGISTERS.format(id="Tiny-v0"))
    (in_tmp / "envthunk.py").write_text(REGISTERS.format(id="ThunkEnv-v0") + TRAIN)
    (in_tmp / "ok.toml").write_text(
        '[grid]\nname = "ok"\nthunk = "envthunk:train"\n\n[params]\n'
        'env_name = ["CartPole-v1", "tiny_envs:Tiny-v0", "ThunkEnv-v0"]\n'
    )
    res = _run("ok.toml", "--no-ui", "--max-cpus", "2", env=_env(in_tmp), cwd=in_tmp)
    assert res.returncode == 0, res.stdout + res.stderr
    made = sorted(json.loads(p.read_text()) for p in (in_tmp / "data").glob("*/*/env.json"))
    assert made == ["CartPole-v1", "ThunkEnv-v0", "Tiny-v0"]


def test_slc_tui_run_checks_them_too(in_tmp: Path) -> None:
    res = _run("run", "engine_thunks:record", "--env", "CartPol-v1", "--dry-run", env=_env(in_tmp))
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "slc-tui: env_name 'CartPol-v1' is not a registered gymnasium environment (did you mean "
        "'CartPole-v1', 'CartPole-v0', 'phys2d/CartPole-v1'?); fix the env_name values"
    )


def test_python_callers_get_an_input_error_before_anything_runs(in_tmp: Path) -> None:
    grid = ExperimentGrid("py")
    grid.add("env_name", ["CartPole-v1", "MountainCar-v9"])
    with pytest.raises(InputError) as err:
        grid.run("engine_thunks:record", data_dir="data")
    assert str(err.value).startswith(
        "env_name 'MountainCar-v9' is not a registered gymnasium environment (did you mean "
        "'MountainCar-v0'"
    )
    assert str(err.value).endswith("; fix the values given to add('env_name', ...)")
    assert not (in_tmp / "data").exists()


def test_a_python_grid_counts_what_its_string_thunk_registers(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "pythunk.py").write_text(REGISTERS.format(id="PyThunkEnv-v0") + TRAIN)
    monkeypatch.syspath_prepend(str(in_tmp))
    monkeypatch.setenv("PYTHONPATH", _env(in_tmp)["PYTHONPATH"])
    grid = ExperimentGrid("pt")
    grid.add("env_name", "PyThunkEnv-v0")
    grid.run("pythunk:train", data_dir="data")
    assert json.loads((in_tmp / "data" / "pt" / "pt_s0" / "env.json").read_text()) == (
        "PyThunkEnv-v0"
    )
