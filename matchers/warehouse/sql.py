"""SQL helpers over a warehouse connection: Python tables in and out, scripts with named
parameters, replacing rows, the multiset difference of two tables."""

from __future__ import annotations

import duckdb

from matchers.warehouse.digests import table_columns


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
