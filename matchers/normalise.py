"""Normalised person columns for one source's typed extract rows.

`normalise_records(df, source)` adds the name and ID columns the warehouse's `stg_records` carries
(name_norm … id_region, guardian_id_norm, guardian_name_norm) to a frame holding the source's
canonical columns from `matchers.contract`. Combining rules:

- Every source: the ID comes from `id_number`.
- disability: when `id_number` does not give a valid ID, the certificate number (18-digit ID +
  category digit + grade digit) is used if it gives more; the certificate's grade and category are
  cross-checked against the `grade` / `category` columns, and a certificate that names a different
  person than a valid `id_number` is an issue.
- education: when `id_number` does not give a valid ID, the student number is used: G+ID gives the
  ID, a J/L number gives birth date and region only (no id_norm).
- Where the row gives 男/女 and the ID gives a sex, disagreement is ISSUE_SEX_MISMATCH.

"Gives more" ranks a result: a valid ID, then usable evidence (a failed check keeps 17 digits), then
any evidence (truncated prefix, J/L number), then nothing; ties keep `id_number`.
"""

from __future__ import annotations

import polars as pl

from matchers.contract import SPECS
from matchers.ids import (
    ISSUE_CERT_CATEGORY_MISMATCH,
    ISSUE_CERT_GRADE_MISMATCH,
    ISSUE_CERT_ID_MISMATCH,
    ISSUE_SEP,
    ISSUE_SEX_MISMATCH,
    KIND_BAD_CHECK,
    KIND_NONE,
    RESULT_FIELDS,
    RESULT_SCHEMA,
    normalise_id,
)
from matchers.id_columns import normalise_id_column
from matchers.names import NAME_COLUMNS, normalise_name_column

# The second identifier column per source, and the kind `normalise_id` reads it as.
SECONDARY_ID = {"disability": ("cert_number", "cert"), "education": ("student_number", "student")}

OUTPUT_COLUMNS = (
    *NAME_COLUMNS,
    "id_norm",
    "id_issue",
    "id_evidence",
    "id_kind",
    "id_birth_date",
    "id_sex",
    "id_region",
    "guardian_id_norm",
    "guardian_name_norm",
)
# IdResult field → output column.
_ID_OUT = {
    "id_norm": "id_norm",
    "id_issue": "id_issue",
    "id_evidence": "id_evidence",
    "id_kind": "id_kind",
    "birth_date": "id_birth_date",
    "sex": "id_sex",
    "region": "id_region",
}


def _missing_ids(height: int) -> pl.DataFrame:
    """The result of a missing ID for every row (the column is absent)."""
    empty = normalise_id(None)
    return pl.DataFrame(
        {
            name: pl.Series([getattr(empty, name)] * height, dtype=RESULT_SCHEMA[name])
            for name in RESULT_FIELDS
        }
    )


def _rank(prefix: str) -> pl.Expr:
    kind = pl.col(f"{prefix}id_kind")
    return (
        pl.when(pl.col(f"{prefix}id_norm").is_not_null())
        .then(3)
        .when(kind == KIND_BAD_CHECK)  # 17 digits of evidence
        .then(2)
        .when(kind != KIND_NONE)
        .then(1)
        .otherwise(0)
    )


def _join_issues(*parts: pl.Expr) -> pl.Expr:
    """Issue strings (each may hold several, or be null) joined once each, in order; '' → null."""
    joined = (
        pl.concat_str(list(parts), separator=ISSUE_SEP, ignore_nulls=True)
        .str.split(ISSUE_SEP)
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.unique(maintain_order=True)
        .list.join(ISSUE_SEP)
    )
    return pl.when(joined.str.len_chars() > 0).then(joined)


def _issue_if(condition: pl.Expr, label: str) -> pl.Expr:
    return pl.when(condition.fill_null(False)).then(pl.lit(label))


def _text(df: pl.DataFrame, column: str) -> pl.Series | None:
    return df.get_column(column).cast(pl.String) if column in df.columns else None


def normalise_records(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """`df` with OUTPUT_COLUMNS added (replaced if present); rows and order unchanged."""
    if source not in SPECS:
        raise ValueError(f"unknown source {source!r}")
    n = df.height

    name = _text(df, "name")
    names = (
        normalise_name_column(name)
        if name is not None
        else normalise_name_column(pl.Series([None] * n, dtype=pl.String))
    )

    id_number = _text(df, "id_number")
    primary = normalise_id_column(id_number, "id") if id_number is not None else _missing_ids(n)
    work = pl.concat([primary.rename(lambda c: f"p_{c}"), names], how="horizontal")

    second_column, second_kind = SECONDARY_ID.get(source, (None, None))
    second = _text(df, second_column) if second_column else None
    if second is not None:
        secondary = normalise_id_column(second, second_kind)
        work = pl.concat([work, secondary.rename(lambda c: f"s_{c}")], how="horizontal")
        use_second = _rank("s_") > _rank("p_")
        primary_present = pl.col("p_id_kind") != KIND_NONE
        chosen = {
            field: pl.when(use_second).then(pl.col(f"s_{field}")).otherwise(pl.col(f"p_{field}"))
            for field in _ID_OUT
        }
        chosen["id_issue"] = (
            pl.when(use_second & primary_present)
            .then(_join_issues(pl.col("p_id_issue"), pl.col("s_id_issue")))
            .when(use_second)
            .then(pl.col("s_id_issue"))
            .otherwise(pl.col("p_id_issue"))
        )
    else:
        chosen = {field: pl.col(f"p_{field}") for field in _ID_OUT}

    extra_issues: list[pl.Expr] = []
    if source == "disability" and second is not None:
        work = work.with_columns(
            df.get_column("grade").cast(pl.Int64, strict=False).alias("row_grade")
            if "grade" in df.columns
            else pl.lit(None, dtype=pl.Int64).alias("row_grade"),
            _text(df, "category").str.strip_chars().alias("row_category")
            if "category" in df.columns
            else pl.lit(None, dtype=pl.String).alias("row_category"),
        )
        extra_issues += [
            _issue_if(pl.col("s_cert_grade") != pl.col("row_grade"), ISSUE_CERT_GRADE_MISMATCH),
            _issue_if(
                pl.col("s_cert_category") != pl.col("row_category"), ISSUE_CERT_CATEGORY_MISMATCH
            ),
            _issue_if(pl.col("p_id_norm") != pl.col("s_id_norm"), ISSUE_CERT_ID_MISMATCH),
        ]

    sex = _text(df, "sex")
    work = work.with_columns(**{f"c_{k}": v for k, v in chosen.items()})
    if sex is not None:
        work = work.with_columns(
            sex.str.strip_chars().alias("row_sex")
        )
        extra_issues.append(
            _issue_if(
                pl.col("row_sex").is_in(["男", "女"]) & (pl.col("row_sex") != pl.col("c_sex")),
                ISSUE_SEX_MISMATCH,
            )
        )

    guardian_id = _text(df, "guardian_id")
    guardian_id_norm = (
        normalise_id_column(guardian_id, "id").get_column("id_norm")
        if guardian_id is not None
        else pl.Series([None] * n, dtype=pl.String)
    )
    guardian_name = _text(df, "guardian_name")
    guardian_name_norm = (
        normalise_name_column(guardian_name).get_column("name_norm")
        if guardian_name is not None
        else pl.Series([None] * n, dtype=pl.String)
    )

    # The cross-check labels never occur in c_id_issue, so a plain concatenation cannot repeat one.
    issue = pl.concat_str([pl.col("c_id_issue"), *extra_issues], separator=ISSUE_SEP, ignore_nulls=True)
    issue = pl.when(issue.str.len_chars() > 0).then(issue)
    out = work.select(
        *[pl.col(c) for c in NAME_COLUMNS],
        *[
            (issue if field == "id_issue" else pl.col(f"c_{field}")).alias(column)
            for field, column in _ID_OUT.items()
        ],
    ).with_columns(
        guardian_id_norm.alias("guardian_id_norm"),
        guardian_name_norm.alias("guardian_name_norm"),
    )
    return df.drop([c for c in OUTPUT_COLUMNS if c in df.columns]).hstack(out)
