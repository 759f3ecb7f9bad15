"""``slc-tui run``'s spinup.run grammar: the same grid as the reference builds, run for real.

The reference is SpinningUp's ``spinup/run.py`` itself (tests/data/reference, MIT licence), run
with stub modules for its imports and an ``ExperimentGrid`` whose ``run`` records what it got.
"""

from __future__ import annotations

import json
import math
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from slc_tui.errors import InputError
from slc_tui.experiment import setup_logger_kwargs
from slc_tui.grid import ExperimentGrid
from slc_tui.gridfile import load_grid
from slc_tui.plan import plan_grid
from slc_tui.serialization import convert_json
from slc_tui.spinup_args import (
    FlagError,
    Translation,
    algorithm,
    parse,
    split_own,
    to_toml,
    wants_help,
)
from slc_tui.spinup_rules import SLC_NAMES, ValueProblem, read_value

REFERENCE = Path(__file__).parent / "data" / "reference"
ENVS = ("CartPole-v1", "HalfCheetah-v2", "Walker2d-v4", "Ant-v4")


class Ran(Exception):
    """What the reference's grid was asked to run."""

    def __init__(self, grid: ExperimentGrid, thunk: Any, kwargs: dict[str, Any]) -> None:
        super().__init__("ran")
        self.grid, self.thunk, self.kwargs = grid, thunk, kwargs


class RecordingGrid(ExperimentGrid):
    def run(self, thunk: Any, **kwargs: Any) -> None:  # type: ignore[override]
        raise Ran(self, thunk, kwargs)


def stub(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__path__ = []  # type: ignore[attr-defined]  # a package: submodules import
    return module


def algo(name: str) -> Any:
    def fn(**kwargs: Any) -> None:
        """An algorithm of the stub package."""

    fn.__name__ = name
    return fn


@pytest.fixture
def spinup_run(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``words -> Ran``: ``python -m spinup.run WORDS`` as the reference parses it."""

    class Layer:
        pass

    torch = stub("torch", nn=types.SimpleNamespace(ReLU=type("ReLU", (Layer,), {})))
    registry = types.SimpleNamespace(all=lambda: [types.SimpleNamespace(id=e) for e in ENVS])
    bases = ("vpg", "trpo", "ppo", "ddpg", "td3", "sac")
    algos = {f"{b}_{k}": algo(f"{b}_{k}") for b in bases for k in ("tf1", "pytorch")}
    backends = {
        "vpg": "pytorch",
        "trpo": "tf1",
        "ppo": "pytorch",
        "ddpg": "pytorch",
        "td3": "pytorch",
        "sac": "pytorch",
    }  # fmt: skip  (spinup/user_config.py)
    modules = [
        stub("spinup", **algos),
        stub("spinup.user_config", DEFAULT_BACKEND=backends),
        stub("spinup.utils"),
        stub("spinup.utils.run_utils", ExperimentGrid=RecordingGrid),
        stub("spinup.utils.serialization_utils", convert_json=convert_json),
        stub("gym", envs=types.SimpleNamespace(registry=registry)),
        stub("tensorflow"),
        torch,
    ]
    for module in modules:
        monkeypatch.setitem(sys.modules, module.__name__, module)
    path = REFERENCE / "spinup_run.py.txt"
    ref = types.ModuleType("spinup_run_reference")
    exec(compile(path.read_text(), str(path), "exec"), ref.__dict__)

    def run(words: list[str]) -> Ran:
        with pytest.raises(Ran) as ran:
            ref.parse_and_execute_grid_search(words[0], list(words[1:]))
        return ran.value

    return run


def words(line: str) -> list[str]:
    return line.split()


def folders(grid: ExperimentGrid, data_dir: str) -> list[str]:
    return [
        setup_logger_kwargs(grid.variant_name(v), v.get("seed"), data_dir)["output_dir"]
        for v in grid.variants()
    ]


def assert_same(ours: Translation, ref: Ran) -> None:
    """Our grid is the reference's: keys in order, values, shorthands, names and folders."""
    mine, theirs = ours.grid, ref.grid
    assert mine.grid_name == theirs.grid_name
    assert (mine.keys, mine.vals, mine.shs) == (theirs.keys, theirs.vals, theirs.shs)
    assert mine.in_names == theirs.in_names
    assert mine.variants() == theirs.variants()
    names = [mine.variant_name(v) for v in mine.variants()]
    assert names == [theirs.variant_name(v) for v in theirs.variants()]
    assert ours.run_kwargs == {"num_cpu": 1, "data_dir": None, "datestamp": False, **ref.kwargs}
    assert folders(mine, "D") == folders(theirs, "D")
    base, _, backend = ref.thunk.__name__.rpartition("_")
    assert ours.thunk == f"spinup.algos.{backend}.{base}.{base}:{base}"  # spinup/__init__.py


REFERENCE_LINES = [
    "ppo --env CartPole-v1 --exp_name x --seed 0 10 20 --hid[h] [32,32] [64,32] --cpu 2 --dt "
    "--data_dir D",
    "ppo --hid[h] [32,32] [64,32] --env HalfCheetah-v2 --clip_ratio 0.1 0.2 --seed 0 10",
    "td3 --env Walker2d-v4 --pi_lr 1e-3 3e-4 --ac_kwargs:hidden_sizes [400,300] --act_noise 0.1 "
    "0.2 --epochs 5",
    "vpg --env CartPole-v1 --seed 0 --gamma 0.99 0.999 --dt False --norm True False",
    "ddpg --exp_name my-run --env Ant-v4 --hid (64,64) 32,32 --seed 1 2 --num_cpu 1",
    "ppo --env CartPole-v1 --target_kl 0.01 --render --seed 0 1 --lr[] 0.1 0.2",
    "ppo_tf1 --env_name CartPole-v1 --opt:beta1 0.9 0.95 --opt:eps 1e-8 --steps 4000 --dt",
    "trpo --env CartPole-v1 --delta 0.01 0.02 --datestamp --cpu auto",
    "sac_tf1 --env HalfCheetah-v2 --alpha 0.1 0.2 --alpha[a]x 1",
    "vpg --env CartPole-v1 --note hello world 'two words' --seed 0",
    "ppo --hid[h] [64] [32] --env CartPole-v1 --cpu 4 --seed 0 --act[a] nn.ReLU nn.Tanh",
]


@pytest.mark.parametrize("line", REFERENCE_LINES)
def test_same_grid_as_spinup_run(spinup_run: Any, line: str) -> None:
    words = line.replace("'two words'", "two_words").split()
    if "[a]x" in line:  # the reference ignores what follows ']'; slc-tui refuses it
        with pytest.raises(FlagError, match=r"^--alpha\[a\]x: is not a flag"):
            parse(words)
        return
    assert_same(parse(words), spinup_run(words))


def test_words_with_spaces_as_the_reference_reads_them(spinup_run: Any) -> None:
    words = ["vpg", "--env", "CartPole-v1", "--note", "two words", "[1, 2]", " 3", "a--b"]
    ours = parse(words)
    assert ours.grid.vals[0] == ["two words", [1, 2], 3, "a--b"]
    words[-1] = "ab"  # the reference takes any word holding '--' for a flag
    assert_same(parse(words), spinup_run(words))


def test_the_briefs_example_by_hand(in_tmp: Path) -> None:
    words = ["slc_tui.examples.cem:train", "--env", "CartPole-v1", "--exp_name", "x",
             "--seed", "0", "10", "20", "--hid[h]", "[32,32]", "[64,32]", "--cpu", "2", "--dt",
             "--data_dir", "D"]  # fmt: skip
    grid, thunk, kwargs = parse(words)
    by_hand = ExperimentGrid("x")
    by_hand.add("seed", [0, 10, 20])
    by_hand.add("env_name", "CartPole-v1")
    by_hand.add("ac_kwargs:hidden_sizes", [[32, 32], [64, 32]], shorthand="h")
    assert thunk == "slc_tui.examples.cem:train"
    assert kwargs == {"num_cpu": 2, "data_dir": "D", "datestamp": True}
    assert grid.keys == by_hand.keys and grid.shs == by_hand.shs
    assert grid.variants() == by_hand.variants()
    assert [grid.variant_name(v) for v in grid.variants()] == ["x_h32-32", "x_h64-32"] * 3
    assert folders(grid, "D")[:2] == [
        os.path.join("D", "x_h32-32", "x_h32-32_s0"),
        os.path.join("D", "x_h64-32", "x_h64-32_s0"),
    ]
    plan = plan_grid(grid, thunk, **kwargs)  # the plan's folders: datestamped, under D
    day = plan.runs[0].output_dir.split(os.sep)[-2][:11]
    assert all(
        r.output_dir.startswith(str(Path("D").absolute() / (day + "x_h"))) for r in plan.runs
    )


def test_a_thunk_names_the_default_experiment() -> None:
    grid, thunk, kwargs = parse(["train.py:train", "--seed", "0", "1", "--lr", "0.1", "0.2"])
    assert (grid.grid_name, thunk) == ("cmd_train", "train.py:train")
    assert [grid.variant_name(v) for v in grid.variants()][:2] == [
        "cmd_train_lr0-1",
        "cmd_train_lr0-2",
    ]
    assert kwargs == {"num_cpu": 1, "data_dir": None, "datestamp": False}
    assert parse(["m:f", "--x", "1"]).grid.keys == ["x"]  # a thunk needs no env_name


def test_algorithm_names() -> None:
    assert algorithm("sac") == ("stable_learning_control.algos.pytorch.sac.sac:sac", "sac_pytorch",
                                True, True, False)  # fmt: skip
    assert algorithm("lac_tf2").thunk == "stable_learning_control.algos.tf2.lac.lac:lac"
    assert algorithm("trpo").thunk == "spinup.algos.tf1.trpo.trpo:trpo"
    assert algorithm("ppo").mpi and not algorithm("ddpg").mpi
    assert algorithm("stable_learning_control.algos.pytorch.sac.sac:sac").slc
    with pytest.raises(InputError, match="neither a thunk"):
        algorithm("foo")
    with pytest.raises(InputError, match="neither a thunk"):
        algorithm("ppo", slc_only=True)


def test_slc_algorithms_use_slc_substitutions() -> None:
    grid = parse(words("sac --env Walker2d-v4 --hid_a [64,64] --q --use_tb --seed 0 10")).grid
    assert grid.grid_name == "cmd_sac_pytorch"
    assert grid.keys == ["seed", "env_name", "ac_kwargs:hidden_sizes:actor",
                         "logger_kwargs:use_tensorboard", "logger_kwargs:quiet"]  # fmt: skip
    assert grid.variants()[0]["logger_kwargs"] == {"use_tensorboard": True, "quiet": True}
    with pytest.raises(FlagError, match=r"^--cpu: sac_pytorch cannot run with num_cpu > 1"):
        parse(words("sac --env Walker2d-v4 --cpu 2"))


# --- values ---------------------------------------------------------------------------------

VALUES = [
    ("0", 0), ("-1", -1), ("1e-3", 1e-3), ("[32, 32]", [32, 32]), ("64,64", (64, 64)),
    ("{'a': [1]}", {"a": [1]}), ("True", True), ("None", None), ("'x y'", "x y"),
    ("int(1e6)", 1000000), ("2**10", 1024), ("1/4", 0.25), ("[64]*2", [64, 64]),
    ("float('inf')", math.inf), ("CartPole-v1", "CartPole-v1"), ("a:b", "a:b"),
    ("stable_gym:Oscillator-v1", "stable_gym:Oscillator-v1"), ("np.pi", "np.pi"),
    ("linear", "linear"), ("01", "01"), ("1/0", "1/0"), ("int('x')", "int('x')"),
    ("torch.nn.ReLU", "torch.nn.ReLU"), ("nn.ReLU", "nn.ReLU"), ("", ""),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), VALUES)
def test_values_read_as_the_reference_reads_data(text: str, value: Any) -> None:
    got = read_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "why"),
    [("[32, 32", "not a valid Python literal"), ("'open", "not a valid Python literal"),
     ("torch.float32", "would evaluate"), ("max", "would evaluate"), ("lambda x: x", "evaluate"),
     ("{1, 2}", "Python set"), ("b'x'", "Python bytes"), ("1j", "Python complex"),
     ("2**100000", "too large"), ("[0]*10**6", "more than")],
)  # fmt: skip
def test_values_that_are_not_data_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValueProblem, match=why):
        read_value(text)
    assert read_value("slc.x", frozenset()) == "slc.x"  # a name the reference does not know
    with pytest.raises(ValueProblem):
        read_value("slc.x", SLC_NAMES)


def test_reading_values_warns_nothing_and_refuses_nul(recwarn: pytest.WarningsRecorder) -> None:
    assert [read_value(w) for w in ("1if", "'\\d'", "9" * 5000)] == ["1if", "\\d", "9" * 5000]
    assert not recwarn.list
    with pytest.raises(ValueProblem, match="NUL"):
        read_value("'a\\x00b'")


# --- bad input ------------------------------------------------------------------------------

BAD = [
    ("m:f --seed=0", "--seed=0: write --seed VALUE"),
    ("m:f ---seed 0", "---seed: is not a flag"),
    ("m:f --se-ed 0", "--se-ed: is not a flag"),
    ("m:f --hid[h 1", r"--hid\[h: is not a flag"),
    ("m:f 0 --seed 0", "'0' comes before any flag"),
    ("--seed 0", "--seed: is where THUNK comes first"),
    ("m:f --seed 0 --seed 1", "--seed: is given twice"),
    ("m:f --env A --env_name B", "--env: and --env_name both give env_name"),
    ("m:f --hid[h] [1] --hid [2]", r"--hid\[h\]: and --hid both give hid"),
    ("m:f --exp_name", "--exp_name: needs a value"),
    ("m:f --exp_name a b", "--exp_name: takes one value, not 2"),
    ("m:f --exp_name a/b --x 1", "--exp_name: the experiment name 'a/b' cannot serve"),
    ("m:f --data_dir --x 1", "--data_dir: needs a value"),
    ("m:f --cpu --x 1", "--cpu: needs a value"),
    ("m:f --cpu 0 --x 1", "--cpu: 0 is not a number of CPUs"),
    ("m:f --cpu two --x 1", "--cpu: 'two' is not a number of CPUs"),
    ("m:f --dt maybe --x 1", "--dt: 'maybe' is not True or False"),
    ("m:f --hid [32,32 [64]", r"--hid: '\[32,32' is not a valid Python literal"),
    ("m:f --dtype torch.float32", "--dtype: 'torch.float32' is Python that spinup.run would"),
    ("m:f --s {1,2}", r"--s: '\{1,2\}' is a Python set"),
    ("m:f --thunk x", "--thunk: thunk is not a parameter"),
    (
        "m:f --logger_kwargs:output_dir x",
        "--logger_kwargs:output_dir: slc-tui sets each run's logger_kwargs output_dir itself",
    ),
    ("m:f --logger_kwargs 3", "--logger_kwargs: takes a dict"),
    ("m:f --a 1 --a:b 2", "--a:b: grid keys 'a' and 'a:b' both assign"),
    ("m:f", "no parameters"),
    ("ppo --seed 0", "no env_name: ppo_pytorch needs the environment"),
    ("ddpg --env CartPole-v1 --cpu 2", "--cpu: ddpg_pytorch cannot run with num_cpu > 1"),
    ("foo --env X", "'foo' is neither a thunk"),
    (":f --x 1", "the thunk ':f' must look like 'module:function'"),
    ("m:f --exp_cfg a.yml", "--exp_cfg: slc-tui reads an exp_cfg file given alone"),
    ("m:f --help", "--help: asks for help"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_input_is_one_sentence_naming_the_flag(line: str, message: str) -> None:
    with pytest.raises(InputError, match="^" + message) as info:
        parse(line.split())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "line", ["ppo --env CartPole-v1 --exp_name a b", "ppo --env CartPole-v1 --cpu 1 2", "ppo --x 1"]
)
def test_where_the_reference_fails_too(spinup_run: Any, line: str) -> None:
    with pytest.raises(AssertionError):
        spinup_run(line.split())
    with pytest.raises(InputError):
        parse(line.split())


def test_help_and_own_flags() -> None:
    assert wants_help(["ppo", "--env", "X", "-h"]) and not wants_help(["ppo", "--hid", "1"])
    words = ["m:f", "--seed", "0", "--save-grid", "g.toml", "--no-ui", "--max-cpus=2", "--lr", "1"]
    rest, own = split_own(words, {"--save-grid": 1, "--no-ui": 0, "--max-cpus": 1})
    assert rest == ["m:f", "--seed", "0", "--lr", "1"]
    assert own == ["--save-grid", "g.toml", "--no-ui", "--max-cpus=2"]
    with pytest.raises(InputError, match=r"^--save-grid: needs 1 value"):
        split_own(["m:f", "--save-grid"], {"--save-grid": 1})


# --- the grid file ----------------------------------------------------------------------------


def round_trip(tmp_path: Path, ours: Translation) -> None:
    """The TOML text loads back into a grid with the same names, folders and run keywords."""
    file = tmp_path / "g.toml"
    file.write_text(to_toml(*ours))
    spec = load_grid(file, check_thunk=False)
    grid = spec.grid
    names = [ours.grid.variant_name(v) for v in ours.grid.variants()]
    assert [grid.variant_name(v) for v in grid.variants()] == names
    assert (grid.keys, grid.shs, grid.in_names) == (
        ours.grid.keys,
        ours.grid.shs,
        ours.grid.in_names,
    )
    assert json.loads(json.dumps(grid.vals)) == json.loads(json.dumps(ours.grid.vals))  # tuples
    module = ours.thunk.rpartition(":")[0]
    thunk = str(Path(ours.thunk).absolute()) if module.endswith(".py") else ours.thunk
    assert spec.thunk == thunk and spec.name == ours.grid.grid_name
    assert spec.num_cpu == ours.run_kwargs["num_cpu"]
    assert spec.datestamp == ours.run_kwargs["datestamp"]
    data_dir = ours.run_kwargs["data_dir"] or "data"
    assert spec.data_dir == Path(data_dir).absolute()
    assert folders(grid, str(spec.data_dir)) == folders(ours.grid, str(spec.data_dir))


@pytest.mark.parametrize("line", [x for x in REFERENCE_LINES if "[a]x" not in x])
def test_the_grid_file_loads_back(in_tmp: Path, line: str) -> None:
    round_trip(in_tmp, parse(line.replace("'two words'", "two_words").split()))


def test_the_grid_file_of_the_briefs_example(in_tmp: Path) -> None:
    ours = parse(words("m.py:train --env CartPole-v1 --exp_name x --seed 0 10 20 --hid[h] [32,32] "
                 "[64,32] --cpu 2 --dt --data_dir D"))  # fmt: skip
    text = to_toml(*ours)
    assert '"ac_kwargs:hidden_sizes" = { values = [[32, 32], [64, 32]], shorthand = "h" }' in text
    assert 'seed = [0, 10, 20]\nenv_name = "CartPole-v1"\n' in text
    assert 'thunk = "m.py:train"\nnum_cpu = 2\ndata_dir = "D"\ndatestamp = true\n' in text
    round_trip(in_tmp, ours)
    odd = parse(["m:f", "--s", "'a\"b\\\\c\x7f\u00e9'", "--d", "{'k': [1, {'z': 2}]}", "--one",
                 "[5]", "--f", "float('-inf')", "-1.5e-300", "--e[]", "1", "2", "--b", "--n",
                 "10**18"])  # fmt: skip
    round_trip(in_tmp, odd)


def test_what_a_grid_file_cannot_hold() -> None:
    with pytest.raises(InputError, match=r"^x: the grid file format cannot hold the value None"):
        to_toml(*parse(["m:f", "--x", "None"]))
    with pytest.raises(InputError, match="beyond TOML's 64-bit integers"):
        to_toml(*parse(["m:f", "--x", "2**70"]))
    with pytest.raises(InputError, match="TOML tables have string keys only"):
        to_toml(*parse(["m:f", "--x", "{1: 2}"]))
    text = to_toml(*parse(words("sac --env X --quiet")))  # grid files take logger_kwargs keys
    assert '\n"logger_kwargs:quiet" = true\n' in text
