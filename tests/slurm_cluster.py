"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd on this host,
and for :func:`slurm_accounting_cluster` also slurmdbd with a private MariaDB.

The session fixture :func:`slurm_cluster` installs nothing. It needs Debian's ``slurm-wlm`` and
``munge`` (``.ci/install-slurm``) and skips, saying so, where their binaries are missing. It
writes a slurm.conf naming this host as controller and only node under a tmp dir, starts the
daemons in the foreground as its own children (private munge key and socket, free ports), waits
until ``sinfo`` shows the node idle, points ``SLURM_CONF`` at it, and stops the daemons at the
end. When a cluster's daemons already run here, it uses that cluster and rewrites nothing.

:func:`slurm_accounting_cluster` always starts a cluster of its own (Debian's ``slurmdbd`` and
``mariadb-server``; skipped where they are missing): a MariaDB server with its data directory,
socket and port under the tmp dir, ``slurmdbd`` on it, the cluster registered with
``sacctmgr``, then slurmctld and slurmd with ``AccountingStorageType=accounting_storage/slurmdbd``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
"""Programs the cluster and the tests need."""
ACCOUNTING_BINARIES = ("slurmdbd", "sacctmgr", "sacct", "mariadbd", "mariadb-install-db", "mariadb")
"""Programs a cluster with accounting needs besides."""
_DB_PASS = "slctui-test"
READY_TIMEOUT = 60.0
"""Seconds to wait for the node to show idle."""

_NO_ACCOUNTING = "AccountingStorageType=accounting_storage/none"
_ACCOUNTING = """\
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
AccountingStoragePass={munge_socket}"""
_DBD_CONF = """\
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser={user}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={password}
StorageLoc=slurm_acct_db
PidFile={base}/slurmdbd.pid
LogFile={base}/slurmdbd.log
"""
_CONF = """\
ClusterName=slctui
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
{accounting}
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=2
MinJobAge=300
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""


@dataclass
class Cluster:
    """A Slurm cluster the tests can submit to."""

    env: dict[str, str]
    """Variables the Slurm commands need (``SLURM_CONF``); empty for an existing cluster."""
    base: Path | None = None
    """The tmp dir with our slurm.conf, state and logs (None for an existing cluster)."""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """The daemons this fixture started, to stop at the end."""
    cpus: int = 1
    """CPUs of the node."""

    accounting: bool = False
    """Whether the cluster keeps accounting (slurmdbd): ``sacct`` answers."""

    def logs(self) -> str:
        """The end of the daemons' logs, for a failure message."""
        if self.base is None:
            return ""
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log", "slurmdbd.log", "mariadb.err"):
            with suppress(OSError):
                parts.append(f"--- {name}\n" + (self.base / name).read_text()[-3000:])
        return "\n".join(parts)


def missing_binaries(names: tuple[str, ...] = BINARIES) -> list[str]:
    """The Slurm and munge programs not found on PATH (or in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    return [b for b in names if shutil.which(b, path=path) is None]


def _which(name: str) -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    assert found, name
    return found


def daemons_running() -> dict[str, list[str]]:
    """Slurm daemons already running on this machine: their command lines by name."""
    found: dict[str, list[str]] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] in ("slurmctld", "slurmd"):
            found[proc.info["name"]] = proc.info["cmdline"] or []
    return found


def existing_cluster(daemons: dict[str, list[str]]) -> Cluster:
    """The cluster whose daemons run here, used as it is configured (its config untouched)."""
    env: dict[str, str] = {}
    argv = daemons.get("slurmctld") or daemons.get("slurmd") or []
    if "SLURM_CONF" not in os.environ and "-f" in argv[:-1]:
        env["SLURM_CONF"] = argv[argv.index("-f") + 1]  # read where the daemons read
    state = node_state(env)
    if state.startswith("error"):
        pytest.fail(
            f"Slurm daemons run here ({', '.join(daemons)}) but sinfo cannot reach them "
            f"({state}); set SLURM_CONF to their slurm.conf, or stop them"
        )
    return Cluster(env=env, cpus=len(os.sched_getaffinity(0)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mem_mb() -> int:
    with open("/proc/meminfo") as f:
        total_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    return max(1, total_kb // 1024 - 256)


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def node_state(env: dict[str, str]) -> str:
    """The state word ``sinfo`` gives the node(s) (``idle``, ``mix``, ``down*``...)."""
    proc = subprocess.run(
        ["sinfo", "-h", "-o", "%t"], env={**os.environ, **env},
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 else f"error: {proc.stderr.strip()}"


def start_cluster(base: Path, accounting: bool = False) -> Cluster:
    """Start munged, (MariaDB and slurmdbd,) slurmctld and slurmd with a generated config
    under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    for sub in ("state", "spool", "munge"):
        (base / sub).mkdir(exist_ok=True)
    os.chmod(base / "munge", 0o700)
    key = base / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    sock = base / "munge" / "munge.socket"
    cpus = len(os.sched_getaffinity(0))
    conf = base / "slurm.conf"
    dbd_port = _free_port()
    acct = _ACCOUNTING.format(dbd_port=dbd_port, munge_socket=sock) if accounting else None
    conf.write_text(
        _CONF.format(
            host=socket.gethostname().split(".")[0], user=getpass.getuser(), base=base,
            ctld_port=_free_port(), d_port=_free_port(), munge_socket=sock, cpus=cpus,
            mem=_mem_mb(),
            accounting=acct or _NO_ACCOUNTING,
        )
    )  # fmt: skip
    cluster = Cluster(env={"SLURM_CONF": str(conf)}, base=base, cpus=cpus, accounting=accounting)
    munged = [
        _which("munged"), "-F", "--force", f"--socket={sock}", f"--key-file={key}",
        f"--pid-file={base}/munge/munged.pid", f"--log-file={base}/munged.log",
        f"--seed-file={base}/munge/munged.seed",
    ]  # fmt: skip
    cluster.procs.append(_spawn(munged, base / "munged.out"))
    _wait(lambda: sock.exists(), 10, "munged's socket", cluster)
    env = {**os.environ, **cluster.env}
    if accounting:
        _start_slurmdbd(cluster, sock, dbd_port, env)
    for argv, out in (
        ([_which("slurmctld"), "-D", "-c", "-i", "-f", str(conf)], "slurmctld.out"),
        ([_which("slurmd"), "-D", "-f", str(conf)], "slurmd.out"),
    ):
        with open(base / out, "ab") as log:
            cluster.procs.append(
                subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True)
            )  # fmt: skip
    _wait(lambda: node_state(cluster.env) == "idle", READY_TIMEOUT, "an idle node", cluster)
    return cluster


def _start_slurmdbd(cluster: Cluster, munge_socket: Path, dbd_port: int, env: dict[str, str]
                    ) -> None:  # fmt: skip
    """A MariaDB server of our own (data, socket, port under the tmp dir), slurmdbd on it,
    and the cluster registered."""
    base = cluster.base
    assert base is not None
    db, db_sock, db_port = base / "mariadb", base / "mariadb.sock", _free_port()
    subprocess.run(
        [_which("mariadb-install-db"), "--no-defaults", f"--datadir={db}",
         f"--user={getpass.getuser()}", "--auth-root-authentication-method=socket",
         "--skip-test-db"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    mariadbd = [
        _which("mariadbd"), "--no-defaults", f"--datadir={db}", f"--user={getpass.getuser()}",
        f"--socket={db_sock}", f"--port={db_port}", "--bind-address=127.0.0.1",
        f"--pid-file={base}/mariadb.pid", f"--log-error={base}/mariadb.err",
        "--innodb-buffer-pool-size=32M",
    ]  # fmt: skip
    cluster.procs.append(_spawn(mariadbd, base / "mariadb.out"))
    _wait(lambda: db_sock.exists(), 60, "MariaDB's socket", cluster)
    sql = (f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{_DB_PASS}'; "
           "GRANT ALL ON *.* TO 'slurm'@'127.0.0.1';")  # fmt: skip
    subprocess.run([_which("mariadb"), "--no-defaults", f"--socket={db_sock}", "-u", "root",
                    "-e", sql], check=True, capture_output=True, timeout=30)  # fmt: skip
    dbd_conf = base / "slurmdbd.conf"  # beside slurm.conf: slurmdbd finds it by SLURM_CONF
    dbd_conf.write_text(
        _DBD_CONF.format(munge_socket=munge_socket, dbd_port=dbd_port, user=getpass.getuser(),
                         db_port=db_port, password=_DB_PASS, base=base)
    )  # fmt: skip
    os.chmod(dbd_conf, 0o600)
    with open(base / "slurmdbd.out", "ab") as log:
        cluster.procs.append(
            subprocess.Popen([_which("slurmdbd"), "-D"], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        )  # fmt: skip

    def registered() -> bool:
        proc = subprocess.run([_which("sacctmgr"), "-i", "add", "cluster", "slctui"], env=env,
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        return proc.returncode == 0 or "already exists" in proc.stdout + proc.stderr

    _wait(registered, 60, "slurmdbd taking the cluster", cluster)


def _wait(cond: object, timeout: float, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        for proc in cluster.procs:
            if proc.poll() is not None:
                stop_cluster(cluster)
                raise RuntimeError(f"{proc.args[0]} ended at start-up:\n{cluster.logs()}")
        time.sleep(0.2)
    stop_cluster(cluster)
    raise RuntimeError(f"Slurm test cluster: no {what} after {timeout:g} s\n{cluster.logs()}")


def stop_cluster(cluster: Cluster) -> None:
    """Cancel what is left of the cluster's jobs and stop the daemons this fixture started."""
    if not cluster.procs:
        return
    with suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["scancel", "--user", getpass.getuser()], env={**os.environ, **cluster.env},
                       capture_output=True, timeout=10)  # fmt: skip
    for proc in reversed(cluster.procs):  # slurmd, slurmctld, (slurmdbd, MariaDB,) munged
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    cluster.procs.clear()


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running single-node Slurm cluster, its ``SLURM_CONF`` set in ``os.environ``."""
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"Slurm is not installed here (missing {', '.join(missing)}); "
            "run .ci/install-slurm (Debian: apt-get install -y slurm-wlm munge)"
        )
    daemons = daemons_running()
    # Daemons of another test session's temporary cluster go away with that session: start
    # a cluster of our own (own config, ports and state) beside them rather than share theirs.
    temporary = any("/pytest-of-" in arg for argv in daemons.values() for arg in argv)
    cluster = (
        existing_cluster(daemons)
        if daemons and not temporary
        else start_cluster(tmp_path_factory.mktemp("slurm"))
    )
    old = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


@pytest.fixture(scope="session")
def slurm_accounting_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A single-node cluster of our own that keeps accounting (slurmdbd on a private
    MariaDB), its ``SLURM_CONF`` set in ``os.environ`` while it is in use."""
    missing = missing_binaries(BINARIES + ACCOUNTING_BINARIES)
    if missing:
        pytest.skip(
            f"Slurm accounting is not installed here (missing {', '.join(missing)}); "
            "run .ci/install-slurm (Debian: apt-get install -y slurmdbd mariadb-server)"
        )
    cluster = start_cluster(tmp_path_factory.mktemp("slurm-acct"), accounting=True)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
