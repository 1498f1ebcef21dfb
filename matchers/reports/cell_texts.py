"""The texts of a verification workbook's cells, made column by column in polars.

Every text that leaves the warehouse is masked here: IDs (`mask_id`) and any ID-shaped run in a
free-text column (name, street, community, reason, evidence: `mask_ids_series`). A value of a rare
shape (evidence that is not the warehouse's own JSON form, a date outside years 1000-9999) is
handed to the per-row function, so every cell is exactly the text that function gives.
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from matchers.contract import SOURCE_LABELS
from matchers.privacy import mask_id, mask_ids_in_text, mask_ids_series

from .columns import (
    COL_COMMUNITY,
    COL_EVIDENCE,
    COL_FIRST_SEEN,
    COL_FLAG_ID,
    COL_ID,
    COL_LAST_DECISION,
    COL_NAME,
    COL_REASON,
    COL_RULE,
    COL_RULE_NAME,
    COL_STREET,
)
from .labels import PENDING, RULE_NAMES, rule_label


def _evidence_text(evidence: str | None) -> str:
    """`[{"source": "disability", "source_file": "d.csv", "source_row": 3}]` → `残联持证残疾人 d.csv 第3行`."""
    if not evidence:
        return ""
    try:
        items = json.loads(evidence)
    except (TypeError, ValueError):
        return mask_ids_in_text(evidence)
    if isinstance(items, dict):
        items = items.get("rows") or items.get("evidence") or [items]
    parts = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        label = SOURCE_LABELS.get(str(item.get("source")), str(item.get("source") or ""))
        where = f"{item.get('source_file') or ''} 第{item.get('source_row')}行" if item.get("source_row") else ""
        parts.append(" ".join(p for p in (label, where) if p))
    return mask_ids_in_text(";".join(parts))


def _last_decision_text(decision: str | None, decided_at: datetime | None) -> str:
    if not decision:
        return PENDING
    return f"{decision}({decided_at:%Y-%m-%d})" if decided_at else decision


# The text columns sheet_values gives, in its order (序号 is numbered per sheet, the input
# columns are empty).
VALUE_HEADERS = (
    COL_RULE, COL_RULE_NAME, COL_STREET, COL_COMMUNITY, COL_NAME, COL_ID, COL_REASON,
    COL_EVIDENCE, COL_FIRST_SEEN, COL_LAST_DECISION, COL_FLAG_ID,
)

# The texts of a sheet are made column by column in polars; a value of a rare shape is handed to
# the per-row function above (_evidence_text, _last_decision_text, mask_ids_in_text), so every
# cell is exactly the text that function gives (tests/test_workbooks.py keeps the per-row
# reference and compares the bytes).
#
# Evidence as the warehouse writes it (a JSON list of {"source", "source_file", "source_row"}
# objects, keys in that order, strings without escapes or control characters, integer or null
# row): json_decode reads it exactly as json.loads does. Anything else (a dict, other keys, an
# escape, a float, invalid JSON) goes to _evidence_text.
_JSON_WS = r"[ \t\n\r]*"
_JSON_TEXT = r'(?:"[^"\\\x00-\x1f]*"|null)'
_JSON_INT = r"(?:-?(?:0|[1-9][0-9]{0,17})|null)"
_EVIDENCE_ITEM = "".join((
    r"\{", _JSON_WS, r'"source"', _JSON_WS, ":", _JSON_WS, _JSON_TEXT, _JSON_WS, ",",
    _JSON_WS, r'"source_file"', _JSON_WS, ":", _JSON_WS, _JSON_TEXT, _JSON_WS, ",",
    _JSON_WS, r'"source_row"', _JSON_WS, ":", _JSON_WS, _JSON_INT, _JSON_WS, r"\}",
))
_PLAIN_EVIDENCE = "".join((
    r"\A", _JSON_WS, r"\[", _JSON_WS,
    "(?:", _EVIDENCE_ITEM, "(?:", _JSON_WS, ",", _JSON_WS, _EVIDENCE_ITEM, ")*)?",
    _JSON_WS, r"\]", _JSON_WS, r"\z",
))
_EVIDENCE_DTYPE = pl.List(pl.Struct({"source": pl.String, "source_file": pl.String, "source_row": pl.Int64}))


def _evidence_item_text() -> pl.Expr:
    """_evidence_text of one decoded evidence item (inside list.eval), before masking."""
    item = pl.element()
    label = item.struct.field("source").replace(SOURCE_LABELS).fill_null("")
    row = item.struct.field("source_row")
    where = (
        pl.when(row.is_not_null() & (row != 0))
        .then(pl.concat_str([item.struct.field("source_file").fill_null(""), pl.lit(" 第"), row.cast(pl.String), pl.lit("行")]))
        .otherwise(pl.lit(""))
    )
    return (
        pl.when((label != "") & (where != "")).then(pl.concat_str([label, pl.lit(" "), where]))
        .when(label != "").then(label)
        .otherwise(where)
    )


def _is_text(s: pl.Series) -> bool:
    return s.dtype in (pl.String, pl.Null)


def _texts(values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


def _patched(texts: pl.Series, at: pl.Series, func) -> pl.Series:
    """`texts` with the values at the positions `at` (a boolean mask) replaced by func(position)."""
    idx = at.arg_true()
    return texts.scatter(idx, [func(i) for i in idx.to_list()]) if idx.len() else texts


def _evidence_texts(evidence: pl.Series) -> pl.Series:
    """_evidence_text of every value, column by column."""
    if not _is_text(evidence):
        return _texts([_evidence_text(e) for e in evidence.to_list()])
    evidence = evidence.cast(pl.String)
    plain = evidence.str.contains(_PLAIN_EVIDENCE).fill_null(False)
    texts = pl.select(
        pl.when(plain).then(evidence).str.json_decode(_EVIDENCE_DTYPE)
        .list.eval(_evidence_item_text()).list.join(";").fill_null("")
    ).to_series()
    texts = mask_ids_series(texts)
    # a rare shape, or NULL/empty: the per-row function (which masks its text itself)
    return _patched(texts, ~plain, lambda i: _evidence_text(evidence[i]))


def _last_decision_texts(decision: pl.Series, decided_at: pl.Series) -> pl.Series:
    """_last_decision_text of every (decision, decided_at)."""
    dated = decided_at.dtype in (pl.Null, pl.Date) or isinstance(decided_at.dtype, pl.Datetime)
    if not (_is_text(decision) and dated):
        return _texts([_last_decision_text(d, t) for d, t in zip(decision.to_list(), decided_at.to_list())])
    decision = decision.cast(pl.String)
    if decided_at.dtype == pl.Null:
        decided_at = decided_at.cast(pl.Date)
    texts = pl.select(
        pl.when(decision.is_null() | (decision == "")).then(pl.lit(PENDING))
        .when(decided_at.is_null()).then(decision)
        .otherwise(pl.concat_str([decision, pl.lit("("), decided_at.dt.strftime("%Y-%m-%d"), pl.lit(")")]))
    ).to_series()
    # strftime's %Y pads years under 1000 where Python's does not: those go to the per-row function.
    odd = (decided_at.is_not_null() & ~decided_at.dt.year().is_between(1000, 9999)).fill_null(False)
    return _patched(texts, odd, lambda i: _last_decision_text(decision[i], decided_at[i]))


def _str_texts(s: pl.Series, null: str) -> pl.Series:
    """`str(value or null)` (street, name, …: null="") or `str(value)` (codes: null="None") of every value."""
    if _is_text(s):
        return s.cast(pl.String).fill_null(null)
    return _texts([str(v or null) if null == "" else str(v) for v in s.to_list()])


def _free_texts(s: pl.Series) -> pl.Series:
    """Text typed by a department (name, street, community) with any ID-shaped run masked."""
    return mask_ids_series(_str_texts(s, ""))


def sheet_values(part: pl.DataFrame) -> list[pl.Series]:
    """The texts of the value columns, one String column per VALUE_HEADERS, made column
    by column: the same texts as the per-row functions give (`str(code)`, `str(rule_label(code))`,
    `mask_ids_in_text(str(street or ""))`, …, `mask_id(id_number)`, `mask_ids_in_text(reason)`,
    `_evidence_text(evidence)`, `_last_decision_text(decision, decided_at)`, `str(flag_id)`)."""
    c = part.get_column
    codes = _str_texts(c("rule_code"), "None")
    if _is_text(c("rule_code")):
        names = codes.replace(RULE_NAMES)
    else:
        names = _texts([str(rule_label(v)) for v in c("rule_code").to_list()])
    if _is_text(c("reason")):
        reasons = mask_ids_series(c("reason").cast(pl.String).fill_null(""))
    else:
        reasons = _texts([mask_ids_in_text(v) for v in c("reason").to_list()])
    return [
        codes,
        names,
        _free_texts(c("street")),
        _free_texts(c("community")),
        _free_texts(c("name")),
        _texts([mask_id(v) for v in c("id_number").to_list()]),  # per row: cheaper than polars here
        reasons,
        _evidence_texts(c("evidence")),
        _str_texts(c("first_seen"), ""),
        _last_decision_texts(c("last_decision"), c("last_decided_at")),
        _str_texts(c("flag_id"), "None"),
    ]

