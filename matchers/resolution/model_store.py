"""The models quarters were resolved with, kept in the warehouse (migration 006: match_models,
match_model_weights), so anyone can see what the weights were that quarter and a refresh can score
with its base's model."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import polars as pl

from matchers import warehouse
from matchers.resolution.model import Model
from matchers.resolution.training import Estimate


def store(con: duckdb.DuckDBPyConnection, quarter: str, estimate: Estimate) -> str:
    """Keep the run's model with the quarter (inside the caller's transaction); returns its sha256."""
    model = estimate.model
    sha = model.sha256()
    p = {"quarter": quarter, "sha": sha}
    for table in ("match_models", "match_model_weights"):
        con.execute(f"DELETE FROM {table} WHERE quarter = $quarter AND model_sha256 = $sha", p)
    con.execute(
        "INSERT INTO match_models VALUES ($quarter, $sha, $fallback, $reason, $evidence, $json, $at)",
        {**p, "fallback": estimate.fallback, "reason": "; ".join(estimate.reasons) if estimate.fallback else None,
         "evidence": json.dumps(estimate.evidence, ensure_ascii=False), "json": model.to_json(),
         "at": dt.datetime.now()},
    )
    weights = pl.DataFrame(model.weight_rows()).select(
        pl.lit(quarter).alias("quarter"), pl.lit(sha).alias("model_sha256"),
        "comparison", "comparison_label", "level", "level_label", "level_order", "m", "u", "weight",
    )
    warehouse.register(con, "res_model_weights_df", weights)
    try:
        con.execute("INSERT INTO match_model_weights BY NAME SELECT * FROM res_model_weights_df")
    finally:
        warehouse.unregister(con, "res_model_weights_df")
    return sha


def load(con: duckdb.DuckDBPyConnection, quarter: str, sha: str | None) -> Model | None:
    """The model `sha` kept with `quarter`, or None (never kept, or written by another version)."""
    if not sha:
        return None
    rows = con.execute(
        "SELECT model_json FROM match_models WHERE quarter = ? AND model_sha256 = ? LIMIT 1", [quarter, sha]
    ).fetchall()
    if not rows:
        return None
    try:
        return Model.from_json(rows[0][0])
    except (ValueError, KeyError):
        return None


def latest(con: duckdb.DuckDBPyConnection, quarter: str) -> Model | None:
    """The model the quarter's last resolution kept, or None."""
    rows = con.execute(
        "SELECT model_sha256 FROM match_models WHERE quarter = ? ORDER BY created_at DESC LIMIT 1", [quarter]
    ).fetchall()
    return load(con, quarter, rows[0][0]) if rows else None
