"""Guardians without a valid ID, resolved with the model's evidence (resolution.guardians): never
on a name and a district alone, and never to one of two namesakes the evidence cannot tell apart."""

from __future__ import annotations

import math

import polars as pl
import pytest

from matchers import warehouse
from matchers.resolution import guardians, spec
from matchers.resolution.incremental import MODE_INCREMENTAL, resolve_with_refresh
from matchers.resolution.model import Model
from matchers.resolution.resolve import DEFAULT_MODEL_PATH, resolve_quarter
from test_resolution import KEY, background, con, load, row, valid_id  # noqa: F401 (fixture)

Q = "2026Q3"
FATHER = valid_id("420115", "1980-01-01", "111")
NAMESAKE = valid_id("420115", "1975-06-06", "555")
CHILD = valid_id("420115", "2012-05-05", "333")


def _student_households(con) -> set[str]:
    """The household keys the education row's student belongs to, and through which."""
    return set(con.sql(
        "SELECT h.household_key || '/' || h.via FROM work_household_members h "
        "JOIN work_source_records s ON s.person_id = h.person_id AND s.quarter = h.quarter "
        "WHERE s.source = 'education'"
    ).pl().to_series())


def _rolls(*namesake_rows) -> list[dict]:
    return background() + [
        row("assistance", 1, "王大山", id_norm=FATHER, household_id="H1", relation="户主"),
        row("poverty", 1, "王大山", id_norm=FATHER, household_id="F9", relation="户主"),
        *namesake_rows,
    ]


def test_guardian_whose_name_two_persons_of_the_district_share_is_not_linked_on_name_and_district(con):
    load(con, _rolls(
        row("assistance", 7, "王大山", id_norm=NAMESAKE, household_id="H7", relation="户主"),
        row("education", 1, "王小芳", id_kind="student_j", guardian_name_norm="王大山"),
    ))
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert _student_households(con) == set()


def test_guardian_with_a_name_unique_in_the_district_and_nothing_else_is_not_linked(con):
    load(con, _rolls(row("education", 1, "王小芳", id_kind="student_j", guardian_name_norm="王大山")))
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert _student_households(con) == set()


def test_guardian_on_a_roll_with_the_student_is_told_from_a_namesake_by_that_roll(con):
    # the student is on the father's 低保 roll H1; the guardian (no ID) is the 王大山 of that roll,
    # not the namesake of H7: the student reaches the father's poverty household F9 through him
    load(con, _rolls(
        row("assistance", 2, "王小明", id_norm=CHILD, household_id="H1", relation="子女"),
        row("assistance", 7, "王大山", id_norm=NAMESAKE, household_id="H7", relation="户主"),
        row("education", 1, "王小明", id_norm=CHILD, guardian_name_norm="王大山"),
    ))
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert _student_households(con) == {"assistance:H1/member", "poverty:F9/guardian"}


def test_guardian_whose_damaged_id_shows_a_persons_17_digits_is_that_person(con):
    damaged = FATHER[:17] + ("0" if FATHER[17] != "0" else "1")
    load(con, _rolls(
        row("assistance", 7, "王大山", id_norm=NAMESAKE, household_id="H7", relation="户主"),
        row("education", 1, "王小芳", id_kind="student_j", guardian_name_norm="王大山", guardian_id=damaged),
    ))
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert _student_households(con) == {"assistance:H1/guardian", "poverty:F9/guardian"}


def test_posterior_is_shared_between_candidates_the_evidence_cannot_tell_apart():
    scored = pl.DataFrame({
        "g": [1, 1, 2, 2, 3],
        "student_pid": ["s1", "s1", "s2", "s2", "s3"],
        "person_id": ["a", "b", "a", "b", "c"],
        "match_weight": [20.0, 20.0, 20.0, 5.0, 20.0],
    })
    best = guardians.best_guardians(scored)
    assert sorted(best.select("g", "guardian_pid").rows()) == [(2, "a"), (3, "c")]
    assert (best["posterior"] >= spec.GUARDIAN_LINK_PROBABILITY).all()


def test_refresh_rebuilds_the_members_of_a_quarter_with_idless_guardians_as_a_full_run_does(con):
    rows = _rolls(
        row("assistance", 2, "王小明", id_norm=CHILD, household_id="H1", relation="子女"),
        row("assistance", 7, "王大山", id_norm=NAMESAKE, household_id="H7", relation="户主"),
        row("education", 1, "王小明", id_norm=CHILD, guardian_name_norm="王大山"),
    )
    load(con, rows)
    resolve_with_refresh(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    warehouse.publish_quarter(con, Q)
    # a housing row of a namesake elsewhere: it changes the name's frequency the guardian is scored with
    load(con, rows + [row("housing", 1, "王大山", id_kind="none", district="洪山区")])
    refresh = resolve_with_refresh(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert refresh["mode"] == MODE_INCREMENTAL, refresh["mode_reason"]
    assert refresh["household_members_kept"] is False
    members = "SELECT * FROM work_household_members ORDER BY ALL"
    after_refresh = con.sql(members).fetchall()
    resolve_with_refresh(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY, force_full=True)
    assert con.sql(members).fetchall() == after_refresh
    assert _student_households(con) == {"assistance:H1/member", "poverty:F9/guardian"}


def test_shared_roll_weighs_more_the_fewer_persons_share_the_students_rolls_never_less_than_the_model():
    model = Model.load(DEFAULT_MODEL_PATH)
    shared = spec.HOUSEHOLD.level_index("shared_1")
    u = model.u[spec.HOUSEHOLD.key][shared]
    scored = pl.DataFrame({"lvl_household": [shared, shared, -1], "hh_companions": [2, 2, None],
                           "match_weight": [5.0, 5.0, 5.0]})
    big = guardians.with_roll_frequency(scored, model, 200_000)["match_weight"].to_list()
    assert big[0] == pytest.approx(5.0 + math.log2(u / (2 / 200_000))) and big[2] == 5.0
    assert guardians.with_roll_frequency(scored, model, 40)["match_weight"].to_list() == [5.0, 5.0, 5.0]
