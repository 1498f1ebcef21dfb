"""Flags across runs and quarters: stable ids, first_seen, officers' reviews, resolved findings,
R04 against the previous quarter, per-district thresholds and the thresholds file."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from matchers import warehouse
from matchers.rules.config import RuleConfigError, load_config, parse_config
from matchers.quarters import previous_compared_quarter
from matchers.rules.engine import run_rules
from rules_fixtures import open_warehouse

Q2, Q3 = "2026Q2", "2026Q3"
CONFIG = parse_config("defaults: {}\n")


def _quarter(w, *, with_m02: bool = True, r04_grade: int = 3) -> None:
    """A small quarter: an M02 finding (optional), an R01 household, a poverty member whose
    disability grade is `r04_grade`, and one who stays 一级."""
    w.person("seo", "王秀英", seq=11)
    w.person("head", "李建国", seq=12)
    w.person("member", "李新残", seq=13)
    w.person("always", "李一直", seq=14)
    if with_m02:
        w.disability("seo", 2, nursing=False)
    w.poverty("P1", [("head", "户主"), ("member", "子女"), ("always", "父母")], poverty_status="已脱贫",
              income_per_capita=7000)
    w.disability("member", r04_grade)
    w.disability("always", 1)


def _publish(w, config=CONFIG):
    w.load()
    run = run_rules(w.con, w.quarter, config)
    warehouse.publish_quarter(w.con, w.quarter)
    return run


def _flags(con, quarter):
    return {
        (r[0], r[1]): r
        for r in con.execute(
            "SELECT rule_code, person_id, flag_id, first_seen, review_status FROM flags WHERE quarter = ?",
            [quarter],
        ).fetchall()
    }


def _review(con, fid, decision, at):
    con.execute(
        "INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at) VALUES (?, ?, '入户核查', '张科员', ?)",
        [fid, decision, at],
    )


@pytest.fixture()
def two_quarters(tmp_path):
    w2 = open_warehouse(tmp_path, Q2)
    _quarter(w2)
    run2 = _publish(w2)
    return w2, run2


def test_flag_id_is_the_same_in_every_run_and_in_every_version(two_quarters):
    """Reviews hang on flag_id: its definition (md5 of rule|person|household as letters a-p) may
    never change, so the ids of two known findings are pinned."""
    w2, _ = two_quarters
    before = _flags(w2.con, Q2)
    _publish(w2)
    assert _flags(w2.con, Q2) == before
    assert before[("M02", "seo")][2] == "Ffakldjjcakaheogb"
    assert before[("R01", "head")][2] == "Fgcfphilojflkohlc"


def test_review_survives_a_rerun_and_a_new_quarter_and_first_seen_is_carried(two_quarters):
    w2, _ = two_quarters
    con = w2.con
    fid = _flags(con, Q2)[("M02", "seo")][2]
    _review(con, fid, "属实待处理", dt.datetime(2026, 7, 10, 9, 0))
    _review(con, fid, "属实已纳入救助", dt.datetime(2026, 7, 20, 9, 0))  # the latest decision wins
    _review(con, "F-unknown", "不属实", dt.datetime(2026, 7, 21, 9, 0))
    reviews_before = con.execute("SELECT * FROM reviews ORDER BY decided_at").fetchall()

    _publish(w2)  # rerun Q2
    assert _flags(con, Q2)[("M02", "seo")][4] == "属实已纳入救助"

    w3 = w2.next_quarter(Q3)
    _quarter(w3)
    run3 = _publish(w3)
    f3 = _flags(con, Q3)
    assert f3[("M02", "seo")][2] == fid
    assert f3[("M02", "seo")][3] == Q2  # first_seen carried from Q2
    assert f3[("M02", "seo")][4] == "属实已纳入救助"
    assert f3[("R01", "head")][3] == Q2
    assert run3.carried == len(f3) - run3.new and run3.carried >= 2
    assert con.execute("SELECT * FROM reviews ORDER BY decided_at").fetchall() == reviews_before


def test_findings_gone_since_the_previous_quarter_are_reported_resolved(two_quarters):
    w2, _ = two_quarters
    con = w2.con
    fid = _flags(con, Q2)[("M02", "seo")][2]
    w3 = w2.next_quarter(Q3)
    _quarter(w3, with_m02=False)  # the nursing subsidy is now paid: the row is gone
    run3 = _publish(w3)
    assert run3.resolved == 1 and run3.previous_quarter == Q2
    resolved = con.execute(
        "SELECT flag_id, rule_code, last_seen, district FROM resolved_flags WHERE quarter = ?", [Q3]
    ).fetchall()
    assert resolved == [(fid, "M02", Q2, "江夏区")]
    # Nothing is resolved in the first quarter.
    assert con.execute("SELECT count(*) FROM resolved_flags WHERE quarter = ?", [Q2]).fetchone()[0] == 0


def test_r04_flags_a_member_newly_severe_since_the_previous_quarter(two_quarters):
    w2, run2 = two_quarters
    assert "R04" in run2.skipped  # no quarter before 2026Q2
    w3 = w2.next_quarter(Q3)
    _quarter(w3, r04_grade=2)  # 三级 → 二级
    run3 = _publish(w3)
    f3 = _flags(w2.con, Q3)
    assert ("R04", "member") in f3
    assert ("R04", "always") not in f3  # already 一级 last quarter: the near miss
    assert run3.counts["R04"] == 1
    reason = w2.con.execute("SELECT reason FROM flags WHERE quarter = ? AND rule_code = 'R04'", [Q3]).fetchone()[0]
    assert "二级" in reason and "三级" in reason and Q2 in reason


def test_previous_quarter_is_the_latest_published_before(two_quarters):
    w2, _ = two_quarters
    assert previous_compared_quarter(w2.con, "2026Q4") == Q2
    assert previous_compared_quarter(w2.con, Q2) is None


def test_per_district_override_is_applied_and_recorded(tmp_path):
    w = open_warehouse(tmp_path, Q3)
    w.person("jx", "江夏户", district="江夏区")
    w.person("hs", "洪山户", district="洪山区")
    w.poverty("PJX", [("jx", "户主")], income_per_capita=8500)
    w.poverty("PHS", [("hs", "户主")], income_per_capita=8500)
    config = parse_config(
        "defaults:\n  monitoring_line_annual: 7800\ndistricts:\n  洪山区:\n    monitoring_line_annual: 9000\n"
    )
    w.load()
    run = run_rules(w.con, Q3, config, run_id="run-1")
    r01 = w.con.execute(
        "SELECT person_id, district, reason FROM work_flags WHERE quarter = ? AND rule_code = 'R01'", [Q3]
    ).fetchall()
    assert [(p, d) for p, d, _ in r01] == [("hs", "洪山区")]
    assert "9,000元" in r01[0][2]
    assert run.counts["R01"] == 1
    logged = dict(
        ((d, s), v)
        for d, s, v in w.con.execute(
            "SELECT district, setting, value FROM rule_config_log WHERE run_id = 'run-1'"
        ).fetchall()
    )
    assert logged[(None, "monitoring_line_annual")] == 7800
    assert logged[("洪山区", "monitoring_line_annual")] == 9000
    assert logged[("洪山区", "dibao_standard_monthly")] == 800  # the rest in force in 洪山区
    details = json.loads(
        w.con.execute("SELECT details FROM run_log WHERE step = 'flags' AND run_id = 'run-1'").fetchone()[0]
    )
    assert details["counts"]["R01"] == 1
    assert details["thresholds"]["districts"]["洪山区"]["monitoring_line_annual"] == 9000


def test_thresholds_file_defaults_match_rules_md_and_env_var_points_elsewhere(tmp_path, monkeypatch):
    shipped = load_config()
    assert shipped.defaults == {
        "dibao_standard_monthly": 800, "monitoring_line_annual": 7800, "income_drop_ratio": 0.30,
        "medical_burden_ratio": 0.50, "medical_burden_amount": 20000, "high_fee_tuition": 20000,
    }
    other = tmp_path / "t.yaml"
    other.write_text("defaults:\n  high_fee_tuition: 15000\ndistricts:\n  江夏区:\n    income_drop_ratio: 0.2\n",
                     encoding="utf-8")
    monkeypatch.setenv("RULES_CONFIG", str(other))
    cfg = load_config()
    assert cfg.defaults["high_fee_tuition"] == 15000
    assert cfg.for_district("江夏区")["income_drop_ratio"] == 0.2
    assert cfg.for_district("洪山区")["income_drop_ratio"] == 0.30


@pytest.mark.parametrize(
    "text, message",
    [
        ("defaults:\n  dibao_standard: 800\n", "未知的设置"),
        ("defaults:\n  income_drop_ratio: 30\n", "0 到 1"),
        ("defaults:\n  high_fee_tuition: 两万\n", "应为数字"),
        ("districts:\n  江夏区:\n    dibao_standard_monthly: -1\n", "正数"),
        ("rules: {}\n", "未知的节"),
    ],
)
def test_a_bad_thresholds_file_is_refused_with_a_clear_message(text, message):
    with pytest.raises(RuleConfigError, match=message):
        parse_config(text, "t.yaml")


def test_missing_thresholds_file_is_an_error_not_a_silent_default(tmp_path):
    with pytest.raises(RuleConfigError, match="找不到"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_district_in_thresholds_is_warned(tmp_path):
    cfg = parse_config("districts:\n  江厦区:\n    high_fee_tuition: 1000\n")
    assert cfg.warnings and "江厦区" in cfg.warnings[0]


def test_review_survives_the_schema_upgrade_to_v2(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
    con.execute(warehouse.migrations()[0][1].read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute(
        "INSERT INTO reviews (flag_id, decision, decided_at) VALUES ('Fabc', '不属实', TIMESTAMP '2026-07-01 10:00')"
    )
    before = con.execute("SELECT * FROM reviews").fetchall()
    con.close()
    con = warehouse.connect(path)
    assert warehouse.schema_version(con) >= 2
    assert con.execute("SELECT * FROM reviews").fetchall() == before
    assert con.execute("SELECT count(*) FROM resolved_flags").fetchone()[0] == 0
    con.close()
