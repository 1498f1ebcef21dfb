"""Masking ID numbers: the one place that decides what an ID looks like outside the warehouse.

Only the warehouse holds IDs whole. Everything else the project writes or shows (workbooks,
reports, Dagster metadata and logs, console lines, web pages) passes its free text through
`mask_ids_in_text` (or `mask_ids_series` for a whole column), and shows a known ID with `mask_id`.

An ID-shaped run is 15 or more digits (ASCII or full-width), the last one possibly X, with at most
one space, dash or invisible formatting character between two digits: a resident ID (18), its old
form (15), a disability certificate (20) or a student number's digits. It is found wherever it
stands: glued to letters (`ID420106…`, `G420106…`), inside a name, street or note, in a file name.
A run is masked to its first 4 and last 4 characters, `4201**********123X`.
"""

from __future__ import annotations

import re

import polars as pl

NO_VALID_ID = "无有效身份证号"  # what a reason shows for a person without a valid ID

# A digit, ASCII or full-width; what may stand between two digits of one typed ID.
_DIGIT = "[0-9\uff10-\uff19]"
_GAP = "[ \\-\u00a0\u3000\u200b-\u200f\u2060\ufeff]?"
# 14 digits each optionally followed by one gap character, then a digit or X: 15 characters of ID
# at least. Not preceded or followed by a digit, so the whole run is taken (a 20-digit certificate
# is one run, never an 18-digit ID and two loose digits).
ID_SHAPED_RUN = re.compile(f"(?<![0-9\uff10-\uff19])(?:{_DIGIT}{_GAP}){{14,}}[0-9\uff10-\uff19Xx\uff38\uff58](?![0-9\uff10-\uff19])")
# The same pattern for polars (Rust regex: no look-around; a longer run still matches, which is
# all `str.contains` needs to pick the texts that go through the exact Python pattern).
_ID_SHAPED_POLARS = f"(?:{_DIGIT}{_GAP}){{14,}}[0-9\uff10-\uff19Xx\uff38\uff58]"


def mask_id(value: object) -> str:
    """An ID for display: first 4 and last 4 characters kept, everything between as `*`.

    `420106199001011234` → `4201**********1234`. None → ''; 8 characters or fewer are fully masked,
    so a short fragment is never shown whole.
    """
    if value is None:
        return ""
    text = str(value)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_valid_id(id_number: str | None) -> str:
    """A person's valid 18-digit ID masked, or 无有效身份证号 (how a reason names a person)."""
    if not id_number or len(id_number) != 18:
        return NO_VALID_ID
    return mask_id(id_number)


def mask_ids_in_text(text: object) -> str:
    """`text` with every ID-shaped run masked; None → ''."""
    if text is None:
        return ""
    return ID_SHAPED_RUN.sub(lambda m: mask_id(m.group(0)), str(text))


def contains_full_id(text: object) -> bool:
    """True when `text` shows an ID-shaped run unmasked (a guard before anything leaves)."""
    return text is not None and ID_SHAPED_RUN.search(str(text)) is not None


def mask_ids_series(texts: pl.Series) -> pl.Series:
    """`mask_ids_in_text` of a whole text column, nulls kept: only the texts that may hold an ID
    (a vectorised test) go through Python, so a column of names or streets costs one scan."""
    if texts.dtype != pl.String:
        texts = texts.cast(pl.String)
    maybe = texts.str.contains(_ID_SHAPED_POLARS).fill_null(False)
    if not maybe.any():
        return texts
    idx = maybe.arg_true()
    fixed = pl.Series([mask_ids_in_text(t) for t in texts.gather(idx).to_list()], dtype=pl.String)
    return texts.scatter(idx, fixed)


def mask_ids_expr(column: str) -> pl.Expr:
    """`mask_ids_series` as an expression over `column`."""
    return pl.col(column).map_batches(mask_ids_series, return_dtype=pl.String)


# The SQL side (rule reasons are built in DuckDB): the same display of a valid ID. Installed by
# whoever runs SQL that names people (`install_sql_macros`), never written out in a .sql file.
MASK_ID_SQL_MACRO = f"""
CREATE OR REPLACE TEMP MACRO mask_id(id) AS
    CASE WHEN length(id) = 18 THEN left(id, 4) || repeat('*', 10) || right(id, 4)
         ELSE '{NO_VALID_ID}' END;
"""


def install_sql_macros(con) -> None:
    """Define `mask_id(id)` on a DuckDB connection, as `mask_valid_id` does it in Python."""
    con.execute(MASK_ID_SQL_MACRO)
