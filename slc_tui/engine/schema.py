"""The ledger's tables (SQLite): meta, runs, attempts, commands.

``CREATE ... IF NOT EXISTS`` throughout, so that opening an older ledger adds the tables it
lacks; :func:`upgrade` adds the columns it lacks (:data:`ADDED`).
"""

import sqlite3

ADDED = {"runs": {"gpus": "TEXT DEFAULT ''"}}
"""Columns added after the first release, by table: an older ledger gets them on opening."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY, idx INTEGER, grid TEXT, variant TEXT, seed TEXT,
    params TEXT, output_dir TEXT, num_cpu INTEGER, state TEXT, attempt INTEGER DEFAULT 0,
    pid INTEGER, cores TEXT DEFAULT '', gpus TEXT DEFAULT '', job_id TEXT, command TEXT DEFAULT '',
    started REAL, ended REAL, exit_code INTEGER, signal INTEGER, reason TEXT DEFAULT '',
    tail TEXT DEFAULT '', epoch INTEGER, metrics TEXT DEFAULT '{}', rev INTEGER DEFAULT 0,
    queue_state TEXT DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_rev ON runs (rev);
CREATE TABLE IF NOT EXISTS attempts (
    name TEXT, attempt INTEGER, state TEXT, pid INTEGER, job_id TEXT, started REAL,
    ended REAL, exit_code INTEGER, signal INTEGER, reason TEXT, tail TEXT,
    PRIMARY KEY (name, attempt)
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL, verb TEXT, target TEXT, done REAL
);
"""


def upgrade(conn: sqlite3.Connection) -> None:
    """Create what the ledger lacks: its tables (:data:`SCHEMA`), then the later columns."""
    conn.executescript(SCHEMA)
    for table, columns in ADDED.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
