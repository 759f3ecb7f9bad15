"""Planning at any grid size: lazy runs equal the eager ones, packing is linear and exact,
a huge dry run is a summary in bounded memory, a budget far beyond the machine is refused."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from engine_helpers import cli, write_grid

from slc_tui import cpus, dryrun
from slc_tui.cli import FULL_LIMIT
from slc_tui.cpus import MAX_BUDGET, PER_CPU, iter_waves, pack_summary
from slc_tui.errors import SweepError
from slc_tui.options import RunOptions
from slc_tui.plan import GridPlan, LazyRuns, plan_grid
from slc_tui.run_utils import ExperimentGrid
from slc_tui.sweep.prepare import engine_budget, from_grid


def _reference_waves(sizes: list[int], budget: int) -> list[list[int]]:
    """The quadratic packing the engine's start rule implies (what pack_waves used to be)."""
    waves, pending = [], list(range(len(sizes)))
    while pending:
        free, wave, rest = budget, [], []
        for i in pending:
            need = min(sizes[i], budget)
            if need <= free:
                wave.append(i)
                free -= need
            else:
                rest.append(i)
        waves.append(wave)
        pending = rest
    return waves


def _segments(sizes: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for size in sizes:
        if out and out[-1][1] == size:
            out[-1] = (out[-1][0] + 1, size)
        else:
            out.append((1, size))
    return out


def test_linear_packing_is_the_engines_packing_exactly() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        sizes = [rng.choice([1, 1, 2, 3, 5]) for _ in range(rng.randrange(0, 40))]
        budget = rng.randrange(1, 7)
        expected = _reference_waves(sizes, budget)
        waves = [
            [i for a, b in w for i in range(a, b)] for w in iter_waves(_segments(sizes), budget)
        ]
        assert waves == expected, (sizes, budget)
        count, widest, first = pack_summary(_segments(sizes), budget, keep=3)
        assert count == len(expected)
        assert widest == max((len(w) for w in expected), default=0)
        assert [[i for a, b in w for i in range(a, b)] for w in first] == expected[:3]


def test_packing_a_million_runs_takes_ranges_not_runs() -> None:
    t0 = time.process_time()
    assert pack_summary([(10**6, 1), (10**6, 2), (10**6, 1)], 4)[:2] == (1_000_000, 4)
    assert pack_summary([(10**6, 3)], 2) == (10**6, 1, [[(0, 1)], [(1, 2)], [(2, 3)]])
    assert time.process_time() - t0 < 5


def _grids() -> list[ExperimentGrid]:
    a = ExperimentGrid("a")
    a.add("env_name", "CartPole-v1")
    a.add("lr", [0.1, 0.01])
    a.add("seed", [0, 10, 20])
    a.add("ac:hid", [[8], [16, 16]], shorthand="hid")
    a.add("flag", [True, False])
    a.add("pop", [16], in_name=True)
    b = ExperimentGrid("b")
    b.add("seed", [3, 4])
    b.add("algo", [print, len], shorthand="")
    c = ExperimentGrid("c")  # no seed key: seed 0
    c.add("x", ["a b", "../c"])
    d = ExperimentGrid("d")
    d.add("seed", [None, 1])  # a seed of None: no seed folder (the slow path)
    d.add("k", [1, 2])
    return [a, b, c, d]


@pytest.mark.parametrize("datestamp", [False, True])
def test_lazy_runs_are_the_eager_runs(
    tmp_path: Path, datestamp: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = time.struct_time((2024, 3, 5, 7, 8, 9, 1, 65, 0))
    monkeypatch.setattr(time, "localtime", lambda *a: frozen)
    for grid in _grids():
        eager = plan_grid(grid, "m:f", data_dir=tmp_path, datestamp=datestamp, start_idx=5)
        lazy = plan_grid(grid, "m:f", data_dir=tmp_path, datestamp=datestamp, start_idx=5,
                         lazy=True)  # fmt: skip
        assert isinstance(lazy.runs, LazyRuns) and isinstance(eager.runs, list)
        assert len(lazy.runs) == len(eager.runs) == grid.variant_count()
        if datestamp:
            assert lazy.runs.stamps == ("2024-03-05_", "2024-03-05_07-08-09-")
        rows = [(r.variant, r.name, r.output_dir) for r in eager.runs]
        assert list(lazy.rows()) == rows == list(eager.rows()), grid.grid_name
        assert list(lazy.groups()) == list(eager.groups())
        for i in (0, 1, -1, len(rows) - 1):
            one, other = lazy.runs[i], eager.runs[i]
            assert (one.name, one.idx, one.kwargs, one.output_dir, one.seed) == (
                other.name, other.idx, other.kwargs, other.output_dir, other.seed)  # fmt: skip
        assert [r.name for r in lazy.runs[1:3]] == [r.name for r in eager.runs[1:3]]


def test_name_parts_give_variant_name() -> None:
    for grid in _grids():
        parts = grid.name_parts()
        for i, variant in enumerate(grid.variants()):
            digits = grid.digits(i)
            text = "".join(p[d] for p, d in zip(parts, digits) if p)
            assert (grid.grid_name + text).lstrip("_") == grid.variant_name(variant)
            assert grid.variant_at(i) == variant


def _big_grid(path: Path, seeds: int, lrs: int, widths: int) -> Path:
    return write_grid(path, "big", "nothing",
                      f"seed = {list(range(seeds))}\nlr = {list(range(lrs))}\n"
                      f"width = {list(range(widths))}")  # fmt: skip


def test_a_huge_dry_run_is_a_summary_in_bounded_time_and_memory(in_tmp: Path) -> None:
    grid = _big_grid(in_tmp / "big.toml", 10, 100, 200)  # 200,000 runs
    code = (
        "import resource, sys, time; from slc_tui.cli import main; t = time.perf_counter(); "
        "rc = main(sys.argv[1:]); sys.stdout.flush(); "
        "print('STATS', rc, time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    )
    argv = [cli()[0], "-c", code, str(grid), "--dry-run", "--max-cpus", "2"]
    res = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    _, rc, wall, rss_kb = res.stderr.split()[-4:]
    assert rc == "0", res.stderr
    out = res.stdout
    assert f"big  (200,000 runs, 20,000 variants, {grid})" in out
    assert "   first  big_lr0_wid0_s0 " in out and "   last   big_lr99_wid199_s9 " in out
    assert "The tree of all 200,000 runs: --dry-run --all." in out
    assert "200,000 runs in 100,000 waves" in out and "  ... 99,997 more waves" in out
    assert len(out.splitlines()) < 30
    assert float(wall) < 30 and int(rss_kb) < 400 * 1024, (wall, rss_kb)
    assert not Path("data").exists()


def test_dry_run_all_prints_every_run_and_small_sweeps_print_in_full(in_tmp: Path) -> None:
    assert dryrun.FULL_LIMIT == FULL_LIMIT
    grid = _big_grid(in_tmp / "b.toml", 2, 3, 200)  # 1,200 runs: over the limit
    full = subprocess.run(cli(str(grid), "--dry-run", "--all"), capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    assert full.stdout.count(" data/big_") == 1200 and "Variants, counting seeds:" in full.stdout
    small = _big_grid(in_tmp / "s.toml", 2, 2, 2)
    res = subprocess.run(cli(str(small), "--dry-run"), capture_output=True, text=True)
    assert res.stdout.count(" data/big_") == 8 and "--dry-run --all" not in res.stdout
    alone = subprocess.run(cli(str(small), "--all"), capture_output=True, text=True)
    assert alone.returncode == 2 and "--all goes with --dry-run" in alone.stderr


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--max-cpus", "100000000000"], "max_cpus 100000000000 is beyond slc-tui's limit of"),
        (["--max-cpus", str(MAX_BUDGET + 1), "--oversubscribe"], "is beyond slc-tui's limit"),
        (["--max-cpus", "100000000000", "--backend", "slurm"], "is beyond slc-tui's limit"),
        (["--max-cpus", "{far}"], "is far beyond this machine's"),
    ],
)
def test_a_budget_far_beyond_the_machine_exits_2(in_tmp: Path, flags: list[str], says: str) -> None:
    far = str(PER_CPU * len(os.sched_getaffinity(0)) + 1)
    grid = write_grid(in_tmp / "g.toml", "bud", "nothing", "seed = 0")
    res = subprocess.run(cli(str(grid), "--dry-run", *[f.format(far=far) for f in flags]),
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_budgets_that_share_cpus_or_count_cluster_cpus_are_allowed(in_tmp: Path) -> None:
    far = PER_CPU * len(os.sched_getaffinity(0)) + 1
    grid = write_grid(in_tmp / "g.toml", "ok", "nothing", "seed = 0")
    for flags in (["--max-cpus", str(far), "--oversubscribe"],
                  ["--max-cpus", "5000", "--backend", "slurm"]):  # fmt: skip
        res = subprocess.run(cli(str(grid), "--dry-run", *flags), capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    plan = plan_grid(_seeds(3), "m:f", data_dir=in_tmp, lazy=True)
    assert len(engine_budget([plan], RunOptions(backend="slurm"))) == 3
    big = GridPlan("g", str(in_tmp), plan.runs)
    big.segments = lambda: [(10**9, 1)]  # type: ignore[method-assign]
    assert len(engine_budget([big], RunOptions(backend="slurm"))) == MAX_BUDGET


def _seeds(n: int) -> ExperimentGrid:
    grid = ExperimentGrid("s")
    grid.add("seed", list(range(n)))
    return grid


def test_python_callers_get_the_budget_check(in_tmp: Path) -> None:
    with pytest.raises(SweepError, match="is beyond slc-tui's limit"):
        from_grid(_seeds(2), "m:f", RunOptions(max_cpus=10**11), data_dir="d")
    with pytest.raises(ValueError, match="beyond the limit"):
        cpus.budget_cores(10**11)
    assert not Path("d").exists()


def test_dry_run_paths_are_shown_as_display_path_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slc_tui.dryrun import _shown
    from slc_tui.sweep.fmt import display_path

    data = tmp_path / "w" / "data"
    paths = [str(data / "e" / "e_s0"), str(data / "x_y" / "x_y_s1"), str(tmp_path / "else")]
    (tmp_path / "w" / "data" / "e").mkdir(parents=True)
    for cwd in (tmp_path, tmp_path / "w", data, data / "e", Path("/")):
        monkeypatch.chdir(cwd)
        shown = _shown(str(data))
        assert [shown(p) for p in paths] == [display_path(p) for p in paths], cwd


def test_a_dry_run_on_slurm_says_when_the_cap_limits_it(tmp_path: Path) -> None:
    import io

    plan = plan_grid(_seeds(MAX_BUDGET + 10), "m:f", data_dir=tmp_path, lazy=True)
    budget = engine_budget([plan], RunOptions(backend="slurm"))
    out = io.StringIO()
    dryrun.print_plan([plan], budget, out, cluster=True, limited=False, every=False)
    text = " ".join(out.getvalue().split())
    assert "no limit of slc-tui's own on the cluster but its cap of 65,536 CPUs at once" in text
    assert "65,546 runs in 2 waves" in text and "... and 65,528 more" in text
