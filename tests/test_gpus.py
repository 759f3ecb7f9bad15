"""GPUs and threads: runs packed onto devices as well as cores, each run's
``CUDA_VISIBLE_DEVICES`` and math-library threads, the dry run, status, and bad input.

Every test but the NVML one uses an explicit device list, which is used as given without
NVML, so they run on any machine; the runs' own records of ``CUDA_VISIBLE_DEVICES`` and of
when they ran show the packing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import (
    THUNKS,
    cli,
    ledger,
    most_at_once,
    one_line_error,
    times,
    write_grid,
)

from slc_tui.engine.devices import Devices
from slc_tui.gpus import detect, share_problem
from slc_tui.run_utils import ExperimentGrid
from slc_tui.states import RunState

pytestmark = pytest.mark.usefixtures("in_tmp")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})  # fmt: skip


def records_of(name: str) -> dict[str, dict[str, Any]]:
    """Each run's own record (times.0.json) by run name."""
    return {r.name: times(r.output_dir) for r in ledger(name).runs()}


# -- the devices' bookkeeping ------------------------------------------------------------------
def test_fractions_share_a_device_and_never_overfill_it() -> None:
    devices = Devices([0, 1])
    got = [devices.take(0.5) for _ in range(4)]
    assert got == [[0], [1], [0], [1]]  # the least loaded device first
    assert devices.take(0.5) is None and devices.take(1) is None
    devices.give([1], 0.5)
    assert devices.take(0.25) == [1] and devices.take(0.25) == [1]
    assert devices.take(0.25) is None


def test_whole_devices_need_free_devices() -> None:
    devices = Devices([0, 1, 3])
    assert devices.take(0.5) == [0]
    assert devices.take(2) == [1, 3]
    assert devices.take(1) is None
    devices.give([1, 3], 1.0)
    assert devices.take(2) == [1, 3]


@pytest.mark.parametrize(
    ("share", "ok"), [(0, True), (0.5, True), (0.25, True), (1 / 3, True), (2, True),
                      (0.3, False), (1.5, False), (-1, False), (True, False),
                      (float("inf"), False), (float("nan"), False)],
)  # fmt: skip
def test_share_must_divide_a_device(share: float, ok: bool) -> None:
    assert (share_problem(share) is None) == ok


# -- real runs ---------------------------------------------------------------------------------
def test_fractional_runs_pack_onto_devices_never_over_capacity(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "pack", "work", "secs = 0.6\nseed = [0, 1, 2, 3, 4, 5]",
                      "gpus_per_run = 0.5\n[run]\ngpus = [0, 3]\nmax_cpus = 6\n"
                      "oversubscribe = true")  # fmt: skip
    res = run(str(grid), "--no-ui")
    assert res.returncode == 0, res.stderr
    recs = records_of("pack")
    assert {r["cuda"] for r in recs.values()} == {"0", "3"}  # one device each, both used
    for device in ("0", "3"):
        spans = [(r["start"], r["end"]) for r in recs.values() if r["cuda"] == device]
        assert most_at_once(spans) <= 2  # two halves fit a device, never three
    # the ledger keeps each run's devices, as the run saw them
    assert {r.name: r.gpus for r in ledger("pack").runs()} == {
        n: r["cuda"] for n, r in recs.items()
    }


def test_whole_device_runs_wait_for_a_free_device(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "whole", "work", "secs = 0.4\nseed = [0, 1, 2]",
                      "gpus_per_run = 1\n[run]\ngpus = [2]\nmax_cpus = 4\n"
                      "oversubscribe = true")  # fmt: skip
    assert run(str(grid), "--no-ui").returncode == 0
    recs = records_of("whole")
    assert {r["cuda"] for r in recs.values()} == {"2"}
    assert most_at_once([(r["start"], r["end"]) for r in recs.values()]) == 1


def test_mixed_grids_cpu_runs_see_no_device(tmp_path: Path) -> None:
    gpu = write_grid(tmp_path / "gpu.toml", "ongpu", "work", "secs = 0.1\nseed = [0, 1]",
                     "gpus_per_run = 1\n[run]\ngpus = [0, 1]")  # fmt: skip
    cpu = write_grid(tmp_path / "cpu.toml", "oncpu", "work", "secs = 0.1\nseed = [0, 1]",
                     "[run]\ngpus = [0, 1]")  # fmt: skip
    # plan order: the two GPU runs start together, one on each device
    assert run(str(gpu), str(cpu), "--no-ui", "--max-cpus", "2", "--order", "plan").returncode == 0
    assert sorted(r["cuda"] for r in records_of("ongpu").values()) == ["0", "1"]
    assert [r["cuda"] for r in records_of("oncpu").values()] == ["", ""]  # hidden, not all


def test_without_a_gpu_budget_the_variable_is_left_alone(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "nobudget", "work", "secs = 0.1\nseed = [0]",
                      "gpus_per_run = 1")  # fmt: skip
    assert run(str(grid), "--no-ui", env={"CUDA_VISIBLE_DEVICES": "7"}).returncode == 0
    (rec,) = records_of("nobudget").values()
    assert rec["cuda"] == "7"
    (row,) = ledger("nobudget").runs()
    assert row.gpus == ""


def test_thread_variables_follow_the_cores_of_a_rank(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "threads", "work", "secs = 0.1\nseed = [0]")
    assert run(str(grid), "--no-ui", env={"MKL_NUM_THREADS": "3"}).returncode == 0
    (rec,) = records_of("threads").values()
    assert (rec["omp"], rec["openblas"]) == ("1", "1")  # a 1-core run: one thread
    assert rec["mkl"] == "3"  # the user's own setting stays
    given = write_grid(tmp_path / "t.toml", "given", "work", "secs = 0.1\nseed = [0]",
                       "[run]\nthreads = 2")  # fmt: skip
    assert run(str(given), "--no-ui", env={"MKL_NUM_THREADS": "3"}).returncode == 0
    (rec,) = records_of("given").values()
    assert (rec["omp"], rec["mkl"], rec["openblas"]) == ("2", "2", "2")  # [run] threads wins


def test_mpi_ranks_get_one_thread_each(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "mpit", "work", "secs = 0.1\nseed = [0]",
                      "num_cpu = 2")  # fmt: skip
    assert run(str(grid), "--no-ui", "--max-cpus", "2").returncode == 0
    (row,) = ledger("mpit").runs()
    for rank in (0, 1):
        rec = times(row.output_dir, rank)
        assert (rec["omp"], rec["mkl"], rec["openblas"]) == ("1", "1", "1")


def test_python_api_takes_gpus_per_run() -> None:
    grid = ExperimentGrid("api")
    grid.add("seed", [0, 1])
    grid.add("secs", 0.1)
    import sys

    sys.path.insert(0, str(THUNKS.parent))
    try:
        from engine_thunks import work

        grid.run(work, data_dir="data", gpus_per_run=1, gpus=[4, 5], max_cpus=2)
    finally:
        sys.path.remove(str(THUNKS.parent))
    runs = ledger("api").runs()
    assert sorted(r.gpus for r in runs) == ["4", "5"]
    assert {r.state for r in runs} == {RunState.SUCCEEDED}


# -- the views -----------------------------------------------------------------------------
def test_dry_run_shows_the_devices_of_each_wave(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "dry", "work", "seed = [0, 1, 2]",
                      "gpus_per_run = 0.5\n[run]\ngpus = [0]\nmax_cpus = 4\n"
                      "oversubscribe = true")  # fmt: skip
    res = run(str(grid), "--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "GPU budget: 1 device (0); runs take 0.5 GPU each" in out
    assert "up to 2 runs at a time, 2 waves" in out
    assert "wave 1: dry_s0 (gpu 0), dry_s1 (gpu 0)\n" in out
    assert "wave 2: dry_s2 (gpu 0)\n" in out
    assert not Path("data").exists()


def test_status_shows_each_runs_devices(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "stat", "work", "secs = 0.1\nseed = [0, 1]",
                      "gpus_per_run = 1\n[run]\ngpus = [0, 1]")  # fmt: skip
    assert run(str(grid), "--no-ui", "--max-cpus", "2").returncode == 0
    res = run("status", str(grid))
    head, *rows = res.stdout.splitlines()[1:4]
    assert head.split()[:5] == ["run", "state", "try", "time", "gpus"]
    assert sorted(row.split()[5] for row in rows) == ["0", "1"]  # glyph, state, try, time
    doc = json.loads(run("status", str(grid), "--json").stdout)
    assert sorted(r["gpus"] for r in doc["runs"]) == ["0", "1"]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("gpus_per_run = 0.3\n[run]\ngpus = [0]",
         "g.toml:5: [grid] gpus_per_run: 0.3 does not divide one device"),
        ("gpus_per_run = 1.5\n[run]\ngpus = [0, 1]",
         "g.toml:5: [grid] gpus_per_run: 1.5 is not a whole number of devices"),
        ('[run]\ngpus = "all"', 'g.toml:6: [run] gpus: "all" is not a GPU budget'),
        ("[run]\ngpus = [0, 0]", "g.toml:6: [run] gpus: [0, 0] names a device twice"),
        ("gpus_per_run = 2\n[run]\ngpus = [0]", "runs of"),
    ],
)  # fmt: skip
def test_bad_gpu_settings_are_one_line_before_anything_runs(
    tmp_path: Path, extra: str, message: str
) -> None:
    grid = write_grid(tmp_path / "g.toml", "bad", "work", "seed = [0]", extra)
    line = one_line_error(run(str(grid), "--no-ui"))
    assert message in line, line
    if message == "runs of":
        assert "need 2 GPUs each but the GPU budget has 1 (0)" in line
    assert not Path("data").exists()


def test_device_nvml_does_not_know_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine_helpers import make_plan

    import slc_tui.sweep.gpu_budget as budget
    from slc_tui.errors import InputError
    from slc_tui.options import RunOptions
    from slc_tui.sweep.prepare import from_plans

    monkeypatch.setattr(budget, "unknown_devices", lambda ids: [d for d in ids if d > 1])
    plan = make_plan("unk", "work", {"seed": [0]})
    with pytest.raises(InputError, match="names device 5, which NVML does not know"):
        from_plans([plan], RunOptions(gpus=[0, 5]))


def test_cli_gpus_flag(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.toml", "flag", "work", "secs = 0.1\nseed = [0]",
                      "gpus_per_run = 1")  # fmt: skip
    assert run(str(grid), "--no-ui", "--gpus", "3").returncode == 0
    assert [r.gpus for r in ledger("flag").runs()] == ["3"]
    assert "not auto, none or device ids" in run(str(grid), "--gpus", "x").stderr


def test_auto_without_a_device_says_so_once(tmp_path: Path) -> None:
    ids, notice = detect()
    if ids:
        pytest.skip("this machine has GPUs: the no-device notice cannot show")
    grid = write_grid(tmp_path / "g.toml", "auto", "work", "secs = 0.1\nseed = [0]",
                      "gpus_per_run = 1")  # fmt: skip
    res = run(str(grid), "--no-ui", "--gpus", "auto", env={"CUDA_VISIBLE_DEVICES": "7"})
    assert res.returncode == 0, res.stderr
    assert (res.stdout + res.stderr).count(notice) == 1
    (rec,) = records_of("auto").values()
    assert rec["cuda"] == "7"  # no devices: no GPU budget, the variable left alone
    dry = run(str(grid), "--dry-run", "--gpus", "auto")
    assert dry.stderr.count(notice) == 1 and "GPU budget" not in dry.stdout


def test_nvml_detection_on_a_gpu_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ids, notice = detect()
    if not ids:
        pytest.skip(f"no GPU here ({notice})")
    import pynvml

    from slc_tui.gpus import device_usage

    pynvml.nvmlInit()
    try:
        count = pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()
    assert ids == list(range(count))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", str(ids[-1]))
    assert detect() == ([ids[-1]], "")  # within the engine's own CUDA_VISIBLE_DEVICES
    usage = device_usage(ids)
    assert sorted(usage) == ids and all(u.total > 0 for u in usage.values())
    grid = write_grid(tmp_path / "g.toml", "nvml", "work", "secs = 0.1\nseed = [0, 1]",
                      'gpus_per_run = 1\n[run]\ngpus = "auto"')  # fmt: skip
    assert run(str(grid), "--no-ui", "--max-cpus", "2").returncode == 0
    assert {r["cuda"] for r in records_of("nvml").values()} == {str(ids[-1])}


def test_status_adds_what_nvml_says_of_the_devices_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import slc_tui.gpus as gpus
    from slc_tui.engine.ledger import RunRecord
    from slc_tui.gpus import DeviceUsage
    from slc_tui.status import device_lines

    me = os.getpid()
    monkeypatch.setattr(gpus, "device_usage", lambda ids: {
        d: DeviceUsage(d, 10.0 * d, int(2e9), int(16e9), {me: int(5e8)}) for d in ids
    })  # fmt: skip
    runs = [
        RunRecord("a_s0", 0, "a", "a", 0, {}, "/x/a_s0", 1, RunState.RUNNING, pid=me, gpus="1"),
        RunRecord("a_s1", 1, "a", "a", 1, {}, "/x/a_s1", 1, RunState.RUNNING, pid=None, gpus="2"),
        RunRecord("a_s2", 2, "a", "a", 2, {}, "/x/a_s2", 1, RunState.SUCCEEDED, gpus="3"),
    ]
    assert device_lines(runs) == [
        "GPU 1 10% busy, 2.0/16.0 GB", "  a_s0  0.5 GB",
        "GPU 2 20% busy, 2.0/16.0 GB", "  a_s1  0.0 GB",
    ]  # fmt: skip
    monkeypatch.setattr(gpus, "device_usage", lambda ids: {})  # NVML does not answer
    assert device_lines(runs) == []


# -- Slurm -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_key", "flag"),
    [("", "--gres=gpu:2"), ('gpu_request = "gpus"', "--gpus=2"),
     ('gpu_request = "gpus-per-task"', "--gpus-per-task=1")],
)  # fmt: skip
def test_slurm_runs_ask_for_their_gpus(tmp_path: Path, request_key: str, flag: str) -> None:
    grid = write_grid(tmp_path / "s.toml", "sg", "work", "seed = [0, 1]",
                      f'num_cpu = 2\ngpus_per_run = 2\n[run]\nbackend = "slurm"\n'
                      f"[slurm]\n{request_key}")  # fmt: skip
    res = run(str(grid), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert f"--ntasks=2 {flag} " in res.stdout, res.stdout
    assert "GPU budget" not in res.stdout  # the cluster gives the devices, not a local budget


def test_slurm_refuses_a_fraction_of_a_gpu(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "s.toml", "sf", "work", "seed = [0]",
                      'gpus_per_run = 0.5\n[run]\nbackend = "slurm"')  # fmt: skip
    line = one_line_error(run(str(grid), "--dry-run"))
    assert "gpus_per_run 0.5 of grid 'sf': Slurm gives whole GPUs to a job" in line
    bad = write_grid(tmp_path / "b.toml", "sb", "work", "seed = [0]",
                     'gpus_per_run = 1\n[run]\nbackend = "slurm"\n'
                     '[slurm]\ngpu_request = "x"')  # fmt: skip
    assert "gpu_request must be one of gres, gpus, gpus-per-task" in one_line_error(
        run(str(bad), "--dry-run")
    )
