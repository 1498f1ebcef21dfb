"""From read extract files to the rows that land in `stg_records` and `stg_rejected`.

Typed parsing (matchers.parsing), ID and name normalisation (matchers.normalise), and the
acceptance rule of EXTRACTS.md: a row whose ID cannot be repaired and whose name is empty is
quarantined with its reason; every other row is accepted (damaged cells become null and the row
is marked in `row_issues`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from matchers import normalise
from matchers.contract import SPECS, TEXT
from matchers.extract_reader import FILE_COLUMN, ROW_COLUMN, ExtractFile
from matchers.parsing import check_district, clean_text, parse_column

# Cells kept exactly as received (normalisation reads them); every other text cell is folded.
RAW_TEXT_FIELDS = ("name", "id_number", "cert_number", "student_number", "guardian_id", "guardian_name")

ROW_ISSUE_SEP = ";"


@dataclass
class PreparedSource:
    records: pl.DataFrame  # columns of stg_records (minus quarter/source added by the caller)
    rejected: pl.DataFrame  # source_file, source_row, reason, raw (JSON text)


RAW_PREFIX = "__raw_"


def _raw_json(frame: pl.DataFrame, headers_by_file: dict[str, dict[str, str]]) -> pl.Series:
    """Each row as received, keyed by its file's own header text, as a JSON string.

    Only called for the (few) rejected rows; the text cells were kept under RAW_PREFIX.
    """
    out = []
    for row in frame.iter_rows(named=True):
        headers = headers_by_file[row[FILE_COLUMN]]
        out.append(
            json.dumps(
                {h: row[RAW_PREFIX + f] for f, h in headers.items() if row.get(RAW_PREFIX + f) is not None},
                ensure_ascii=False,
            )
        )
    return pl.Series("raw", out, dtype=pl.String)


def prepare_source(source: str, files: list[ExtractFile]) -> PreparedSource:
    spec = SPECS[source]
    frames = [f.rows.with_columns(pl.lit(f.name).alias(FILE_COLUMN)) for f in files]
    headers_by_file = {f.name: f.columns for f in files}
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    for fld in spec.fields:  # every canonical column exists, null where the file lacked it
        if fld.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(fld.name))
    if frame.height == 0:
        return PreparedSource(_empty_records(source), _empty_rejected())
    # The cells as received, for the rejected rows' `raw` (columns are shared, not copied).
    frame = frame.with_columns(pl.col(f.name).alias(RAW_PREFIX + f.name) for f in spec.fields)

    notes: list[pl.Series] = []
    typed: list[pl.Series] = []
    for fld in spec.fields:
        col = frame.get_column(fld.name).cast(pl.String)
        if fld.kind != TEXT:
            values, note = parse_column(col, fld.kind, fld.header)
            typed.append(values)
            notes.append(note)
        elif fld.name == "district":
            values, note = check_district(clean_text(col), fld.header)
            typed.append(values)
            notes.append(note)
        elif fld.name not in RAW_TEXT_FIELDS:
            typed.append(clean_text(col))
    frame = frame.with_columns(typed)
    if notes:
        frame = frame.with_columns(
            pl.concat_str(notes, separator=ROW_ISSUE_SEP, ignore_nulls=True).alias("row_issues")
        ).with_columns(
            pl.when(pl.col("row_issues") == "").then(None).otherwise(pl.col("row_issues")).alias("row_issues")
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("row_issues"))

    frame = normalise.normalise_records(frame, source)
    frame = frame.with_columns(
        pl.col(FILE_COLUMN).alias("source_file"),
        pl.col(ROW_COLUMN).cast(pl.Int32).alias("source_row"),
        pl.col("name").alias("name_raw"),
        _id_raw_expr(frame).alias("id_raw"),
        pl.col("guardian_id").alias("guardian_id") if "guardian_id" in frame.columns else pl.lit(None, pl.String).alias("guardian_id"),
    )

    no_name = pl.col("name_norm").is_null() | (pl.col("name_norm").str.len_chars() == 0)
    reject = no_name & pl.col("id_norm").is_null()
    rejected_rows = frame.filter(reject)
    rejected = rejected_rows.select(
        "source_file",
        "source_row",
        pl.concat_str(
            pl.lit("姓名为空,且"),
            pl.when(pl.col("id_raw").is_null())
            .then(pl.lit("身份证号也为空,无法确认是谁"))
            .otherwise(pl.lit("身份证号无法修复(") + pl.col("id_issue").fill_null("无法识别") + pl.lit("),无法确认是谁")),
        ).alias("reason"),
    ).with_columns(_raw_json(rejected_rows, headers_by_file))
    records = frame.filter(~reject).drop(pl.selectors.starts_with(RAW_PREFIX))
    return PreparedSource(records, rejected)


def _id_raw_expr(frame: pl.DataFrame) -> pl.Expr:
    """The identifier as received: the ID column, else the certificate or student number."""
    parts = [pl.col("id_number")]
    for alt in ("cert_number", "student_number"):
        if alt in frame.columns:
            parts.append(pl.col(alt))
    return pl.coalesce(parts)


def _empty_records(source: str) -> pl.DataFrame:
    return pl.DataFrame(schema={"source_file": pl.String, "source_row": pl.Int32})


def _empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"source_file": pl.String, "source_row": pl.Int32, "reason": pl.String, "raw": pl.String}
    )
