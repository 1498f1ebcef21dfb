"""Households: assistance and poverty household_ids with their members; a student also belongs to
the households of the guardian (matched by the guardian's valid ID, else resolved with the model in
force: resolution.guardians).
"""

from __future__ import annotations

import duckdb

from matchers import contract, warehouse
from matchers.resolution import guardians, model_store, sql_text
from matchers.resolution.model import DEFAULT_MODEL_PATH, Model


def write_household_members(con: duckdb.DuckDBPyConnection, quarter: str, model: Model | None = None) -> int:
    """Replace the quarter's rows of work_household_members from work_source_records. `model`: the
    model the quarter was resolved with (default: the one kept with the quarter, else the shipped)."""
    if model is None:
        model = model_store.latest(con, quarter) or Model.load(DEFAULT_MODEL_PATH)
    guardians.link_guardians(con, quarter, model)
    rel = con.sql(
        sql_text.HOUSEHOLD_MEMBERS, params={"quarter": quarter, "head": contract.RELATION_HEAD}
    ).pl()
    con.register("res_household_df", rel)
    try:
        warehouse.replace_rows(con, "work_household_members", {"quarter": quarter}, "res_household_df")
    finally:
        con.unregister("res_household_df")
        con.execute(f"DROP TABLE IF EXISTS {guardians.LINKS_TABLE}")
    return len(rel)
