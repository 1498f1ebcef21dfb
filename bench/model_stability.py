"""Stability of person_id when the match weights move: one quarter resolved in full twice, under two
different models (the quarter's own estimate, then the shipped person_model.json), compared row by
row.

    python -m bench.model_stability --warehouse-from /tmp/model_bench/run_10000 --work-dir /tmp/model_stab

--warehouse-from is a directory with warehouse.duckdb and person_id.key where the quarter (and the
earlier one) were run and published, as `bench/run.py` leaves them in bench/out/run_<N>. It is
copied into --work-dir (the original is never written). Steps: resolve the quarter in full with its
own estimate and publish (the published state); resolve it in full again with the shipped model;
compare person_id per row. A row "changes person" when its person_id differs between the two runs.
Those rows are split into rows whose grouping changed (the two models link them with other rows:
a resolution difference) and rows whose grouping is the same but whose person_id is not (an
instability of the person_id itself: that figure must be 0). Output: one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import polars as pl

QUARTER = "2026Q3"
_KEY = ["source", "source_file", "source_row"]


def _resolve(con, quarter: str, key: bytes, model) -> tuple[pl.DataFrame, dict]:
    from matchers.resolution import model_path, resolve_quarter

    t0 = time.perf_counter()
    counts = resolve_quarter(con, quarter, model_path=model_path(), key=key, model=model)
    rows = con.sql(
        "SELECT source, source_file, source_row, id_norm IS NOT NULL AS has_valid_id, person_id, match_method "
        "FROM work_source_records WHERE quarter = ?", params=[quarter]
    ).pl()
    info = {"seconds": round(time.perf_counter() - t0, 2), "model_sha256": counts["model_sha256"],
            "model_fallback": counts["model_fallback"], "model_message": counts["model_message"]}
    return rows, info


def compare(a: pl.DataFrame, b: pl.DataFrame) -> dict:
    """Rows whose person differs between runs a and b, split by whether their grouping changed."""
    j = a.join(b, on=_KEY, suffix="_b")
    # a row keeps its grouping when its person in a and its person in b hold exactly the same rows
    j = j.with_columns(
        n_a=pl.len().over("person_id"), n_b=pl.len().over("person_id_b"),
        n_ab=pl.len().over("person_id", "person_id_b"),
    ).with_columns(same_group=(pl.col("n_a") == pl.col("n_ab")) & (pl.col("n_b") == pl.col("n_ab")))
    changed = j.filter(pl.col("person_id") != pl.col("person_id_b"))
    regrouped = j.filter(~pl.col("same_group"))
    return {
        "rows": j.height,
        "rows_changing_person": changed.height,
        "rows_changing_person_with_valid_id": changed.filter("has_valid_id").height,
        "rows_changing_person_same_grouping": changed.filter("same_group").height,
        "rows_regrouped": regrouped.height,
        "rows_regrouped_by_source": dict(regrouped.group_by("source").len().sort("source").rows()),
        "rows_other_method": j.filter(pl.col("match_method") != pl.col("match_method_b")).height,
        "persons_a": a["person_id"].n_unique(),
        "persons_b": b["person_id"].n_unique(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse-from", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--quarter", default=QUARTER)
    args = ap.parse_args(argv)
    os.environ.setdefault("DUCKDB_MEMORY_LIMIT", "4GB")
    from matchers import warehouse
    from matchers.resolution import model_path
    from matchers.resolution.model import Model
    from matchers.resolution.person_ids import load_or_create_key

    work = args.work_dir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in ("warehouse.duckdb", "person_id.key"):
        shutil.copy(args.warehouse_from / name, work / name)
    os.environ.setdefault("DUCKDB_TEMP_DIR", str(work / "duckdb_tmp"))
    key = load_or_create_key(work / "warehouse.duckdb")
    con = warehouse.connect(work / "warehouse.duckdb")
    estimated, info_a = _resolve(con, args.quarter, key, None)
    warehouse.publish_quarter(con, args.quarter)
    shipped, info_b = _resolve(con, args.quarter, key, Model.load(model_path()))
    con.close()
    if info_a["model_sha256"] == info_b["model_sha256"]:
        print("两次运行用了同一个模型(本季度估计不成功,已改用默认模型),无法比较", file=sys.stderr)
    result = {"quarter": args.quarter, "estimated": info_a, "shipped": info_b, **compare(estimated, shipped)}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
