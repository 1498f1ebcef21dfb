"""A refresh recomputes only the flags its changes can reach (matchers.rules.scope) and publishes only
what differs, and ends with exactly the public tables the full computation gives: flags (reason,
evidence, first_seen, review_status), household_members, persons, source_records."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import pytest

from matchers import warehouse
from matchers.rules import scope
from matchers.rules.config import parse_config
from matchers.rules.engine import run_rules
from rules_fixtures import open_warehouse
from test_rules import build_quarter

Q2, Q3 = "2026Q2", "2026Q3"
CONFIG = parse_config("defaults: {}\ndistricts: {}\n")
QUARTER_TABLES = ("source_records", "household_members", "flags", "rejected_rows", "work_flags")


def _build(w, r04_grade: int) -> None:
    """The 14 rules' cases of test_rules, plus an R04 member whose grade is `r04_grade`."""
    build_quarter(w)
    w.person("r04_head", "甲户主")
    w.person("r04_member", "甲新残")
    w.poverty("PR04", [("r04_head", "户主"), ("r04_member", "子女")], poverty_status="已脱贫", income_per_capita=20000)
    w.disability("r04_member", r04_grade)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A warehouse with 2026Q2 and 2026Q3 published by full runs, one Q3 flag reviewed."""
    folder = tmp_path_factory.mktemp("scoped")
    w2 = open_warehouse(folder, Q2)
    _build(w2, 3)
    w2.load()
    run_rules(w2.con, Q2, CONFIG)
    warehouse.publish_quarter(w2.con, Q2)
    w3 = w2.next_quarter(Q3)
    _build(w3, 1)
    w3.load()
    run = run_rules(w3.con, Q3, CONFIG)
    assert run.mode == scope.MODE_FULL and run.counts["R04"] == 1
    warehouse.publish_quarter(w3.con, Q3)
    w3.con.execute(
        "INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at) "
        "SELECT flag_id, '属实待处理', '入户核查', '张科员', TIMESTAMP '2026-10-01 09:00' "
        "FROM flags WHERE quarter = ? AND rule_code = 'M02'",
        [Q3],
    )
    w3.con.close()
    return folder / "rules.duckdb"


def _tables(con) -> dict[str, list]:
    out = {t: con.execute(f"SELECT * FROM {t} WHERE quarter = ? ORDER BY ALL", [Q3]).fetchall() for t in QUARTER_TABLES}
    out["persons"] = con.execute("SELECT * FROM persons ORDER BY ALL").fetchall()
    out["other quarters"] = con.execute("SELECT * FROM flags WHERE quarter <> ? ORDER BY ALL", [Q3]).fetchall()
    return out


def _refresh(published, tmp_path, name: str, change: Callable | None, force_full: bool = False, config=CONFIG):
    path = tmp_path / f"{name}.duckdb"
    shutil.copyfile(published, path)
    con = warehouse.connect(path)
    try:
        before = _tables(con)
        if change:
            change(con)
        run = run_rules(con, Q3, config, force_full=force_full)
        warehouse.publish_quarter(con, Q3)
        return run, before, _tables(con)
    finally:
        con.close()


def _sql(*statements: str) -> Callable:
    def change(con):
        for statement in statements:
            con.execute(statement.replace("$Q", f"'{Q3}'"))
    return change


CHANGES = {
    # a person's disability grade: 三级 → 一级 (M01, M02 now)
    "grade": _sql("UPDATE work_source_records SET grade = 1 WHERE quarter = $Q AND source = 'disability' "
                  "AND person_id = 'm01_grade3'"),
    # a household's income falls below the monitoring line (R01)
    "income": _sql("UPDATE work_source_records SET income_per_capita = 7000 WHERE quarter = $Q AND source = 'poverty' "
                   "AND household_id = 'PR01B'"),
    # a member moves to another household (M06 of both)
    "member moved": _sql(
        "UPDATE work_source_records SET household_id = 'PM06' WHERE quarter = $Q AND source = 'poverty' "
        "AND person_id = 'm06n_wife'",
        "UPDATE work_household_members SET household_key = 'poverty:PM06', household_id = 'PM06' "
        "WHERE quarter = $Q AND person_id = 'm06n_wife'",
    ),
    # a student's guardian is now a 低保 family with a private school student (M04 gone, Q02 checks)
    "guardian": _sql("UPDATE work_household_members SET household_key = 'assistance:AQ02', household_id = 'AQ02' "
                     "WHERE quarter = $Q AND person_id = 'm04_kid' AND via = 'guardian'"),
    # the index has another name for a flagged person (the reason names them)
    "person renamed": _sql("UPDATE work_persons SET name = '王秀兰' WHERE person_id = 'm02_grade1'"),
    # a settlement added, a housing row gone, the R04 member no longer severe
    "rows added and removed": _sql(
        "INSERT INTO work_source_records SELECT * REPLACE (source_row + 1000 AS source_row) FROM work_source_records "
        "WHERE quarter = $Q AND source = 'medical' AND person_id = 'r03_below'",
        "DELETE FROM work_source_records WHERE quarter = $Q AND source = 'housing' AND person_id = 'm05_dibao'",
        "UPDATE work_source_records SET grade = 4 WHERE quarter = $Q AND source = 'disability' AND person_id = 'r04_member'",
    ),
    "nothing": None,
}
CHANGES["all at once"] = _sql(*[
    s for c in CHANGES.values() if c is not None for s in c.__closure__[0].cell_contents
])


@pytest.mark.parametrize("name", list(CHANGES))
def test_scoped_refresh_publishes_exactly_what_the_full_computation_does(published, tmp_path, name):
    scoped, before, after = _refresh(published, tmp_path, "scoped", CHANGES[name])
    full, _, expected = _refresh(published, tmp_path, "full", CHANGES[name], force_full=True)
    assert full.mode == scope.MODE_FULL
    assert scoped.mode == scope.MODE_SCOPED, scoped.mode_reason
    assert scoped.scope["persons_in_scope"] < scoped.scope["persons_total"] / 2
    for table in expected:
        assert after[table] == expected[table], table
    assert (scoped.counts, scoped.new, scoped.carried, scoped.resolved) == (full.counts, full.new, full.carried, full.resolved)
    if name == "nothing":
        assert scoped.scope["persons_in_scope"] == 0
        assert all(after[t] == before[t] for t in ("source_records", "household_members", "persons"))
    else:
        assert scoped.scope["persons_touched"] > 0
        assert after["flags"] != before["flags"] or after["persons"] != before["persons"]


def test_reviews_and_first_seen_are_recomputed_for_every_flag(published, tmp_path):
    """Nothing changed in the data; the review imported after the last run shows, first_seen is
    carried from 2026Q2."""
    run, before, after = _refresh(published, tmp_path, "scoped", None)
    assert run.mode == scope.MODE_SCOPED and run.scope["persons_in_scope"] == 0
    status = {r[2]: r[9] for r in after["flags"]}
    assert status["M02"] == "属实待处理"
    assert {r[2]: r[9] for r in before["flags"]}["M02"] == "待核查"
    assert {r[8] for r in after["flags"] if r[2] == "M02"} == {Q2}
    assert {r[8] for r in after["flags"] if r[2] == "R04"} == {Q3}


def test_scoped_refresh_builds_on_a_scoped_refresh(published, tmp_path):
    path = tmp_path / "twice.duckdb"
    shutil.copyfile(published, path)
    con = warehouse.connect(path)
    for name in ("grade", "member moved"):
        CHANGES[name](con)
        run = run_rules(con, Q3, CONFIG)
        assert run.mode == scope.MODE_SCOPED, run.mode_reason
        warehouse.publish_quarter(con, Q3)
    got = _tables(con)
    con.close()
    _, _, expected = _refresh(published, tmp_path, "full", _sql_both(), force_full=True)
    assert got == expected


def _sql_both() -> Callable:
    def change(con):
        CHANGES["grade"](con)
        CHANGES["member moved"](con)
    return change


def test_changed_config_computes_everything(published, tmp_path):
    config = parse_config("defaults:\n  monitoring_line_annual: 9000\ndistricts: {}\n")
    run, _, after = _refresh(published, tmp_path, "config", None, config=config)
    assert run.mode == scope.MODE_FULL and "阈值配置" in run.mode_reason
    assert run.counts["R01"] == 2  # 7,800 and 7,799.50 are both below 9,000 now
    con = warehouse.connect(tmp_path / "config.duckdb")
    details = json.loads(con.execute(
        "SELECT details FROM run_log WHERE quarter = ? AND step = 'flags' ORDER BY finished_at DESC LIMIT 1", [Q3]
    ).fetchone()[0])
    con.close()
    assert details["mode"] == scope.MODE_FULL and details["reason"] == run.mode_reason


def test_unpublished_run_or_edited_flags_compute_everything(published, tmp_path):
    path = tmp_path / "unpublished.duckdb"
    shutil.copyfile(published, path)
    con = warehouse.connect(path)
    try:
        CHANGES["grade"](con)
        assert run_rules(con, Q3, CONFIG).mode == scope.MODE_SCOPED  # ... and never published
        run = run_rules(con, Q3, CONFIG)
        assert run.mode == scope.MODE_FULL and "未发布" in run.mode_reason
        warehouse.publish_quarter(con, Q3)
        assert run_rules(con, Q3, CONFIG).mode == scope.MODE_SCOPED
        warehouse.publish_quarter(con, Q3)
        con.execute("UPDATE flags SET reason = reason || '。' WHERE quarter = ? AND rule_code = 'R01'", [Q3])
        run = run_rules(con, Q3, CONFIG)
        assert run.mode == scope.MODE_FULL and "被改动" in run.mode_reason
    finally:
        con.close()


def test_previous_quarter_republished_computes_everything(published, tmp_path):
    """R04 reads 2026Q2's disability grades: republished with other grades, Q3 is recomputed."""
    def change(con):
        con.execute("UPDATE source_records SET grade = 1 WHERE quarter = ? AND source = 'disability' "
                    "AND person_id = 'r04_member'", [Q2])
    run, before, after = _refresh(published, tmp_path, "prev", change)
    assert run.mode == scope.MODE_FULL and "R04" in run.mode_reason
    assert run.counts["R04"] == 0


def test_a_row_of_no_person_computes_everything(published, tmp_path):
    change = _sql("UPDATE work_source_records SET person_id = NULL WHERE quarter = $Q AND source = 'medical' "
                  "AND person_id = 'r03_below'")
    scoped, _, after = _refresh(published, tmp_path, "scoped", change)
    assert scoped.mode == scope.MODE_FULL and "未关联到人员" in scoped.mode_reason
    _, _, expected = _refresh(published, tmp_path, "full", change, force_full=True)
    assert after == expected


def test_an_incremental_resolution_record_spares_hashing_the_sources_it_kept(published, tmp_path, monkeypatch):
    """The resolution record names the sources it re-resolved; the others' work rows are the
    published ones and are not hashed again; the result is the full computation's."""
    def change(con):
        CHANGES["income"](con)
        details = {
            "mode": "增量匹配", "publish_sources": ["poverty"],
            "published_digest": warehouse.quarter_digest(con, "source_records", Q3),
            "result_digest": warehouse.quarter_digest(con, "work_source_records", Q3),
        }
        con.execute("INSERT INTO run_log (quarter, step, run_id, started_at, finished_at, details) "
                    "VALUES (?, 'resolution', 'r', now(), now(), ?)", [Q3, json.dumps(details, ensure_ascii=False)])

    hashed = []
    real = warehouse.source_digests
    monkeypatch.setattr(scope, "source_digests", lambda c, t, q, sources=None: hashed.append((t, sources)) or real(c, t, q, sources))
    run, _, after = _refresh(published, tmp_path, "scoped", change)
    assert run.mode == scope.MODE_SCOPED and run.scope["changed_sources"] == ["poverty"]
    assert ("work_source_records", ["poverty"]) in hashed and ("work_source_records", None) not in hashed
    _, _, expected = _refresh(published, tmp_path, "full", change, force_full=True)
    assert after == expected


def test_failure_inside_a_publish_by_difference_changes_nothing(published, tmp_path, monkeypatch):
    path = tmp_path / "crash.duckdb"
    shutil.copyfile(published, path)
    con = warehouse.connect(path)
    try:
        CHANGES["all at once"](con)
        assert run_rules(con, Q3, CONFIG).mode == scope.MODE_SCOPED
        before = _tables(con)
        monkeypatch.setattr(warehouse.faults, "crash_point", lambda name: (_ for _ in ()).throw(RuntimeError("中途失败")))
        with pytest.raises(RuntimeError):
            warehouse.publish_quarter(con, Q3)
        assert _tables(con) == before
        with pytest.raises(Exception, match="(?i)constraint|duplicate"):
            con.execute("INSERT INTO persons (person_id) VALUES ('m02_grade1')")
    finally:
        con.close()
