"""Resident ID repair and validation: table cases plus hypothesis properties."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from matchers import ids
from matchers.id_columns import normalise_id_column
from matchers.ids import (
    ISSUE_APOSTROPHE,
    ISSUE_BAD_CHECK,
    ISSUE_BAD_DATE,
    ISSUE_CENTENARIAN_15,
    ISSUE_DASH,
    ISSUE_FROM_CERT,
    ISSUE_FROM_STUDENT_G,
    ISSUE_FULLWIDTH,
    ISSUE_INVISIBLE,
    ISSUE_LOWER_X,
    ISSUE_MISSING,
    ISSUE_SCIENTIFIC,
    ISSUE_SEP,
    ISSUE_TEXT_FORMULA,
    ISSUE_STUDENT_J,
    ISSUE_STUDENT_L,
    ISSUE_TRAILING_DOT0,
    ISSUE_UNRECOGNISED,
    ISSUE_UPGRADED_15,
    ISSUE_WHITESPACE,
    check_char,
    has_usable_id,
    is_valid_id,
    normalise_id,
)

TODAY = date.today()
# Real Wuhan region codes, current and historical (420111 is rejected by stdnum for old births).
WUHAN_REGIONS = ["420102", "420103", "420104", "420105", "420106", "420107", "420111",
                 "420112", "420113", "420114", "420115", "420116", "420117", "420101", "420123"]


def make_id(region: str, born: date, seq: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def issues_of(result) -> set[str]:
    return set(result.id_issue.split(ISSUE_SEP)) if result.id_issue else set()


regions = st.one_of(st.sampled_from(WUHAN_REGIONS), st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
births = st.dates(min_value=date(1890, 1, 1), max_value=TODAY)
valid_ids = st.builds(make_id, regions, births, st.integers(0, 999))
x_ids = st.builds(make_id, regions, births, st.integers(0, 999)).filter(lambda s: s.endswith("X"))
SPACES = [" ", "\u3000", "\u00a0", "\t"]
# Zero-width space, LRM, RLM, BOM, word joiner, soft hyphen, LRE, LRI: format controls, not spaces.
INVISIBLE = ["\u200b", "\u200e", "\u200f", "\ufeff", "\u2060", "\u00ad", "\u202a", "\u2066"]
DASHES = ["-", "\u2014", "\uff0d", "\u2212"]


# ---- helpers ----------------------------------------------------------------------------------
def test_check_char_agrees_with_stdnum_and_the_standard_example():
    assert check_char("11010519491231002") == "X"
    assert is_valid_id("11010519491231002X")
    assert not is_valid_id("11010519491231002x")  # canonical form only


@given(st.from_regex(r"[0-9]{17}", fullmatch=True))
def test_check_char_matches_stdnum_calc_check_digit(first17):
    # stdnum's function takes the full 18-character number and ignores its last character.
    assert check_char(first17) == ric.calc_check_digit(first17 + "0")


def test_region_code_never_rejects_an_old_wuhan_id():
    old = make_id("420111", date(1930, 1, 1), 123)
    with pytest.raises(Exception):
        ric.validate(old)  # the reason we do not use stdnum's validator
    res = normalise_id(old)
    assert res.id_norm == old and res.id_issue is None and res.region == "420111"


def test_birth_date_must_be_real_not_future_not_before_1890():
    future = f"420106{TODAY + timedelta(days=1):%Y%m%d}001"
    res = normalise_id(future + check_char(future))
    assert res.id_norm is None and ISSUE_BAD_DATE in issues_of(res)
    old = "42010618891231001"
    res = normalise_id(old + check_char(old))
    assert res.id_norm is None and ISSUE_BAD_DATE in issues_of(res)
    feb30 = "42010619900230001"
    assert not is_valid_id(feb30 + check_char(feb30))
    assert is_valid_id(make_id("420106", date(1890, 1, 1), 1))


@pytest.mark.parametrize(
    "raw, kind, id_norm, issues, id_kind",
    [
        ("420106199001011231", "id", "420106199001011231", set(), "id"),
        ("4201 0619 9001 0112 31", "id", "420106199001011231", {ISSUE_WHITESPACE}, "id"),
        ("420106\u300019900101\u00a01231", "id", "420106199001011231", {ISSUE_WHITESPACE}, "id"),
        ("420106-19900101-1231", "id", "420106199001011231", {ISSUE_DASH}, "id"),
        ("'420106199001011231", "id", "420106199001011231", {ISSUE_APOSTROPHE}, "id"),
        ("４２０１０６１９９００１０１１２３１", "id", "420106199001011231", {ISSUE_FULLWIDTH}, "id"),
        ("11010519491231002x", "id", "11010519491231002X", {ISSUE_LOWER_X}, "id"),
        ("420106199001011231.0", "id", "420106199001011231", {ISSUE_TRAILING_DOT0}, "id"),
        ("420106900101123", "id", "420106199001011231", {ISSUE_UPGRADED_15}, "id"),
        ("420106900101997", "id", None, {ISSUE_CENTENARIAN_15}, "unrecognised"),
        ("4.20115E+17", "id", None, {ISSUE_SCIENTIFIC}, "truncated"),
        ("420106199001011235", "id", None, {ISSUE_BAD_CHECK}, "bad_check"),
        (None, "id", None, {ISSUE_MISSING}, "none"),
        ("  ", "id", None, {ISSUE_MISSING}, "none"),
        ("无", "id", None, {ISSUE_MISSING}, "none"),
        ("12345", "id", None, {ISSUE_UNRECOGNISED}, "unrecognised"),
        ("42010619900101123142", "cert", "420106199001011231", {ISSUE_FROM_CERT}, "cert"),
        ("G420106199001011231", "student", "420106199001011231", {ISSUE_FROM_STUDENT_G}, "student_g"),
        ("L420106201501011234", "student", None, {ISSUE_STUDENT_L}, "student_l"),
        ("４２０１０６１９９００１０１１２３１\u3000", "id", "420106199001011231",
         {ISSUE_FULLWIDTH, ISSUE_WHITESPACE}, "id"),
    ],
)
def test_each_contract_form_is_repaired_or_named(raw, kind, id_norm, issues, id_kind):
    res = normalise_id(raw, kind)
    assert res.id_norm == id_norm
    assert issues_of(res) == issues
    assert res.id_kind == id_kind


def test_derived_fields_of_a_valid_id():
    res = normalise_id("420106199001011231")
    assert (res.birth_date, res.sex, res.region) == (date(1990, 1, 1), "男", "420106")
    assert normalise_id("11010519491231002X").sex == "女"


def test_certificate_gives_category_and_grade():
    res = normalise_id("42010619900101123142", "cert")
    assert (res.cert_category, res.cert_grade) == ("肢体", 2)


def test_j_number_gives_birth_date_and_region_but_never_an_id():
    code = make_id("420115", date(2015, 6, 1), 7)
    res = normalise_id("J" + code, "student")
    assert res.id_norm is None and res.id_kind == "student_j"
    assert issues_of(res) == {ISSUE_STUDENT_J}
    assert (res.birth_date, res.region) == (date(2015, 6, 1), "420115")
    assert not has_usable_id(res.id_kind)


def test_scientific_notation_keeps_prefix_and_exact_digits_only():
    res = normalise_id("4.20106199001011E+17")
    assert res.id_evidence == "420106199001011" and res.id_norm is None
    assert (res.region, res.birth_date) == ("420106", date(1990, 1, 1))
    short = normalise_id("4.20115E+17")
    assert short.region is None  # the 6th digit may be Excel's rounding


def test_usable_id_follows_the_rule_book():
    assert not has_usable_id("none") and not has_usable_id("truncated")
    assert not has_usable_id("student_l") and not has_usable_id("student_j")
    assert has_usable_id("id") and has_usable_id("cert") and has_usable_id("bad_check")
    assert not has_usable_id(None)


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        normalise_id("420106199001011231", "passport")


# ---- properties -------------------------------------------------------------------------------
def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in s)


@st.composite
def repairable(draw):
    """A valid ID, a random set of repairable corruptions, and the issues they must produce."""
    original = draw(st.one_of(valid_ids, x_ids))
    s, issues = original, set()
    if original.endswith("X") and draw(st.booleans()):
        s, issues = s[:-1] + "x", issues | {ISSUE_LOWER_X}
    if draw(st.booleans()):
        s, issues = _fullwidth(s), issues | {ISSUE_FULLWIDTH}
    for sep_set, issue in ((SPACES, ISSUE_WHITESPACE), (DASHES, ISSUE_DASH), (INVISIBLE, ISSUE_INVISIBLE)):
        if draw(st.booleans()):
            positions = draw(st.lists(st.integers(1, len(s) - 1), min_size=1, max_size=4))
            for p in sorted(set(positions), reverse=True):
                s = s[:p] + draw(st.sampled_from(sep_set)) + s[p:]
            issues.add(issue)
    if any(unicodedata.normalize("NFKC", c) != c for c in s if not (c.isspace() or c in INVISIBLE)):
        issues.add(ISSUE_FULLWIDTH)  # full-width digits, or the full-width dash U+FF0D
    if draw(st.booleans()):
        s, issues = "'" + s, issues | {ISSUE_APOSTROPHE}
    if not original.endswith("X") and draw(st.booleans()):
        s, issues = s + ".0", issues | {ISSUE_TRAILING_DOT0}
    if draw(st.booleans()):
        s, issues = f'="{s}"', issues | {ISSUE_TEXT_FORMULA}
    return original, s, issues


@given(repairable())
@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
def test_repairable_corruptions_come_back_to_the_original(case):
    original, corrupted, issues = case
    res = normalise_id(corrupted)
    assert res.id_norm == original
    assert issues_of(res) == issues


@given(st.builds(make_id, regions, st.dates(date(1900, 1, 1), date(1999, 12, 31)), st.integers(0, 995)))
def test_fifteen_digit_form_upgrades_to_the_original(original):
    old = original[:6] + original[8:17]
    res = normalise_id(old)
    assert res.id_norm == original and issues_of(res) == {ISSUE_UPGRADED_15}


@given(valid_ids, st.integers(1, 7), st.sampled_from(["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]))
def test_certificate_and_g_number_come_back_to_the_id(original, grade_digit, _):
    grade = grade_digit % 4 + 1
    res = normalise_id(original + str(grade_digit) + str(grade), "cert")
    assert res.id_norm == original and res.cert_grade == grade and ISSUE_FROM_CERT in issues_of(res)
    assert normalise_id("G" + original, "student").id_norm == original


@given(valid_ids, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_a_mistyped_character_never_becomes_another_valid_id(original, pos, char):
    assume(original[pos] != char and (char != "X" or pos == 17))
    typo = original[:pos] + char + original[pos + 1:]
    res = normalise_id(typo)
    assert res.id_norm is None
    assert res.id_kind == "bad_check" and ISSUE_BAD_CHECK in issues_of(res)
    assert res.id_evidence == typo[:17]


@given(valid_ids, st.integers(0, 16))
def test_transposed_digits_never_become_another_valid_id(original, pos):
    assume(original[pos] != original[pos + 1])
    swapped = original[:pos] + original[pos + 1] + original[pos] + original[pos + 2:]
    res = normalise_id(swapped)
    assert res.id_norm is None and res.id_norm != original


@given(valid_ids.filter(lambda s: not s.endswith("X")), st.integers(0, 14))
def test_excel_scientific_notation_is_kept_as_evidence_never_an_id(original, decimals):
    mantissa, exponent = f"{float(original):.{decimals}E}".split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")  # Excel's General format drops trailing zeros
    shown = f"{mantissa}E+{int(exponent)}"
    res = normalise_id(shown)
    assert res.id_norm is None and res.id_kind == "truncated"
    assert issues_of(res) == {ISSUE_SCIENTIFIC}
    assert original.startswith(res.id_evidence[:-1])  # the last shown digit may be rounded


id_like_text = st.text(
    alphabet="0123456789xX '-.E+GJL\u3000\u00a0\u200b\u200e\ufeff\t４２Ｘｘ＇－—−\u2018\x1c=\"", max_size=24
)


@given(st.one_of(valid_ids, id_like_text, repairable().map(lambda c: c[1])))
def test_normalising_twice_changes_nothing(raw):
    first = normalise_id(raw)
    if first.id_norm is not None:
        again = normalise_id(first.id_norm)
        assert again.id_norm == first.id_norm and again.id_issue is None
        assert is_valid_id(first.id_norm)
    else:
        assert normalise_id(raw) == first


@given(st.lists(st.one_of(valid_ids, id_like_text, st.none(), repairable().map(lambda c: c[1])),
                max_size=30))
@settings(max_examples=150, deadline=None)
def test_column_version_equals_the_scalar_one(values):
    frame = normalise_id_column(pl.Series(values, dtype=pl.String))
    assert frame.height == len(values)
    assert frame.to_dicts() == [asdict(normalise_id(v)) for v in values]


# Values in the exact shapes the column version reads with polars: IDs (valid or not), certificate
# numbers with any tail, G/J/L student numbers, with valid and invalid check characters and dates.
id_shaped = st.text(alphabet="0123456789", min_size=17, max_size=17).flatmap(
    lambda first17: st.sampled_from([first17 + "X", first17 + "0", first17 + ids.check_char(first17)])
)
shaped_values = st.one_of(
    valid_ids,
    id_shaped,
    st.tuples(st.one_of(valid_ids, id_shaped), st.text(alphabet="0123456789", min_size=2, max_size=2)).map("".join),
    st.tuples(st.sampled_from("GJLgj"), st.one_of(valid_ids, id_shaped)).map("".join),
    st.tuples(st.just("L"), st.text(alphabet="0123456789", min_size=18, max_size=18)).map("".join),
    st.tuples(st.just("L"), valid_ids.filter(lambda s: s.isdigit())).map("".join),
)


@given(st.lists(st.one_of(shaped_values, id_like_text, st.none()), max_size=30), st.sampled_from(ids.INPUT_KINDS))
@settings(max_examples=300, deadline=None)
def test_column_version_equals_the_scalar_one_for_every_kind_and_shape(values, kind):
    frame = normalise_id_column(pl.Series(values, dtype=pl.String), kind)
    assert frame.to_dicts() == [asdict(normalise_id(v, kind)) for v in values]


def test_column_version_keeps_order_and_duplicates():
    values = ["420106199001011231", None, "4.20115E+17", "420106199001011231", "x"]
    frame = normalise_id_column(pl.Series(values))
    assert frame.get_column("id_kind").to_list() == ["id", "none", "truncated", "id", "none"]
    cert = normalise_id_column(pl.Series(["42010619900101123142"]), kind="cert")
    assert cert.get_column("cert_grade").to_list() == [2]


def test_issue_labels_are_chinese_and_distinct():
    labels = [v for k, v in vars(ids).items() if k.startswith("ISSUE_") and k != "ISSUE_SEP"]
    assert len(labels) == len(set(labels))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in labels)
    assert all(ISSUE_SEP not in label for label in labels)


@pytest.mark.parametrize(
    "raw, issues",
    [
        ('="420102195001011238"', {ISSUE_TEXT_FORMULA}),
        ('= "42011119800101106x"', {ISSUE_TEXT_FORMULA, ISSUE_LOWER_X}),
        ("\u200e420102195001011238\u200f", {ISSUE_INVISIBLE}),
        ("\ufeff4201\u200b0219500101\u00a01238", {ISSUE_INVISIBLE, ISSUE_WHITESPACE}),
        ('\u202a="420102195001011238"\u202c', {ISSUE_INVISIBLE, ISSUE_TEXT_FORMULA}),
    ],
)
def test_text_formula_and_invisible_characters_are_repaired_and_named(raw, issues):
    expected = "420102195001011238" if not raw.startswith("= ") else "42011119800101106X"
    for res in (asdict(normalise_id(raw)), _column_result(raw)):
        assert res["id_norm"] == expected and set(res["id_issue"].split(ISSUE_SEP)) == issues


def _column_result(raw: str) -> dict:
    return normalise_id_column(pl.Series([raw, "420102195001011238"])).row(0, named=True)
