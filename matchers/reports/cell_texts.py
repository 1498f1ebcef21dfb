"""The texts of a verification workbook's cells, made column by column in polars.

Every text that leaves the warehouse is masked here: IDs (`mask_id`) and any ID-shaped run in a
free-text column (name, street, community, reason, evidence: `mask_ids_series`). Evidence is read
with `json`, once per distinct value (a flag's evidence is one JSON list, as WAREHOUSE.md says).

Pure library: no Dagster.
"""

from __future__ import annotations

import json

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
from .labels import PENDING, RULE_NAMES

# The text columns sheet_values gives, in its order (序号 is numbered per sheet, the input
# columns are empty).
VALUE_HEADERS = (
    COL_RULE, COL_RULE_NAME, COL_STREET, COL_COMMUNITY, COL_NAME, COL_ID, COL_REASON,
    COL_EVIDENCE, COL_FIRST_SEEN, COL_LAST_DECISION, COL_FLAG_ID,
)


def _evidence_item(item: object) -> str:
    """`{"source": "disability", "source_file": "d.csv", "source_row": 3}` → `残联持证残疾人 d.csv 第3行`."""
    if not isinstance(item, dict):
        return ""
    source = item.get("source")
    label = SOURCE_LABELS.get(str(source), "" if source is None else str(source))
    row = item.get("source_row")
    where = f"{item.get('source_file') or ''} 第{row}行" if row else ""
    return " ".join(p for p in (label, where) if p)


def _evidence_unmasked(evidence: str | None) -> str:
    if not evidence:
        return ""
    try:
        items = json.loads(evidence)
    except ValueError:
        return evidence
    if isinstance(items, dict):
        items = items.get("rows") or items.get("evidence") or [items]
    if not isinstance(items, list):
        return ""
    return ";".join(t for t in map(_evidence_item, items) if t)


def evidence_text(evidence: str | None) -> str:
    """The 数据来源 text of one flag's evidence (a JSON list of source rows), masked. A value that
    is not such a list (a single object, an object holding the list under "rows" or "evidence")
    is read as well as it can be; text that is not JSON is shown as it is, masked."""
    return mask_ids_in_text(_evidence_unmasked(evidence))


def _texts(s: pl.Series) -> pl.Series:
    """A column as texts, null as the empty text."""
    return s.cast(pl.String).fill_null("")


def _evidence_texts(evidence: pl.Series) -> pl.Series:
    """evidence_text of every value, each distinct value read once."""
    evidence = _texts(evidence)
    distinct = evidence.unique()
    shown = mask_ids_series(pl.Series([_evidence_unmasked(v) for v in distinct.to_list()], dtype=pl.String))
    return evidence.replace_strict(distinct, shown, return_dtype=pl.String)


def _last_decision_texts(decision: pl.Series, decided_at: pl.Series) -> pl.Series:
    """The latest decision with its date, `不属实(2026-08-03)`, or 待核查 when there is none."""
    decision = decision.cast(pl.String)
    day = decided_at.cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d")
    return pl.select(
        pl.when(decision.is_null() | (decision == "")).then(pl.lit(PENDING))
        .when(day.is_null()).then(decision)
        .otherwise(pl.concat_str([decision, pl.lit("("), day, pl.lit(")")]))
    ).to_series()


def sheet_values(part: pl.DataFrame) -> list[pl.Series]:
    """The texts of the value columns of `part` (export rows), one String column per
    VALUE_HEADERS: rule code and name, street, community, name (masked), the ID masked, reason and
    evidence (masked), first seen, the latest decision, the flag ID."""
    c = part.get_column
    codes = _texts(c("rule_code"))
    return [
        codes,
        codes.replace(RULE_NAMES),
        mask_ids_series(_texts(c("street"))),
        mask_ids_series(_texts(c("community"))),
        mask_ids_series(_texts(c("name"))),
        pl.Series([mask_id(v) for v in c("id_number").to_list()], dtype=pl.String),  # one per person
        mask_ids_series(_texts(c("reason"))),
        _evidence_texts(c("evidence")),
        _texts(c("first_seen")),
        _last_decision_texts(c("last_decision"), c("last_decided_at")),
        _texts(c("flag_id")),
    ]
