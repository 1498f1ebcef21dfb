"""publish_quarter: the public tables end up exactly as the work tables say, persons keeps its
primary key after being re-created, counts are the rows published, reviews are never touched, and
a failure inside the transaction leaves everything as it was."""

from __future__ import annotations

import duckdb
import pytest

from matchers import warehouse

Q, Q_OLD = "2026Q3", "2026Q2"


def _persons(con, table: str = "persons") -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY person_id").fetchall()


@pytest.fixture
def con(tmp_path):
    con = warehouse.connect(tmp_path / "wh.duckdb")
    con.execute(
        "INSERT INTO persons (person_id, name, first_quarter, last_quarter) VALUES "
        "('P1', '王秀英', '2026Q2', '2026Q2'), ('P9', '旧人', '2026Q2', '2026Q2')"
    )
    # an earlier quarter already public, and this quarter published once before (a re-run)
    for q, pid in ((Q_OLD, "P9"), (Q, "P1")):
        con.execute(
            "INSERT INTO source_records (quarter, source, source_file, source_row, person_id) "
            "VALUES (?, 'medical', 'm.csv', 1, ?)", [q, pid]
        )
        con.execute(
            "INSERT INTO flags (quarter, flag_id, rule_code, person_id, reason, first_seen, review_status) "
            "VALUES (?, 'Fold', 'M02', ?, '旧', ?, '待核查')", [q, pid, q]
        )
    con.execute("INSERT INTO reviews (flag_id, decision, decided_at) VALUES ('Fold', '不属实', now())")
    # this run's work tables
    con.execute(
        "INSERT INTO work_persons (person_id, name, first_quarter, last_quarter) VALUES "
        "('P1', '王秀英', '2026Q2', '2026Q3'), ('P2', '李建国', '2026Q3', '2026Q3')"
    )
    con.execute(
        "INSERT INTO work_source_records (quarter, source, source_file, source_row, person_id) VALUES "
        "(?, 'medical', 'm.csv', 1, 'P1'), (?, 'medical', 'm.csv', 2, 'P2'), (?, 'disability', 'd.csv', 1, 'P2')",
        [Q, Q, Q],
    )
    con.execute(
        "INSERT INTO work_household_members (quarter, household_key, source, household_id, person_id) "
        "VALUES (?, 'poverty:H1', 'poverty', 'H1', 'P2')", [Q]
    )
    con.execute(
        "INSERT INTO work_flags (quarter, flag_id, rule_code, person_id, reason, first_seen, review_status) "
        "VALUES (?, 'Fnew', 'M03', 'P2', '新', ?, '待核查')", [Q, Q]
    )
    yield con
    con.close()


def test_publish_replaces_the_quarter_and_the_person_index(con):
    reviews_before = con.execute("SELECT * FROM reviews").fetchall()
    counts = warehouse.publish_quarter(con, Q)
    assert counts == {"source_records": 3, "household_members": 1, "flags": 1, "rejected_rows": 0, "persons": 2}
    assert _persons(con) == _persons(con, "work_persons")
    assert con.execute("SELECT quarter, person_id FROM source_records ORDER BY ALL").fetchall() == [
        (Q_OLD, "P9"), (Q, "P1"), (Q, "P2"), (Q, "P2")
    ]
    assert con.execute("SELECT quarter, flag_id FROM flags ORDER BY ALL").fetchall() == [(Q_OLD, "Fold"), (Q, "Fnew")]
    assert con.execute("SELECT * FROM reviews").fetchall() == reviews_before
    # persons still has its primary key (and the same columns) after being re-created
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO persons (person_id) VALUES ('P1')")
    assert warehouse.table_columns(con, "persons") == warehouse.table_columns(con, "work_persons")
    # publishing again gives the same tables
    assert warehouse.publish_quarter(con, Q) == counts
    assert _persons(con) == _persons(con, "work_persons")


def test_publish_of_a_new_quarter_with_no_persons_keeps_the_index(con):
    con.execute("DELETE FROM work_persons")
    con.execute("UPDATE work_source_records SET quarter = '2026Q4'")
    before = _persons(con)
    counts = warehouse.publish_quarter(con, "2026Q4")
    assert counts["source_records"] == 3 and counts["persons"] == len(before) == 2
    assert _persons(con) == before


def test_failure_inside_publish_changes_nothing(con, monkeypatch):
    tables = ("persons", "source_records", "household_members", "flags", "rejected_rows", "reviews")
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}

    def boom(name):
        raise RuntimeError("中途失败")

    monkeypatch.setattr(warehouse.faults, "crash_point", boom)
    with pytest.raises(RuntimeError):
        warehouse.publish_quarter(con, Q)
    after = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    assert after == before
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO persons (person_id) VALUES ('P1')")


def _record_refresh(con, sources, published_digest=None, result_digest=None):
    """A resolution record as an incremental refresh leaves it (matchers.resolution.incremental)."""
    import json

    details = {
        "mode": "增量匹配",
        "publish_sources": sources,
        "published_digest": published_digest or warehouse.quarter_digest(con, "source_records", Q),
        "result_digest": result_digest or warehouse.quarter_digest(con, "work_source_records", Q),
    }
    con.execute(
        "INSERT INTO run_log (quarter, step, run_id, started_at, finished_at, details) "
        "VALUES (?, 'resolution', 'r', now(), now(), ?)", [Q, json.dumps(details, ensure_ascii=False)]
    )


def _quarter_rows(con, table):
    return con.execute(f"SELECT * FROM {table} WHERE quarter = ? ORDER BY ALL", [Q]).fetchall()


def test_publish_after_a_refresh_replaces_only_its_sources_and_ends_equal_to_the_work_rows(con):
    # medical row 1 unchanged; medical row 2 and the disability source are new
    _record_refresh(con, ["disability", "medical"])
    reviews_before = con.execute("SELECT * FROM reviews").fetchall()
    counts = warehouse.publish_quarter(con, Q)
    assert counts["source_records"] == 3
    assert _quarter_rows(con, "source_records") == _quarter_rows(con, "work_source_records")
    assert con.execute("SELECT person_id FROM source_records WHERE quarter = ?", [Q_OLD]).fetchall() == [("P9",)]
    assert con.execute("SELECT * FROM reviews").fetchall() == reviews_before


def test_publish_ignores_a_refresh_record_the_tables_no_longer_match(con):
    # the record names only 'medical', but the work rows are not its result: a partial publish
    # would leave the disability row out; the whole quarter is published instead
    _record_refresh(con, ["medical"], result_digest="0:0")
    assert warehouse._partial_sources(con, Q) is None
    warehouse.publish_quarter(con, Q)
    assert _quarter_rows(con, "source_records") == _quarter_rows(con, "work_source_records")
    # published rows changed since the refresh read them: likewise
    _record_refresh(con, ["medical"], published_digest="1:1")
    assert warehouse._partial_sources(con, Q) is None


def test_failure_inside_a_partial_publish_changes_nothing(con, monkeypatch):
    _record_refresh(con, ["disability", "medical"])
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ("source_records", "persons", "reviews")}
    monkeypatch.setattr(warehouse.faults, "crash_point", lambda name: (_ for _ in ()).throw(RuntimeError("中途失败")))
    with pytest.raises(RuntimeError):
        warehouse.publish_quarter(con, Q)
    assert {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in before} == before
