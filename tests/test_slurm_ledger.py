"""Where data_dir is on a network file system the ledger keeps a rollback journal (SQLite's
WAL needs shared memory, which NFS, Lustre and GPFS cannot give); on a local disk, WAL.
``status`` from another process (another node, as far as SQLite can tell) reads it either way."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli, make_plan, run_plans

from slc_tui.engine import ledger_fs
from slc_tui.engine.ledger import Ledger, ledger_path
from slc_tui.engine.ledger_fs import NETWORK_FS_ENV, fs_type, is_network_fs, journal_mode


def test_network_file_systems_are_known() -> None:
    for kind in ("nfs", "nfs4", "lustre", "gpfs", "cifs", "ceph", "beegfs", "fuse.sshfs"):
        assert is_network_fs(kind), kind
    for kind in ("ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", ""):
        assert not is_network_fs(kind), kind
    assert fs_type("/proc/self") == "proc"


def test_the_rule_follows_the_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NETWORK_FS_ENV, raising=False)
    db = tmp_path / "not" / "yet" / "g.db"  # its folder need not exist yet
    monkeypatch.setattr(ledger_fs, "fs_type", lambda _p: "nfs4")
    assert journal_mode(db) == "DELETE"
    monkeypatch.setattr(ledger_fs, "fs_type", lambda _p: "ext4")
    assert journal_mode(db) == "WAL"
    monkeypatch.setenv(NETWORK_FS_ENV, "1")  # forced either way
    assert journal_mode(db) == "DELETE"
    monkeypatch.setattr(ledger_fs, "fs_type", lambda _p: "lustre")
    monkeypatch.setenv(NETWORK_FS_ENV, "0")
    assert journal_mode(db) == "WAL"


def _mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(("network", "mode"), [("1", "delete"), ("0", "wal")])
def test_a_sweep_on_a_network_file_system_keeps_a_rollback_journal(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, network: str, mode: str
) -> None:
    monkeypatch.setenv(NETWORK_FS_ENV, network)
    plan = make_plan("netfs", "nothing", {"seed": [0, 1]})
    status, _, _ = run_plans(plan)
    assert status == 0
    path = ledger_path(Path("data").resolve(), "netfs")
    assert _mode(path) == mode
    if mode == "delete":
        assert not os.path.exists(f"{path}-wal") and not os.path.exists(f"{path}-shm")
    # another reader while a writer holds it open: as a view on a second login node
    writer = Ledger.create(path)
    try:
        assert {r.name for r in Ledger.open(path).runs()} == {r.name for r in plan.runs}
        res = subprocess.run(cli("status", str(path)), capture_output=True, text=True,
                             env={**os.environ, NETWORK_FS_ENV: network})  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert all(r.name in res.stdout for r in plan.runs), res.stdout
    finally:
        writer.close()
    assert _mode(path) == mode
