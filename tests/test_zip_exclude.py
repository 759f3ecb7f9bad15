"""Keys that vary together (``ExperimentGrid.zip``, ``[[zip]]``) and combinations left out
(``ExperimentGrid.exclude``, ``[[exclude]]``): the reference's naming rules still hold, seeds
still cross everything, planning stays linear and lazy."""

from __future__ import annotations

import itertools
import json
import pickle
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import cli, write_grid

from slc_tui.grid_keys import unflatten
from slc_tui.grid_space import same
from slc_tui.gridfile import GridFileError, load_grid
from slc_tui.plan import PlanError, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.spinup_args import to_toml


def _grid() -> ExperimentGrid:
    grid = ExperimentGrid("g")
    grid.add("lr", [1e-3, 1e-4, 1e-5])
    grid.add("pop_size", [8, 16], shorthand="pop")
    grid.add("batch", [32, 64, 128], shorthand="bs")
    grid.add("seed", [0, 10])
    return grid


def brute(grid: ExperimentGrid) -> list[dict[str, Any]]:
    """The variants by definition: the plain product in key order, without the combinations
    whose zipped keys take different positions or that an exclude matches."""
    keys, vals = grid.keys, grid.vals
    out = []
    for combo in itertools.product(*(range(len(v)) for v in vals)):
        at = dict(zip(keys, combo))
        if any(len({at[k] for k in group}) > 1 for group in grid.zipped):
            continue
        flat = {k: vals[i][d] for i, (k, d) in enumerate(at.items())}
        if any(all(same(v, flat[k]) for k, v in e.items()) for e in grid.excluded):
            continue
        out.append(unflatten(flat))
    return out


def check_everything_agrees(grid: ExperimentGrid, tmp_path: Path) -> None:
    """Every way to read the grid (in order, by index, lazy rows and groups) agrees with
    :func:`brute`."""
    expected = brute(grid)
    assert grid.variants() == expected
    assert grid.variant_count() == len(expected)
    for i in {0, 1, len(expected) // 2, len(expected) - 1, -1}:
        if -len(expected) <= i < len(expected):
            assert grid.variant_at(i) == expected[i]
    parts = grid.name_parts()
    for i, variant in enumerate(expected):
        text = "".join(p[d] for p, d in zip(parts, grid.digits(i)) if p)
        assert (grid.grid_name + text).lstrip("_") == grid.variant_name(variant)
    names = [grid.variant_name(v) + f"_s{v.get('seed', 0)}" for v in expected]
    if len(set(names)) < len(names):  # repeated values (a random grid): the planner refuses
        with pytest.raises(PlanError, match="would share the output directory"):
            plan_grid(grid, "m:f", data_dir=tmp_path, lazy=True)
        return
    eager = plan_grid(grid, "m:f", data_dir=tmp_path)
    lazy = plan_grid(grid, "m:f", data_dir=tmp_path, lazy=True)
    rows = [(r.variant, r.name, r.output_dir) for r in eager.runs]
    assert [r.variant for r in eager.runs] == [grid.variant_name(v) for v in expected]
    assert list(lazy.rows()) == rows
    assert list(lazy.groups()) == list(eager.groups())
    assert [lazy.runs[i].kwargs for i in range(len(rows))] == [r.kwargs for r in eager.runs]


def test_zipped_keys_pair_value_by_value_and_keep_their_names(tmp_path: Path) -> None:
    grid = _grid()
    grid.zip("lr", "batch")
    names = [r.name for r in plan_grid(grid, "m:f", data_dir=tmp_path).runs]
    assert names == [
        f"g_lr{lr}_pop{pop}_bs{bs}_s{s}"
        for lr, bs in [("0-001", 32), ("0-0001", 64), ("1e-05", 128)]
        for pop in (8, 16)
        for s in (0, 10)
    ]
    assert grid.zipped == [["lr", "batch"]]
    check_everything_agrees(grid, tmp_path)


def test_excluded_combinations_do_not_appear_and_seeds_cross_the_rest(tmp_path: Path) -> None:
    grid = _grid()
    grid.zip("lr", "batch")
    grid.exclude({"lr": 1e-4, "pop_size": 8})
    grid.exclude({"batch": 128})
    variants = sorted({r.variant for r in plan_grid(grid, "m:f", data_dir=tmp_path).runs})
    assert variants == ["g_lr0-0001_pop16_bs64", "g_lr0-001_pop16_bs32", "g_lr0-001_pop8_bs32"]
    assert grid.variant_count() == 3 * 2
    check_everything_agrees(grid, tmp_path)


def test_zipped_keys_need_not_be_neighbours_and_groups_merge(tmp_path: Path) -> None:
    grid = ExperimentGrid("m")
    grid.add("a", [1, 2])
    grid.add("seed", [0, 1, 2])
    grid.add("b", [True, False])
    grid.add("c", ["x", "y"], in_name=True)
    grid.add("d", [5, 6, 7])
    grid.zip("a", "c")
    grid.zip("c", "b")
    assert grid.zipped == [["a", "b", "c"]]
    assert [grid.variant_name(v) for v in grid.variants()][::9] == ["m_a1_b_cx_d5", "m_a2_cy_d5"]
    check_everything_agrees(grid, tmp_path)


def test_random_grids_agree_with_the_definition(tmp_path: Path) -> None:
    rng = random.Random(7)
    for trial in range(60):
        grid = ExperimentGrid(f"r{trial}")
        sizes = [rng.choice([1, 2, 3]) for _ in range(rng.randint(2, 5))]
        for i, size in enumerate(sizes):
            grid.add(f"k{i}", [rng.randint(0, 2) * 10 + j for j in range(size)])
            if i == 1:
                grid.add("seed", list(range(rng.randint(1, 3))))
        grid.vals[0] = [0] * len(grid.vals[0])  # repeated values: an exclude matches several
        for size in set(sizes):
            same_size = [k for k, v in zip(grid.keys, grid.vals) if k != "seed" and len(v) == size]
            if len(same_size) > 1 and rng.random() < 0.7:
                grid.zip(*rng.sample(same_size, 2))
        for _ in range(rng.randint(0, 3)):
            keys = rng.sample([k for k in grid.keys if k != "seed"], rng.randint(1, 2))
            exclude = {k: rng.choice(grid.vals[grid.keys.index(k)]) for k in keys}
            try:
                grid.exclude(exclude)
            except ValueError as exc:
                assert "no variant" in str(exc)
                trial_grid = ExperimentGrid("t")
                trial_grid.__dict__.update({**grid.__dict__, "excluded": [*grid.excluded, exclude]})
                assert not brute(trial_grid) or "vary together" in str(exc)
        check_everything_agrees(grid, tmp_path)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda g: g.zip("lr"), "zip: give two or more keys"),
        (lambda g: g.zip("lr", "lrr"), r"zip: 'lrr' is not a parameter of the grid \(did you mean"),
        (lambda g: g.zip("lr", "seed"), "zip: seed cannot be zipped: every variant runs with"),
        (lambda g: g.zip("lr", "lr"), "zip: 'lr' is given twice"),
        (lambda g: g.zip("lr", "pop_size"), "zip: 'lr' has 3 values but 'pop_size' has 2"),
        (lambda g: g.exclude({}), "exclude: give at least one key: value"),
        (
            lambda g: g.exclude({"pop": 8}),
            r"exclude: 'pop' is not a parameter of the grid \(it is the shorthand of 'pop_size'\)",
        ),
        (lambda g: g.exclude({"pop_sze": 8}), r"exclude: 'pop_sze' is not .* \(did you mean 'pop"),
        (lambda g: g.exclude({"seed": 0}), "exclude: seed cannot be left out"),
        (lambda g: g.exclude({"pop_size": 9}), r"exclude: 9 is not one of the values of 'pop_s"),
        (lambda g: g.exclude({"pop_size": True}), "exclude: True is not one of the values"),
        (
            lambda g: g.exclude({"pop_size": 8}) or g.exclude({"pop_size": 16}),
            "exclude pop_size=16: the excludes would leave the grid no variant",
        ),
    ],
)
def test_bad_zips_and_excludes_are_value_errors(call: Any, says: str) -> None:
    grid = _grid()
    with pytest.raises(ValueError, match=f"^{says}"):
        call(grid)
    assert grid.zipped == [] and grid.excluded in ([], [{"pop_size": 8}])
    assert grid.variant_count() in (36, 18)  # the grid is as before the call that failed


def test_a_zip_that_would_make_an_exclude_match_nothing_is_refused() -> None:
    grid = _grid()
    grid.exclude({"lr": 1e-4, "batch": 32})
    with pytest.raises(ValueError, match=r"no variant has these values together \('lr' and "):
        grid.zip("lr", "batch")
    assert grid.zipped == [] and grid.variant_count() == 36 - 4
    with pytest.raises(TypeError, match="exclude: give a dict of key: value, not list"):
        grid.exclude([("lr", 1e-4)])  # type: ignore[arg-type]


def test_print_says_what_varies_together_and_what_is_left_out(capsys: Any) -> None:
    grid = _grid()
    grid.zip("lr", "batch")
    grid.exclude({"lr": 1e-4, "pop_size": 8})
    grid.print()
    out = capsys.readouterr().out
    assert " Vary together:".ljust(41) + "lr, batch" in out
    assert " Left out:".ljust(41) + "lr=0.0001, pop_size=8" in out
    assert " Variants, counting seeds: ".ljust(41) + "10" in out
    assert " Variants, not counting seeds: ".ljust(41) + "5" in out


def test_a_pickled_grid_rebuilds_its_combinations() -> None:
    grid = _grid()
    grid.zip("lr", "batch")
    grid.exclude({"pop_size": 8, "lr": 1e-3})
    back = pickle.loads(pickle.dumps(grid))
    assert back._space is None and back.variants() == grid.variants()


FILE = """\
[grid]
name = "z"
thunk = "m:f"

[params]
lr = [1e-3, 1e-4, 1e-5]
pop_size = { values = [8, 16], shorthand = "pop" }
batch = { values = [32, 64, 128], shorthand = "bs" }
seed = [0, 10]

[[zip]]
keys = ["lr", "batch"]

[[exclude]]
lr = 1e-4
pop_size = 8
"""


def _load(tmp_path: Path, text: str) -> Any:
    (tmp_path / "z.toml").write_text(text)
    return load_grid(tmp_path / "z.toml", check_thunk=False)


def test_a_grid_file_zips_and_excludes_as_python_does(tmp_path: Path) -> None:
    spec = _load(tmp_path, FILE.replace('name = "z"', 'name = "g"'))
    grid = _grid()
    grid.zip("lr", "batch")
    grid.exclude({"lr": 1e-4, "pop_size": 8})
    assert spec.grid.variants() == grid.variants()
    assert [spec.grid.variant_name(v) for v in spec.grid.variants()] == [
        grid.variant_name(v) for v in grid.variants()
    ]
    (tmp_path / "back.toml").write_text(to_toml(spec.grid, "m:f", {}))
    back = load_grid(tmp_path / "back.toml", check_thunk=False).grid
    assert (back.zipped, back.excluded) == (spec.grid.zipped, spec.grid.excluded)
    assert back.variants() == grid.variants()


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('keys = ["lr", "batch"]', 'keys = ["lr", "pop_size"]',
         "z.toml:12: [[zip]] keys: 'lr' has 3 values but 'pop_size' has 2; keys that vary"),
        ('keys = ["lr", "batch"]', 'keys = ["lr", "btch"]',
         "z.toml:12: [[zip]] keys: 'btch' is not a parameter of the grid (did you mean 'batch'?)"),
        ('keys = ["lr", "batch"]', 'keys = "lr"',
         'z.toml:12: [[zip]] keys: give the names of the parameters that vary together'),
        ('keys = ["lr", "batch"]', 'key = ["lr", "batch"]',
         "z.toml:12: [[zip]] key: unknown key (did you mean keys?); a [[zip]] table holds only"),
        ("[[zip]]", "[zip]", "z.toml:11: [[zip]]: must be an array of tables: write [[zip]] on"),
        ("pop_size = 8", "pop_size = 9",
         "z.toml:16: [[exclude]] pop_size: 9 is not one of the values of 'pop_size' (8, 16)"),
        ("pop_size = 8", "pop = 8",
         "z.toml:16: [[exclude]] pop: 'pop' is not a parameter of the grid (it is the shorthand"),
        ("pop_size = 8", "seed = 0", "z.toml:16: [[exclude]] seed: seed cannot be left out"),
        ("pop_size = 8", "batch = 32",
         "z.toml:14: [[exclude]]: no variant has these values together ('lr' and 'batch' vary"),
        ("lr = 1e-4\npop_size = 8", "", "z.toml:14: [[exclude]]: is empty; give the values"),
        ("lr = 1e-4\npop_size = 8", "pop_size = 8\n[[exclude]]\npop_size = 16",
         "z.toml:16: [[exclude]]: the excludes would leave the grid no variant"),
    ],
)  # fmt: skip
def test_bad_zip_and_exclude_tables_name_file_and_line(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    with pytest.raises(GridFileError) as err:
        _load(tmp_path, FILE.replace(old, new))
    assert str(err.value).startswith(f"{tmp_path / 'z.toml'}".replace("z.toml", "") + says), str(
        err.value
    )


def test_the_command_line_runs_exactly_the_kept_combinations(in_tmp: Path) -> None:
    params = (
        'lr = [1, 2, 3]\nbatch = { values = [32, 64, 128], shorthand = "bs" }\n'
        'pop = [8, 16]\nseed = [0, 1]\n\n[[zip]]\nkeys = ["lr", "batch"]\n\n'
        "[[exclude]]\nlr = 2\npop = 16\n"
    )
    grid = write_grid(in_tmp / "cl.toml", "cl", "record", params)
    dry = subprocess.run(cli(str(grid), "--dry-run"), capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert f"cl  (10 runs, 5 variants, {grid})" in dry.stdout
    assert " Vary together: " in dry.stdout and "cl_lr2_bs64_pop16" not in dry.stdout
    res = subprocess.run(cli(str(grid), "--no-ui", "--max-cpus", "2"), capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    got = sorted(
        (r["kwargs"]["lr"], r["kwargs"]["batch"], r["kwargs"]["pop"], r["seed"])
        for r in (json.loads(p.read_text()) for p in Path("data").glob("*/*/received.json"))
    )
    assert got == sorted(
        (lr, bs, pop, s)
        for lr, bs in [(1, 32), (2, 64), (3, 128)]
        for pop in (8, 16)
        for s in (0, 1)
        if (lr, pop) != (2, 16)
    )


def test_experiment_grid_run_runs_the_kept_combinations(in_tmp: Path) -> None:
    grid = ExperimentGrid("er")
    grid.add("lr", [1, 2])
    grid.add("batch", [32, 64], shorthand="bs")
    grid.add("pop", [8, 16])
    grid.zip("lr", "batch")
    grid.exclude({"lr": 1, "pop": 16})
    grid.run("engine_thunks:record", data_dir="data", max_cpus=2)
    assert sorted(p.name for p in Path("data").iterdir() if not p.name.startswith(".")) == [
        "er_lr1_bs32_pop8",
        "er_lr2_bs64_pop16",
        "er_lr2_bs64_pop8",
    ]


def test_a_million_combinations_with_zips_and_excludes_plan_lazily(tmp_path: Path) -> None:
    grid = ExperimentGrid("big")
    grid.add("seed", list(range(10)))
    grid.add("lr", list(range(100)))
    grid.add("width", list(range(1000)))
    grid.add("depth", list(range(1000)))
    grid.zip("width", "depth")
    grid.exclude({"lr": 5})
    grid.exclude({"lr": 7, "width": 3})
    start = time.perf_counter()
    n = grid.variant_count()
    assert n == 10 * 99 * 1000 - 10
    lazy = plan_grid(grid, "m:f", data_dir=tmp_path, lazy=True).runs
    last = lazy[-1]
    assert last.name == "big_lr99_wid999_dep999_s9" and lazy[n // 2].idx == n // 2
    assert lazy[5 * (n // 10)].name == "big_lr0_wid0_dep0_s5"  # seed is the slowest key
    assert lazy[7 * 1000 - 1].name == "big_lr8_wid0_dep0_s0"  # lr 5 and (7, 3) left out
    assert time.perf_counter() - start < 10
