"""Grid files: the valid format loads into the right grid and options; bad input is one message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slc_tui.gridfile import GridFileError, GridSpec, load_grid, load_grids
from slc_tui.gridfile_lines import LineMap, syntax_location

HEAD = '[grid]\nname = "g"\nthunk = "json:dumps"\n\n[params]\nseed = [0, 10]\n'
"""A minimal valid file (the [params] header is line 5); tests append lines to it."""

FULL = """\
# a full grid file
[grid]
name = "cartpole"
thunk = "train.py:train"
num_cpu = 2
data_dir = "out/data"
datestamp = true

[params]
env_name = "CartPole-v1"
seed = [0, 10,
        20]
"ac_kwargs:hidden_sizes" = [[8], [16, 16]]
pop_size = { values = [16, 32], shorthand = "pop", in_name = true }
hid = [[64, 64]]  # one list value
lr = { values = 0.1, in_name = true }

[run]
max_cpus = 4
retries = 2
timeout = 1.5
fail_fast = true
backend = "slurm"
oversubscribe = true
mpiexec = "/usr/bin/mpiexec"

[slurm]
partition = "short"
mem = "4G"
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(text: str, name: str = "g.toml") -> str:
    """Write a grid file into the (temporary) current directory; return its relative path."""
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(textwrap.dedent(text))
    return name


def error(text: str, check_thunk: bool = True) -> GridFileError:
    """The error of loading ``text`` as g.toml."""
    with pytest.raises(GridFileError) as info:
        load_grid(write(text), check_thunk=check_thunk)
    return info.value


def test_full_file_gives_grid_options_and_lines(tmp_path: Path) -> None:
    Path("train.py").write_text("def train(**kw):\n    return kw\n")
    spec = load_grid(write(FULL))
    assert isinstance(spec, GridSpec)
    assert spec.path == tmp_path / "g.toml"
    assert (spec.name, spec.num_cpu, spec.datestamp) == ("cartpole", 2, True)
    assert spec.thunk == f"{tmp_path / 'train.py'}:train"
    assert spec.data_dir == tmp_path / "out" / "data"
    g = spec.grid
    assert g.keys == ["env_name", "seed", "ac_kwargs:hidden_sizes", "pop_size", "hid", "lr"]
    assert g.vals == [["CartPole-v1"], [0, 10, 20], [[8], [16, 16]], [16, 32], [[64, 64]], [0.1]]
    assert g.shs == ["env", "see", "ac-hid", "pop", "hid", "lr"]
    assert g.in_names == [False, False, False, True, False, True]
    variants = g.variants()
    assert len(variants) == 12
    assert variants[0]["ac_kwargs"] == {"hidden_sizes": [8]}
    assert g.variant_name(variants[0]) == "cartpole_ac-hid8_pop16_lr0-1"
    o = spec.options
    assert (o.max_cpus, o.retries, o.timeout, o.fail_fast) == (4, 2, 1.5, True)
    assert (o.backend, o.oversubscribe, o.mpiexec) == ("slurm", True, "/usr/bin/mpiexec")
    assert (o.slurm["partition"], o.slurm["mem"]) == ("short", "4G")  # checked by the backend
    lines = spec.line_of
    assert lines["grid"] == 2 and lines["params"] == 9 and lines["run"] == 18
    assert lines["params.seed"] == 11 and lines["params.ac_kwargs:hidden_sizes"] == 13
    assert lines["params.pop_size"] == 14 and lines["run.mpiexec"] == 25


def test_defaults_and_scalars() -> None:
    spec = load_grid(write(HEAD + "env_name = 'x'\n"))
    assert (spec.num_cpu, spec.datestamp, spec.data_dir) == (1, False, Path.cwd() / "data")
    assert spec.thunk == "json:dumps"
    assert spec.grid.vals == [[0, 10], ["x"]]
    assert spec.options.max_cpus == "auto" and spec.options.slurm == {}
    assert load_grid(write(HEAD.replace("name", "num_cpu = 'auto'\nname"))).num_cpu == "auto"


def test_loading_creates_nothing_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    Path("sub").mkdir()
    Path("sub/nothing_written.py").write_text("def train():\n    pass\n")
    path = write(HEAD.replace("json:dumps", "nothing_written.py:train"), "sub/g.toml")
    before = sorted(tmp_path.rglob("*"))
    spec = load_grid(path)
    assert sorted(tmp_path.rglob("*")) == before
    assert not spec.data_dir.exists() and not (tmp_path / "sub" / "__pycache__").exists()


def test_thunk_file_next_to_grid_first_then_cwd(tmp_path: Path) -> None:
    Path("grids").mkdir()
    for folder in (tmp_path / "grids", tmp_path):
        (folder / "both.py").write_text("def train():\n    pass\n")
    Path("only_cwd.py").write_text("def train():\n    pass\n")
    both = load_grid(write(HEAD.replace("json:dumps", "both.py:train"), "grids/a.toml"))
    assert both.thunk == f"{tmp_path / 'grids' / 'both.py'}:train"
    cwd = load_grid(write(HEAD.replace("json:dumps", "only_cwd.py:train"), "grids/b.toml"))
    assert cwd.thunk == f"{tmp_path / 'only_cwd.py'}:train"
    e = error(HEAD.replace("json:dumps", "missing.py:train"))
    assert str(e).startswith("g.toml:3: [grid] thunk: no file missing.py next to the grid file")
    unchecked = load_grid("g.toml", check_thunk=False)
    assert unchecked.thunk == f"{tmp_path / 'missing.py'}:train"


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("no_such_module_xyz:train", "cannot be imported: ModuleNotFoundError"),
        ("math:pi", "is not callable"),
        ("json:nope", "has no attribute 'nope'"),
        ("json", "must look like 'module:function'"),
        ("", "is not a non-empty string"),
    ],
)
def test_bad_thunk(ref: str, says: str) -> None:
    e = error(HEAD.replace("json:dumps", ref))
    assert str(e).startswith("g.toml:3: [grid] thunk: ") and says in str(e)
    assert (e.key, e.line) == ("grid.thunk", 3)


def test_check_thunk_false_skips_import() -> None:
    spec = load_grid(
        write(HEAD.replace("json:dumps", "no_such_module_xyz:train")), check_thunk=False
    )
    assert spec.thunk == "no_such_module_xyz:train"


def test_syntax_errors_give_line_and_column() -> None:
    e = error(HEAD + "lr = [0.1, 0.2\nx = 1\n")
    assert str(e).startswith("g.toml:8:1: TOML syntax error: ") and e.line == 8
    e = error(HEAD + "seed = 1\n")
    assert str(e).startswith("g.toml:7:") and "a key is given twice" in str(e)
    e = error(HEAD + "lr = [0.1, 0.2")
    assert str(e) == "g.toml:7: TOML syntax error: Unclosed array at the end of the file"
    assert syntax_location("odd", "") == ("odd", None, None)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GridFileError, match=r"^nope\.toml: no such grid file$"):
        load_grid("nope.toml")
    with pytest.raises(GridFileError, match="is a directory"):
        load_grid(tmp_path)
    Path("bin.toml").write_bytes(b"[grid]\nname = '\xff'\n")
    with pytest.raises(GridFileError, match=r"^bin\.toml:2: not UTF-8 text$"):
        load_grid("bin.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[params]\nseed = 1\n", "g.toml: the [grid] table is missing"),
        ('[grid]\nname = "g"\nthunk = "json:dumps"\n', "g.toml: the [params] table is missing"),
        (HEAD.replace("seed = [0, 10]\n", ""), "g.toml:5: [params]: no parameters"),
        (HEAD.replace('name = "g"\n', ""), "g.toml:1: [grid]: the key name is missing"),
        (HEAD.replace('thunk = "json:dumps"\n', ""), "g.toml:1: [grid]: the key thunk is missing"),
        (HEAD + "[runs]\nretries = 1\n", "g.toml:7: [runs]: unknown table (did you mean [run]?)"),
        (HEAD.split("[params]")[0] + "[[params]]\nx = 1\n", "g.toml: [params]: must be a table"),
        ('name = "g"\n' + HEAD, "g.toml:1: name: a key outside any table; name belongs in [grid]"),
        ("lr = 1\n" + HEAD, "g.toml:1: lr: a key outside any table; parameters go under [params]"),
        (HEAD.replace("name", "nmae"), "g.toml:2: [grid] nmae: unknown key (did you mean name?)"),
        (
            HEAD.replace("[params]", "max_cpus = 2\n[params]"),
            "g.toml:5: [grid] max_cpus: unknown key; max_cpus belongs in [run]",
        ),
        (HEAD + "[run]\nnum_cpu = 2\n", "g.toml:8: [run] num_cpu: unknown key; num_cpu belongs"),
        (HEAD + "[run]\nretry = 2\n", "g.toml:8: [run] retry: unknown key (did you mean retries?)"),
        (HEAD + "[slurm]\n", ""),  # an empty [slurm] table is fine
    ],
)
def test_tables_and_keys(text: str, message: str) -> None:
    if not message:
        assert load_grid(write(text)).options.slurm == {}
        return
    e = error(text)
    assert str(e).startswith(message), str(e)


def test_unknown_key_lists_allowed_keys() -> None:
    e = error(HEAD.replace("name", "nmae"))
    assert str(e).endswith(
        "the allowed keys are name, thunk, num_cpu, gpus_per_run, data_dir, datestamp"
    )
    assert (e.key, e.line, e.path) == ("grid.nmae", 2, Path.cwd() / "g.toml")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("num_cpu = 0", '[grid] num_cpu: 0 is not a CPU count; give a whole number >= 1 or "auto"'),
        ('num_cpu = "four"', '[grid] num_cpu: "four" is not a CPU count'),
        ("num_cpu = true", "[grid] num_cpu: true is not a CPU count"),
        ('datestamp = "yes"', '[grid] datestamp: "yes" is not a boolean; write true or false'),
        ("data_dir = 3", "[grid] data_dir: 3 is not a non-empty string"),
        ('name = "a/b"', '[grid] name: "a/b" cannot serve as a file name'),
        ('name = ".hidden"', '[grid] name: ".hidden" cannot serve as a file name'),
        ('name = ""', '[grid] name: "" is not a non-empty string'),
    ],
)
def test_wrong_types_in_grid(line: str, message: str) -> None:
    rest = "" if line.startswith("name") else 'name = "g"\n'
    e = error(f'[grid]\n{line}\n{rest}thunk = "json:dumps"\n[params]\nseed = 1\n')
    assert str(e).startswith(f"g.toml:2: {message}"), str(e)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("retries = -1", "[run] retries: -1 is not allowed here; give a whole number >= 0"),
        ("retries = 1.5", "[run] retries: 1.5 is not allowed here"),
        ("timeout = -1", "[run] timeout: -1 is not allowed here; give a number of seconds >= 0"),
        ("timeout = inf", "[run] timeout: inf is not allowed here"),
        ('backend = "k8s"', '[run] backend: "k8s" is not a backend; use one of local, slurm'),
        ("max_cpus = 0", "[run] max_cpus: 0 is not a CPU count"),
        ("fail_fast = 1", "[run] fail_fast: 1 is not a boolean"),
        ("oversubscribe = 'no'", '[run] oversubscribe: "no" is not a boolean'),
        ('mpiexec = ""', '[run] mpiexec: "" is not a non-empty string'),
    ],
)
def test_wrong_types_in_run(line: str, message: str) -> None:
    e = error(HEAD + f"[run]\n{line}\n")
    assert str(e).startswith(f"g.toml:8: {message}"), str(e)
    assert e.key == "run." + line.split(" ")[0] and e.line == 8


def test_slurm_must_be_a_table() -> None:
    e = error(HEAD.replace("[grid]", "slurm = 3\n[grid]"))
    assert str(e).startswith("g.toml:1: [slurm]: must be a table")


@pytest.mark.parametrize("key", ["num_cpu", "data_dir", "datestamp", "exp_name", "thunk"])
def test_reserved_keys_in_params(key: str) -> None:
    e = error(HEAD + f"{key} = 1\n")
    assert str(e).startswith(f"g.toml:7: [params] {key}: {key} is not a parameter: ")
    if key in ("num_cpu", "data_dir", "datestamp", "thunk"):
        assert "it belongs in [grid]" in str(e)
    e = error(HEAD + f'"{key}:x" = 1\n')
    assert str(e).startswith(f"g.toml:7: [params] {key}:x: {key} is not a parameter")


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('"logger_kwargs:output_dir" = "x"', "slc-tui sets each run's logger_kwargs output_dir"),
        ('"logger_kwargs:exp_name" = "x"', "slc-tui sets each run's logger_kwargs exp_name"),
        ('"logger_kwargs:output_dir:a" = "x"', "slc-tui sets each run's logger_kwargs output_dir"),
        ("logger_kwargs = 1", "logger_kwargs takes dicts, not 1; or set one key of it"),
        ('logger_kwargs = [{ output_dir = "x" }]', "slc-tui sets each run's logger_kwargs"),
    ],
)
def test_logger_kwargs_keys_are_parameters_but_not_the_runs_own(line: str, says: str) -> None:
    key = line.split(" = ")[0].strip('"')
    e = error(HEAD + f"{line}\n")
    assert str(e).startswith(f"g.toml:7: [params] {key}: {says}"), str(e)
    assert (e.key, e.line) == (f"params.{key}", 7)


def test_empty_values() -> None:
    e = error(HEAD + "\npop_size = []\n")
    expected = "g.toml:8: [params] pop_size: an empty list of values; give at least one value"
    assert str(e) == expected
    assert (e.key, e.line) == ("params.pop_size", 8)
    e = error(HEAD + "pop_size = { values = [], in_name = true }\n")
    assert str(e) == (
        "g.toml:7: [params] pop_size.values: an empty list of values; give at least one value"
    )


def test_option_form_values_scalar_or_array() -> None:
    spec = load_grid(
        write(HEAD + "a = { values = 3 }\nb = { values = [[1, 2]], shorthand = '' }\n")
    )
    assert spec.grid.vals[1:] == [[3], [[1, 2]]]
    assert spec.grid.shs[1:] == ["a", ""]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p = { values = [1], shorthnd = 'x' }", "[params] p.shorthnd: unknown key (did you mean"),
        ("p = { shorthand = 'x' }", "[params] p: the option table needs values = ..."),
        ("p = { values = [1], shorthand = 3 }", "[params] p.shorthand: 3 is not a string"),
        ("p = { values = [1], in_name = 'yes' }", '[params] p.in_name: "yes" is not a boolean'),
        ("p = { values = { a = 1 } }", "[params] p.values: a table is not a value"),
        ("ac_kwargs = { hidden_sizes = [8] }", "[params] ac_kwargs.hidden_sizes: a table under"),
        ("ac_kwargs.hidden_sizes = [8]", "[params] ac_kwargs.hidden_sizes: a table under"),
    ],
)
def test_bad_option_tables(line: str, message: str) -> None:
    e = error(HEAD + line + "\n")
    assert str(e).startswith(f"g.toml:7: {message}"), str(e)


def test_dict_valued_hint_and_sub_table_line() -> None:
    e = error(HEAD + "\n[params.ac_kwargs]\n\nhidden_sizes = [8]\n")
    assert str(e).startswith("g.toml:10: [params] ac_kwargs.hidden_sizes: ")
    assert str(e).endswith('write a dict-valued parameter as "ac_kwargs:hidden_sizes" = ...')


@pytest.mark.parametrize(
    "lines", ['a = 1\n"a:b" = 2\n', '"a:b" = 2\na = 1\n', '"a:b:c" = 1\n"a:b" = 2\n']
)
def test_key_and_sub_key_clash(lines: str) -> None:
    e = error(HEAD + lines)
    assert str(e).startswith("g.toml:8: [params] ") and "keep only one" in str(e)


def test_empty_key_part() -> None:
    e = error(HEAD + '"a::b" = 1\n')
    assert str(e).startswith("g.toml:7: [params] a::b: an empty part between ':'")


def test_load_grids_rejects_same_name_and_data_dir() -> None:
    write(HEAD, "a.toml")
    write(HEAD, "b.toml")
    write(HEAD.replace("[params]", 'data_dir = "other"\n[params]'), "c.toml")
    assert [s.shown_path for s in load_grids(["a.toml", "c.toml"])] == ["a.toml", "c.toml"]
    with pytest.raises(GridFileError) as info:
        load_grids(["a.toml", "b.toml"])
    assert str(info.value).startswith('b.toml:2: [grid] name: "g" is also the name of a.toml')
    with pytest.raises(
        GridFileError, match=r"^\./a\.toml: the grid file is given twice \(also as a\.toml\)$"
    ):
        load_grids(["a.toml", "./a.toml"])


def test_spec_error_for_later_checks() -> None:
    spec = load_grid(write(HEAD))
    e = spec.error("params.seed", "two runs would share one output directory")
    assert str(e) == "g.toml:6: [params] seed: two runs would share one output directory"
    assert str(spec.error("params.nope", "x")) == "g.toml: [params] nope: x"


def test_line_map_skips_strings_arrays_and_ambiguity() -> None:
    text = textwrap.dedent(
        '''\
        [grid]
        doc = """
        fake = 1
        [params]
        """
        arr = [
          [8]
        ]
        'lit.key' = 1
        "esc\\u0041" = 2
        x = "[" # [y]
        y = 3
        [ params . sub ]
        a.b = 1
        [[runs]]
        z = 1
        [[runs]]
        z = 2
        '''
    )
    lines = LineMap(text)
    assert lines.headers == {("grid",): 1, ("params", "sub"): 13, ("runs", "0"): 15,
                             ("runs", "1"): 17}  # fmt: skip
    assert lines.keys == {
        ("runs", "0", "z"): 16,
        ("runs", "1", "z"): 18,
        ("grid", "doc"): 2,
        ("grid", "arr"): 6,
        ("grid", "lit.key"): 9,
        ("grid", "escA"): 10,
        ("grid", "x"): 11,
        ("grid", "y"): 12,
        ("params", "sub", "a", "b"): 14,
    }
    assert lines.line(("grid", "arr", "values")) == 6
    assert lines.line(("nope", "x")) is None
    twice = LineMap("x = 1\nx = 2\n[a]\n[a]\n")
    assert twice.keys == {} and twice.headers == {}
    assert LineMap('"a.b" = 1\n[a]\nb = 2\n').as_dict() == {"a": 2}


def test_import_is_cheap() -> None:
    code = "import sys, slc_tui.gridfile; print('tomllib' in sys.modules, 'tomli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_bad_slurm_table_names_the_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[grid]\nname = "s"\nthunk = "slc_tui.examples.cem:train"\n[params]\nseed = 0\n'
        '[run]\nbackend = "slurm"\n[slurm]\npartition = "debug"\nmax_jobs = 0\n'
    )
    with pytest.raises(GridFileError) as err:
        load_grid(path)
    assert str(err.value) == f"{path}:10: [slurm] max_jobs must be an integer >= 1, not 0"
    path.write_text(path.read_text().replace("max_jobs = 0", "max_jobs = 4"))
    assert load_grid(path).options.slurm["max_jobs"] == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("when = 1979-05-27T07:32:00Z", "g.toml:7: [params] when: 1979-05-27T07:32:00+00:00 is a"),
        ("day = [1979-05-27]", "g.toml:7: [params] day: 1979-05-27 is a TOML date or time, which"),
        ("t = { values = [07:32:00] }", "g.toml:7: [params] t.values: 07:32:00 is a TOML date"),
        ('env = "a\\u0000b"', 'g.toml:7: [params] env: "a\\u0000b" has a NUL byte'),
        ('hid = [["x", "\\u0000"]]', 'g.toml:7: [params] hid: "\\u0000" has a NUL byte'),
        ('"k\\u0000" = 1', "g.toml:7: [params]: the key 'k\\x00' has a NUL byte"),
    ],
)
def test_dates_and_nul_bytes_are_refused_with_their_line(line: str, message: str) -> None:
    e = error(HEAD + line + "\n")
    assert str(e).startswith(message), str(e)
    assert "\0" not in str(e)


def test_a_nul_byte_in_grid_or_run_strings_is_refused() -> None:
    e = error(HEAD.replace('"json:dumps"', '"json:du\\u0000mps"'))
    assert str(e).startswith('g.toml:3: [grid] thunk: "json:du\\u0000mps" has a NUL byte')
    e = error(HEAD + '[run]\nmpiexec = "/x\\u0000"\n')
    assert str(e).startswith("g.toml:8: [run] mpiexec: ")


def test_grid_names_share_the_python_rule() -> None:
    from slc_tui.serialization import name_problem

    for name in ("../x", ".x", "-x", "a/b", "x" * 201):
        assert name_problem(name)
        assert "cannot serve as a file name" in str(error(HEAD.replace('"g"', f'"{name}"')))
    assert name_problem("") is not None and name_problem("", empty=True) is None
