"""The DuckDB warehouse: opening it, versioned schema migrations, replacing a quarter's rows.

Pure library (no Dagster). Public tables follow ../shared/contract/WAREHOUSE.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"

# Files the warehouse creates are readable by their owner only (personal data).
_PRIVATE_UMASK = 0o077


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
    old = os.umask(_PRIVATE_UMASK)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # new folders are owner-only too
        con = duckdb.connect(str(path), config=duckdb_config())
    finally:
        os.umask(old)
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            os.chmod(p, 0o600)
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


def register(con: duckdb.DuckDBPyConnection, name: str, table) -> None:
    """Register a Python table (arrow/polars/pandas) under `name`.

    DuckDB 2 refuses register/unregister while an earlier execute() result is unread (a
    `fetchone()` leaves it so); finish that result first.
    """
    con.complete()
    con.register(name, table)


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.complete()
    con.unregister(name)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where: dict[str, object],
    relation_name: str | None,
) -> None:
    """Delete the rows of `table` matching `where` and insert the rows of a registered relation.

    Columns are matched by name; columns the relation lacks are null. Call inside a transaction.
    """
    cond = " AND ".join(f"{k} = ?" for k in where) or "TRUE"
    con.execute(f"DELETE FROM {table} WHERE {cond}", list(where.values()))
    if relation_name is None:
        return
    cols = table_columns(con, table)
    have = set(table_columns(con, relation_name))
    select = ", ".join(c if c in have else f"NULL AS {c}" for c in cols)
    con.execute(f"INSERT INTO {table} SELECT {select} FROM {relation_name}")


# Tests prove that a run killed at its worst moment leaves the warehouse as it was: with
# WAREHOUSE_CRASH_AT=publish the process kills itself inside the publishing transaction; with
# WAREHOUSE_PAUSE_AT=publish it waits there WAREHOUSE_PAUSE_SECONDS (so a second run meets it).
CRASH_ENV = "WAREHOUSE_CRASH_AT"
PAUSE_ENV, PAUSE_SECONDS_ENV = "WAREHOUSE_PAUSE_AT", "WAREHOUSE_PAUSE_SECONDS"


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_ENV) == name:
        import time

        time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "30")))


def _table_ddl(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The CREATE TABLE statement of `table` as the warehouse holds it now (columns, constraints)."""
    (sql,) = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' AND NOT temporary",
        [table],
    ).fetchone()
    return sql


def _replace_quarter(con: duckdb.DuckDBPyConnection, public: str, select: str, quarter: str) -> int:
    """Replace `public`'s rows of `quarter` with the rows `select` returns; the number inserted.

    A quarter published for the first time has nothing to delete, so the DELETE is skipped; the
    count is the INSERT's own, not a second scan of the public table.
    """
    if con.execute(f"SELECT 1 FROM {public} WHERE quarter = ? LIMIT 1", [quarter]).fetchall():
        con.execute(f"DELETE FROM {public} WHERE quarter = ?", [quarter]).fetchall()
    (inserted,) = con.execute(f"INSERT INTO {public} BY NAME {select}", [quarter]).fetchone()
    return int(inserted)


def quarter_digest(con: duckdb.DuckDBPyConnection, table: str, quarter: str) -> str:
    """Order-free digest of who each row of the quarter was resolved to (rows, keys, person_id,
    match_method): cheap, five narrow columns."""
    n, s = con.execute(
        f"SELECT count(*), coalesce(sum(hash(source, source_file, source_row, person_id, match_method)::HUGEINT), 0) "
        f"FROM {table} WHERE quarter = ?",
        [quarter],
    ).fetchall()[0]
    return f"{n}:{s}"


# The resolution step's run_log record ('resolution', matchers.resolution.incremental) names, for an
# incremental run, the sources whose rows it wrote (`publish_sources`), the digest of the published
# rows it built on (`published_digest`) and of its result (`result_digest`).
RESOLUTION_STEP = "resolution"


def _partial_sources(con: duckdb.DuckDBPyConnection, quarter: str) -> list[str] | None:
    """The sources whose rows alone differ between work_source_records and source_records, when the
    newest resolution run of the quarter was incremental and both tables are still as it left them
    (published rows: those it built on; work rows: its result). Else None: the whole quarter."""
    rec = con.execute(
        "SELECT details FROM run_log WHERE quarter = ? AND step = ? ORDER BY finished_at DESC LIMIT 1",
        [quarter, RESOLUTION_STEP],
    ).fetchall()
    if not rec:
        return None
    d = rec[0][0]
    d = json.loads(d) if isinstance(d, str) else d
    sources = d.get("publish_sources")
    if sources is None or not d.get("published_digest") or not d.get("result_digest"):
        return None
    if quarter_digest(con, "source_records", quarter) != d["published_digest"]:
        return None
    if quarter_digest(con, "work_source_records", quarter) != d["result_digest"]:
        return None
    return list(sources)


def _replace_sources(con: duckdb.DuckDBPyConnection, quarter: str, sources: list[str]) -> int:
    """Replace only `sources`' rows of the quarter in source_records; the number of rows the quarter
    has there afterwards (what a whole replacement would have inserted)."""
    if sources:
        con.execute(
            "DELETE FROM source_records WHERE quarter = ? AND list_contains(?::VARCHAR[], source)",
            [quarter, sources],
        ).fetchall()
        con.execute(
            "INSERT INTO source_records BY NAME SELECT * FROM work_source_records "
            "WHERE quarter = ? AND list_contains(?::VARCHAR[], source)",
            [quarter, sources],
        ).fetchall()
    return int(con.execute("SELECT count(*) FROM source_records WHERE quarter = ?", [quarter]).fetchone()[0])


def publish_quarter(con: duckdb.DuckDBPyConnection, quarter: str) -> dict[str, int]:
    """Swap the quarter's work tables into the public tables, all in one transaction.

    `persons` is the cross-quarter master index: work_persons holds the whole index after the
    run. `reviews` is never touched.

    `persons` is replaced by dropping and re-creating it from its own DDL (same columns, same
    primary key) and inserting work_persons: the same rows in the same order as deleting every
    row and inserting, without DuckDB removing each deleted key from the primary-key index at
    commit (about 40% of the publish's CPU at 100,000 households).

    After an incremental refresh (the newest resolution record of the quarter names the sources it
    re-resolved, and neither source_records nor work_source_records has changed since: digests
    checked) only those sources' rows of source_records are replaced: the other sources' work rows
    are copies of the published ones. Otherwise the whole quarter is replaced.
    """
    counts: dict[str, int] = {}
    with transaction(con):
        partial = _partial_sources(con, quarter)
        if partial is None:
            counts["source_records"] = _replace_quarter(
                con, "source_records", "SELECT * FROM work_source_records WHERE quarter = ?", quarter
            )
        else:  # an incremental refresh: the other sources' work rows are the published ones
            counts["source_records"] = _replace_sources(con, quarter, partial)
        for public, work in (
            ("household_members", "work_household_members"),
            ("flags", "work_flags"),
        ):
            counts[public] = _replace_quarter(con, public, f"SELECT * FROM {work} WHERE quarter = ?", quarter)
        counts["rejected_rows"] = _replace_quarter(
            con,
            "rejected_rows",
            "SELECT quarter, source, source_file, source_row, reason, raw FROM stg_rejected WHERE quarter = ?",
            quarter,
        )
        if con.execute("SELECT 1 FROM work_persons LIMIT 1").fetchall():
            ddl = _table_ddl(con, "persons")
            con.execute("DROP TABLE persons")
            con.execute(ddl)
            (counts["persons"],) = con.execute("INSERT INTO persons BY NAME SELECT * FROM work_persons").fetchone()
        _crash_point("publish")
        if "persons" not in counts:
            counts["persons"] = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    return counts


class WarehouseBusy(Exception):
    """Another run is writing the warehouse; the message is Chinese and says what to do."""


class WriterLock:
    """One writer at a time: an exclusive lock on `<warehouse>.lock`, held for a whole run.

    The operating system releases it when the process ends, even when killed, so a crashed run
    never leaves the warehouse locked.
    """

    def __init__(self, warehouse_path: str | os.PathLike):
        self.path = Path(str(warehouse_path) + ".lock")
        self._fh = None

    def acquire(self, wait_seconds: float = 0.0, holder: str = "") -> None:
        import fcntl
        import json
        import time

        old = os.umask(_PRIVATE_UMASK)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")
        finally:
            os.umask(old)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    info = fh.read().strip()
                    fh.close()
                    try:
                        who = json.loads(info) if info else {}
                    except ValueError:
                        who = {}
                    since = who.get("since", "未知时间")
                    raise WarehouseBusy(
                        f"另一个比对作业正在写入仓库 {self.path.with_suffix('')}"
                        f"(进程 {who.get('pid', '?')},开始于 {since}),本次运行未做任何修改。"
                        "请等它结束后再运行。"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        import datetime as dt

        fh.write(json.dumps({"pid": os.getpid(), "since": dt.datetime.now().isoformat(timespec="seconds"), "run": holder}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        import fcntl

        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
