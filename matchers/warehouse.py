"""The DuckDB warehouse: opening it, versioned schema migrations, replacing a quarter's rows.

Pure library (no Dagster). Public tables follow ../shared/contract/WAREHOUSE.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
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


def execute_script(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> None:
    """Execute each statement of `sql`, binding only the named parameters it uses (all of which
    `params` must hold)."""
    params = params or {}
    for statement in duckdb.extract_statements(sql):
        names = statement.named_parameters
        missing = names - params.keys()
        if missing:
            raise KeyError(f"SQL uses unknown parameters: {sorted(missing)}")
        con.execute(statement, {k: params[k] for k in names})


def temp_table(con: duckdb.DuckDBPyConnection, name: str, table) -> None:
    """CREATE OR REPLACE TEMP TABLE `name` holding a Python table (arrow/polars/pandas)."""
    register(con, f"{name}_df", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
    finally:
        unregister(con, f"{name}_df")


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


# The flags step's record (matchers.rules.engine, step 'flags') carries the same three keys when the
# rules run compared the work rows with the published ones itself (a scoped run).
FLAGS_STEP = "flags"


def latest_run_details(con: duckdb.DuckDBPyConnection, quarter: str, step: str) -> dict | None:
    """The details of the newest run_log record of `step` for the quarter (None without one)."""
    rec = con.execute(
        "SELECT details FROM run_log WHERE quarter = ? AND step = ? ORDER BY finished_at DESC LIMIT 1",
        [quarter, step],
    ).fetchall()
    if not rec:
        return None
    d = rec[0][0]
    return json.loads(d) if isinstance(d, str) else d


def _recorded_sources(con: duckdb.DuckDBPyConnection, quarter: str, step: str) -> list[str] | None:
    """The sources the newest `step` record of the quarter says alone differ between
    work_source_records and source_records, when both tables are still as it saw them (published
    rows: those it compared with; work rows: its result or input). Else None."""
    d = latest_run_details(con, quarter, step)
    if d is None:
        return None
    sources = d.get("publish_sources")
    if sources is None or not d.get("published_digest") or not d.get("result_digest"):
        return None
    if quarter_digest(con, "source_records", quarter) != d["published_digest"]:
        return None
    if quarter_digest(con, "work_source_records", quarter) != d["result_digest"]:
        return None
    return list(sources)


def _partial_sources(con: duckdb.DuckDBPyConnection, quarter: str) -> list[str] | None:
    """The sources whose rows alone differ between work_source_records and source_records, as the
    newest resolution run of the quarter (when incremental) or the newest flags run (when scoped)
    recorded them, while both tables are still as it left them; both valid: the sources both name.
    Else None: any source may differ."""
    found = [s for s in (_recorded_sources(con, quarter, step) for step in (RESOLUTION_STEP, FLAGS_STEP)) if s is not None]
    if not found:
        return None
    return sorted(set.intersection(*(set(s) for s in found)))


def row_hash(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...] | None = None) -> str:
    """SQL for a hash of a whole row of `table` (every column, in the table's order; or `columns`)."""
    return f"hash({', '.join(columns or table_columns(con, table))})"


def table_digest(con: duckdb.DuckDBPyConnection, table: str, quarter: str | None = None,
                 columns: tuple[str, ...] | None = None) -> str:
    """Order-free digest 'rows:sum of row hashes' of a table (of one quarter's rows of it; of
    `columns` only when given)."""
    where, params = ("WHERE quarter = ?", [quarter]) if quarter is not None else ("", [])
    n, s = con.execute(
        f"SELECT count(*), sum({row_hash(con, table, columns)}) FROM {table} {where}", params
    ).fetchall()[0]
    return f"{n}:{s or 0}"


def differing_sql(work: str, public: str, select: str, group: str, row_work: str, row_public: str,
                  where: str = "") -> str:
    """SQL: the `group` values (as `select` names them) of the rows one of the two tables holds more
    often than the other, the multiset difference of whole rows (`row_work` / `row_public`: SQL for
    each side's row hash, e.g. `row_hash`). `where` applies to both sides (its parameters appear
    twice: work's, then public's)."""
    return f"""
    SELECT DISTINCT {group} FROM (
        SELECT {select}, {row_work} AS h, 1 AS side FROM {work} {where}
        UNION ALL
        SELECT {select}, {row_public} AS h, -1 AS side FROM {public} {where}
    )
    GROUP BY {group}, h
    HAVING sum(side) <> 0  -- a row one side holds more often than the other
"""


def source_digests(
    con: duckdb.DuckDBPyConnection, table: str, quarter: str, sources: list[str] | None = None
) -> dict[str, str]:
    """Order-free digest of every whole row of the quarter (of `sources` only, when given), per
    source ('rows:sum of row hashes'); a source holding a row of no person is marked ':no-person'."""
    only = "" if sources is None else "AND list_contains(?::VARCHAR[], source)"
    rows = con.execute(
        f"SELECT source, count(*), sum({row_hash(con, table)}), count(*) FILTER (WHERE person_id IS NULL) "
        f"FROM {table} WHERE quarter = ? {only} GROUP BY source",
        [quarter] if sources is None else [quarter, sources],
    ).fetchall()
    return {str(src): f"{n}:{h or 0}" + (":no-person" if nulls else "") for src, n, h, nulls in rows}


def _changed_sources(con: duckdb.DuckDBPyConnection, quarter: str) -> list[str]:
    """The sources whose rows of the quarter may differ between work_source_records and
    source_records: those an incremental resolution re-resolved (`_partial_sources`), else those
    whose whole-row digests differ."""
    partial = _partial_sources(con, quarter)
    if partial is not None:
        return sorted(partial)
    pub = source_digests(con, "source_records", quarter)
    work = source_digests(con, "work_source_records", quarter)
    return sorted(s for s in set(pub) | set(work) if pub.get(s) != work.get(s))


# Above this share of the rows differing, replacing them all is cheaper than by key.
WHOLE_SHARE = 0.5


def publish_difference(
    con: duckdb.DuckDBPyConnection,
    public: str,
    work: str,
    key: tuple[str, ...],
    quarter: str | None,
    sources: list[str] | None = None,
    replace_whole: Callable[[], object] | None = None,
) -> int:
    """Make `public`'s rows (of `quarter`; None: the whole table) equal to `work`'s by difference:
    for every key whose rows differ, or exist on one side only, delete the public rows and insert
    the work rows; keys whose rows are the same on both sides are not touched. `sources`: only
    rows of these sources can differ (the others are known equal). When most rows differ (or one
    side is empty) every row is replaced instead (`replace_whole`, default: delete and insert).
    Returns the work rows' count (what a whole replacement would have inserted). Call inside a
    transaction.

    Rows are compared by a hash of the whole row and grouped by a hash of `key`: a key group left
    alone has the same rows on both sides, so the result is the work rows whatever the grouping.
    Deletes and inserts stay within `sources` too, so a key group never reaches past them.
    """
    row = row_hash(con, public)
    k = f"hash({', '.join(key)})"
    where, params = ("WHERE quarter = ?", [quarter]) if quarter is not None else ("WHERE TRUE", [])
    if sources is not None:
        where += " AND list_contains(?::VARCHAR[], source)"
        params = [*params, sources]
    (n_work, d_work), (n_pub, d_pub) = con.execute(
        f"SELECT (SELECT (count(*), sum({row})) FROM {work} {where}), (SELECT (count(*), sum({row})) FROM {public} {where})",
        params + params,
    ).fetchall()[0]
    if (n_work, d_work) == (n_pub, d_pub):
        pass
    elif n_pub == 0 or n_work == 0:
        _replace_all(con, public, work, where, params, n_pub, replace_whole)
    else:
        # the multiset difference: the (key, row) pairs whose count differs between the two sides
        (n_keys,) = con.execute(
            "CREATE OR REPLACE TEMP TABLE _publish_keys AS "
            + differing_sql(work, public, f"{k} AS k", "k", row, row, where),
            params + params,
        ).fetchall()[0]
        if n_keys > WHOLE_SHARE * max(n_work, n_pub):
            _replace_all(con, public, work, where, params, n_pub, replace_whole)
        else:
            con.execute(f"DELETE FROM {public} {where} AND {k} IN (SELECT k FROM _publish_keys)", params).fetchall()
            con.execute(
                f"INSERT INTO {public} BY NAME SELECT * FROM {work} {where} AND {k} IN (SELECT k FROM _publish_keys)",
                params,
            ).fetchall()
        con.execute("DROP TABLE _publish_keys")
    where_q, params_q = ("WHERE quarter = ?", [quarter]) if quarter is not None else ("", [])
    return int(con.execute(f"SELECT count(*) FROM {work} {where_q}", params_q).fetchone()[0])


def _replace_all(con, public: str, work: str, where: str, params: list, n_pub: int,
                 replace_whole: Callable[[], object] | None) -> None:
    if replace_whole is not None:
        replace_whole()
        return
    if n_pub:
        con.execute(f"DELETE FROM {public} {where}", params).fetchall()
    con.execute(f"INSERT INTO {public} BY NAME SELECT * FROM {work} {where}", params).fetchall()


def _recreate_persons(con: duckdb.DuckDBPyConnection) -> None:
    """persons := work_persons by dropping and re-creating it from its own DDL (same columns, same
    primary key): the same rows as deleting every row and inserting, without DuckDB removing each
    deleted key from the primary-key index at commit (about 40% of a full publish's CPU at 100,000
    households)."""
    ddl = _table_ddl(con, "persons")
    con.execute("DROP TABLE persons")
    con.execute(ddl)
    con.execute("INSERT INTO persons BY NAME SELECT * FROM work_persons").fetchall()


def _replace_sources(con: duckdb.DuckDBPyConnection, quarter: str, sources: list[str]) -> int:
    """Make source_records' rows of the quarter equal to work_source_records', writing only the rows
    that differ, which lie in `sources`; the number of rows the quarter has there afterwards."""
    return publish_difference(
        con, "source_records", "work_source_records", ("source", "source_file", "source_row"), quarter, sources
    )


def publish_quarter(con: duckdb.DuckDBPyConnection, quarter: str) -> dict[str, int]:
    """Make the public tables hold the quarter's work tables, all in one transaction.

    `persons` is the cross-quarter master index: work_persons holds the whole index after the
    run (an empty work_persons leaves it as it is). `reviews` is never touched.

    Only what differs is written (`publish_difference`): source_records by row key (source, file,
    row) within the sources whose rows differ (after an incremental refresh: those it re-resolved,
    `_partial_sources`; else those whose whole-row digests differ), household_members by
    (household, person), flags by flag_id, persons by person_id (an upsert: a refresh changes a
    handful of persons). When most rows of a table differ (a quarter's first publish, a full run
    of a new quarter) they are all replaced instead; persons then by dropping and re-creating it
    (`_recreate_persons`: deleting every row of an indexed table is slow). Either way the public
    rows end up equal to the work rows. rejected_rows (small) is replaced wholesale.
    """
    counts: dict[str, int] = {}
    with transaction(con):
        counts["source_records"] = _replace_sources(con, quarter, _changed_sources(con, quarter))
        counts["household_members"] = publish_difference(
            con, "household_members", "work_household_members", ("household_key", "person_id"), quarter
        )
        counts["flags"] = publish_difference(con, "flags", "work_flags", ("flag_id",), quarter)
        counts["rejected_rows"] = _replace_quarter(
            con,
            "rejected_rows",
            "SELECT quarter, source, source_file, source_row, reason, raw FROM stg_rejected WHERE quarter = ?",
            quarter,
        )
        if con.execute("SELECT 1 FROM work_persons LIMIT 1").fetchall():
            counts["persons"] = publish_difference(
                con, "persons", "work_persons", ("person_id",), None, replace_whole=lambda: _recreate_persons(con)
            )
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
