"""Households: assistance and poverty household_ids with their members; a student also belongs to
the households of the guardian (matched by guardian ID, else by a unique name in the district).
"""

from __future__ import annotations

import duckdb

from matchers import contract, warehouse
from matchers.resolution import sql_text


def write_household_members(con: duckdb.DuckDBPyConnection, quarter: str) -> int:
    """Replace the quarter's rows of work_household_members from work_source_records."""
    rel = con.sql(
        sql_text.HOUSEHOLD_MEMBERS, params={"quarter": quarter, "head": contract.RELATION_HEAD}
    ).pl()
    con.register("res_household_df", rel)
    try:
        warehouse.replace_rows(con, "work_household_members", {"quarter": quarter}, "res_household_df")
    finally:
        con.unregister("res_household_df")
    return len(rel)
