"""Airtight, with real processes: two starts of one grid race, a locked, full, deleted or
corrupt ledger, the modes of the state files whatever the umask, and links in data_dir.

Each run notes itself in a counter file (``airtight_thunks.py``), so "every run ran exactly
once" is counted, not assumed. Runs that must outlast something wait for a gate file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from engine_helpers import cli, wait_for

from slc_tui.engine.ledger import Ledger, RunRecord, ledger_path
from slc_tui.states import RunState

pytestmark = pytest.mark.usefixtures("no_leftovers")
THUNKS = Path(__file__).with_name("airtight_thunks.py")
PAIRS = 50
BATCH = 10
"""Pairs of starts that race at once (each pair on its own data_dir)."""


def grid(folder: Path, name: str, seeds: str = "[0, 1]", thunk: str = "gated",
         extra: str = "", max_cpus: int = 2) -> Path:  # fmt: skip
    """A grid file in ``folder`` whose runs note themselves in ``folder/count.txt`` and (with
    ``gated``) wait for ``folder/gate``."""
    path = folder / f"{name}.toml"
    path.write_text(
        f'[grid]\nname = "{name}"\nthunk = "{THUNKS}:{thunk}"\ndata_dir = "data"\n'
        f"[run]\nmax_cpus = {max_cpus}\n{extra}\n"
        f'[params]\nseed = {seeds}\ncounter = "{folder / "count.txt"}"\n'
        f'gate = "{folder / "gate"}"\n'
    )
    return path


def start(grid_file: Path, *flags: str, **kw: object) -> subprocess.Popen:
    """``slc-tui GRID --no-ui FLAGS`` in the grid file's folder, its output to a file."""
    out = open(grid_file.parent / f"out.{time.monotonic_ns()}", "w+")  # noqa: SIM115
    proc = subprocess.Popen(cli(str(grid_file), "--no-ui", *flags), cwd=grid_file.parent,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            text=True, **kw)  # type: ignore[call-overload]  # fmt: skip
    proc.out = out  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    """What ``proc`` wrote so far."""
    out = proc.out  # type: ignore[attr-defined]
    out.seek(0)
    return str(out.read())


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    """Its exit status and output, once it ended."""
    code = proc.wait(timeout)
    text = output(proc)
    proc.out.close()  # type: ignore[attr-defined]
    return code, text


def ran(folder: Path) -> Counter[str]:
    """How often each run ran (its output dir, by basename)."""
    path = folder / "count.txt"
    lines = path.read_text().split() if path.exists() else []
    return Counter(Path(line).name for line in lines)


def runs(folder: Path, name: str) -> dict[str, RunRecord]:
    ledger = Ledger.open(ledger_path(folder / "data", name))
    try:
        return {r.name: r for r in ledger.runs()}
    finally:
        ledger.close()


def states(folder: Path, name: str) -> dict[str, RunState]:
    return {n: r.state for n, r in runs(folder, name).items()}


def one_line(code: int, text: str) -> str:
    """The one line of a refused command (exit 2, no traceback)."""
    assert code == 2, text
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("slc-tui: "), text
    return lines[0]


def command(*args: str, cwd: Path) -> tuple[int, str]:
    res = subprocess.run(cli(*args), cwd=cwd, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
    return res.returncode, res.stdout + res.stderr


# -- two starts race ---------------------------------------------------------------------------
@pytest.mark.slow
def test_fifty_pairs_of_simultaneous_starts_run_every_run_exactly_once(tmp_path: Path) -> None:
    """Each pair starts together on a fresh data_dir; the runs wait until one start of the
    pair has ended, so that the two always overlap however loaded the machine is."""
    t0 = time.monotonic()
    results = []
    for first in range(0, PAIRS, BATCH):
        pairs = []
        for i in range(first, min(first + BATCH, PAIRS)):
            folder = tmp_path / f"pair{i}"
            folder.mkdir()
            g = grid(folder, "race")
            pairs.append((folder, start(g), start(g)))
        for folder, a, b in pairs:
            wait_for(lambda a=a, b=b: a.poll() is not None or b.poll() is not None, 60,
                     "one start of the pair to end")  # fmt: skip
            (folder / "gate").touch()
        for folder, a, b in pairs:
            results.append((folder, finish(a), finish(b)))
    took = time.monotonic() - t0
    refused = 0
    for folder, (ca, ta), (cb, tb) in results:
        assert sorted([ca, cb]) == [0, 2], (folder, ta, tb)
        line = one_line(*((ca, ta) if ca == 2 else (cb, tb)))
        assert "'race' is already running (engine pid" in line
        assert f"slc-tui attach {folder / 'race.toml'}" in line
        assert f"slc-tui stop {folder / 'race.toml'}" in line
        assert ran(folder) == {"race_s0": 1, "race_s1": 1}, folder
        assert set(states(folder, "race").values()) == {RunState.SUCCEEDED}
        refused += 1
    assert refused == PAIRS
    print(f"{PAIRS} pairs of starts in {took:.1f} s: {refused} refused, every run ran once")


# -- a locked ledger ---------------------------------------------------------------------------
HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold(path: Path, seconds: float) -> subprocess.Popen:
    """A process that holds ``BEGIN EXCLUSIVE`` on ``path`` for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_run_that_succeeds_while_another_process_locks_the_ledger_is_recorded_succeeded(
    in_tmp: Path,
) -> None:
    from slc_tui.engine.ledger_file import LOOP_TIMEOUT

    g = grid(in_tmp, "locked", "[0]")
    engine = start(g)
    wait_for(lambda: ran(in_tmp)["locked_s0"], what="the run")
    held_for = 4.0
    assert held_for > 10 * LOOP_TIMEOUT  # far longer than the engine's busy timeout
    holder = hold(ledger_path(in_tmp / "data", "locked"), held_for)
    (in_tmp / "gate").touch()  # the run ends, and the sweep, while the ledger is locked
    time.sleep(1.5)
    assert engine.poll() is None  # it lives on, waiting to write the end
    code, text = finish(engine)
    holder.wait(10)
    assert code == 0, text
    assert "Traceback" not in text and "database is locked" in text, text
    assert "locked_s0  succeeded" in text and "1 runs: 1 succeeded" in text
    assert states(in_tmp, "locked") == {"locked_s0": RunState.SUCCEEDED}
    assert ran(in_tmp) == {"locked_s0": 1}


# -- a full disk -------------------------------------------------------------------------------
@pytest.fixture
def small_disk(in_tmp: Path):  # type: ignore[no-untyped-def]
    """``data/.slc-tui`` on a tmpfs of 2 MiB (root only), unmounted after the test."""
    folder = in_tmp / "data" / ".slc-tui"
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs",
                          str(folder)], capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; return the filler."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_one_line_and_the_running_runs_outcomes_are_kept(
    in_tmp: Path, small_disk: Path
) -> None:
    g = grid(in_tmp, "full", "[0, 1, 2, 3]")
    engine = start(g)
    wait_for(lambda: len(ran(in_tmp)) == 2, what="two runs")
    filler = fill(small_disk)
    (in_tmp / "gate").touch()  # the two runs end on a full disk
    wait_for(lambda: engine.poll() is not None or "waiting up to" in output(engine),
             what="the engine to end, or to wait for space")  # fmt: skip
    filler.unlink()  # space comes back (a waiting engine writes what it kept, and ends)
    code, text = finish(engine)
    assert code == 1, text  # two runs were never started
    assert "Traceback" not in text, text
    assert text.count("cannot write the ledger") == 1, text
    assert "database or disk is full" in text and "no new run starts" in text, text
    assert "4 runs: 2 pending, 2 succeeded" in text, text
    code, shown = command("status", str(g), cwd=in_tmp)  # from the journal, if need be
    assert code == 0 and shown.count("succeeded") >= 2 and "lost" not in shown, shown
    code, text = finish(start(g, "--resume"))
    assert code == 0, text
    assert ran(in_tmp) == {f"full_s{i}": 1 for i in range(4)}
    assert set(states(in_tmp, "full").values()) == {RunState.SUCCEEDED}


def test_a_file_size_limit_is_one_line_and_resume_takes_the_ends_from_the_journal(
    in_tmp: Path,
) -> None:
    """``ulimit -f 100``: the ledger's WAL soon cannot grow (an I/O error), the journal can."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 1024, resource.RLIM_INFINITY))

    seeds = list(range(20))
    g = grid(in_tmp, "ulimit", str(seeds), thunk="counted")
    code, text = finish(start(g, preexec_fn=limit))
    assert code == 1, text
    assert "Traceback" not in text, text
    assert text.count("cannot write the ledger") == 1 and "disk I/O error" in text, text
    assert "they are in the journal" in text, text
    done = ran(in_tmp)
    assert 0 < len(done) < 20 and set(done.values()) == {1}
    code, text = finish(start(g, "--resume"))
    assert code == 0, text
    assert ran(in_tmp) == {f"ulimit_s{i}": 1 for i in seeds}  # none of the first ran again


# -- a ledger deleted under its engine ---------------------------------------------------------
def test_a_ledger_deleted_mid_sweep_is_made_again_and_a_second_start_is_refused(
    in_tmp: Path,
) -> None:
    g = grid(in_tmp, "gone", "[0, 1, 2]", max_cpus=1)
    engine = start(g)
    wait_for(lambda: ran(in_tmp)["gone_s0"], what="the first run")
    db = ledger_path(in_tmp / "data", "gone")
    for part in ("", "-wal", "-shm"):
        Path(f"{db}{part}").unlink(missing_ok=True)
    line = one_line(*finish(start(g)))
    assert "'gone' is already running" in line
    wait_for(db.exists, 5, "the ledger made again")
    code, text = command("status", str(g), cwd=in_tmp)
    assert code == 0 and "gone_s0" in text and "running" in text, text
    (in_tmp / "gate").touch()
    code, text = finish(engine)
    assert code == 0, text
    assert "was deleted; made it again from the engine's records" in text, text
    assert set(states(in_tmp, "gone").values()) == {RunState.SUCCEEDED}
    assert ran(in_tmp) == {"gone_s0": 1, "gone_s1": 1, "gone_s2": 1}


def test_stop_reaches_an_engine_whose_ledger_was_just_deleted(in_tmp: Path) -> None:
    g = grid(in_tmp, "stopgone", "[0, 1]")
    engine = start(g)
    wait_for(lambda: len(ran(in_tmp)) == 2, what="the runs")
    db = ledger_path(in_tmp / "data", "stopgone")
    for part in ("", "-wal", "-shm"):
        Path(f"{db}{part}").unlink(missing_ok=True)
    code, text = command("stop", str(g), cwd=in_tmp)
    assert code == 0, text
    assert "stopgone: stopped" in text and "2 cancelled" in text, text
    code, out = finish(engine)
    assert code == 130, out
    assert set(states(in_tmp, "stopgone").values()) == {RunState.CANCELLED}


def test_stop_reaches_an_engine_through_a_corrupt_ledger_by_signal(in_tmp: Path) -> None:
    g = grid(in_tmp, "sig", "[0]")
    engine = start(g)
    wait_for(lambda: ran(in_tmp)["sig_s0"], what="the run")
    db = ledger_path(in_tmp / "data", "sig")
    # The engine makes a replaced ledger whole again at its next turn: it is held still
    # (SIGSTOP) until the stop has chosen the signal, so the ledger stays corrupt till then.
    os.kill(engine.pid, signal.SIGSTOP)
    try:
        db.rename(db.with_name("sig.db.saved"))
        db.write_bytes(b"this is not a database" * 100)
        stop = subprocess.Popen(cli("stop", str(g)), cwd=in_tmp, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)  # fmt: skip
        wait_for(lambda: sigterm_pending(engine.pid) or stop.poll() is not None,
                 what="the stop's SIGTERM")  # fmt: skip
    finally:
        os.kill(engine.pid, signal.SIGCONT)
    text = stop.communicate(timeout=60)[0]
    code = stop.returncode
    assert code == 0, text
    assert "stopped (engine pid" in text and "by SIGTERM" in text, text
    assert finish(engine)[0] == 130


def sigterm_pending(pid: int) -> bool:
    """Whether SIGTERM waits to be delivered to the (stopped) process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if (
            line.startswith(("ShdPnd:", "SigPnd:"))
            and int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1
        ):
            return True
    return False


# -- a corrupt, missing, foreign or locked ledger ------------------------------------------------
def damage(db: Path, how: str) -> None:
    for part in ("-wal", "-shm"):
        Path(f"{db}{part}").unlink(missing_ok=True)
    if how == "garbage":
        db.write_bytes(os.urandom(8192))
    elif how == "empty":
        db.write_bytes(b"")
    elif how == "foreign":
        db.unlink()
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE photos (id INTEGER)")
        conn.commit()
        conn.close()
    elif how == "missing":
        db.unlink()


@pytest.mark.parametrize("how", ["garbage", "empty", "foreign", "missing"])
def test_views_answer_one_line_and_resume_rebuilds_a_damaged_ledger(in_tmp: Path, how: str) -> None:
    g = grid(in_tmp, "hurt", "[0, 1]", thunk="counted")
    assert finish(start(g))[0] == 0
    db = ledger_path(in_tmp / "data", "hurt")
    damage(db, how)
    for verb in ("status", "stop", "attach"):
        line = one_line(*command(verb, str(g), cwd=in_tmp))
        if how == "missing":
            assert "no sweep of grid 'hurt' has run" in line, line
            assert "--resume' rebuilds the ledger from it" in line, line
        else:
            assert "hurt.db" in line and "--resume' moves it aside and rebuilds it" in line, line
    code, text = finish(start(g, "--resume"))
    assert code == 0, text
    assert "Traceback" not in text, text
    notice = {"garbage": "could not read", "foreign": "could not read",
              "missing": "was missing; rebuilt it from the journal (2 runs' ends, 2 succeeded)",
              "empty": "lacked 2 runs' ends that its journal holds"}[how]  # fmt: skip
    assert notice.replace("could not read", "could not be read") in text, text
    if how in ("garbage", "foreign"):
        assert len(list(db.parent.glob("hurt.db.corrupt-*"))) == 1
    assert ran(in_tmp) == {"hurt_s0": 1, "hurt_s1": 1}  # nothing that succeeded ran again
    assert set(states(in_tmp, "hurt").values()) == {RunState.SUCCEEDED}
    assert command("status", str(g), cwd=in_tmp)[0] == 0


@pytest.mark.slow  # each command waits for the lock before it says so
def test_views_and_resume_answer_one_line_on_a_ledger_another_process_locks(
    in_tmp: Path,
) -> None:
    g = grid(in_tmp, "busy", "[0]", thunk="counted")
    assert finish(start(g))[0] == 0
    db = ledger_path(in_tmp / "data", "busy")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=DELETE")  # a lock that readers feel too
    conn.close()
    holder = hold(db, 30)
    try:
        for verb in ("status", "stop"):
            line = one_line(*command(verb, str(g), cwd=in_tmp))
            assert "locked by another process" in line, line
        line = one_line(*finish(start(g, "--resume")))
        assert "locked by another process" in line, line
        assert ran(in_tmp) == {"busy_s0": 1}
    finally:
        holder.kill()
        holder.wait()


# -- modes -------------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_state_is_private_whatever_the_umask(in_tmp: Path) -> None:
    from engine_helpers import make_plan

    from slc_tui.options import RunOptions
    from slc_tui.sweep.lifecycle import start_background
    from slc_tui.sweep.prepare import from_plans

    state = in_tmp / "data" / ".slc-tui"
    state.mkdir(parents=True)
    state.chmod(0o777)  # left so by an earlier version
    g = grid(in_tmp, "modes", "[0]", thunk="counted")
    headless = start(g, umask=0)
    assert finish(headless)[0] == 0
    old = os.umask(0)
    try:  # the dashboard's way: a background engine
        plan = make_plan("bg", "hang", {"seed": [0]})
        handle, _ = start_background(from_plans([plan], RunOptions(max_cpus=1)))
    finally:
        os.umask(old)
    try:
        wait_for(lambda: states(in_tmp, "bg") == {"bg_s0": RunState.RUNNING}, what="the run")
        folders = [state, state / "modes", state / "modes" / "payloads", state / "bg",
                   state / "bg" / "payloads"]  # fmt: skip
        files = [state / name for name in ("modes.db", "modes.journal", "modes.lock", "bg.db",
                 "bg.db-wal", "bg.db-shm", "bg.lock", "bg.journal", "engine.log")]  # fmt: skip
        files += list((state / "bg" / "payloads").iterdir())
        assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
        assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
    finally:
        handle.stop(timeout=30)


# -- links in data_dir -------------------------------------------------------------------------
def test_a_state_folder_that_is_a_link_is_refused(in_tmp: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / ".slc-tui").symlink_to(elsewhere)
    g = grid(in_tmp, "linked", "[0]", thunk="counted")
    line = one_line(*finish(start(g)))
    assert ".slc-tui is a symbolic link" in line, line
    assert list(elsewhere.iterdir()) == [] and not (in_tmp / "count.txt").exists()


def test_a_run_folder_linked_out_of_data_dir_is_not_written(in_tmp: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (in_tmp / "data" / "out").mkdir(parents=True)
    (in_tmp / "data" / "out" / "out_s0").symlink_to(elsewhere, target_is_directory=True)
    g = grid(in_tmp, "out", "[0, 1]", thunk="counted")
    code, text = finish(start(g))
    assert code == 1, text
    got = runs(in_tmp, "out")
    assert got["out_s0"].state == RunState.FAILED
    assert "leads out of the data directory" in got["out_s0"].reason
    assert got["out_s1"].state == RunState.SUCCEEDED
    assert list(elsewhere.iterdir()) == []
    assert ran(in_tmp) == {"out_s1": 1}


def test_a_dangling_output_log_link_is_not_followed(in_tmp: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    folder = in_tmp / "data" / "dang" / "dang_s0"
    folder.mkdir(parents=True)
    (folder / "output.log").symlink_to(elsewhere / "victim.log")
    g = grid(in_tmp, "dang", "[0]", thunk="counted")
    code, text = finish(start(g))
    assert code == 1, text
    record = runs(in_tmp, "dang")["dang_s0"]
    assert record.state == RunState.FAILED and "is a symbolic link" in record.reason
    assert not (elsewhere / "victim.log").exists()
    assert (folder / "output.log").is_symlink()  # left as it was
