"""normalise_records: the per-source combining rules for IDs, certificates, student numbers, sex."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from matchers.ids import (
    ISSUE_BAD_CHECK,
    ISSUE_CERT_CATEGORY_MISMATCH,
    ISSUE_CERT_GRADE_MISMATCH,
    ISSUE_CERT_ID_MISMATCH,
    ISSUE_FROM_CERT,
    ISSUE_FROM_STUDENT_G,
    ISSUE_MISSING,
    ISSUE_SEP,
    ISSUE_SEX_MISMATCH,
    ISSUE_STUDENT_J,
    ISSUE_WHITESPACE,
    check_char,
)
from matchers.normalise import OUTPUT_COLUMNS, normalise_records


def make_id(first17: str) -> str:
    return first17 + check_char(first17)


MAN = make_id("42010619900101123")  # sequence 123: odd → 男
WOMAN = make_id("42011519850615002")
OTHER = make_id("42010219700303451")
BAD = MAN[:17] + ("0" if MAN[17] != "0" else "1")


def issues(value: str | None) -> set[str]:
    return set(value.split(ISSUE_SEP)) if value else set()


def test_adds_every_output_column_and_keeps_rows_and_order():
    df = pl.DataFrame({"name": ["张三", "李四", None], "id_number": [MAN, None, WOMAN]})
    out = normalise_records(df, "medical")
    assert out.columns == ["name", "id_number", *OUTPUT_COLUMNS]
    assert out.height == 3
    assert out.get_column("id_norm").to_list() == [MAN, None, WOMAN]
    assert out.get_column("id_kind").to_list() == ["id", "none", "id"]
    assert out.schema["id_birth_date"] == pl.Date
    assert out.get_column("id_birth_date").to_list()[0] == date(1990, 1, 1)
    assert out.get_column("guardian_id_norm").null_count() == 3


def test_rerun_on_its_own_output_replaces_columns():
    df = pl.DataFrame({"name": ["张三"], "id_number": [" " + MAN]})
    once = normalise_records(df, "assistance")
    twice = normalise_records(once, "assistance")
    assert twice.columns == once.columns
    assert twice.equals(once)


def test_sex_disagreeing_with_the_id_is_an_issue():
    df = pl.DataFrame(
        {"name": ["张三", "李四", "王五"], "id_number": [MAN, MAN, MAN], "sex": ["男", "女", None]}
    )
    out = normalise_records(df, "assistance")
    got = out.get_column("id_issue").to_list()
    assert got[0] is None and got[2] is None
    assert issues(got[1]) == {ISSUE_SEX_MISMATCH}


def test_disability_without_id_number_takes_the_certificate():
    df = pl.DataFrame(
        {
            "name": ["张三"],
            "id_number": [None],
            "cert_number": [MAN + "42"],
            "grade": [2],
            "category": ["肢体"],
        }
    )
    row = normalise_records(df, "disability").row(0, named=True)
    assert row["id_norm"] == MAN and row["id_kind"] == "cert"
    assert issues(row["id_issue"]) == {ISSUE_FROM_CERT}


def test_disability_certificate_grade_and_category_are_cross_checked():
    df = pl.DataFrame(
        {
            "name": ["张三", "李四"],
            "id_number": [MAN, WOMAN],
            "cert_number": [MAN + "42", WOMAN + "13"],
            "grade": [3, 3],
            "category": ["肢体", "听力"],
        }
    )
    out = normalise_records(df, "disability")
    first, second = out.get_column("id_issue").to_list()
    assert issues(first) == {ISSUE_CERT_GRADE_MISMATCH}
    assert issues(second) == {ISSUE_CERT_CATEGORY_MISMATCH}
    assert out.get_column("id_kind").to_list() == ["id", "id"]


def test_disability_bad_id_number_falls_back_to_a_valid_certificate():
    df = pl.DataFrame({"name": ["张三"], "id_number": [BAD], "cert_number": [MAN + "41"], "grade": [1]})
    row = normalise_records(df, "disability").row(0, named=True)
    assert row["id_norm"] == MAN
    assert issues(row["id_issue"]) == {ISSUE_BAD_CHECK, ISSUE_FROM_CERT}


def test_disability_certificate_of_another_person_is_named():
    df = pl.DataFrame({"name": ["张三"], "id_number": [MAN], "cert_number": [OTHER + "41"], "grade": [1]})
    row = normalise_records(df, "disability").row(0, named=True)
    assert row["id_norm"] == MAN
    assert issues(row["id_issue"]) == {ISSUE_CERT_ID_MISMATCH}


def test_education_uses_g_number_and_keeps_j_numbers_out_of_id_norm():
    j_code = make_id("42011520150601007")
    df = pl.DataFrame(
        {
            "name": ["张三", "李四", "王五"],
            "id_number": [None, None, "4201 1519 8506 1500 2" + WOMAN[-1]],
            "student_number": ["G" + MAN, "J" + j_code, "G" + MAN],
            "guardian_name": ["張 大山", None, "王 二"],
            "guardian_id": [WOMAN, None, "4.20115E+17"],
        }
    )
    out = normalise_records(df, "education")
    rows = out.to_dicts()
    assert rows[0]["id_norm"] == MAN and rows[0]["id_kind"] == "student_g"
    assert issues(rows[0]["id_issue"]) == {ISSUE_FROM_STUDENT_G}
    assert rows[1]["id_norm"] is None and rows[1]["id_kind"] == "student_j"
    assert issues(rows[1]["id_issue"]) == {ISSUE_STUDENT_J}
    assert (rows[1]["id_birth_date"], rows[1]["id_region"]) == (date(2015, 6, 1), "420115")
    # a usable id_number wins over the student number
    assert rows[2]["id_norm"] == WOMAN and issues(rows[2]["id_issue"]) == {ISSUE_WHITESPACE}
    assert out.get_column("guardian_id_norm").to_list() == [WOMAN, None, None]
    assert out.get_column("guardian_name_norm").to_list() == ["張大山", None, "王二"]


def test_education_without_any_identifier_is_missing():
    df = pl.DataFrame({"name": ["张三"], "student_number": [None]})
    row = normalise_records(df, "education").row(0, named=True)
    assert row["id_kind"] == "none" and issues(row["id_issue"]) == {ISSUE_MISSING}


def test_unknown_source_is_an_error():
    with pytest.raises(ValueError):
        normalise_records(pl.DataFrame({"name": ["张三"]}), "tax")


def test_empty_extract_gives_empty_frame_with_all_columns():
    df = pl.DataFrame(schema={"name": pl.String, "id_number": pl.String, "cert_number": pl.String})
    out = normalise_records(df, "disability")
    assert out.height == 0 and set(OUTPUT_COLUMNS) <= set(out.columns)
