"""Where a ledger lives: the file system of a path, and the journal mode safe on it.

SQLite's WAL needs shared memory between its users, which a network file system (NFS,
Lustre, GPFS, CIFS...) cannot give: there the ledger keeps a rollback journal
(``journal_mode=DELETE``), whose locks are ordinary POSIX file locks, so that ``status`` and
``attach`` from another node (a second login node) read it safely. On a local disk it stays
in WAL mode, where readers never wait on the engine. ``SLC_TUI_NETWORK_FS=1`` (or ``0``)
forces the choice, for tests and for a file system this module does not know.
"""

from __future__ import annotations

import os

NETWORK_FS_ENV = "SLC_TUI_NETWORK_FS"
"""``1``: treat every data directory as on a network file system; ``0``: as local."""
NETWORK_FILE_SYSTEMS = frozenset(
    {
        "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "fuse.ceph",
        "glusterfs", "fuse.glusterfs", "beegfs", "fuse.beegfs", "afs", "panfs", "fuse.sshfs",
        "9p", "ncpfs", "orangefs", "pvfs2", "fuse.s3fs", "fuse.gcsfuse", "wekafs", "quobyte",
    }
)  # fmt: skip
"""File-system types (as ``/proc/mounts`` names them) on which SQLite's WAL is unsafe."""


def fs_type(path: str | os.PathLike[str]) -> str:
    """The file-system type ``path`` lives on, from ``/proc/mounts`` ("" when unknown)."""
    path = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        return ""
    return kind


def is_network_fs(kind: str) -> bool:
    """Whether a file-system type is one of :data:`NETWORK_FILE_SYSTEMS`."""
    return kind.lower() in NETWORK_FILE_SYSTEMS


def journal_mode(path: str | os.PathLike[str]) -> str:
    """The journal mode of the ledger at ``path``: ``DELETE`` on a network file system (or
    with ``SLC_TUI_NETWORK_FS=1``), ``WAL`` elsewhere."""
    forced = os.environ.get(NETWORK_FS_ENV, "").strip()
    if forced in ("0", "1"):
        network = forced == "1"
    else:
        folder = os.path.dirname(os.path.abspath(path))
        while folder != os.path.dirname(folder) and not os.path.exists(folder):
            folder = os.path.dirname(folder)  # the ledger's folder may not exist yet
        network = is_network_fs(fs_type(folder))
    return "DELETE" if network else "WAL"
