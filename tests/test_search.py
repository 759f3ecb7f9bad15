"""Search beyond the full grid: distributions in [params], [search] (random, Optuna), trial
names, the dry run, bad input, and resume."""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import cli, ledger, one_line_error, run_plans

from slc_tui import search as S
from slc_tui.dryrun import print_sweep
from slc_tui.errors import InputError
from slc_tui.gridfile import GridFileError, load_grid
from slc_tui.plan import PlanError, plan_grid, plan_specs
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import RunState
from slc_tui.sweep.prepare import from_files

THUNKS = Path(__file__).with_name("search_thunks.py")
GRID = """[grid]
name = "q"
thunk = "{thunk}:quadratic"
data_dir = "data"

[params]
x = {{ uniform = [-10, 10] }}
lr = {{ loguniform = [1e-5, 1e-2], shorthand = "lr" }}
units = {{ int = [4, 64] }}
act = {{ choice = ["relu", "tanh"] }}
seed = [0, 1]

[search]
method = "{method}"
trials = {trials}
metric = "Score"
seed = {seed}
"""


def _grid(
    path: Path, method: str = "random", trials: int = 5, seed: int = 1, text: str = GRID
) -> Path:
    path.write_text(text.format(thunk=THUNKS, method=method, trials=trials, seed=seed))
    return path


def _shown(value: float) -> str:
    """``value`` as a name shows it: 3 significant digits, ``.`` as ``-``."""
    return str(float(f"{value:.3g}")).replace(".", "-")


def _variants(path: Path) -> list[tuple[str, dict[str, object]]]:
    (plan,) = plan_specs([load_grid(path)])
    return [(r.name, {k: r.kwargs[k] for k in ("x", "lr", "units", "act")}) for r in plan.runs]


def test_random_search_is_reproducible_for_its_seed(in_tmp: Path) -> None:
    first = _variants(_grid(in_tmp / "a.toml", seed=1))
    assert first == _variants(_grid(in_tmp / "b.toml", seed=1))
    other = _variants(_grid(in_tmp / "c.toml", seed=2))
    assert [n for n, _ in other] != [n for n, _ in first]
    assert len(first) == 10 and len({n.rsplit("_s", 1)[0] for n, _ in first}) == 5
    for name, values in first:
        assert -10 <= values["x"] <= 10 and 1e-5 <= values["lr"] <= 1e-2  # type: ignore[operator]
        assert isinstance(values["units"], int) and values["act"] in ("relu", "tanh")
        x, lr = values["x"], values["lr"]
        assert f"_lr{_shown(lr)}_" in name, (name, lr)  # type: ignore[arg-type]
        assert isinstance(x, float) and x != float(f"{x:.3g}")  # the kwargs keep every digit
    names = [n for n, _ in first]  # every configuration runs with every seed
    assert [n[:-3] for n in names[0::2]] == [n[:-3] for n in names[1::2]]
    assert all(n.endswith("_s0") for n in names[0::2]) and all(
        n.endswith("_s1") for n in names[1::2]
    )


def test_trial_values_are_exact_in_config_json(in_tmp: Path) -> None:
    grid = ExperimentGrid("py")
    grid.add("x", S.uniform(-10, 10))
    grid.add("seed", [0])
    plan = plan_grid(grid, "search_thunks:quadratic", data_dir="data",
                     search=S.Search("random", 2, "Score", seed=4))  # fmt: skip
    status, _, _ = run_plans(plan)
    assert status == 0
    for run in plan.runs:
        config = json.loads((Path(run.output_dir) / "config.json").read_text())
        assert config["x"] == run.kwargs["x"] and round(config["x"], 3) != config["x"]
        assert run.name.startswith(f"py_x{_shown(config['x'])}_s")


def test_repeated_configurations_are_drawn_again_or_refused(in_tmp: Path) -> None:
    grid = ExperimentGrid("d")
    grid.add("k", S.integer(1, 3))
    plan = plan_grid(grid, "search_thunks:quadratic", search=S.Search("random", 3, "Score"))
    assert sorted(r.kwargs["k"] for r in plan.runs) == [1, 2, 3]
    with pytest.raises(PlanError, match="only 3 distinct configurations"):
        plan_grid(grid, "search_thunks:quadratic", search=S.Search("random", 4, "Score"))
    near = ExperimentGrid("n")  # values that round alike get more digits, not one folder
    near.add("x", S.uniform(1.0, 1.001))
    plan = plan_grid(near, "search_thunks:quadratic", search=S.Search("random", 4, "Score"))
    assert len({r.variant for r in plan.runs}) == 4


def test_dry_run_shows_the_search_and_does_not_import_optuna(in_tmp: Path) -> None:
    out = io.StringIO()
    print_sweep(from_files([_grid(in_tmp / "g.toml", trials=3)], {}), out)
    text = out.getvalue()
    assert ("search: random, 3 trials, max mean of Score over seeds at the final epoch, "
            "sampler seed 1") in text  # fmt: skip
    for line in ("  x ~ uniform [-10, 10]", "  lr ~ loguniform [1e-05, 0.01]",
                 "  units ~ int [4, 64]", "  act ~ choice of 2: ['relu', 'tanh']",
                 "  3 configurations sampled up front"):  # fmt: skip
        assert line in text
    _grid(in_tmp / "o.toml", method="optuna", trials=7)
    code = (
        "import sys, io; from slc_tui.cli import main\n"
        "try:\n    main(['o.toml', '--dry-run'])\nexcept SystemExit:\n    pass\n"
        "assert 'optuna' not in sys.modules, 'optuna imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "search: optuna, 7 trials" in res.stdout
    assert "asked from Optuna while the sweep runs" in res.stdout
    assert "each runs with every seed: up to 14 runs" in res.stdout


BAD = [
    ('x = { lognormal = [1, 2] }', "", ":7: [params] x.lognormal: a table under [params] is the "
     "option form", "did you mean the distribution loguniform?"),
    ("x = { uniform = [2, 1] }", "", ":7: [params] x.uniform: the bounds [2, 1] are reversed", ""),
    ("x = { loguniform = [0, 1] }", "", ":7: [params] x.loguniform: loguniform needs bounds > 0",
     ""),
    ("x = { int = [1.5, 3] }", "", ":7: [params] x.int: int needs two whole numbers", ""),
    ("x = { choice = [] }", "", ":7: [params] x.choice: choice needs a non-empty array", ""),
    ("x = { uniform = [0, 1], values = [1] }", "", ":7: [params] x.uniform: give one", ""),
    ("x = { uniform = [0, 1] }", "", ":7: [params] x: takes a distribution, which only a search",
     'method = "random" or "optuna"'),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"\ntrials = 0\nmetric = "S"',
     ":11: [search] trials: 0 must be a whole number from 1 to 100,000", ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"\ntrials = 100000000\nmetric = "S"',
     ":11: [search] trials: 100000000 must be a whole number from 1 to 100,000", ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"', ":9: [search]: the key metric is "
     "missing", ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"\nmetric = "S"\nmode = "up"',
     ':12: [search] mode: "up" must be "max" or "min"', ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"\nmetric = "S"\nobjective = "max"',
     ':12: [search] objective: "max" must be one of mean, iqm, median', ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "bayes"\nmetric = "S"',
     ':10: [search] method: "bayes" must be one of grid, random, optuna', ""),
    ("x = [1, 2]", '[search]\nmethod = "random"\nmetric = "S"', ":10: [search] method: \"random\" "
     "samples the parameters that take a distribution, and none does", ""),
    ("x = { uniform = [0, 1] }\ny = [1, 2]", '[search]\nmethod = "optuna"\nmetric = "S"',
     ":8: [params] y: has several values", "{ choice = [...] }"),
    ("x = { int = [1, 2] }", '[search]\nmethod = "random"\ntrials = 3\nmetric = "S"',
     ":11: [search] trials: the distributions gave only 2 distinct configurations", ""),
    ("x = { uniform = [0, 1] }", '[search]\nmethod = "random"\nmetric = "S"\ntrails = 3',
     ":12: [search] trails: unknown key", ""),
]  # fmt: skip


@pytest.mark.parametrize(("params", "extra", "says", "also"), BAD)
def test_bad_search_input_is_one_line_with_file_key_and_line(
    in_tmp: Path, params: str, extra: str, says: str, also: str
) -> None:
    path = in_tmp / "g.toml"
    path.write_text(f'[grid]\nname = "b"\nthunk = "{THUNKS}:quadratic"\ndata_dir = "data"\n\n'
                    f"[params]\n{params}\nseed = [0, 1]\n{extra}\n")  # fmt: skip
    with pytest.raises(GridFileError) as caught:
        plan_specs([load_grid(path)])
    line = str(caught.value)
    assert line.startswith(f"{path}{says}") and also in line and "\n" not in line, line


def test_bad_search_from_the_command_line_exits_2_before_anything(in_tmp: Path) -> None:
    path = _grid(in_tmp / "g.toml", trials=0)
    res = subprocess.run(cli(str(path), "--no-ui"), capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)  # fmt: skip
    assert ":15: [search] trials: 0 must be a whole number from 1 to 100,000" in one_line_error(res)
    assert not (in_tmp / "data").exists()


def test_optuna_missing_is_one_line(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "optuna_missing", lambda: True)
    from slc_tui import gridfile_search

    monkeypatch.setattr(gridfile_search, "optuna_missing", lambda: True)
    path = _grid(in_tmp / "g.toml", method="optuna")
    with pytest.raises(GridFileError, match=r'g.toml:14: \[search\] method: "optuna" needs Optuna'):
        load_grid(path)
    assert load_grid(path, check_thunk=False).search is not None  # status, attach: no Optuna
    with pytest.raises(InputError, match="needs Optuna, which is not installed"):
        S.Search.of({"method": "optuna", "metric": "S"})


def test_search_from_python_is_checked() -> None:
    with pytest.raises(InputError, match="unknown key 'trails'"):
        S.Search.of({"method": "random", "trails": 3})
    with pytest.raises(InputError, match="search: metric is missing"):
        S.Search.of({"method": "random"})
    with pytest.raises(ValueError, match="reversed"):
        S.uniform(1, 0)
    grid = ExperimentGrid("p")
    grid.add("x", S.uniform(0, 1))
    with pytest.raises(PlanError, match=r"\[x\] takes a distribution"):
        plan_grid(grid, "search_thunks:quadratic")


def _optuna_plan(trials: int, seed: int = 0, seeds: tuple[int, ...] = (0,)) -> object:
    grid = ExperimentGrid("opt")
    grid.add("x", S.uniform(-10, 10))
    grid.add("seed", list(seeds))
    return plan_grid(grid, "search_thunks:quadratic", data_dir="data",
                     search=S.Search("optuna", trials, "Score", seed=seed))  # fmt: skip


def _scores() -> dict[str, float]:
    meta = ledger("opt").meta()
    found = {}
    for r in ledger("opt").runs():
        assert r.state == RunState.SUCCEEDED, r
        found[r.variant] = -((r.params["x"] - 3.0) ** 2)
    assert meta["search"]["best"] == max(found, key=lambda v: found[v])
    return found


def test_optuna_improves_on_random_picks(in_tmp: Path) -> None:
    status, _, _ = run_plans(_optuna_plan(16, seed=3))  # type: ignore[arg-type]
    assert status == 0
    found = _scores()
    assert len(found) == 16
    grid = ExperimentGrid("r")
    grid.add("x", S.uniform(-10, 10))
    picks = S.sample(grid, S.Search("random", 16, "Score", seed=3))
    random_values = [-((t.values["x"] - 3.0) ** 2) for t in picks]
    assert max(found.values()) > statistics.median(random_values)
    guided = list(found.values())[8:]  # TPE's picks (after its 4 random ones) do better
    assert statistics.median(guided) > statistics.median(random_values)


def test_optuna_search_resumes_without_rerunning_finished_trials(in_tmp: Path) -> None:
    status, _, _ = run_plans(_optuna_plan(3, seeds=(0, 1)))  # type: ignore[arg-type]
    assert status == 0
    first = {r.name: r.attempt for r in ledger("opt").runs()}
    assert len(first) == 6 and set(first.values()) == {1}
    status, _, _ = run_plans(_optuna_plan(3, seeds=(0, 1)), resume=True)  # type: ignore[arg-type]
    assert status == 0 and {r.name: r.attempt for r in ledger("opt").runs()} == first
    status, _, _ = run_plans(_optuna_plan(5, seeds=(0, 1)), resume=True)  # type: ignore[arg-type]
    assert status == 0
    after = {r.name: r.attempt for r in ledger("opt").runs()}
    assert len(after) == 10 and all(after[n] == 1 for n in first)
    meta = ledger("opt").meta()["search"]
    assert (meta["trials"], meta["done"]) == (5, 5)
    status, _, _ = run_plans(_optuna_plan(2, seeds=(0, 1)))  # type: ignore[arg-type]
    assert status == 0 and len(ledger("opt").runs()) == 4  # no --resume: a fresh study


def test_random_search_resumes_like_a_grid(in_tmp: Path) -> None:
    def plan(trials: int) -> object:
        grid = ExperimentGrid("rnd")
        grid.add("x", S.uniform(-10, 10))
        grid.add("seed", [0])
        return plan_grid(grid, "search_thunks:quadratic", data_dir="data",
                         search=S.Search("random", trials, "Score", seed=9))  # fmt: skip

    assert run_plans(plan(3))[0] == 0  # type: ignore[arg-type]
    first = {r.name: r.attempt for r in ledger("rnd").runs()}
    assert len(first) == 3 and ledger("rnd").meta()["search"]["done"] == 3
    assert run_plans(plan(3), resume=True)[0] == 0  # type: ignore[arg-type]
    assert {r.name: r.attempt for r in ledger("rnd").runs()} == first


def test_a_refused_start_leaves_the_running_search_study_alone(in_tmp: Path) -> None:
    from slc_tui.engine.lock import EngineLock
    from slc_tui.engine.paths import ledger_path, lock_path
    from slc_tui.engine.study import study_path
    from slc_tui.errors import SweepError

    assert run_plans(_optuna_plan(2))[0] == 0  # type: ignore[arg-type]
    data = Path("data").resolve()
    study = study_path(data, "opt").read_bytes()
    held = EngineLock.acquire(lock_path(ledger_path(data, "opt")))  # "another engine" runs
    try:
        with pytest.raises(SweepError):
            run_plans(_optuna_plan(2))  # type: ignore[arg-type]
    finally:
        held.release()
    assert study_path(data, "opt").read_bytes() == study


def test_experiment_grid_run_takes_a_search(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ExperimentGrid("api")
    grid.add("x", S.uniform(-10, 10), shorthand="x")
    grid.add("seed", [0, 1])
    grid.run("search_thunks:quadratic", data_dir="data",
             search={"method": "random", "trials": 2, "metric": "Score", "seed": 2})  # fmt: skip
    runs = ledger("api").runs()
    assert len(runs) == 4 and {r.state for r in runs} == {RunState.SUCCEEDED}
    assert ledger("api").meta()["search"]["done"] == 2
    with pytest.raises(InputError, match="search: mode must be"):
        grid.run("search_thunks:quadratic", search={"metric": "Score", "mode": "up"})


def test_optuna_asking_a_known_configuration_again_is_told_its_value(in_tmp: Path) -> None:
    grid = ExperimentGrid("twin")
    grid.add("x", S.integer(2, 4))
    grid.add("seed", [0])
    plan = plan_grid(grid, "search_thunks:quadratic", data_dir="data",
                     search=S.Search("optuna", 8, "Score", seed=1))  # fmt: skip
    assert run_plans(plan)[0] == 0
    runs = ledger("twin").runs()
    assert sorted(r.params["x"] for r in runs) == [2, 3, 4]  # each configuration ran once
    assert {r.attempt for r in runs} == {1}
    meta = ledger("twin").meta()["search"]
    assert (meta["done"], meta["best"], meta["value"]) == (8, "twin_x3", 0.0)
    import optuna

    study = optuna.load_study(study_name="twin", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend("data/.slc-tui/twin.optuna.log")))  # fmt: skip
    assert len(study.trials) == 8 and all(t.state.is_finished() for t in study.trials)
