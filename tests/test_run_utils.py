"""ExperimentGrid naming and variant rules (the reference's), its deliberate fixes, and
setup_logger_kwargs / user_config."""

from __future__ import annotations

import json
import os
import re
import sys
import time

import pytest

from slc_tui import user_config
from slc_tui.run_utils import (
    RESERVED_KEYS,
    ExperimentGrid,
    default_shorthand,
    resolve_num_cpu,
    setup_logger_kwargs,
)
from slc_tui.serialization import convert_json, valid_str


def slc_test_grid(name: str = "") -> ExperimentGrid:
    """SLC's own ``tests/test_eg.py`` grid (it uses ``ExperimentGrid()``, an empty name)."""
    eg = ExperimentGrid(name)
    eg.add("test:a", [1, 2, 3], "ta", True)
    eg.add("test:b", [1, 2, 3])
    eg.add("some", [4, 5])
    eg.add("why", [True, False])
    eg.add("huh", 5)
    eg.add("no", 6, in_name=True)
    return eg


# --- reference examples ---------------------------------------------------------------------


def test_reference_lr_seed_grid_names() -> None:
    eg = ExperimentGrid("g")
    eg.add("lr", [0.1, 0.2])
    eg.add("seed", [0, 10])
    variants = eg.variants()
    assert [eg.variant_name(v) for v in variants] == ["g_lr0-1", "g_lr0-1", "g_lr0-2", "g_lr0-2"]
    assert variants == [
        {"lr": 0.1, "seed": 0},
        {"lr": 0.1, "seed": 10},
        {"lr": 0.2, "seed": 0},
        {"lr": 0.2, "seed": 10},
    ]


def test_slc_test_grid_variants_match_the_slc_snapshot() -> None:
    eg = slc_test_grid()
    variants = eg.variants()
    assert len(variants) == 36
    # SLC's snapshot: test:a slowest, then test:b, some, why (fastest).
    expected = [
        {"test": {"a": a, "b": b}, "some": some, "why": why, "huh": 5, "no": 6}
        for a in (1, 2, 3)
        for b in (1, 2, 3)
        for some in (4, 5)
        for why in (True, False)
    ]
    assert variants == expected
    assert list(variants[0]) == ["test", "some", "why", "huh", "no"]
    names = [eg.variant_name(v) for v in variants]
    assert names[:2] == ["ta1_tes-b1_som4_why_no6", "ta1_tes-b1_som4_no6"]
    assert names[-1] == "ta3_tes-b3_som5_no6"
    assert len(set(names)) == 36  # "why" shows when true, and nothing when false


def test_slc_test_grid_with_a_name_prefixes_it() -> None:
    eg = slc_test_grid("test")
    assert eg.variant_name(eg.variants()[0]) == "test_ta1_tes-b1_som4_why_no6"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0-1"),
        (3e-4, "0-0003"),
        ([32, 32], "32-32"),
        ((64, 64), "64-64"),
        ("Hello World!", "hello-world-"),
        (True, "true"),
        (None, "none"),
        (os.path.join, "join"),
        (ExperimentGrid, "experimentgrid"),
        ([[8], [16, 16]], "8-16-16"),
    ],
)
def test_valid_str(value: object, expected: str) -> None:
    assert valid_str(value) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("pi:hidden_sizes", "pi-hid"),
        ("ac_kwargs:activation", "ac-act"),
        ("__foo", "f"),
        ("lr_a", "lr"),
        ("env_name", "env"),
        ("a:b:c", "a-b-c"),
        ("seed", "see"),
    ],
)
def test_default_shorthand(key: str, expected: str) -> None:
    assert default_shorthand(key) == expected
    assert ExperimentGrid()._default_shorthand(key) == expected


# --- add and variant_name rules -------------------------------------------------------------


def test_only_a_list_is_several_values() -> None:
    eg = ExperimentGrid("x")
    eg.add("sizes", (32, 32))
    eg.add("cfg", {"a": 1})
    eg.add("name", "hello")
    assert eg.vals == [[(32, 32)], [{"a": 1}], ["hello"]]
    assert eg.variants() == [{"sizes": (32, 32), "cfg": {"a": 1}, "name": "hello"}]
    assert eg.variant_name(eg.variants()[0]) == "x"


def test_list_of_lists_is_several_list_values() -> None:
    eg = ExperimentGrid("x")
    eg.add("ac_kwargs:hidden_sizes", [[8], [16, 16]])
    variants = eg.variants()
    assert variants == [
        {"ac_kwargs": {"hidden_sizes": [8]}},
        {"ac_kwargs": {"hidden_sizes": [16, 16]}},
    ]
    assert [eg.variant_name(v) for v in variants] == ["x_ac-hid8", "x_ac-hid16-16"]


def test_shorthand_forms() -> None:
    eg = ExperimentGrid("x")
    eg.add("steps_per_epoch", [1, 2], "steps")
    eg.add("env_name", ["CartPole-v1"], "", in_name=True)
    eg.add("pi_lr", [0.1], in_name=True)
    assert eg.shs == ["steps", "", "pi"]
    assert eg.variant_name(eg.variants()[0]) == "x_steps1_cartpole-v1_pi0-1"


def test_default_shorthand_off_uses_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(user_config, "DEFAULT_SHORTHAND", False)
    eg = ExperimentGrid("x")
    eg.add("pi:hidden_sizes", [[8], [16]])
    eg.add("lr", [0.5], "l", in_name=True)
    assert eg.shs == [None, "l"]
    assert eg.variant_name(eg.variants()[1]) == "x_pi-hidden_sizes16_l0-5"


def test_seed_never_in_name_even_with_in_name() -> None:
    eg = ExperimentGrid("x")
    eg.add("seed", [0, 1], in_name=True)
    eg.add("lr", 0.1)
    assert [eg.variant_name(v) for v in eg.variants()] == ["x", "x"]


def test_booleans_add_name_only_when_true() -> None:
    eg = ExperimentGrid("x")
    eg.add("use_gpu", [True, False], "gpu")
    eg.add("flag", True, in_name=True)
    eg.add("off", False, in_name=True)
    names = [eg.variant_name(v) for v in eg.variants()]
    assert names == ["x_gpu_fla", "x_fla"]


def test_mixed_bool_and_other_values_use_the_value() -> None:
    eg = ExperimentGrid("x")
    eg.add("clip", [True, 0.5])
    assert [eg.variant_name(v) for v in eg.variants()] == ["x_clitrue", "x_cli0-5"]


def test_leading_underscores_are_stripped_from_names() -> None:
    eg = ExperimentGrid()
    eg.add("lr", [1, 2])
    assert eg.variant_name({"lr": 1}) == "lr1"
    eg2 = ExperimentGrid("__g")
    eg2.add("a", [1, 2], "")
    assert eg2.variant_name({"a": 2}) == "g_2"


def test_callable_values_are_named_by_their_name() -> None:
    def my_algo() -> None: ...

    eg = ExperimentGrid("x")
    eg.add("algo", [my_algo, os.path.join], "")
    assert [eg.variant_name(v) for v in eg.variants()] == ["x_my_algo", "x_join"]


def test_product_order_first_key_slowest() -> None:
    eg = ExperimentGrid("x")
    eg.add("a", [1, 2])
    eg.add("b", ["p", "q", "r"])
    eg.add("c", [True, False])
    flat = [(v["a"], v["b"], v["c"]) for v in eg.variants()]
    assert flat == [(a, b, c) for a in (1, 2) for b in "pqr" for c in (True, False)]


def test_nesting_three_levels_and_sibling_groups() -> None:
    eg = ExperimentGrid("x")
    eg.add("a:b:c", [1, 2])
    eg.add("a:b:d", 3)
    eg.add("a:e", "f")
    eg.add("z", 0)
    eg.add("g:h", [None])
    assert eg.variants()[1] == {"a": {"b": {"c": 2, "d": 3}, "e": "f"}, "z": 0, "g": {"h": None}}
    assert eg.variant_name(eg.variants()[1]) == "x_a-b-c2"
    assert eg.variant_name({"a:b:c": 1}) == "x_a-b-c1"  # a flat variant works too


def test_grid_attributes_and_name() -> None:
    eg = ExperimentGrid("cartpole")
    eg.add("lr", [0.1, 0.2], "l", in_name=True)
    assert eg.grid_name == "cartpole"
    assert (eg.keys, eg.vals, eg.shs, eg.in_names) == (["lr"], [[0.1, 0.2]], ["l"], [True])
    eg.name("other")
    assert eg.grid_name == "other"
    with pytest.raises(TypeError, match="name"):
        eg.name(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        ExperimentGrid(None)  # type: ignore[arg-type]


def test_many_variants_plan_quickly_and_correctly() -> None:
    eg = ExperimentGrid("big")
    for key in ("a", "b", "c", "d"):
        eg.add(key, list(range(10)))
    variants = eg.variants()
    assert len(variants) == 10_000
    assert variants[-1] == {"a": 9, "b": 9, "c": 9, "d": 9}
    assert len({eg.variant_name(v) for v in variants}) == 10_000


# --- deliberate fixes -----------------------------------------------------------------------


def test_empty_grid_is_an_error() -> None:
    eg = ExperimentGrid("empty")
    with pytest.raises(ValueError, match="'empty' has no parameters"):
        eg.variants()
    with pytest.raises(ValueError, match="no parameters"):
        eg.print()


def test_empty_value_list_is_an_error() -> None:
    eg = ExperimentGrid("x")
    with pytest.raises(ValueError, match="'lr' has an empty list of values"):
        eg.add("lr", [])
    assert eg.keys == []


def test_key_given_twice_is_an_error() -> None:
    eg = ExperimentGrid("x")
    eg.add("lr", [0.1])
    with pytest.raises(ValueError, match="'lr' is given twice"):
        eg.add("lr", [0.2])
    assert eg.keys == ["lr"] and eg.vals == [[0.1]]


@pytest.mark.parametrize(
    ("first", "second"),
    [("a", "a:b"), ("a:b", "a"), ("a:b", "a:b:c"), ("a:b:c", "a:b")],
)
def test_key_and_nested_key_is_an_error(first: str, second: str) -> None:
    eg = ExperimentGrid("x")
    eg.add(first, [{"b": 1}] if ":" not in first else 1)
    with pytest.raises(ValueError, match="both assign"):
        eg.add(second, 2)


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_reserved_keys_are_rejected(key: str) -> None:
    eg = ExperimentGrid("x")
    with pytest.raises(ValueError, match=f"clashes with call_experiment's own parameter '{key}'"):
        eg.add(key, [1, 2])
    with pytest.raises(ValueError, match="clashes"):
        eg.add(f"{key}:sub", 1)
    assert eg.keys == []


def test_seed_env_name_and_logger_kwargs_are_not_reserved() -> None:
    eg = ExperimentGrid("x")
    eg.add("seed", [0, 1])
    eg.add("env_name", "CartPole-v1")
    eg.add("logger_kwargs:verbose_fmt", "table")
    eg.add("num_cpus_extra", 1)  # only exact names (or their a:b children) are reserved
    assert len(eg.variants()) == 2


@pytest.mark.parametrize("key", ["", ":a", "a:", "a::b"])
def test_malformed_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        ExperimentGrid("x").add(key, 1)


def test_bad_key_and_shorthand_types() -> None:
    eg = ExperimentGrid("x")
    with pytest.raises(TypeError, match="key must be a string"):
        eg.add(3, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shorthand"):
        eg.add("lr", [1], shorthand=3)  # type: ignore[arg-type]


def test_user_values_are_never_mutated_or_shared() -> None:
    hidden = [32, 32]
    cfg = {"act": "relu", "sizes": hidden}
    values = [cfg, {"act": "tanh"}]
    eg = ExperimentGrid("x")
    eg.add("ac_kwargs", values)
    eg.add("pi:sizes", [hidden])
    eg.add("seed", [0, 1])
    variants = eg.variants()
    variants[0]["ac_kwargs"]["act"] = "changed"
    variants[0]["ac_kwargs"]["sizes"].append(1)
    variants[0]["pi"]["sizes"].append(2)
    assert cfg == {"act": "relu", "sizes": [32, 32]} and hidden == [32, 32]
    assert values == [cfg, {"act": "tanh"}]
    assert variants[1]["ac_kwargs"] == {"act": "relu", "sizes": [32, 32]}
    assert eg.variants()[0]["pi"]["sizes"] == [32, 32]
    values.append({"act": "late"})  # the grid took its own copy of the list
    assert len(eg.vals[0]) == 2


def test_convert_json_keeps_tuples_as_lists() -> None:
    class Obj:
        def __init__(self) -> None:
            self.size = (1, 2)

    # The reference returned a generator for a tuple that json cannot take as it is.
    assert convert_json((64, os.path.join, (1, os.path.join))) == [64, "join", [1, "join"]]
    converted = convert_json({"sizes": (64, (1, 2)), "act": os.path.join, "obj": Obj()})
    assert json.loads(json.dumps(converted))["sizes"] == [64, [1, 2]]
    assert converted["act"] == "join"
    assert list(converted["obj"].values()) == [{"size": (1, 2)}]


# --- print() --------------------------------------------------------------------------------


def test_print_summary(capsys: pytest.CaptureFixture[str]) -> None:
    eg = ExperimentGrid("cartpole")
    eg.add("lr", [0.1, 0.2])
    eg.add("pi:sizes", [(64, 64)], "")
    eg.add("seed", [0, 10, 20])
    eg.print()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "=" * 80 and lines[-1] == "=" * 80
    assert lines[1] == "ExperimentGrid [cartpole] runs over parameters:"
    assert " " + "lr".ljust(40) + " [lr] " in lines
    assert " " + "pi:sizes".ljust(40) + " [] " in lines
    assert "\t0.1" in lines and "\t(64, 64)" in lines and "\t20" in lines
    assert " Variants, counting seeds: ".ljust(40) + " 6" in lines
    assert " Variants, not counting seeds: ".ljust(40) + " 2" in lines
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


def test_print_long_name_breaks_the_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_config, "DEFAULT_SHORTHAND", False)
    eg = ExperimentGrid("n" * 60)
    eg.add("lr", 1)
    eg.print()
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "ExperimentGrid [" + "n" * 60 + "]"
    assert lines[2] == " runs over parameters:"
    assert " " + "lr".ljust(40) + "  " in lines  # no shorthand: nothing in brackets


# --- setup_logger_kwargs, user_config, num_cpu ----------------------------------------------


def test_setup_logger_kwargs_paths(tmp_path: os.PathLike[str]) -> None:
    base = str(tmp_path)
    assert setup_logger_kwargs("exp", 3, base) == {
        "output_dir": os.path.join(base, "exp", "exp_s3"),
        "exp_name": "exp",
    }
    assert setup_logger_kwargs("exp", data_dir=base)["output_dir"] == os.path.join(base, "exp")
    assert setup_logger_kwargs("exp", 0, base)["output_dir"].endswith(os.path.join("exp", "exp_s0"))
    extra = setup_logger_kwargs("exp", 1, base, verbose_fmt="table", quiet=True)
    assert extra["verbose_fmt"] == "table" and extra["quiet"] is True
    with pytest.raises(TypeError, match="output_dir"):
        setup_logger_kwargs("exp", 1, base, output_dir="/elsewhere")


def test_setup_logger_kwargs_datestamp(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = time.struct_time((2024, 3, 5, 7, 8, 9, 1, 65, 0))
    monkeypatch.setattr(time, "localtime", lambda *a: frozen)
    out = setup_logger_kwargs("exp", 7, str(tmp_path), datestamp=True)["output_dir"]
    assert out == os.path.join(str(tmp_path), "2024-03-05_exp", "2024-03-05_07-08-09-exp_s7")
    no_seed = setup_logger_kwargs("exp", None, str(tmp_path), datestamp=True)["output_dir"]
    assert no_seed == os.path.join(str(tmp_path), "2024-03-05_exp")
    monkeypatch.setattr(user_config, "FORCE_DATESTAMP", True)
    assert setup_logger_kwargs("exp", 7, str(tmp_path))["output_dir"] == out


def test_real_datestamp_format(tmp_path: os.PathLike[str]) -> None:
    out = setup_logger_kwargs("e", 1, str(tmp_path), datestamp=True)["output_dir"]
    rel = os.path.relpath(out, str(tmp_path))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_e/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-e_s1", rel)


def test_default_data_dir_is_resolved_at_call_time(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(user_config.DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    expected = os.path.join(os.getcwd(), "data")
    assert expected == user_config.DEFAULT_DATA_DIR
    assert setup_logger_kwargs("e", 0)["output_dir"] == os.path.join(expected, "e", "e_s0")
    sub = os.path.join(str(tmp_path), "sub")
    os.mkdir(sub)
    monkeypatch.chdir(sub)
    assert user_config.default_data_dir() == os.path.join(os.getcwd(), "data")
    monkeypatch.setenv(user_config.DATA_DIR_ENV, "results")
    assert user_config.default_data_dir() == os.path.join(os.getcwd(), "results")
    assert setup_logger_kwargs("e")["output_dir"] == os.path.join(os.getcwd(), "results", "e")
    # setitem, not setattr: setattr would "restore" the computed value as a fixed attribute.
    monkeypatch.setitem(vars(user_config), "DEFAULT_DATA_DIR", "/configured")
    assert setup_logger_kwargs("e")["output_dir"] == os.path.join("/configured", "e")


def test_importing_run_utils_stays_cheap() -> None:
    import subprocess

    code = (
        "import sys, slc_tui.run_utils\n"
        "heavy = {'cloudpickle', 'psutil', 'numpy', 'gymnasium', 'textual', 'mpi4py'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resolve_num_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``"auto"`` is the physical cores inside the affinity, for call_experiment as for the
    engine (one meaning, in slc_tui.cpus)."""
    from slc_tui import cpus

    assert resolve_num_cpu(3) == 3
    assert resolve_num_cpu("auto") >= 1
    # 8 logical CPUs, two hyperthreads per core: 4 physical cores
    monkeypatch.setattr(cpus, "_affinity", lambda: list(range(8)))
    monkeypatch.setattr(cpus, "_physical_key", lambda cpu: ("0", str(cpu // 2)))
    assert resolve_num_cpu("auto") == 4
    # taskset to CPUs 0-2: cores 0 and 1 only
    monkeypatch.setattr(cpus, "_affinity", lambda: [0, 1, 2])
    assert resolve_num_cpu("auto") == 2
    # no topology to read: every CPU of the affinity
    monkeypatch.setattr(cpus, "_physical_key", lambda cpu: None)
    assert resolve_num_cpu("auto") == 3
    for bad in (0, -1, "many", 1.5, True, None):
        with pytest.raises(ValueError, match="positive integer or 'auto'"):
            resolve_num_cpu(bad)  # type: ignore[arg-type]


def test_colorize_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from slc_tui.run_utils import colorize

    class Tty:
        def isatty(self) -> bool:
            return True

    assert colorize("hi", "green", bold=True) == "hi"  # captured stdout is no terminal
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colorize("hi", "green", bold=True) == "\x1b[32;1mhi\x1b[0m"
    assert colorize("hi", "cyan", highlight=True) == "\x1b[46mhi\x1b[0m"
    assert colorize("hi", "") == "hi"
    monkeypatch.setenv("NO_COLOR", "1")
    assert colorize("hi", "green") == "hi"


def test_assigned_data_dir_wins_until_deleted(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(user_config.DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    user_config.DEFAULT_DATA_DIR = "/fixed"  # type: ignore[attr-defined]
    try:
        from slc_tui.user_config import DEFAULT_DATA_DIR  # type: ignore[attr-defined]

        assert DEFAULT_DATA_DIR == "/fixed" == user_config.default_data_dir()
    finally:
        del user_config.DEFAULT_DATA_DIR  # type: ignore[attr-defined]
    assert user_config.default_data_dir() == os.path.join(os.getcwd(), "data")
