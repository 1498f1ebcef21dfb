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
