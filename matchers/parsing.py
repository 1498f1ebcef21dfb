"""Typed parsing of extract cells that arrive as text: money, integers, dates, grades, yes/no.

Each parser works on the unique values of a column (a polars Series of text) and returns the
typed column plus, per row, a Chinese note when a non-empty cell could not be used (the cell
becomes null; the row is kept and marked, never dropped).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal

import polars as pl

from matchers.contract import BOOL, DATE, GRADE, INT, MONEY, district_name
from matchers.privacy import mask_ids_in_text

# Excel's day zero for serial dates (1900 system, including its 1900-02-29 bug).
EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_SERIAL_RANGE = (1, 80000)  # 1900-01-01 .. 2119

_MONEY_STRIP = re.compile(r"[,，\s元圆¥￥]|人民币")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_GRADE_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "壹": 1, "贰": 2, "叁": 3, "肆": 4}
_YES = {"是", "有", "已享受", "享受", "y", "yes", "true", "1", "√"}
_NO = {"否", "无", "未享受", "n", "no", "false", "0", "×"}


INT32_MAX = 2**31 - 1


def _shown(value: str, limit: int = 40) -> str:
    """A cell as quoted in a row note: ID-shaped runs masked (first 4, last 4), long text cut."""
    masked = mask_ids_in_text(value)
    return masked if len(masked) <= limit else masked[:limit] + "…"


class Unparsed(ValueError):
    """A non-empty cell that is not a value of the column's kind."""


def fold_cell(value: str | None) -> str:
    """NFKC (full-width → half-width) and trimmed; None for empty."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", value).strip()


def parse_money(value: str) -> float | None:
    s = _MONEY_STRIP.sub("", fold_cell(value))
    if not s:
        return None
    if not _NUMBER.match(s):
        raise Unparsed("不是数字")
    if len(s.lstrip("+-").split(".")[0]) >= 15:  # 15+ integer digits: an ID in the wrong column
        raise Unparsed("数值过大(疑似身份证号等编号)")
    amount = float(s)
    if not math.isfinite(amount):
        raise Unparsed("数值过大")
    if amount < 0:
        raise Unparsed("金额为负数")
    return amount


def parse_int(value: str) -> int | None:
    s = re.sub(r"[,，\s人口个]", "", fold_cell(value))
    if not s:
        return None
    if not _NUMBER.match(s):
        raise Unparsed("不是整数")
    exact = Decimal(s)  # not float: a 400-digit cell overflows float, a 20-digit one loses digits
    if exact != exact.to_integral_value():
        raise Unparsed("不是整数")
    n = int(exact)
    if n < 0:
        raise Unparsed("为负数")
    if n > INT32_MAX:  # the column is INTEGER; a bigger value would silently become null
        raise Unparsed("数值过大")
    return n


def parse_date(value: str) -> dt.date | None:
    s = fold_cell(value)
    if not s:
        return None
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d)
            except ValueError as exc:
                raise Unparsed("不是有效日期") from exc
    if _NUMBER.match(s):
        serial = float(s)
        if EXCEL_SERIAL_RANGE[0] <= serial <= EXCEL_SERIAL_RANGE[1] and serial == int(serial):
            return EXCEL_EPOCH + dt.timedelta(days=int(serial))
    raise Unparsed("不是可识别的日期")


def parse_grade(value: str) -> int | None:
    s = fold_cell(value).replace(" ", "")
    if not s:
        return None
    s = s.removesuffix("级")
    if s in ("1", "2", "3", "4"):
        return int(s)
    if s in _GRADE_WORDS:
        return _GRADE_WORDS[s]
    raise Unparsed("不是一级至四级")


def parse_bool(value: str) -> bool | None:
    s = fold_cell(value).lower()
    if not s:
        return None
    if s in _YES:
        return True
    if s in _NO:
        return False
    raise Unparsed("不是“是/否”")


PARSERS: dict[str, tuple[Callable[[str], object], pl.DataType]] = {
    MONEY: (parse_money, pl.Float64),
    INT: (parse_int, pl.Int32),
    DATE: (parse_date, pl.Date),
    GRADE: (parse_grade, pl.Int32),
    BOOL: (parse_bool, pl.Boolean),
}

KIND_LABELS = {MONEY: "金额", INT: "整数", DATE: "日期", GRADE: "残疾等级", BOOL: "是/否"}


# Cells already in plain form are cast by polars in one pass; only the others (signs, other
# currency marks, bad values) go through the Python parser, once per distinct value.
_PLAIN = {MONEY: r"^[0-9]{1,14}(\.[0-9]+)?$", INT: r"^[0-9]{1,9}$"}  # [0-9]: polars \d also matches full-width digits
# Full-width digits, point and comma folded to ASCII before the plain test, as fold_cell's NFKC
# folds them (a department's Windows export often has them in every amount).
_FULL_WIDTH = [chr(0xFF10 + i) for i in range(10)] + ["．", "，"]
_HALF_WIDTH = [str(i) for i in range(10)] + [".", ","]


def parse_column(values: pl.Series, kind: str, header: str) -> tuple[pl.Series, pl.Series]:
    """Parse a text column. Returns (typed values, per-row note or null).

    Works on unique values only, so a million rows with a few thousand distinct amounts cost a few
    thousand Python calls; plain numbers never reach Python at all.
    """
    parse, dtype = PARSERS[kind]
    # Thousands separators, spaces and 元 are dropped in polars too; only odd cells go to Python.
    simple = (
        values.str.replace_many(_FULL_WIDTH, _HALF_WIDTH).str.replace_all(r"[,\s元]", "")
        if kind in _PLAIN
        else values
    )
    plain = (
        simple.str.contains(_PLAIN[kind]).fill_null(False)
        if kind in _PLAIN
        else pl.Series([False] * len(values), dtype=pl.Boolean)
    )
    uniques = values.filter(~plain).drop_nulls().unique().to_list()
    typed: dict[str, object] = {}
    notes: dict[str, str] = {}
    for u in uniques:
        try:
            typed[u] = parse(u)
        except Unparsed as exc:
            typed[u] = None
            notes[u] = f"“{header}”值“{_shown(u)}”{exc},已置空"
    keys = list(typed)
    slow = values.replace_strict(keys, [typed[k] for k in keys], default=None, return_dtype=dtype)
    out = (
        pl.select(
            pl.when(plain).then(simple.cast(dtype, strict=False)).otherwise(slow)
        ).to_series()
        if kind in _PLAIN
        else slow
    )
    note_keys = list(notes)
    note = values.replace_strict(
        note_keys, [notes[k] for k in note_keys], default=None, return_dtype=pl.String
    )
    return out.alias(values.name), note.alias(values.name + "__note")


def clean_text(values: pl.Series) -> pl.Series:
    """A categorical/text cell as used by the rules: NFKC-folded and trimmed, empty → null."""
    uniques = values.drop_nulls().unique().to_list()
    mapping = {u: (fold_cell(u) or None) for u in uniques}
    keys = list(mapping)
    return values.replace_strict(
        keys, [mapping[k] for k in keys], default=None, return_dtype=pl.String
    ).alias(values.name)


def check_district(values: pl.Series, header: str) -> tuple[pl.Series, pl.Series]:
    """(district names as the contract spells them, per-row note or null) of a cleaned district
    column: a value naming none of the city's districts becomes null with a note, so no district
    list is ever made for it. Works on unique values."""
    uniques = values.drop_nulls().unique().to_list()
    names = {u: district_name(u) for u in uniques}
    notes = {
        u: f"“{header}”值“{_shown(u)}”不是本市的区,已置空"
        for u, name in names.items()
        if name is None
    }
    keys = list(names)
    out = values.replace_strict(keys, [names[k] for k in keys], default=None, return_dtype=pl.String)
    note_keys = list(notes)
    note = values.replace_strict(note_keys, [notes[k] for k in note_keys], default=None, return_dtype=pl.String)
    return out.alias(values.name), note.alias(values.name + "__note")
