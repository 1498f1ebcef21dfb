"""The workbench's own state: one SQLite file in WAL mode, beside the warehouse.

It holds what the web app owns (officer accounts, sessions, login attempts) and the inbox: every
decision and audit event an officer causes, recorded here first so that it is kept while a
pipeline run holds the warehouse. `web.sync` moves the inbox into `reviews` / `audit_log`; inbox
rows are never deleted (they are the web's own record of who decided what).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS officers (
    username    TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role        TEXT NOT NULL,          -- city / district / street
    district    TEXT,
    street      TEXT,
    password_hash TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,       -- sha256 of the cookie's session token
    username    TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_attempts (
    username    TEXT NOT NULL,
    client      TEXT NOT NULL,
    at          REAL NOT NULL,
    ok          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_at ON login_attempts (at);
CREATE TABLE IF NOT EXISTS inbox_decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    flag_id     TEXT NOT NULL,
    quarter     TEXT,
    decision    TEXT NOT NULL,
    note        TEXT,
    reviewer    TEXT NOT NULL,
    decided_at  TEXT NOT NULL,          -- ISO timestamp, local time like reviews.decided_at
    transferred_at TEXT                 -- when it reached the warehouse's reviews
);
CREATE INDEX IF NOT EXISTS inbox_decisions_flag ON inbox_decisions (flag_id);
CREATE TABLE IF NOT EXISTS inbox_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at   TEXT NOT NULL,
    action      TEXT NOT NULL,
    quarter     TEXT,
    district    TEXT,
    file        TEXT,
    sha256      TEXT,
    actor       TEXT,
    rows        INTEGER,
    details     TEXT,
    transferred_at TEXT
);
"""

_PRIVATE_UMASK = 0o077


class Store:
    """A thread-safe handle on the SQLite file (one connection per thread)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        old = os.umask(_PRIVATE_UMASK)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._open() as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(SCHEMA)
        finally:
            os.umask(old)
        self._local = threading.local()

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout=10000")
        return con

    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._open()
        return con

    def execute(self, sql: str, params: tuple | list | dict = ()) -> sqlite3.Cursor:
        return self.con.execute(sql, params)

    def rows(self, sql: str, params: tuple | list | dict = ()) -> list[dict]:
        return [dict(r) for r in self.con.execute(sql, params).fetchall()]

    # ---- the inbox ---------------------------------------------------------------------------
    def add_decisions(self, items: list[dict], reviewer: str, now: datetime | None = None) -> list[int]:
        """Record decisions (flag_id, quarter, decision, note) by `reviewer`, in one transaction."""
        at = (now or datetime.now()).isoformat(sep=" ", timespec="microseconds")
        con = self.con
        ids = []
        con.execute("BEGIN IMMEDIATE")
        try:
            for it in items:
                cur = con.execute(
                    "INSERT INTO inbox_decisions (flag_id, quarter, decision, note, reviewer, decided_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (it["flag_id"], it.get("quarter"), it["decision"], it.get("note"), reviewer, at),
                )
                ids.append(cur.lastrowid)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return ids

    def audit(self, action: str, actor: str, *, quarter: str | None = None, district: str | None = None,
              file: str | None = None, sha256: str | None = None, rows: int | None = None,
              details: dict | None = None) -> None:
        self.execute(
            "INSERT INTO inbox_audit (logged_at, action, quarter, district, file, sha256, actor, rows, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (datetime.now().isoformat(sep=" ", timespec="microseconds"), action, quarter, district, file, sha256,
             actor, rows, json.dumps(details or {}, ensure_ascii=False, default=str)),
        )

    def decisions_since(self, since: str | None) -> list[dict]:
        """Inbox decisions the warehouse snapshot taken at `since` may not hold: those not yet
        transferred, or transferred after it (None: all of them)."""
        if since is None:
            return self.rows("SELECT * FROM inbox_decisions ORDER BY id")
        return self.rows(
            "SELECT * FROM inbox_decisions WHERE transferred_at IS NULL OR transferred_at >= ? ORDER BY id", (since,)
        )

    def pending(self, table: str) -> list[dict]:
        assert table in ("inbox_decisions", "inbox_audit")
        return self.rows(f"SELECT * FROM {table} WHERE transferred_at IS NULL ORDER BY id")

    def mark_transferred(self, table: str, ids: list[int], at: str) -> None:
        assert table in ("inbox_decisions", "inbox_audit")
        if ids:
            self.con.executemany(f"UPDATE {table} SET transferred_at = ? WHERE id = ?", [(at, i) for i in ids])
