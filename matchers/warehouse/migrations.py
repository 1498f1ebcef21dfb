"""Versioned schema migrations: `matchers/sql/migrations/NNN_*.sql`, each applied once, in order."""

from __future__ import annotations

from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).parent.parent / "sql" / "migrations"


def migrations() -> list[tuple[int, Path]]:
    out = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        out.append((int(path.name.split("_", 1)[0]), path))
    return out


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)"
    )
    (row,) = con.execute("SELECT max(version) FROM schema_version").fetchall()
    return int(row[0]) if row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the warehouse's version, each in its own transaction.

    Migrations only add: no migration may delete or change a `reviews` row.
    """
    current = schema_version(con)
    for version, path in migrations():
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = version
    return current
