"""bench/rule_quality.py: truth person_keys are mapped through the rows and scored per rule."""

from __future__ import annotations

import csv

from bench.rule_quality import evaluate
from matchers import warehouse
from matchers.rules.config import parse_config
from matchers.rules.engine import run_rules
from rules_fixtures import open_warehouse

Q = "2026Q3"


def _csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_precision_and_recall_per_rule_against_truth(tmp_path):
    w = open_warehouse(tmp_path, Q)
    w.person("pidA", "甲", seq=1)
    w.person("pidB", "乙", seq=2)
    w.person("pidC", "丙", seq=3)
    w.disability("pidA", 1, nursing=False)  # M02, expected
    w.disability("pidB", 2, nursing=False)  # M02, not in the truth: a false positive
    w.poverty("H1", [("pidC", "户主")], income_per_capita=7000)  # R01 + M06 for poverty:H1
    w.load()
    run_rules(w.con, Q, parse_config("defaults: {}\n"))
    warehouse.publish_quarter(w.con, Q)

    truth = tmp_path / "truth"
    rows = w.con.execute(
        "SELECT quarter, source, source_file, source_row, person_id FROM source_records ORDER BY ALL"
    ).fetchall()
    keys = {"pidA": "KA", "pidB": "KB", "pidC": "KC"}
    _csv(truth / Q / "records.csv", ["quarter", "source", "source_file", "source_row", "person_key", "expected"],
         [(q, s, f, r, keys[p], "accepted") for q, s, f, r, p in rows])
    _csv(truth / Q / "flags.csv", ["quarter", "rule_code", "person_key", "household_source", "household_id"], [
        (Q, "M02", "KA", "", ""),
        (Q, "R01", "KC", "poverty", "H1"),
        (Q, "M06", "KC", "poverty", "H1"),
        (Q, "Q01", "KA", "", ""),  # expected but not flagged: a miss
    ])
    result = evaluate(w.con, truth)["quarters"][Q]
    rules = result["rules"]
    assert result["published"]
    assert (rules["M02"]["precision"], rules["M02"]["recall"]) == (0.5, 1.0)
    assert rules["M02"]["extra"] == [("pidB", None)]
    assert (rules["R01"]["precision"], rules["R01"]["recall"]) == (1.0, 1.0)
    assert (rules["M06"]["precision"], rules["M06"]["recall"]) == (1.0, 1.0)
    assert rules["Q01"]["recall"] == 0.0 and rules["Q01"]["precision"] is None
    assert rules["M01"]["recall"] is None
