"""The reference platform's state in SQLite: projects, clusters, pools, machines, and renewals and upgrades.

A renewal's state is AwaitingApproval (a repave of a cluster that holds repaves for approval), Pending
(queued), Running or Completed.

Every change the platform makes is one ``BEGIN IMMEDIATE`` transaction, so a server killed at any
moment restarts on the same file exactly where the last committed step left it. Times are UTC epoch
seconds (REAL); the HTTP layer turns them into RFC 3339.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    uid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS clusters (
    uid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    project_uid TEXT NOT NULL REFERENCES projects(uid),
    cloud_type TEXT NOT NULL,
    config_uid TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    renewal_mode TEXT NOT NULL,
    subnet INTEGER NOT NULL,
    annotations TEXT NOT NULL DEFAULT '{}',
    spc_annotations TEXT NOT NULL DEFAULT '{}',
    spc_generation INTEGER NOT NULL DEFAULT 1,
    profile_uid TEXT NOT NULL DEFAULT '',
    kubernetes_version TEXT NOT NULL DEFAULT '',
    repave_approval INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pools (
    cluster_uid TEXT NOT NULL REFERENCES clusters(uid),
    name TEXT NOT NULL,
    control_plane INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (cluster_uid, name)
);
CREATE TABLE IF NOT EXISTS machines (
    uid TEXT PRIMARY KEY,
    cluster_uid TEXT NOT NULL REFERENCES clusters(uid),
    pool TEXT NOT NULL,
    control_plane INTEGER NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    state_until REAL,
    ready_at REAL,
    deleting_at REAL,
    deleted_at REAL,
    renewal_id INTEGER,
    replaces TEXT
);
CREATE INDEX IF NOT EXISTS machines_by_cluster ON machines(cluster_uid, pool, state);
CREATE TABLE IF NOT EXISTS renewals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_uid TEXT NOT NULL REFERENCES clusters(uid),
    mode TEXT NOT NULL,
    controlplane_only INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    requested_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    next_at REAL,
    plan TEXT NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL DEFAULT 'renewal',
    version TEXT,
    approved_at REAL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    cluster_uid TEXT NOT NULL,
    machine_uid TEXT,
    renewal_id INTEGER,
    what TEXT NOT NULL
);
"""
# Columns added since the first state files: a file written before gets them when it is opened again.
ADDED_COLUMNS = {
    # repave_approval: 1 when the cluster holds every repave until it is approved
    "clusters": ("profile_uid TEXT NOT NULL DEFAULT ''", "kubernetes_version TEXT NOT NULL DEFAULT ''",
                 "repave_approval INTEGER NOT NULL DEFAULT 0"),
    # kind: 'renewal' (the renew route) or 'upgrade' (a profile update to another Kubernetes version);
    # approved_at: when a repave held for approval was approved
    "renewals": ("kind TEXT NOT NULL DEFAULT 'renewal'", "version TEXT", "approved_at REAL"),
}


class Store:
    """One SQLite file shared by the HTTP handlers' threads and the platform's worker thread.

    Each thread gets its own connection (sqlite3 connections are not shared across threads); WAL lets
    readers go on while the worker writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.connection().executescript(SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        db = self.connection()
        for table, columns in ADDED_COLUMNS.items():
            present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed step survives kill -9 and power loss alike
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken before anything is read, so a decision and its change are one step."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        db = self.connection()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._all.clear()
        self._local = threading.local()
