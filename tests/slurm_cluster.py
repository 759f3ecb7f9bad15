"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd on this host.

The session fixture :func:`slurm_cluster` installs nothing. It needs Debian's ``slurm-wlm`` and
``munge`` (``.ci/install-slurm``) and skips, saying so, where their binaries are missing. It
writes a slurm.conf naming this host as controller and only node under a tmp dir, starts the
daemons in the foreground as its own children (private munge key and socket, free ports), waits
until ``sinfo`` shows the node idle, points ``SLURM_CONF`` at it, and stops the daemons at the
end. When a cluster's daemons already run here, it uses that cluster and rewrites nothing.
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
READY_TIMEOUT = 60.0
"""Seconds to wait for the node to show idle."""

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
AccountingStorageType=accounting_storage/none
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

    def logs(self) -> str:
        """The end of the daemons' logs, for a failure message."""
        if self.base is None:
            return ""
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            with suppress(OSError):
                parts.append(f"--- {name}\n" + (self.base / name).read_text()[-3000:])
        return "\n".join(parts)


def missing_binaries() -> list[str]:
    """The Slurm and munge programs not found on PATH (or in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


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


def start_cluster(base: Path) -> Cluster:
    """Start munged, slurmctld and slurmd with a generated config under ``base``."""
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
    conf.write_text(
        _CONF.format(
            host=socket.gethostname().split(".")[0], user=getpass.getuser(), base=base,
            ctld_port=_free_port(), d_port=_free_port(), munge_socket=sock, cpus=cpus,
            mem=_mem_mb(),
        )
    )  # fmt: skip
    cluster = Cluster(env={"SLURM_CONF": str(conf)}, base=base, cpus=cpus)
    munged = [
        _which("munged"), "-F", "--force", f"--socket={sock}", f"--key-file={key}",
        f"--pid-file={base}/munge/munged.pid", f"--log-file={base}/munged.log",
        f"--seed-file={base}/munge/munged.seed",
    ]  # fmt: skip
    cluster.procs.append(_spawn(munged, base / "munged.out"))
    _wait(lambda: sock.exists(), 10, "munged's socket", cluster)
    env = {**os.environ, **cluster.env}
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
    for proc in reversed(cluster.procs):  # slurmd, slurmctld, then munged
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
