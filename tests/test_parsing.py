import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.contract import DATE, GRADE, INT, MONEY
from matchers.parsing import (
    Unparsed,
    parse_bool,
    parse_column,
    parse_date,
    parse_grade,
    parse_int,
    parse_money,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,234.50", 1234.5),
        ("1234.5元", 1234.5),
        ("１２３４", 1234.0),  # full-width digits
        ("１，２３４．５０元", 1234.5),
        (" 800 ", 800.0),
        ("0", 0.0),
        ("", None),
        ("  ", None),
        ("￥560", 560.0),
    ],
)
def test_money_forms_parse(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["-50", "不详", "12.3.4", "约800"])
def test_negative_or_non_numeric_money_is_unparsed(text):
    with pytest.raises(Unparsed):
        parse_money(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-10-01", dt.date(2025, 10, 1)),
        ("2025/1/5", dt.date(2025, 1, 5)),
        ("2025年1月5日", dt.date(2025, 1, 5)),
        ("２０２５年１月５日", dt.date(2025, 1, 5)),
        ("45658", dt.date(2025, 1, 1)),  # Excel serial
        ("45658.0", dt.date(2025, 1, 1)),
        ("2025-10-01 00:00:00", dt.date(2025, 10, 1)),
        ("", None),
    ],
)
def test_date_forms_parse(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2025-02-30", "2025年13月1日", "昨天", "45658.5", "0"])
def test_impossible_dates_are_unparsed(text):
    with pytest.raises(Unparsed):
        parse_date(text)


@pytest.mark.parametrize(
    "text, grade", [("一级", 1), ("二级", 2), ("3级", 3), ("4", 4), ("４级", 4), ("肆级", 4)]
)
def test_grade_forms(text, grade):
    assert parse_grade(text) == grade


def test_grade_five_is_unparsed():
    with pytest.raises(Unparsed):
        parse_grade("五级")


def test_yes_no():
    assert parse_bool("是") is True and parse_bool("否") is False and parse_bool("") is None


def test_parse_column_marks_bad_cells_and_keeps_rows():
    s = pl.Series("monthly_amount", ["1,200元", "不详", None, "-3", "800"])
    values, note = parse_column(s, MONEY, "月保障金额(元)")
    assert values.to_list() == [1200.0, None, None, None, 800.0]
    notes = note.to_list()
    assert notes[0] is None and notes[2] is None and notes[4] is None
    assert "月保障金额(元)" in notes[1] and "不详" in notes[1]
    assert "负数" in notes[3]


def test_parse_column_dates_and_grades_typed():
    d, _ = parse_column(pl.Series("d", ["2026/9/30", "46000"]), DATE, "状态日期")
    assert d.dtype == pl.Date
    g, _ = parse_column(pl.Series("g", ["二级", "1"]), GRADE, "残疾等级")
    assert g.to_list() == [2, 1]


def test_parse_column_full_width_digits_not_lost():
    # polars' \d matches full-width digits too; they must reach the parser, not a failed cast
    values, note = parse_column(pl.Series("t", ["３３８００", "２６４００元", "26400"]), MONEY, "年学费(元)")
    assert values.to_list() == [33800.0, 26400.0, 26400.0]
    assert note.null_count() == 3
    n, _ = parse_column(pl.Series("n", ["３", "4"]), INT, "家庭人口")
    assert n.to_list() == [3, 4]


amount_like = st.text(alphabet="0123456789０１２３４５６７８９.．,，元 \u3000-+¥", max_size=12)


@given(st.lists(st.one_of(amount_like, st.none()), max_size=20), st.sampled_from([MONEY, INT]))
@settings(max_examples=300, deadline=None)
def test_parse_column_equals_the_cell_parser(cells, kind):
    parse = parse_money if kind == MONEY else parse_int
    if kind == INT:  # the column reader takes "5元" as 5 people, the cell parser refuses it (kept as it was)
        cells = [c.replace("元", "") if c else c for c in cells]
    values, note = parse_column(pl.Series("v", cells, dtype=pl.String), kind, "金额")
    expected = []
    for cell in cells:
        try:
            expected.append((None if cell is None else parse(cell), False))
        except Unparsed:
            expected.append((None, True))
    assert list(zip(values.to_list(), [n is not None for n in note.to_list()])) == expected


def test_district_names_are_read_as_the_contract_spells_them():
    from matchers.contract import district_name

    assert [district_name(v) for v in ("江夏区", " 江夏 ", "武汉市江夏区", "湖北省武汉市 洪山区")] == ["江夏区", "江夏区", "江夏区", "洪山区"]
    assert [district_name(v) for v in ("东湖高新区", "=HYPERLINK(1)", "", None, "区")] == [None] * 5
