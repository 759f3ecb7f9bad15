"""``slc-tui EXP_CFG.yml``: an SLC ``--exp_cfg`` file gives the grid SLC's own run.py builds.

The reference is stable-learning-control's ``stable_learning_control/run.py`` itself
(tests/data/reference, MIT licence), run with stub modules for its imports (its YAML reader is
slc-tui's: both read YAML 1.2) and an ``ExperimentGrid`` whose ``run`` records what it got. The
``tests/data/slc_*.yml`` files are copies of SLC's ``experiments/`` files (MIT licence).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML: a dependency of slc-tui's exp_cfg reader

from test_spinup_args import REFERENCE, Ran, RecordingGrid, algo, folders, stub  # noqa: E402

from slc_tui.grid import ExperimentGrid  # noqa: E402
from slc_tui.gridfile import load_grid  # noqa: E402
from slc_tui.gridfile_lines import GridFileError  # noqa: E402
from slc_tui.slc_config import _loader, load  # noqa: E402
from slc_tui.spinup_args import Translation, to_toml  # noqa: E402

DATA = Path(__file__).parent / "data"
FILES = sorted(DATA.glob("slc_*.yml"))


@pytest.fixture
def slc_run(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``path -> Ran``: ``python -m stable_learning_control.run --exp_cfg PATH``."""

    class Layer:
        pass

    nn = types.SimpleNamespace(**{n: type(n, (Layer,), {}) for n in ("ReLU", "Tanh", "Identity")})
    algos = {f"{b}_pytorch": algo(f"{b}_pytorch") for b in ("sac", "lac", "latc")}

    def validate_gym_env(arg_dict: dict[str, Any]) -> None:
        # utils/gym_utils.py, less its look-up in the gymnasium registry
        assert "env_name" in arg_dict, "You did not give a valid value for --env_name!"

    class YAML:
        def __init__(self, typ: str) -> None:
            assert typ == "safe"

        def load(self, stream: Any) -> Any:
            return yaml.load(stream, Loader=_loader(yaml))

    slc = stub("stable_learning_control", **algos)
    modules = [
        stub("torch", nn=nn, Tensor=type("Tensor", (), {})),
        stub("ruamel"),
        stub("ruamel.yaml", YAML=YAML, YAMLError=yaml.YAMLError),
        slc,
        stub("stable_learning_control.common"),
        stub("stable_learning_control.user_config",
             DEFAULT_BACKEND={"lac": "pytorch", "latc": "pytorch", "sac": "pytorch"}),
        stub("stable_learning_control.utils"),
        stub("stable_learning_control.utils.gym_utils", validate_gym_env=validate_gym_env),
        stub("stable_learning_control.utils.import_utils", tf_installed=lambda: False,
             import_tf=lambda **kw: None),
        stub("stable_learning_control.utils.log_utils"),
        stub("stable_learning_control.utils.log_utils.helpers",
             log_to_std_out=lambda *a, **k: None),
        stub("stable_learning_control.utils.run_utils", ExperimentGrid=RecordingGrid),
        stub("stable_learning_control.version", __version__="0"),
    ]  # fmt: skip
    for module in modules:
        monkeypatch.setitem(sys.modules, module.__name__, module)
    sources = {"common.helpers": "slc_common_helpers", "utils.safer_eval_util":
               "slc_safer_eval_util", "run": "slc_run"}  # fmt: skip
    for name, source in sources.items():
        path = REFERENCE / f"{source}.py.txt"
        module = types.ModuleType(f"stable_learning_control.{name}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    ref = sys.modules["stable_learning_control.run"]

    def run(file: Path) -> Ran:
        monkeypatch.setattr(sys, "argv", ["run.py", "--exp_cfg", str(file)])
        with pytest.raises(Ran) as ran:
            ref.run(sys.argv)
        return ran.value

    return run


def assert_same(ours: Translation, ref: Ran) -> None:
    """Our grid is SLC's, but for the order of split values (SLC's is a set's, ours the file's)."""
    mine, theirs = ours.grid, ref.grid
    assert mine.grid_name == theirs.grid_name
    assert (mine.keys, mine.shs, mine.in_names) == (theirs.keys, theirs.shs, theirs.in_names)
    for key, a, b in zip(mine.keys, mine.vals, theirs.vals):
        assert sorted(map(repr, a)) == sorted(map(repr, b)), key
    names = sorted(mine.variant_name(v) for v in mine.variants())
    assert names == sorted(theirs.variant_name(v) for v in theirs.variants())
    assert sorted(folders(mine, "D")) == sorted(folders(theirs, "D"))
    assert ours.run_kwargs == {"num_cpu": 1, "data_dir": None, "datestamp": False, **ref.kwargs}
    base, _, backend = ref.thunk.__name__.rpartition("_")
    assert ours.thunk == f"stable_learning_control.algos.{backend}.{base}.{base}:{base}"


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.stem)
def test_same_grid_as_slc_run(slc_run: Any, file: Path) -> None:
    assert_same(load(file), slc_run(file))


INLINE = {
    "shorthands and substitutions": """\
        alg_name: sac_pytorch
        env: "Walker2d-v4"
        lr_a[lr]: 1e-4 3e-4, 1e-3
        hid_a: [64, 64]
        hid_c[hc]: "64 32"
        q:
        use_tb: True
        seed: 1, 2
        """,
    "run keys and a data folder": """\
        alg_name: lac
        exp_name: "'quoted'"
        env_name: CartPole-v1
        data_dir: some/folder
        datestamp: False
        cpu: 1
        alpha: 0.99 0.9
        env_kwargs: {reset_noise_scale: 0.1, bounds: [-1.0, 1.0]}
        target_entropy:
        device: "gpu:1"
        """,
    "arithmetic and bools": """\
        alg_name: latc
        env_name: Env-v0
        replay_size: "int(1e6)"
        steps: 2**10 2**11
        adaptive_temperature: True False
        lr_decay_type: linear
        """,
}


@pytest.mark.parametrize("name", INLINE)
def test_same_grid_as_slc_run_inline(slc_run: Any, tmp_path: Path, name: str) -> None:
    file = tmp_path / "exp.yml"
    file.write_text(textwrap.dedent(INLINE[name]))
    assert_same(load(file), slc_run(file))


def test_the_example_file_by_hand() -> None:
    grid, thunk, kwargs = load(DATA / "slc_lac_cartpole_cost_experiment_example.yml")
    assert thunk == "stable_learning_control.algos.pytorch.lac.lac:lac"
    assert kwargs == {"num_cpu": 1, "data_dir": None, "datestamp": False}
    by_hand = ExperimentGrid("lac_cartpole_cost_exp")
    ac = {"hidden_sizes": {"actor": [64, 64], "critic": [64, 64, 16]},
          "activation": "nn.ReLU", "output_activation": "nn.ReLU"}  # fmt: skip
    for key, value in [
        ("env_name", "stable_gym:CartPoleCost-v1"), ("ac_kwargs", [ac]), ("opt_type", "minimize"),
        ("max_ep_len", 400), ("epochs", 100), ("steps_per_epoch", 2048), ("start_steps", 0),
        ("update_every", 100), ("update_after", 1000), ("steps_per_update", 100),
        ("num_test_episodes", 10), ("alpha", 0.99), ("alpha3", 0.2), ("labda", 0.99),
        ("gamma", 0.995), ("polyak", 0.995),
        ("target_entropy", True), ("adaptive_temperature", True),  # empty keys: on/off flags
        ("lr_a", [1e-4, 1e-3]), ("lr_c", 3e-4), ("lr_a_final", 1e-10), ("lr_c_final", 1e-10),
        ("lr_decay_type", "linear"), ("lr_decay_ref", "epoch"), ("batch_size", 256),
        ("replay_size", 1000000), ("seed", [0, 234, 567]), ("device", "cpu"), ("save_freq", 1),
        ("export", False),
    ]:  # fmt: skip
        by_hand.add(key, value)
    assert (grid.keys, grid.vals, grid.shs) == (by_hand.keys, by_hand.vals, by_hand.shs)
    assert grid.variants() == by_hand.variants()
    names = [grid.variant_name(v) for v in grid.variants()]
    assert names == [by_hand.variant_name(v) for v in by_hand.variants()]
    assert names == ["lac_cartpole_cost_exp_lr0-0001"] * 3 + ["lac_cartpole_cost_exp_lr0-001"] * 3
    assert folders(grid, "data")[:2] == [
        os.path.join("data", "lac_cartpole_cost_exp_lr0-0001", "lac_cartpole_cost_exp_lr0-0001_s0"),
        os.path.join(
            "data", "lac_cartpole_cost_exp_lr0-0001", "lac_cartpole_cost_exp_lr0-0001_s234"
        ),
    ]


def test_the_tuning_file_by_hand() -> None:
    file = DATA / "slc_han2020_reproduction_lac_cartpole_cost_alpha3_tune_experiment.yml"
    grid, _, _ = load(file)
    assert grid.variant_count() == 15 * 5
    by_hand = ExperimentGrid("han2020_reproduction_lac_cartpole_cost_alpha3_tune_exp")
    by_hand.add("alpha3", [round(0.1 * i, 1) for i in range(1, 16)])
    by_hand.add("seed", [78456, 48104, 567, 3658, 234])
    names = {grid.variant_name(v) for v in grid.variants()}
    assert names == {by_hand.variant_name(v) for v in by_hand.variants()}
    assert "han2020_reproduction_lac_cartpole_cost_alpha3_tune_exp_alp0-1" in names
    assert grid.variants()[0]["logger_kwargs"] == {
        "use_wandb": True,
        "wandb_group": "han2020_reproduction",
    }


def test_yaml_is_read_as_yaml_1_2(tmp_path: Path) -> None:
    file = tmp_path / "e.yml"
    file.write_text(
        "alg_name: sac\nenv_name: E\na: yes\nb: 010\nc: 1:30\nd: 0x1F\ne: 1e-4\nf: on\n"
    )
    grid = load(file).grid
    assert dict(zip(grid.keys, grid.vals)) == {
        "env_name": ["E"], "a": ["yes"], "b": [10], "c": ["1:30"], "d": [31], "e": [1e-4],
        "f": ["on"],
    }  # fmt: skip


def test_a_thunk_as_alg_name(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def train(**kw): pass\n")
    file = tmp_path / "e.yml"
    file.write_text("alg_name: train.py:train\nseed: 0 1\nlr: 0.1\n")
    grid, thunk, _ = load(file)
    assert thunk == f"{tmp_path / 'train.py'}:train"
    assert grid.grid_name == "cmd_train" and grid.keys == ["seed", "lr"]
    file.write_text("alg_name: pkg.mod:fn\nseed: 0 1\n")
    assert load(file).thunk == "pkg.mod:fn"


BAD = [
    ("env_name: E\n", r"e\.yml: the key alg_name is missing"),
    ("alg_name: ppo\nenv_name: E\n", r"e\.yml:1: alg_name: 'ppo' is neither a thunk"),
    ("alg_name: [sac]\n", r"e\.yml:1: alg_name: \['sac'\] is not an algorithm name"),
    ("alg_name: sac\nenv_name: E\nlr: 1\nlr: 2\n", r"e\.yml:4: lr: the key is given twice"),
    ("alg_name: sac\nenv_name: E\nlr: [1, 2\n", r"e\.yml:4: YAML syntax error"),
    ("alg_name: sac\nenv_name: E\nlr: ''\n", r"e\.yml:3: lr: an empty string gives no value"),
    ("alg_name: sac\nenv_name: E\nseed: [0, 1]\n", r"e\.yml:3: seed: \[0, 1\] is one list-valued"),
    ("alg_name: sac\nenv_name: E\nexp_name: a b\n", r"e\.yml:3: exp_name: takes one value, not 2"),
    ("alg_name: sac\nenv_name: E\nnum_cpu: 2\n", r"e\.yml:3: num_cpu: sac_pytorch cannot run"),
    ("alg_name: sac\nenv_name: E\nhid: '[64, 64'\n", r"e\.yml:3: hid: '\[64' is not a valid"),
    ("alg_name: sac\nenv_name: E\ndt: maybe\n", r"e\.yml:3: dt: 'maybe' is not True or False"),
    (
        "alg_name: sac\nenv: A\nenv_name: B\n",
        r"e\.yml:2: env: and env_name both give env_name; keep one",
    ),
    ("alg_name: sac\nseed: 0\n", r"e\.yml: no env_name: sac_pytorch needs the environment"),
    ("- a\n- b\n", r"e\.yml: holds a YAML list, not a mapping"),
    ("", r"e\.yml: no hyperparameters"),
    ("alg_name: sac\n1: x\n", r"e\.yml: the key 1 is not a name"),
    ("alg_name: sac\nenv_name: E\nthunk: x\n", r"e\.yml:3: thunk: thunk is not a parameter"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_files_name_the_file_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "e.yml"
    file.write_text(text)
    with pytest.raises(
        GridFileError, match="^" + str(tmp_path).replace(".", r"\.") + "/" + message
    ):
        load(file)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GridFileError, match="no such exp_cfg file"):
        load(tmp_path / "missing.yml")
    with pytest.raises(GridFileError, match="is a directory"):
        load(tmp_path)
    (tmp_path / "b.yml").write_bytes(b"alg_name: \xff\n")
    with pytest.raises(GridFileError, match="not UTF-8"):
        load(tmp_path / "b.yml")


def test_the_grid_file_of_an_exp_cfg_loads_back(in_tmp: Path) -> None:
    file = in_tmp / "e.yml"
    file.write_text(textwrap.dedent(INLINE["arithmetic and bools"]) + "batch_size[b]: '64 32'\n")
    ours = load(file)
    (in_tmp / "g.toml").write_text(to_toml(*ours))
    spec = load_grid(in_tmp / "g.toml", check_thunk=False)
    assert [spec.grid.variant_name(v) for v in spec.grid.variants()] == [
        ours.grid.variant_name(v) for v in ours.grid.variants()
    ]
    assert json.dumps(spec.grid.vals) == json.dumps(ours.grid.vals)
    assert spec.thunk == ours.thunk == "stable_learning_control.algos.pytorch.latc.latc:latc"
    tuned = load(DATA / "slc_han2020_reproduction_lac_cartpole_cost_alpha3_tune_experiment.yml")
    (in_tmp / "t.toml").write_text(to_toml(*tuned))  # its logger_kwargs keys are written too
    back = load_grid(in_tmp / "t.toml", check_thunk=False).grid
    assert json.dumps(back.variants()) == json.dumps(tuned.grid.variants())
    assert back.variants()[0]["logger_kwargs"] == {
        "use_wandb": True,
        "wandb_group": "han2020_reproduction",
    }
