"""Opening the warehouse (owner-only files, bounded memory, migrated) and transactions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from matchers.private_files import PRIVATE_FILE_MODE, owner_only
from matchers.warehouse.migrations import migrate

# Bounded memory on a shared machine: DuckDB's buffer pool and where it spills, from the
# environment (unset = DuckDB's defaults: 80% of RAM, a .tmp folder next to the database).
MEMORY_LIMIT_ENV = "DUCKDB_MEMORY_LIMIT"  # e.g. 4GB
TEMP_DIR_ENV = "DUCKDB_TEMP_DIR"


def duckdb_config() -> dict[str, str]:
    config = {}
    if os.environ.get(MEMORY_LIMIT_ENV):
        config["memory_limit"] = os.environ[MEMORY_LIMIT_ENV]
    if os.environ.get(TEMP_DIR_ENV):
        config["temp_directory"] = os.environ[TEMP_DIR_ENV]
    return config


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed, owner-only permissions) and migrate the warehouse.

    DUCKDB_MEMORY_LIMIT and DUCKDB_TEMP_DIR, when set, bound DuckDB's memory and say where it spills.
    """
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True, config=duckdb_config())
    with owner_only():
        path.parent.mkdir(parents=True, exist_ok=True)  # new folders are owner-only too
        con = duckdb.connect(str(path), config=duckdb_config())
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            os.chmod(p, PRIVATE_FILE_MODE)
    migrate(con)
    con.complete()  # DuckDB 2: leave no unread result behind for the caller's sql()/register()
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
