"""Order-free digests of tables: what a refresh compares to know whether rows changed.

Every digest is 'rows:sum of row hashes' over the rows chosen, so it does not depend on row order.
"""

from __future__ import annotations

import duckdb


# source_records' columns the resolution writes (WAREHOUSE.md); the others are the staged row.
RESOLUTION_COLUMNS = ("person_id", "match_method", "match_probability", "match_explanation")


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def quarter_digest(con: duckdb.DuckDBPyConnection, table: str, quarter: str) -> str:
    """Order-free digest of who each row of the quarter was resolved to (rows, keys, person_id,
    match_method): cheap, five narrow columns."""
    n, s = con.execute(
        f"SELECT count(*), coalesce(sum(hash(source, source_file, source_row, person_id, match_method)::HUGEINT), 0) "
        f"FROM {table} WHERE quarter = ?",
        [quarter],
    ).fetchall()[0]
    return f"{n}:{s}"



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



def source_row_digests(
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


def staged_source_digests(
    con: duckdb.DuckDBPyConnection, table: str, quarter: str, with_resolution: bool = False
) -> dict[str, tuple[int, str]]:
    """Per source: (rows, order-free digest of every `stg_records` column of every row of the
    quarter; with the resolution columns too when asked). Unlike `source_row_digests` it reads the
    staged columns only, so staged rows and published rows compare."""
    columns = table_columns(con, "stg_records") + (list(RESOLUTION_COLUMNS) if with_resolution else [])
    cols = ", ".join(f'"{c}"' for c in columns)
    return {
        s: (int(n), str(d))
        for s, n, d in con.execute(
            f"SELECT source, count(*), sum(hash({cols})::HUGEINT) FROM {table} WHERE quarter = ? GROUP BY source",
            [quarter],
        ).fetchall()
    }
