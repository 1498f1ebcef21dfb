"""`normalise_id` over a whole column, vectorised (`normalise_id_column`): canonical 18-character
IDs and the other exact shapes are validated with polars expressions, surface damage is repaired
with polars over distinct values, and only the remaining distinct values go through
`matchers.ids.normalise_id` (a hypothesis test holds the two paths equal)."""

from __future__ import annotations

from datetime import date

import polars as pl

from matchers.ids import (
    CERT_CATEGORIES,
    INPUT_KINDS,
    ISSUE_APOSTROPHE,
    ISSUE_BAD_CHECK,
    ISSUE_BAD_DATE,
    ISSUE_DASH,
    ISSUE_FROM_CERT,
    ISSUE_FROM_STUDENT_G,
    ISSUE_FULLWIDTH,
    ISSUE_LOWER_X,
    ISSUE_SEP,
    ISSUE_STUDENT_J,
    ISSUE_STUDENT_L,
    ISSUE_TRAILING_DOT0,
    ISSUE_WHITESPACE,
    KIND_BAD_CHECK,
    KIND_CERT,
    KIND_ID,
    KIND_STUDENT_G,
    KIND_STUDENT_J,
    KIND_STUDENT_L,
    MIN_BIRTH_YEAR,
    RESULT_FIELDS,
    RESULT_SCHEMA,
    SEX_FEMALE,
    SEX_MALE,
    normalise_id,
)


# ---- the column normaliser --------------------------------------------------------------------
def _canonical_ids(frame: pl.DataFrame, today: date) -> pl.DataFrame:
    """RESULT_FIELDS for a `raw` column of canonical 18-character values, with polars only.

    The check character uses the identity sum(d_i * 2^(17-i)) = 2 * int(first17, base 13)
    (mod 11): one base-13 parse instead of 17 digit extractions.
    """
    raw = pl.col("raw")
    steps = frame.with_columns(
        raw.str.slice(0, 17).str.to_integer(base=13, dtype=pl.UInt64, strict=False).alias("_b13"),
        raw.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias("_born"),
    ).with_columns(
        ((23 - 2 * (pl.col("_b13") % 11).cast(pl.Int64)) % 11).alias("_r"),
        pl.when(
            (pl.col("_born").dt.year() >= MIN_BIRTH_YEAR) & (pl.col("_born") <= pl.lit(today))
        )
        .then(pl.col("_born"))
        .alias("_born"),
    ).with_columns(
        (
            pl.when(pl.col("_r") == 10).then(pl.lit("X")).otherwise(pl.col("_r").cast(pl.String))
            == raw.str.slice(17, 1)
        ).alias("_check_ok"),
    ).with_columns(
        (pl.col("_check_ok") & pl.col("_born").is_not_null()).alias("_valid"),
    )
    check_ok, born, valid = pl.col("_check_ok"), pl.col("_born"), pl.col("_valid")
    sex_odd = raw.str.slice(16, 1).cast(pl.Int32, strict=False) % 2 == 1
    return steps.select(
        pl.when(valid).then(raw).alias("id_norm"),
        pl.when(~check_ok & born.is_null())
        .then(pl.lit(ISSUE_BAD_CHECK + ISSUE_SEP + ISSUE_BAD_DATE))
        .when(~check_ok)
        .then(pl.lit(ISSUE_BAD_CHECK))
        .when(born.is_null())
        .then(pl.lit(ISSUE_BAD_DATE))
        .alias("id_issue"),
        pl.when(~valid).then(raw.str.slice(0, 17)).alias("id_evidence"),
        pl.when(valid).then(pl.lit(KIND_ID)).otherwise(pl.lit(KIND_BAD_CHECK)).alias("id_kind"),
        pl.when(check_ok | born.is_not_null()).then(born).alias("birth_date"),
        pl.when(valid)
        .then(pl.when(sex_odd).then(pl.lit(SEX_MALE)).otherwise(pl.lit(SEX_FEMALE)))
        .alias("sex"),
        pl.when(valid).then(raw.str.slice(0, 6)).alias("region"),
        pl.lit(None, dtype=pl.String).alias("cert_category"),
        pl.lit(None, dtype=pl.Int64).alias("cert_grade"),
    )


# Characters a value may consist of for its surface repairs to be done with polars (anything
# else goes through `normalise_id`): digits and X in both widths, apostrophes, the common dashes,
# the common spaces, and the dot of a trailing `.0`.
_SURFACE_SAFE = r"^[0-9Xx\uff10-\uff19\uff38\uff58'\uff07\-\uff0d\u2014\u2212 \t\u3000\u00a0.]+$"


def _surface_repaired(values: pl.DataFrame, today: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Repair whitespace, full-width, apostrophe, dash, `.0` and lowercase x with polars.

    Returns (results with a `raw` column for the values that became canonical 18-character IDs,
    the rest of `values` for `normalise_id`). Same steps, order and labels as `_clean`.
    """
    raw = pl.col("raw")
    safe = values.filter(raw.str.contains(_SURFACE_SAFE).fill_null(False))
    s = pl.col("_s")
    steps = (
        safe.with_columns(raw.alias("_s"))
        .with_columns(s.str.contains(r"\s").alias("_ws"))
        .with_columns(s.str.replace_all(r"\s", ""))
        .with_columns(s.str.normalize("NFKC").alias("_nfkc"))
        .with_columns((pl.col("_nfkc") != s).alias("_fw"), pl.col("_nfkc").alias("_s"))
        .with_columns(s.str.starts_with("'").alias("_apos"))
        .with_columns(s.str.strip_chars_start("'"))
        .with_columns(s.str.contains(r"[\-\u2014\u2212]").alias("_dash"))
        .with_columns(s.str.replace_all(r"[\-\u2014\u2212]", ""))
        .with_columns(s.str.contains(r"^[0-9]+[Xx]?\.0+$").alias("_dot0"))
        .with_columns(s.str.replace(r"^([0-9]+[Xx]?)\.0+$", "${1}"))
        .with_columns(s.str.ends_with("x").alias("_lowx"))
        .with_columns(pl.when(pl.col("_lowx")).then(s.str.slice(0, 17) + "X").otherwise(s))
    )
    repaired = steps.filter(s.str.contains(r"^[0-9]{17}[0-9X]$"))
    flags = [
        ("_ws", ISSUE_WHITESPACE),
        ("_fw", ISSUE_FULLWIDTH),
        ("_apos", ISSUE_APOSTROPHE),
        ("_dash", ISSUE_DASH),
        ("_dot0", ISSUE_TRAILING_DOT0),
        ("_lowx", ISSUE_LOWER_X),
    ]
    surface = pl.concat_str(
        [pl.when(pl.col(c)).then(pl.lit(label)) for c, label in flags],
        separator=ISSUE_SEP,
        ignore_nulls=True,
    )
    checked = _canonical_ids(repaired.select(pl.col("_s").alias("raw")), today)
    result = pl.concat(
        [repaired.select("raw", surface.alias("_surface")), checked], how="horizontal"
    ).with_columns(
        pl.when(pl.col("id_issue").is_null())
        .then(pl.col("_surface"))
        .otherwise(pl.col("_surface") + pl.lit(ISSUE_SEP) + pl.col("id_issue"))
        .alias("id_issue")
    ).drop("_surface")
    rest = values.join(repaired.select("raw"), on="raw", how="anti", nulls_equal=True)
    return result, rest


def _python_ids(values: list, kind: str, today: date) -> pl.DataFrame:
    """`normalise_id` over a list of (unique) values, as a frame with a `raw` column."""
    rows = [normalise_id(v, kind, today) for v in values]
    return pl.DataFrame(
        {
            "raw": pl.Series(values, dtype=pl.String),
            **{
                name: pl.Series([getattr(r, name) for r in rows], dtype=RESULT_SCHEMA[name])
                for name in RESULT_FIELDS
            },
        }
    )


# Values in one of the contract's exact shapes (no surface damage), read with polars expressions
# row by row; anything else goes through `_surface_repaired` / `normalise_id` per distinct value.
# `$` in polars (Rust) regex is the end of the text, like `\\Z`.
_SHAPES = {
    "id18": r"^[0-9]{17}[0-9X]$",
    "cert20": r"^[0-9]{17}[0-9X][0-9]{2}$",  # ID + category digit + grade digit
    "student_g": r"^G[0-9]{17}[0-9X]$",
    "student_j": r"^J[0-9]{17}[0-9X]$",
    "student_l": r"^L[0-9]{18}$",
}


def _with_issue_first(label: str) -> pl.Expr:
    """`label` before the issues already found (`_join` order: the source's label comes first)."""
    issue = pl.col("id_issue")
    return pl.when(issue.is_null()).then(pl.lit(label)).otherwise(pl.lit(label + ISSUE_SEP) + issue)


def _shaped_ids(raw: pl.DataFrame, shape: str, kind: str, today: date) -> pl.DataFrame:
    """RESULT_FIELDS for a `raw` column whose values all have `shape` (a key of _SHAPES), exactly
    as `normalise_id` reads them (`_from_18`, `_from_cert`, `_from_student`)."""
    body = {"id18": 0, "cert20": 0}.get(shape, 1)  # student numbers: the 18 characters after G/J/L
    checked = _canonical_ids(raw.select(pl.col("raw").str.slice(body, 18)), today)
    if shape == "id18" and kind != "cert":
        return checked
    if shape in ("id18", "cert20"):
        out = checked.with_columns(
            _with_issue_first(ISSUE_FROM_CERT).alias("id_issue"),
            pl.when(pl.col("id_kind") == KIND_ID).then(pl.lit(KIND_CERT)).otherwise(pl.col("id_kind")).alias("id_kind"),
        )
        if shape == "cert20":
            tail = raw.get_column("raw")
            out = out.with_columns(
                tail.str.slice(18, 1)
                .replace_strict(CERT_CATEGORIES, default=None, return_dtype=pl.String)
                .alias("cert_category"),
                pl.when(tail.str.slice(19, 1).is_in(["1", "2", "3", "4"]))
                .then(tail.str.slice(19, 1).cast(pl.Int64))
                .alias("cert_grade"),
            )
        return out
    if shape == "student_g":
        return checked.with_columns(
            _with_issue_first(ISSUE_FROM_STUDENT_G).alias("id_issue"),
            pl.when(pl.col("id_kind") == KIND_ID).then(pl.lit(KIND_STUDENT_G)).otherwise(pl.col("id_kind")).alias("id_kind"),
        )
    # J and L numbers are never an ID: birth date and region only. A J number's check character
    # is checked (the canonical issues: bad check, bad date); an L number has none.
    label, kind_out = (
        (ISSUE_STUDENT_J, KIND_STUDENT_J) if shape == "student_j" else (ISSUE_STUDENT_L, KIND_STUDENT_L)
    )
    if shape == "student_l":
        checked = checked.with_columns(
            pl.when(pl.col("birth_date").is_null()).then(pl.lit(ISSUE_BAD_DATE)).alias("id_issue")
        )
    return checked.select(
        pl.lit(None, dtype=pl.String).alias("id_norm"),
        _with_issue_first(label).alias("id_issue"),
        pl.lit(None, dtype=pl.String).alias("id_evidence"),
        pl.lit(kind_out).alias("id_kind"),
        pl.col("birth_date"),
        pl.lit(None, dtype=pl.String).alias("sex"),
        raw.get_column("raw").str.slice(1, 6).alias("region"),
        pl.lit(None, dtype=pl.String).alias("cert_category"),
        pl.lit(None, dtype=pl.Int64).alias("cert_grade"),
    )


def normalise_id_column(
    values: pl.Series, kind: str = "id", today: date | None = None
) -> pl.DataFrame:
    """`normalise_id` over a column: RESULT_FIELDS as columns, same length and order as `values`.

    Values in one of the exact shapes (an 18-character ID, a 20-character certificate number,
    G/J/L + 18: most of a real extract) are read row by row with polars expressions
    (`_shaped_ids`); the other distinct values are repaired with polars where only surface damage
    stands between them and the ID form (`_surface_repaired`, ID column only), and go through
    `normalise_id` otherwise; their results are joined back.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    today = today or date.today()
    frame = values.cast(pl.String).rename("raw").to_frame().with_row_index("_row")
    raw = pl.col("raw")
    shape = pl.lit(None, dtype=pl.String)
    for name, pattern in reversed(_SHAPES.items()):
        shape = pl.when(raw.str.contains(pattern)).then(pl.lit(name)).otherwise(shape)
    frame = frame.with_columns(shape.alias("_shape"))
    parts = []
    for name, rows in frame.filter(pl.col("_shape").is_not_null()).partition_by(
        "_shape", as_dict=True, maintain_order=True
    ).items():
        parts.append(
            pl.concat(
                [rows.select("_row"), _shaped_ids(rows.select("raw"), name[0], kind, today)],
                how="horizontal",
            )
        )
    other = frame.filter(pl.col("_shape").is_null()).drop("_shape")
    if other.height:
        uniq = other.select(pl.col("raw").unique())
        if kind == "id":
            repaired, uniq = _surface_repaired(uniq, today)
            mapping = pl.concat(
                [repaired, _python_ids(uniq.get_column("raw").to_list(), kind, today)],
                how="vertical",
            )
        else:
            mapping = _python_ids(uniq.get_column("raw").to_list(), kind, today)
        joined = other.join(mapping, on="raw", how="left", nulls_equal=True, maintain_order="left")
        parts.append(joined.drop("raw"))
    if not parts:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    out = pl.concat(parts, how="vertical")
    if len(parts) > 1:
        out = out.sort("_row")
    return out.drop("_row")
