"""Every query the review workbench's pages run, over its prepared warehouse copy (`snapshot_tables`).

Pure functions of a DuckDB connection and plain values; the web package never writes SQL. Every
query takes the officer's scope (`district`, `street`: None means not limited) and applies it in
SQL, so a page can only ever see rows of the officer's area. Decisions recorded since the copy was
taken (the web inbox) are passed as two parallel lists and override the copy's status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb

from matchers.reports.labels import PENDING

# The inbox overlay and the scope, shared by every query below (over `wb_flags`, or over
# `wb_household_flags`, the same rows filed under each household they concern).
_BASE_TEMPLATE = """
WITH inbox AS (
    SELECT unnest($inbox_flags::VARCHAR[]) AS flag_id, unnest($inbox_decisions::VARCHAR[]) AS decision
),
w AS (
    SELECT f.* REPLACE (coalesce(i.decision, f.status) AS status)
    FROM {table} AS f LEFT JOIN inbox AS i USING (flag_id)
    WHERE {where}($district IS NULL OR f.district = $district)
      AND ($street IS NULL OR f.street = $street)
)
"""
_BASE = _BASE_TEMPLATE.format(table="wb_flags", where="")
HOUSEHOLD_BASE = _BASE_TEMPLATE.format(table="wb_household_flags", where="f.member_of = $key AND ")

# Work-list sort keys an officer may choose (column → SQL), the first is the default.
SORTS: dict[str, str] = {
    "rule": "rule_code, street NULLS LAST, name, flag_id",
    "street": "street NULLS LAST, community NULLS LAST, rule_code, flag_id",
    "name": "name, flag_id",
    "status": "status, rule_code, flag_id",
    "first_seen": "first_seen, rule_code, flag_id",
}
NEW, CARRIED = "new", "carried"
PAGE_SIZE = 50
_DIGITS = re.compile(r"^[0-9Xx]{2,}$")


@dataclass
class Scope:
    district: str | None = None
    street: str | None = None
    inbox: dict[str, str] = field(default_factory=dict)  # flag_id → latest inbox decision

    def params(self) -> dict:
        return {
            "district": self.district,
            "street": self.street,
            "inbox_flags": list(self.inbox),
            "inbox_decisions": list(self.inbox.values()),
        }


@dataclass
class ListFilter:
    quarter: str
    rule_code: str | None = None
    status: str | None = None
    street: str | None = None
    community: str | None = None
    age: str | None = None  # NEW / CARRIED
    search: str | None = None  # part of a name, or the last digits of an ID
    sort: str = "rule"
    page: int = 1


@lru_cache(maxsize=256)
def _parameter_names(sql: str) -> frozenset[str]:
    (statement,) = duckdb.extract_statements(sql)
    return frozenset(statement.named_parameters)


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> duckdb.DuckDBPyConnection:
    """Run one statement binding only the named parameters it uses (DuckDB refuses extra ones)."""
    return con.execute(sql, {k: params[k] for k in _parameter_names(sql)})


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    cur = execute(con, sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Quarters with flags, newest first."""
    return [r[0] for r in con.execute("SELECT DISTINCT quarter FROM wb_flags ORDER BY quarter DESC").fetchall()]


_LIST_WHERE = """
WHERE quarter = $quarter
  AND ($rule_code IS NULL OR rule_code = $rule_code)
  AND ($status IS NULL OR status = $status)
  AND ($f_street IS NULL OR street = $f_street)
  AND ($community IS NULL OR community = $community)
  AND ($age IS NULL OR is_new = ($age = 'new'))
  AND ($name_part IS NULL OR contains(name, $name_part))
  AND ($id_tail IS NULL OR upper(id_full) LIKE '%' || $id_tail)
"""


def _list_params(scope: Scope, f: ListFilter) -> dict:
    search = (f.search or "").strip()
    is_digits = bool(_DIGITS.match(search))
    return {
        **scope.params(),
        "quarter": f.quarter,
        "rule_code": f.rule_code or None,
        "status": f.status or None,
        "f_street": f.street or None,
        "community": f.community or None,
        "age": f.age if f.age in (NEW, CARRIED) else None,
        "name_part": search if search and not is_digits else None,
        "id_tail": search.upper() if is_digits else None,
    }


def work_list(con: duckdb.DuckDBPyConnection, scope: Scope, f: ListFilter) -> tuple[list[dict], int]:
    """One page of the filtered work list and the number of rows matching in all (one query; a
    second only for a page past the end)."""
    params = _list_params(scope, f)
    order = SORTS.get(f.sort, next(iter(SORTS.values())))
    page = max(1, f.page)
    rows = _rows(
        con,
        _BASE + "SELECT quarter, flag_id, rule_code, district, street, community, household_key, name, id_masked, "
        "reason, first_seen, is_new, status, count(*) OVER () AS total FROM w" + _LIST_WHERE
        + f" ORDER BY {order} LIMIT $limit OFFSET $offset",
        {**params, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE},
    )
    if rows:
        total = rows[0]["total"]
    else:
        (total,) = execute(con, _BASE + "SELECT count(*) FROM w" + _LIST_WHERE, params).fetchone()
    for r in rows:
        del r["total"]
    return rows, int(total)


def filter_choices(con: duckdb.DuckDBPyConnection, scope: Scope, quarter: str) -> dict[str, list[str]]:
    """The rule codes, streets and communities of the quarter within the scope (for the filters);
    they do not depend on decisions, so a caller may keep them for as long as its warehouse copy."""
    params = {**scope.params(), "quarter": quarter}
    row = execute(con, _BASE + """
        SELECT list_sort(list_distinct(list(rule_code))), list_sort(list_distinct(list(street))),
               list_sort(list_distinct(list(community)))
        FROM w WHERE quarter = $quarter""", params).fetchone()
    return {col: list(values or []) for col, values in zip(("rule_code", "street", "community"), row)}


def overview(con: duckdb.DuckDBPyConnection, scope: Scope, quarter: str) -> dict:
    """Counts of the quarter: per rule, per status, new / carried over / resolved; and per quarter."""
    params = {**scope.params(), "quarter": quarter}
    per_rule = _rows(con, _BASE + """
        SELECT rule_code, count(*) AS n, count(*) FILTER (WHERE is_new) AS new
        FROM w WHERE quarter = $quarter GROUP BY rule_code ORDER BY rule_code""", params)
    per_status = _rows(con, _BASE + """
        SELECT status, count(*) AS n FROM w WHERE quarter = $quarter GROUP BY status ORDER BY n DESC, status""",
        params)
    (total, new) = execute(con, _BASE + "SELECT count(*), count(*) FILTER (WHERE is_new) FROM w WHERE quarter = $quarter",
                               params).fetchone()
    (resolved,) = execute(con, _BASE + """
        SELECT count(*) FROM resolved_flags AS r JOIN (SELECT DISTINCT flag_id FROM w) USING (flag_id)
        WHERE r.quarter = $quarter""", params).fetchone()
    per_quarter = _rows(con, _BASE + """
        SELECT quarter, count(*) AS n, count(*) FILTER (WHERE is_new) AS new,
               count(*) FILTER (WHERE status <> $pending) AS decided
        FROM w GROUP BY quarter ORDER BY quarter""", {**params, "pending": PENDING})
    return {"total": int(total), "new": int(new), "carried": int(total - new), "resolved": int(resolved),
            "per_rule": per_rule, "per_status": per_status, "per_quarter": per_quarter}


def flag(con: duckdb.DuckDBPyConnection, scope: Scope, flag_id: str) -> dict | None:
    """The flag's newest row within the scope, or None (unknown, or outside the officer's area)."""
    rows = _rows(con, _BASE + "SELECT * EXCLUDE (id_full) FROM w WHERE flag_id = $flag_id ORDER BY quarter DESC LIMIT 1",
                 {**scope.params(), "flag_id": flag_id})
    return rows[0] if rows else None


def visible_flags(con: duckdb.DuckDBPyConnection, scope: Scope, flag_ids: list[str]) -> dict[str, dict]:
    """Of `flag_ids`, those within the scope: flag_id → its newest row (quarter, district)."""
    rows = _rows(con, _BASE + """
        SELECT flag_id, arg_max(quarter, quarter) AS quarter, arg_max(district, quarter) AS district
        FROM w WHERE list_contains($ids::VARCHAR[], flag_id) GROUP BY flag_id""",
        {**scope.params(), "ids": flag_ids})
    return {r["flag_id"]: r for r in rows}


def districts(con: duckdb.DuckDBPyConnection, scope: Scope, quarter: str) -> list[dict]:
    """The districts with flags in the quarter within the scope, with their counts (for the 核查名单)."""
    return _rows(con, _BASE + """
        SELECT district, count(*) AS n, count(*) FILTER (WHERE status = $pending) AS pending
        FROM w WHERE quarter = $quarter GROUP BY district ORDER BY district""",
        {**scope.params(), "quarter": quarter, "pending": PENDING})


def files_read(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """What the runs read: every extract file per quarter and source, with its row counts."""
    return _rows(con, """
        SELECT quarter, source, source_file, data_rows, accepted, rejected, encoding, loaded_at
        FROM stg_files ORDER BY quarter DESC, source, source_file""", {})


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 12) -> list[dict]:
    """The newest steps recorded in run_log (quarter, step, run, start, end)."""
    return _rows(con, """
        SELECT quarter, step, run_id, started_at, finished_at FROM run_log
        ORDER BY finished_at DESC NULLS LAST LIMIT $limit""", {"limit": limit})
