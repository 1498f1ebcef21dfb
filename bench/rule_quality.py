"""Per-rule precision and recall of the published flags against the generator's ground truth.

    python -m bench.rule_quality [--warehouse data/warehouse.duckdb] [--truth sample_data/truth]
                                 [--quarter 2026Q3 ...] [--min 0.99] [--json out.json]

The truth lists the flags RULES.md expects (`truth/<quarter>/flags.csv`: quarter, rule_code,
person_key, household_source, household_id) by the generator's person_key. Each person_key is
mapped to the pipeline's person_id through `truth/<quarter>/records.csv` (quarter, source,
source_file, source_row, person_key, ...) joined to the published `source_records` on the row's
provenance, quarter by quarter (a flag of a quarter names the person its rows of that quarter
resolved to; RULES.md: "the row's person"). A person_key whose rows of the quarter went to several
person_ids (a split person) takes the one holding most of them, on a tie the one holding more rows
with a valid ID, then the smallest person_id: the other fragments count as wrong people, so a split
costs recall (the flag on a fragment is also an extra) and is never hidden. A flag
matches when rule_code, person_id and household_key ('<source>:<household_id>' for the household
rules, empty otherwise) all agree. Exit status 1 when any rule falls below --min.

    python -m bench.rule_quality --oracle [--truth sample_data/truth] [--extracts sample_data/extracts]

measures the rules alone: a throwaway warehouse where the extracts are ingested as usual but every
row's person is the true one (person_id = person_key), households are built by the pipeline's own
`write_household_members`, and the rules run and publish quarter by quarter in order. A gap there
is the rules' fault; a gap only in the full pipeline is the resolution's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matchers.rules.engine import RULE_CODES, RULES_BY_CODE  # noqa: E402

TARGET = 0.99

_LOAD_TRUTH = """
CREATE OR REPLACE TEMP TABLE truth_records AS
SELECT quarter, source, source_file, CAST(source_row AS INTEGER) AS source_row, person_key
FROM read_csv($records, all_varchar = true, header = true, union_by_name = true)
WHERE coalesce(person_key, '') <> '';

CREATE OR REPLACE TEMP TABLE truth_flags AS
SELECT quarter, rule_code, person_key,
       CASE WHEN coalesce(household_source, '') = '' THEN NULL
            ELSE household_source || ':' || household_id END AS household_key
FROM read_csv($flags, all_varchar = true, header = true, union_by_name = true);
"""

# (quarter, person_key) → person_id: the person_id holding most of the person's accepted rows of
# the quarter; ties to more rows with a valid ID, then the smallest person_id (deterministic).
_PERSON_MAP = """
CREATE OR REPLACE TEMP TABLE person_map AS
WITH held AS (
    SELECT t.quarter, t.person_key, s.person_id, count(*) AS n_rows, count(s.id_norm) AS n_valid
    FROM truth_records t
    JOIN source_records s USING (quarter, source, source_file, source_row)
    WHERE s.person_id IS NOT NULL
    GROUP BY ALL
)
SELECT quarter, person_key,
       first(person_id ORDER BY n_rows DESC, n_valid DESC, person_id) AS person_id,
       count(*) AS n_ids
FROM held
GROUP BY quarter, person_key;
"""

_COMPARE = """
WITH expected AS (
    SELECT DISTINCT f.rule_code, coalesce(m.person_id, 'unmapped:' || f.person_key) AS person_id,
           f.household_key, f.person_key
    FROM truth_flags f
    LEFT JOIN person_map m USING (quarter, person_key)
    WHERE f.quarter = $quarter
),
got AS (
    SELECT DISTINCT rule_code, person_id, household_key
    FROM flags
    WHERE quarter = $quarter
)
SELECT coalesce(e.rule_code, g.rule_code) AS rule_code,
       e.person_id IS NOT NULL AS expected,
       g.person_id IS NOT NULL AS flagged,
       coalesce(e.person_id, g.person_id) AS person_id,
       coalesce(e.household_key, g.household_key) AS household_key,
       e.person_key
FROM expected e
FULL OUTER JOIN got g
  ON e.rule_code = g.rule_code
 AND e.person_id = g.person_id
 AND e.household_key IS NOT DISTINCT FROM g.household_key
"""


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def evaluate(con: duckdb.DuckDBPyConnection, truth_dir: Path, quarters: list[str] | None = None,
             examples: int = 5) -> dict:
    """Per quarter and rule: expected, flagged, true positives, precision, recall, examples of misses."""
    available = sorted(p.name for p in truth_dir.iterdir() if (p / "flags.csv").is_file())
    quarters = quarters or available
    missing = [q for q in quarters if q not in available]
    if missing:
        raise SystemExit(f"真值目录 {truth_dir} 中没有季度 {', '.join(missing)}")
    records = [str(truth_dir / q / "records.csv") for q in quarters]
    flags = [str(truth_dir / q / "flags.csv") for q in quarters]
    for statement in duckdb.extract_statements(_LOAD_TRUTH):
        con.execute(statement, {k: {"records": records, "flags": flags}[k] for k in statement.named_parameters})
    con.execute(_PERSON_MAP)
    split = con.execute("SELECT count(*) FILTER (WHERE n_ids > 1), count(*) FROM person_map").fetchone()
    published = {r[0] for r in con.execute("SELECT DISTINCT quarter FROM flags").fetchall()}
    out: dict = {"quarters": {}, "person_keys_mapped": split[1], "person_keys_split": split[0]}
    for q in quarters:
        rows = con.execute(_COMPARE, {"quarter": q}).fetchall()
        per_rule = {}
        for code in RULE_CODES:
            mine = [r for r in rows if r[0] == code]
            tp = sum(1 for r in mine if r[1] and r[2])
            n_expected = sum(1 for r in mine if r[1])
            n_flagged = sum(1 for r in mine if r[2])
            per_rule[code] = {
                "title": RULES_BY_CODE[code].title,
                "expected": n_expected,
                "flagged": n_flagged,
                "true_positives": tp,
                "precision": _ratio(tp, n_flagged),
                "recall": _ratio(tp, n_expected),
                "missed": [(r[3], r[4], r[5]) for r in mine if r[1] and not r[2]][:examples],
                "extra": [(r[3], r[4]) for r in mine if r[2] and not r[1]][:examples],
            }
        out["quarters"][q] = {"published": q in published, "rules": per_rule}
    return out


def build_oracle_warehouse(path: Path, truth_dir: Path, extracts_dir: Path) -> dict[str, float]:
    """Ingest the extracts, resolve every row to its true person, run and publish the rules.

    Returns the seconds the rules took per quarter."""
    from assets.extracts import load_source
    from matchers import warehouse
    from matchers.contract import SOURCES
    from matchers.resolution.households import write_household_members
    from matchers.rules.config import load_config
    from matchers.rules.engine import run_rules

    config = load_config()
    timings: dict[str, float] = {}
    con = warehouse.connect(path)
    try:
        con.execute(
            "INSERT INTO work_persons (person_id, id_number, name, district) "
            "SELECT person_key, id_number, name, district FROM read_csv(?, all_varchar = true, header = true)",
            [str(truth_dir / "persons.csv")],
        )
        quarters = sorted(p.name for p in extracts_dir.iterdir() if (truth_dir / p.name / "records.csv").is_file())
        for q in quarters:
            for source in SOURCES:
                load_source(con, str(extracts_dir), q, source)
            con.execute("DELETE FROM work_source_records WHERE quarter = ?", [q])
            con.execute(
                """
                INSERT INTO work_source_records BY NAME
                SELECT s.*, t.person_key AS person_id, 'oracle' AS match_method, 1.0 AS match_probability
                FROM stg_records s
                JOIN read_csv(?, all_varchar = true, header = true) t
                  ON t.quarter = s.quarter AND t.source = s.source AND t.source_file = s.source_file
                 AND CAST(t.source_row AS INTEGER) = s.source_row
                WHERE s.quarter = ? AND coalesce(t.person_key, '') <> ''
                """,
                [str(truth_dir / q / "records.csv"), q],
            )
            write_household_members(con, q)
            started = time.perf_counter()
            run_rules(con, q, config, run_id=f"oracle-{q}")
            timings[q] = time.perf_counter() - started
            warehouse.publish_quarter(con, q)
    finally:
        con.close()
    return timings


def _fmt(x: float | None) -> str:
    return "  —  " if x is None else f"{x:.4f}"


def report(result: dict, minimum: float) -> tuple[str, bool]:
    lines = []
    ok = True
    lines.append(
        f"person_key → person_id(逐季度): {result['person_keys_mapped']} 人次,其中 {result['person_keys_split']} 人次的记录分属多个 person_id"
    )
    for q, data in result["quarters"].items():
        if not data["published"]:
            lines.append(f"\n{q}: 仓库中没有该季度已发布的 flags,跳过")
            ok = False
            continue
        lines.append(f"\n{q}")
        lines.append(f"{'规则':<5}{'应有':>7}{'实有':>7}{'命中':>7}{'精确率':>9}{'召回率':>9}  名称")
        for code, r in data["rules"].items():
            below = any(v is not None and v < minimum for v in (r["precision"], r["recall"]))
            ok &= not below
            lines.append(
                f"{code:<5}{r['expected']:>7}{r['flagged']:>7}{r['true_positives']:>7}"
                f"{_fmt(r['precision']):>10}{_fmt(r['recall']):>10}  {r['title']}{'  ← 低于目标' if below else ''}"
            )
            for person_id, household_key, person_key in r["missed"] if below else []:
                lines.append(f"        漏报 {person_id} {household_key or ''} (truth {person_key})")
            for person_id, household_key in r["extra"] if below else []:
                lines.append(f"        多报 {person_id} {household_key or ''}")
    lines.append(f"\n目标: 每条规则精确率与召回率 ≥ {minimum}: {'达到' if ok else '未达到'}")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="规则质量:已发布 flags 与生成器真值的逐规则精确率、召回率")
    ap.add_argument("--warehouse", default=os.environ.get("WAREHOUSE_PATH") or str(ROOT / "data" / "warehouse.duckdb"))
    ap.add_argument("--truth", type=Path, default=ROOT / "sample_data" / "truth")
    ap.add_argument("--quarter", action="append", help="只评估这些季度(可重复),默认真值中的全部季度")
    ap.add_argument("--min", type=float, default=TARGET, dest="minimum")
    ap.add_argument("--json", type=Path, help="结果另存为 JSON")
    ap.add_argument("--oracle", action="store_true",
                    help="只评估规则:按真值把每行归到真实人员,在临时仓库中导入、比对后再评估")
    ap.add_argument("--extracts", type=Path, help="--oracle 时的数据目录,默认为真值目录旁的 extracts")
    args = ap.parse_args(argv)
    if args.oracle:
        extracts = args.extracts or args.truth.parent / "extracts"
        tmp = tempfile.TemporaryDirectory(prefix="rule_quality_")
        args.warehouse = str(Path(tmp.name) / "oracle.duckdb")
        timings = build_oracle_warehouse(Path(args.warehouse), args.truth, extracts)
        print("规则运行耗时: " + ", ".join(f"{q} {t:.2f} 秒" for q, t in timings.items()))
    if not Path(args.warehouse).is_file():
        print(f"找不到数据仓库 {args.warehouse}", file=sys.stderr)
        return 2
    if not args.truth.is_dir():
        print(f"找不到真值目录 {args.truth}", file=sys.stderr)
        return 2
    con = duckdb.connect(args.warehouse, read_only=True)
    try:
        result = evaluate(con, args.truth, args.quarter)
    finally:
        con.close()
    text, ok = report(result, args.minimum)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
