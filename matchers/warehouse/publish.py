"""Publishing a quarter: the public tables are made equal to the work tables in one transaction,
writing only the rows that differ."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from matchers.warehouse import faults
from matchers.warehouse.connection import transaction
from matchers.warehouse.digests import row_hash, source_row_digests
from matchers.warehouse.run_log import partial_sources
from matchers.warehouse.sql import differing_sql


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


def _changed_sources(con: duckdb.DuckDBPyConnection, quarter: str) -> list[str]:
    """The sources whose rows of the quarter may differ between work_source_records and
    source_records: those an incremental resolution re-resolved (`partial_sources`), else those
    whose whole-row digests differ."""
    partial = partial_sources(con, quarter)
    if partial is not None:
        return sorted(partial)
    pub = source_row_digests(con, "source_records", quarter)
    work = source_row_digests(con, "work_source_records", quarter)
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
    `partial_sources`; else those whose whole-row digests differ), household_members by
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
        faults.crash_point("publish")
        if "persons" not in counts:
            counts["persons"] = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    return counts
