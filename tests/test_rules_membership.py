"""RULES.md "Household": a household's members are its roll; a student reached through a guardian
is not thereby a member. Only M04, Q02 and M06's members' tuition use a student's households."""

from __future__ import annotations

import pytest

from matchers.rules.config import parse_config
from matchers.rules.engine import run_rules
from rules_fixtures import open_warehouse

Q = "2026Q3"
DEFAULT_CONFIG = parse_config("defaults: {}\ndistricts: {}\n")


@pytest.fixture(scope="module")
def flags(tmp_path_factory):
    w = open_warehouse(tmp_path_factory.mktemp("membership"), Q)
    P = w.person
    # The student is listed on one active roll; the guardian heads another active one.
    P("q01_head", "甲户主"); P("q01_student", "甲学生"); P("q01_guardian", "甲监护人")
    w.assistance("AS1", [("q01_head", "户主"), ("q01_student", "子女")])
    w.assistance("AS2", [("q01_guardian", "户主")], category="农村特困")
    w.student("q01_student", guardian="q01_guardian", aid_programme="助学金")
    # A 未脱贫 poverty household of one (9,000 < 9,600 a year): M06 unless it is in 低保. Its head
    # guards a student who is on an active 低保 roll elsewhere.
    P("m06_head", "乙户主"); P("m06_student", "乙学生"); P("dibao_head", "乙低保户主")
    w.poverty("PG", [("m06_head", "户主")], poverty_status="未脱贫", income_per_capita=9000)
    w.assistance("AD", [("dibao_head", "户主"), ("m06_student", "子女")])
    w.student("m06_student", guardian="m06_head", aid_programme="助学金")
    # A 已脱贫 household of one: burden 10,000 = 0.50 × 20,000 (R03). A student through its head,
    # with medical costs of their own, neither adds to the burden nor doubles the income.
    P("r03_head", "丙户主"); P("r03_student", "丙学生")
    w.poverty("PR", [("r03_head", "户主")], poverty_status="已脱贫", income_per_capita=20000)
    w.medical("r03_head", 10000)
    w.student("r03_student", guardian="r03_head", aid_programme="助学金")
    w.medical("r03_student", 30000)
    # A disabled student (grade 4, no living subsidy) whose guardian is in 低保: not in 低保 (M03)
    # but the student's household is (M04).
    P("m03_guardian", "丁低保"); P("m03_student", "丁学生")
    w.assistance("AG", [("m03_guardian", "户主")])
    w.student("m03_student", guardian="m03_guardian")
    w.disability("m03_student", 4, living=False)
    w.load()
    run_rules(w.con, Q, DEFAULT_CONFIG)
    rows = w.con.execute("SELECT rule_code, person_id, reason FROM work_flags WHERE quarter = ?", [Q]).fetchall()
    yield {(code, person): reason for code, person, reason in rows}
    w.con.close()


def test_student_whose_guardian_sits_on_another_active_roll_is_not_a_q01_flag(flags):
    assert ("Q01", "q01_student") not in flags
    assert ("Q01", "q01_guardian") not in flags


def test_student_through_a_guardian_does_not_put_the_guardians_household_in_dibao(flags):
    reason = flags[("M06", "m06_head")]
    assert "家庭年收入9,000元" in reason and "人均9,000元/年" in reason


def test_student_through_a_guardian_changes_neither_member_count_nor_medical_burden(flags):
    reason = flags[("R03", "r03_head")]
    assert "医疗自付10,000元" in reason and "家庭年收入20,000元" in reason


def test_student_through_a_guardian_in_dibao_is_not_in_dibao_but_their_household_is(flags):
    assert ("M03", "m03_student") not in flags
    assert "低保" in flags[("M04", "m03_student")]
