"""The 14 rules of RULES.md: each rule's positive case and its near miss, on one hand-made quarter."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from matchers.rules.config import parse_config
from matchers.rules.engine import RULE_CODES, run_rules
from rules_fixtures import make_id, open_warehouse

Q = "2026Q3"  # quarter end 2026-09-30; "within 12 months" = after 2025-09-30
DEFAULT_CONFIG = parse_config("defaults: {}\ndistricts: {}\n")
FULL_ID = re.compile(r"\d{17}[\dXx]")


def build_quarter(w) -> None:
    P = w.person
    # ---- M01 按人施保未落实 ---------------------------------------------------------------------
    P("m01_ill", "陈大病"); P("m01_severe", "陈二级"); P("m01_grade3", "陈三级"); P("m01_dibao", "陈低保")
    w.poverty("PM01A", [("m01_ill", "户主", "患有大病")], poverty_status="未脱贫")
    w.poverty("PM01B", [("m01_severe", "户主")], poverty_status="返贫")
    w.disability("m01_severe", 2)
    w.poverty("PM01C", [("m01_grade3", "户主")], poverty_status="未脱贫")
    w.disability("m01_grade3", 3)
    w.poverty("PM01D", [("m01_dibao", "户主", "患有大病")], poverty_status="未脱贫")
    w.assistance("AM01D", [("m01_dibao", "户主")], category="农村低保")
    # ---- M02 重度残疾人护理补贴未落实 -------------------------------------------------------------
    P("m02_grade1", "王秀英", seq=1234); P("m02_grade3", "王三级"); P("m02_has", "王已享")
    w.disability("m02_grade1", 1, nursing=False)
    w.disability("m02_grade3", 3, nursing=False)
    w.disability("m02_has", 2, nursing=True)
    # ---- M03 困难残疾人生活补贴未落实 -------------------------------------------------------------
    P("m03_dibao", "李低保"); P("m03_tekun", "李特困"); P("m03_none", "李无保")
    w.assistance("AM03A", [("m03_dibao", "户主")])
    w.disability("m03_dibao", 4, living=False)
    w.assistance("AM03B", [("m03_tekun", "户主")], category="城市特困")
    w.disability("m03_tekun", 4, living=False)
    w.disability("m03_none", 4, living=False)
    # ---- M04 教育资助未落实 ---------------------------------------------------------------------
    P("m04_parent", "赵家长"); P("m04_kid", "赵小明"); P("m04_aided", "赵有助")
    P("m04_mon", "钱监测"); P("m04_mon_kid", "钱小红"); P("m04_lifted", "孙脱贫"); P("m04_lifted_kid", "孙小刚")
    w.assistance("AM04A", [("m04_parent", "户主")])
    w.student("m04_kid", guardian="m04_parent")  # in 低保 only through the guardian
    w.student("m04_aided", guardian="m04_parent", aid_programme="国家助学金")
    w.poverty("PM04B", [("m04_mon", "户主"), ("m04_mon_kid", "子女")], poverty_status="已脱贫",
              monitor_type="脱贫不稳定户", income_per_capita=20000)
    w.student("m04_mon_kid")
    w.poverty("PM04C", [("m04_lifted", "户主"), ("m04_lifted_kid", "子女")], poverty_status="已脱贫",
              income_per_capita=20000)
    w.student("m04_lifted_kid")
    # ---- M05 住房安全未保障 ---------------------------------------------------------------------
    P("m05_dibao", "周危房"); P("m05_poor", "周建档"); P("m05_gradeB", "周B级")
    P("m05_aided", "周已救助"); P("m05_done", "周已改造"); P("m05_none", "周无保")
    w.assistance("AM05", [("m05_dibao", "户主"), ("m05_gradeB", "配偶"), ("m05_aided", "子女"), ("m05_done", "父母")])
    w.housing("m05_dibao", "D")
    w.poverty("PM05", [("m05_poor", "户主")], poverty_status="已脱贫", income_per_capita=20000)
    w.housing("m05_poor", "C", renovation="在建")
    w.housing("m05_gradeB", "B")
    w.housing("m05_aided", "D", aid_type="危房改造")
    w.housing("m05_done", "D", renovation="已改造")
    w.housing("m05_none", "D")
    # ---- M06 疑似支出型贫困 (2 members, standard 800 × 12 = 9,600 per person) --------------------
    P("m06_head", "吴户主"); P("m06_wife", "吴配偶"); P("m06n_head", "郑户主"); P("m06n_wife", "郑配偶")
    P("m06t_head", "冯户主"); P("m06t_kid", "冯学生")
    w.poverty("PM06", [("m06_head", "配偶"), ("m06_wife", "户主")], poverty_status="未脱贫", income_per_capita=12000)
    w.medical("m06_head", 3000); w.medical("m06_head", 2000)  # (24000 − 5000) ÷ 2 = 9,500 < 9,600
    w.poverty("PM06N", [("m06n_head", "户主"), ("m06n_wife", "配偶")], poverty_status="未脱贫", income_per_capita=12000)
    w.medical("m06n_head", 4700)  # (24000 − 4700) ÷ 2 = 9,650: just above
    w.poverty("PM06T", [("m06t_head", "户主")], poverty_status="未脱贫", income_per_capita=11000)
    w.student("m06t_kid", guardian="m06t_head", tuition=2000, aid_programme="免学费")  # 11000 − 2000 < 9600
    # ---- M07 申请被拒后困难加重 -----------------------------------------------------------------
    P("m07_head", "何户主"); P("m07_son", "何儿子"); P("m07m_head", "何医疗")
    P("m07old_head", "许户主"); P("m07old_son", "许儿子"); P("m07low_head", "许医疗")
    w.assistance("AM07", [("m07_head", "户主"), ("m07_son", "子女")], status="未批准", status_date=dt.date(2026, 3, 1))
    w.disability("m07_son", 1)
    w.assistance("AM07M", [("m07m_head", "户主")], status="未批准", status_date=dt.date(2025, 10, 1))
    w.medical("m07m_head", 20000)
    w.assistance("AM07OLD", [("m07old_head", "户主"), ("m07old_son", "子女")], status="未批准",
                 status_date=dt.date(2025, 8, 31))  # 13 months before the quarter end
    w.disability("m07old_son", 1)
    w.assistance("AM07LOW", [("m07low_head", "户主")], status="未批准", status_date=dt.date(2026, 6, 1))
    w.medical("m07low_head", 19999)
    # ---- R01 收入低于监测线 ---------------------------------------------------------------------
    P("r01_low", "甲低收入"); P("r01_line", "甲在线")
    w.poverty("PR01A", [("r01_low", "户主")], poverty_status="已脱贫", income_per_capita=7799.5)
    w.poverty("PR01B", [("r01_line", "户主")], poverty_status="已脱贫", income_per_capita=7800)
    # ---- R02 收入大幅下降 -----------------------------------------------------------------------
    P("r02_drop", "乙下降"); P("r02_mon", "乙监测"); P("r02_small", "乙小降"); P("r02_unlifted", "乙未脱贫")
    w.poverty("PR02A", [("r02_drop", "户主")], poverty_status="已脱贫", income_per_capita=13000, income_prev=20000)
    w.poverty("PR02B", [("r02_mon", "户主")], poverty_status="未脱贫", monitor_type="边缘易致贫户",
              income_per_capita=10000, income_prev=20000)
    w.poverty("PR02C", [("r02_small", "户主")], poverty_status="已脱贫", income_per_capita=14200, income_prev=20000)
    w.poverty("PR02D", [("r02_unlifted", "户主")], poverty_status="未脱贫", income_per_capita=10000, income_prev=20000)
    # ---- R03 因病返贫风险 -----------------------------------------------------------------------
    P("r03_ratio", "丙比例"); P("r03_amount", "丙金额"); P("r03_below", "丙未达")
    w.poverty("PR03A", [("r03_ratio", "户主")], poverty_status="已脱贫", income_per_capita=20000)
    w.medical("r03_ratio", 10000)  # = 0.50 × 20,000
    w.poverty("PR03B", [("r03_amount", "户主")], poverty_status="已脱贫", income_per_capita=100000)
    w.medical("r03_amount", 20000)
    w.poverty("PR03C", [("r03_below", "户主")], poverty_status="已脱贫", income_per_capita=20000)
    w.medical("r03_below", 9999)
    # ---- Q01 重复享受救助 -----------------------------------------------------------------------
    P("q01_dup", "丁重复"); P("q01_a", "丁甲"); P("q01_b", "丁乙"); P("q01_single", "丁单一"); P("q01_c", "丁丙")
    w.assistance("AQ01A", [("q01_a", "户主"), ("q01_dup", "子女")])
    w.assistance("AQ01B", [("q01_b", "户主"), ("q01_dup", "兄弟姐妹")], category="农村特困")
    w.assistance("AQ01C", [("q01_c", "户主"), ("q01_single", "子女")])
    w.assistance("AQ01D", [("q01_single", "户主")], status="停保")
    # ---- Q02 高收费学校疑点 ---------------------------------------------------------------------
    P("q02_parent", "戊家长"); P("q02_kid", "戊学生"); P("q02_cheaper", "戊学生二")
    w.assistance("AQ02", [("q02_parent", "户主")])
    w.student("q02_kid", guardian="q02_parent", school="光谷国际学校", school_type="民办", tuition=20000,
              aid_programme="助学金")
    w.student("q02_cheaper", guardian="q02_parent", school="江夏民办中学", school_type="民办", tuition=19999,
              aid_programme="助学金")
    # ---- Q03 身份待核实 -------------------------------------------------------------------------
    P("q03_noid", "己无证", id_number=None); P("q03_review", "己待核"); P("q03_j", "己学生", id_number=None)
    P("q03_badcheck", "己校验"); P("q03_prob", "己概率")
    w.medical("q03_noid", 100)
    w.medical("q03_review", 100)["match_method"] = "概率匹配(待核实)"
    w.student("q03_j", student_number="J420115201001011234", id_kind="student_j", aid_programme="助学金")
    w.medical("q03_badcheck", 100)["id_kind"] = "bad_check"
    rec = w.medical("q03_prob", 100)
    rec.update(match_method="概率匹配", match_probability=0.995)


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    w = open_warehouse(tmp_path_factory.mktemp("rules"), Q)
    build_quarter(w)
    w.load()
    run = run_rules(w.con, Q, DEFAULT_CONFIG)
    rows = w.con.execute(
        "SELECT rule_code, person_id, household_key, district, reason, evidence, first_seen, review_status, flag_id"
        " FROM work_flags WHERE quarter = ?",
        [Q],
    ).fetchall()
    by_rule: dict[str, dict[str, tuple]] = {code: {} for code in RULE_CODES}
    for row in rows:
        by_rule[row[0]][row[1]] = row
    yield run, by_rule, rows
    w.con.close()


CASES = [
    # rule, flagged persons, near misses (not flagged)
    ("M01", ["m01_ill", "m01_severe"], ["m01_grade3", "m01_dibao"]),
    ("M02", ["m02_grade1"], ["m02_grade3", "m02_has"]),
    ("M03", ["m03_dibao"], ["m03_tekun", "m03_none"]),
    ("M04", ["m04_kid", "m04_mon_kid"], ["m04_aided", "m04_lifted_kid"]),
    ("M05", ["m05_dibao", "m05_poor"], ["m05_gradeB", "m05_aided", "m05_done", "m05_none"]),
    ("M06", ["m06_wife", "m06t_head"], ["m06n_head", "m06_head"]),
    ("M07", ["m07_head", "m07m_head"], ["m07old_head", "m07low_head"]),
    ("R01", ["r01_low"], ["r01_line"]),
    ("R02", ["r02_drop", "r02_mon"], ["r02_small", "r02_unlifted"]),
    ("R03", ["r03_ratio", "r03_amount"], ["r03_below"]),
    ("Q01", ["q01_dup"], ["q01_single", "q01_a"]),
    ("Q02", ["q02_kid"], ["q02_cheaper"]),
    ("Q03", ["q03_noid", "q03_review", "q03_j"], ["q03_badcheck", "q03_prob"]),
]


@pytest.mark.parametrize("rule, positives, near_misses", CASES, ids=[c[0] for c in CASES])
def test_rule_flags_positive_case_and_not_its_near_miss(flagged, rule, positives, near_misses):
    _, by_rule, _ = flagged
    assert sorted(p for p in positives if p in by_rule[rule]) == sorted(positives)
    assert [p for p in near_misses if p in by_rule[rule]] == []


def test_only_the_expected_persons_are_flagged(flagged):
    _, by_rule, _ = flagged
    expected = {rule: set(pos) for rule, pos, _ in CASES}
    # The R01 households (income under 9,600 per person, not in 低保) are M06 findings as well.
    expected["M06"] |= {"r01_low", "r01_line"}
    got = {rule: set(persons) for rule, persons in by_rule.items() if rule != "R04"}
    for rule in got:
        extra = got[rule] - expected.get(rule, set())
        assert not extra, f"{rule} flagged unexpected persons {sorted(extra)}"


def test_reason_is_one_sentence_with_figures_and_masked_id(flagged):
    _, by_rule, rows = flagged
    id_number = make_id(1234)
    assert by_rule["M02"]["m02_grade1"][4] == (
        f"王秀英({id_number[:4]}**********{id_number[-4:]}) 残疾等级一级,未享受重度残疾人护理补贴"
    )
    m06 = by_rule["M06"]["m06_wife"][4]
    assert "24,000元" in m06 and "5,000元" in m06 and "9,500元" in m06 and "9,600元" in m06
    assert "30.0%" in by_rule["R02"]["r02_mon"][4] or "50.0%" in by_rule["R02"]["r02_mon"][4]
    assert "2026-03-01" in by_rule["M07"]["m07_head"][4]
    for row in rows:
        assert not FULL_ID.search(row[4]), row[4]
        assert "\n" not in row[4]


def test_household_rules_name_the_head_and_the_household(flagged):
    _, by_rule, _ = flagged
    # PM06 lists the 户主 second: the head is named, not the first row.
    assert by_rule["M06"]["m06_wife"][2] == "poverty:PM06"
    assert by_rule["M07"]["m07_head"][2] == "assistance:AM07"
    assert by_rule["M02"]["m02_grade1"][2] is None  # person rule


def test_evidence_lists_the_source_rows(flagged):
    _, by_rule, _ = flagged
    evidence = json.loads(by_rule["M06"]["m06_wife"][5])
    sources = sorted((e["source"], e["source_file"]) for e in evidence)
    assert sources == [("medical", "medical.csv"), ("medical", "medical.csv"), ("poverty", "poverty.csv")]
    assert all(isinstance(e["source_row"], int) and e["source_row"] >= 1 for e in evidence)


def test_new_flags_are_pending_and_first_seen_this_quarter(flagged):
    run, _, rows = flagged
    assert {r[6] for r in rows} == {Q}
    assert {r[7] for r in rows} == {"待核查"}
    assert run.new == len(rows) and run.carried == 0 and run.resolved == 0
    assert run.skipped.keys() == {"R04"}  # no previous quarter
    assert all(r[3] == "江夏区" for r in rows)
