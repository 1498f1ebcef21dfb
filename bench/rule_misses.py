"""Every miss and extra of bench.rule_quality, with the rows behind it, to find their causes.

    python -m bench.rule_misses --warehouse <wh.duckdb> --truth <truth dir> [--rule Q03 ...]

Per missed flag: the truth person's rows of the quarter (source, file, row, the generator's
corruptions, our person_id, match_method, id_kind, probability, name, district, household,
explanation). Per extra flag: the rows of the flagged person_id with the truth person of each.
IDs are never printed (names and districts only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rule_quality import evaluate  # noqa: E402

_TRUTH_ROWS = """
CREATE OR REPLACE TEMP TABLE miss_truth AS
SELECT quarter, source, source_file, CAST(source_row AS INTEGER) AS source_row, person_key, corruptions
FROM read_csv($records, all_varchar = true, header = true, union_by_name = true)
"""

_ROWS_OF_KEY = """
SELECT s.source, s.source_file, s.source_row, t.corruptions, s.person_id, s.match_method, s.id_kind,
       round(s.match_probability, 3), s.name_norm, s.district, s.household_id, s.match_explanation
FROM miss_truth t JOIN source_records s USING (quarter, source, source_file, source_row)
WHERE t.person_key = ? AND t.quarter = ?
ORDER BY s.person_id, s.source, s.source_file, s.source_row
"""

_ROWS_OF_PID = """
SELECT s.source, s.source_file, s.source_row, t.person_key, t.corruptions, s.match_method, s.id_kind,
       round(s.match_probability, 3), s.name_norm, s.district, s.household_id, s.match_explanation
FROM source_records s LEFT JOIN miss_truth t USING (quarter, source, source_file, source_row)
WHERE s.person_id = ? AND s.quarter = ?
ORDER BY s.source, s.source_file, s.source_row
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="规则漏报/多报逐条列出其背后的记录")
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--rule", action="append", help="只列这些规则(可重复)")
    args = ap.parse_args(argv)
    con = duckdb.connect(args.warehouse, read_only=True)
    try:
        result = evaluate(con, args.truth, examples=10**9)
        records = [str(p / "records.csv") for p in sorted(args.truth.iterdir()) if (p / "records.csv").is_file()]
        con.execute(_TRUTH_ROWS, {"records": records})
        for q, data in result["quarters"].items():
            for code, r in data["rules"].items():
                if (args.rule and code not in args.rule) or not (r["missed"] or r["extra"]):
                    continue
                print(f"=== {q} {code}: 漏报 {len(r['missed'])}, 多报 {len(r['extra'])}")
                for person_id, household_key, person_key in r["missed"]:
                    print(f"  漏报 {person_key} -> {person_id} {household_key or ''}")
                    for row in con.execute(_ROWS_OF_KEY, [person_key, q]).fetchall():
                        print("      ", row)
                for person_id, household_key in r["extra"]:
                    print(f"  多报 {person_id} {household_key or ''}")
                    for row in con.execute(_ROWS_OF_PID, [person_id, q]).fetchall():
                        print("      ", row)
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
