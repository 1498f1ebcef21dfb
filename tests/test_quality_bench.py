"""bench.quality: rows with no usable ID or one damaged digit are scored on their true person."""

from __future__ import annotations

import polars as pl

from bench.quality import damaged_rows_on_their_person


def test_damaged_rows_count_only_when_in_their_persons_main_cluster():
    joined = pl.DataFrame({
        "person_key": ["A", "A", "A", "B", "B", "C", "D", "D"],
        "person_id": ["p1", "p1", "p9", "p2", "p2", "p3", "p4", "p5"],
        "corruptions": ["", "id_missing", "id_missing", "id_mistyped_digit", "", "id_missing",
                        "id_wrong_check", ""],
    })
    out = damaged_rows_on_their_person(joined)
    # A: one ID-less row on p1 (main), one split off to p9; C's lone row does not count
    assert out["no_usable_id"] == {"rows": 2, "on_their_person": 0.5}
    # B's mistyped row is on its person; D's split 1-1 goes to the cluster with the clean row
    assert out["one_damaged_digit"] == {"rows": 2, "on_their_person": 0.5}


def test_suite_tables_put_splink_beside_ours_and_every_rule_in_a_row():
    from bench.quality_suite import persons_table, rules_table
    from matchers.rules.engine import RULE_CODES

    block = {"rows": 1200, "precision": 0.99951, "recall": 0.9949,
             "no_usable_id": {"rows": 40, "on_their_person": 0.9}, "one_damaged_digit": {"rows": 0, "on_their_person": None}}
    rules = {code: {"precision": 1.0, "recall": None, "expected": 0} for code in RULE_CODES}
    result = {"label": "city2 5,000", "quarter": "2026Q3", "ours": {**block, "seconds_resolve": 3.2},
              "splink": {**block, "seconds": 20.0}, "rules": rules}
    persons = persons_table([result]).splitlines()
    assert persons[2] == "| city2 5,000 2026Q3 | ours | 1,200 | 0.9995 | 0.9949 | 0.900 (40) | — (0) | 3.2 |"
    assert persons[3].startswith("| city2 5,000 2026Q3 | Splink |")
    table = rules_table([result]).splitlines()
    assert len(table) == 2 + len(RULE_CODES) and table[2] == "| M01 | 1.000 / — (0) |"
