"""How well guardians without an ID are found: on a resolved warehouse whose education rows carry
guardian IDs, the person holding each guardian ID is the truth; the guardian IDs are then removed
(on a copy) and the guardians found again, by the model (resolution.guardians) and, for
comparison, by "a unique household member of that name in the student's district".

    python -m bench.guardian_links --warehouse bench/out/run_10000/warehouse.duckdb --work-dir /tmp/guardians

Only links to persons on a roll count (only those bring a household). Output: one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import duckdb
import polars as pl

QUARTER = "2026Q3"

_TRUTH = """
SELECT DISTINCT s.person_id AS student_pid, w.person_id AS guardian_pid
FROM work_source_records s
JOIN work_source_records w ON w.quarter = s.quarter AND w.id_norm = s.guardian_id_norm
WHERE s.quarter = $q AND s.source = 'education'
"""
_ON_ROLL = """
SELECT DISTINCT person_id AS guardian_pid, name_norm, district FROM work_source_records
WHERE quarter = $q AND source IN ('assistance', 'poverty') AND household_id IS NOT NULL
"""
_UNIQUE_NAME = """
SELECT s.person_id AS student_pid, any_value(m.guardian_pid) AS guardian_pid
FROM work_source_records s JOIN on_roll m
  ON m.name_norm = s.guardian_name_norm AND m.district IS NOT DISTINCT FROM s.district
WHERE s.quarter = $q AND s.source = 'education'
GROUP BY s.rowid, s.person_id HAVING count(DISTINCT m.guardian_pid) = 1
"""


def score(links: pl.DataFrame, truth: pl.DataFrame, on_roll: pl.DataFrame) -> dict:
    links = links.join(on_roll, on="guardian_pid", how="semi").unique()
    right = links.join(truth, on=["student_pid", "guardian_pid"], how="semi").height
    return {"links": links.height, "right": right, "wrong": links.height - right,
            "precision": round(right / max(links.height, 1), 4), "recall": round(right / max(truth.height, 1), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--quarter", default=QUARTER)
    args = ap.parse_args(argv)
    from matchers.resolution import guardians, model_store

    args.work_dir.mkdir(parents=True, exist_ok=True)
    path = args.work_dir / "warehouse.duckdb"
    shutil.copy(args.warehouse, path)
    con = duckdb.connect(str(path))
    p = {"q": args.quarter}
    model = model_store.latest(con, args.quarter)
    on_roll = con.sql(_ON_ROLL, params=p).pl()
    con.register("on_roll", on_roll)
    guardian_pids = on_roll.select("guardian_pid").unique()
    truth = con.sql(_TRUTH, params=p).pl().join(guardian_pids, on="guardian_pid", how="semi")
    con.execute("UPDATE work_source_records SET guardian_id_norm = NULL, guardian_id = NULL "
                "WHERE quarter = $q AND source = 'education'", p)
    unique_name = con.sql(_UNIQUE_NAME, params=p).pl()
    t0 = time.perf_counter()
    guardians.link_guardians(con, args.quarter, model)
    seconds = round(time.perf_counter() - t0, 2)
    found = con.sql(f"SELECT * FROM {guardians.LINKS_TABLE}").pl()
    con.close()
    print(json.dumps({
        "quarter": args.quarter, "guardians_on_a_roll": truth.height,
        "model": {**score(found, truth, guardian_pids), "seconds": seconds},
        "unique_name_in_district": score(unique_name, truth, guardian_pids),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
