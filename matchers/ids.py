"""Resident ID numbers (GB 11643-1999) as the departments really send them: repair, name, derive.

One value in, one `IdResult` out (`normalise_id`, the reference); a whole column in, one frame out
(`normalise_id_column`, vectorised: canonical 18-character IDs are validated with polars
expressions, surface damage is repaired with polars over distinct values, and only the remaining
distinct values go through `normalise_id`; a hypothesis test holds the two paths equal).

Rules (../shared/contract/EXTRACTS.md):
- Our own validator: ISO 7064 MOD 11-2 check character plus a real calendar date between 1890-01-01
  and today. The 6-digit region code is evidence, never a reason to reject (python-stdnum's
  `cn.ric.validate` rejects real old Wuhan IDs through its region table; the tests cross-check our
  check character against its `calc_check_digit`, which expects the 18-character number).
- Every repair is named in `id_issue` (labels below, joined with ISSUE_SEP).
- Damage that cannot be repaired alone (Excel scientific notation, a failed check character) is
  kept as `id_evidence` and never turned into an ID: a mistyped digit is not "corrected" into a
  different valid ID.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from datetime import date

import polars as pl

from matchers.contract import DISABILITY_CATEGORIES

# ---- issue labels (user-facing, the one place they are spelled) -------------------------------
ISSUE_SEP = ";"
ISSUE_WHITESPACE = "含空白字符"
ISSUE_DASH = "含连字符"
ISSUE_APOSTROPHE = "前导撇号"
ISSUE_FULLWIDTH = "全角字符"
ISSUE_LOWER_X = "小写x"
ISSUE_TRAILING_DOT0 = "末尾多余.0"
ISSUE_UPGRADED_15 = "15位旧号码已升级"
ISSUE_CENTENARIAN_15 = "15位旧号码顺序码996-999(百岁老人),未升级"
ISSUE_FROM_CERT = "取自残疾人证号"
ISSUE_CERT_GRADE_MISMATCH = "残疾人证号中的等级与残疾等级不符"
ISSUE_CERT_CATEGORY_MISMATCH = "残疾人证号中的类别与残疾类别不符"
ISSUE_CERT_ID_MISMATCH = "残疾人证号与身份证号不符"
ISSUE_FROM_STUDENT_G = "取自学籍号(G+身份证号)"
ISSUE_STUDENT_J = "仅有J字头学籍号,非身份证号"
ISSUE_STUDENT_L = "仅有L字头临时学籍号,非身份证号"
ISSUE_SCIENTIFIC = "科学计数法截断"
ISSUE_BAD_CHECK = "校验位错误"
ISSUE_BAD_DATE = "出生日期无效"
ISSUE_MISSING = "缺失"
ISSUE_SEX_MISMATCH = "性别与身份证号不符"
ISSUE_UNRECOGNISED = "无法识别"

# ---- id_kind values ---------------------------------------------------------------------------
KIND_ID, KIND_CERT = "id", "cert"
KIND_STUDENT_G, KIND_STUDENT_J, KIND_STUDENT_L = "student_g", "student_j", "student_l"
KIND_TRUNCATED, KIND_BAD_CHECK = "truncated", "bad_check"
KIND_NONE, KIND_UNRECOGNISED = "none", "unrecognised"
ID_KINDS = (
    KIND_ID, KIND_CERT, KIND_STUDENT_G, KIND_STUDENT_J, KIND_STUDENT_L,
    KIND_TRUNCATED, KIND_BAD_CHECK, KIND_NONE, KIND_UNRECOGNISED,
)
# RULES.md "No usable ID", to the letter: missing, Excel-truncated, or only a J/L student number.
# Other damage (a failed check character, an unrecognised value such as a 15-digit centenarian code
# that cannot be upgraded) is not in that list: such a row reaches Q03 only when its person was
# found by a link in the review band.
NO_USABLE_ID_KINDS = frozenset({KIND_NONE, KIND_TRUNCATED, KIND_STUDENT_J, KIND_STUDENT_L})

INPUT_KINDS = ("id", "cert", "student")

MIN_BIRTH_YEAR = 1890
SEX_MALE, SEX_FEMALE = "男", "女"
# Disability certificate category digit (中国残疾人证: 1 视力 ... 7 多重), in contract order.
CERT_CATEGORIES = {str(i + 1): c for i, c in enumerate(DISABILITY_CATEGORIES)}

_CHECK_CHARS = "10X98765432"

# Characters removed before anything else and named ISSUE_WHITESPACE (zero-width ones included,
# str.isspace does not know them).
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_APOSTROPHES = "'\u2018\u2019`\u00b4\uff07"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
# \Z, not $: `$` also matches before a trailing newline.
_SCI_RE = re.compile(r"^([0-9])(?:\.([0-9]+))?[eE]\+?([0-9]{1,2})\Z")
_DOT0_RE = re.compile(r"^([0-9]+[Xx]?)\.0+\Z")
_ID18_RE = re.compile(r"^[0-9]{17}[0-9X]\Z")
_DIGITS_RE = re.compile(r"^[0-9]+\Z")
_ANY_DIGIT_RE = re.compile(r"[0-9]")
# Python's \s is str.isspace (U+3000, NBSP, tab ...); zero-width characters added.
_SPACE_RE = re.compile(f"[\\s{_ZERO_WIDTH}]")


@dataclass(frozen=True)
class IdResult:
    id_norm: str | None = None
    id_issue: str | None = None
    id_evidence: str | None = None
    id_kind: str = KIND_NONE
    birth_date: date | None = None
    sex: str | None = None
    region: str | None = None
    cert_category: str | None = None
    cert_grade: int | None = None


RESULT_FIELDS = tuple(f.name for f in fields(IdResult))
RESULT_SCHEMA = {
    "id_norm": pl.String,
    "id_issue": pl.String,
    "id_evidence": pl.String,
    "id_kind": pl.String,
    "birth_date": pl.Date,
    "sex": pl.String,
    "region": pl.String,
    "cert_category": pl.String,
    "cert_grade": pl.Int64,
}


# ---- small public helpers ---------------------------------------------------------------------
def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 ASCII digits."""
    if len(first17) != 17 or not _DIGITS_RE.match(first17):
        raise ValueError("check_char needs exactly 17 ASCII digits")
    # sum(d_i * 2^(17-i)) mod 11 == 2 * int(first17, 13) mod 11 (13 ≡ 2 mod 11).
    return _CHECK_CHARS[(2 * int(first17, 13)) % 11]


def _birth_date(yyyymmdd: str, today: date | None = None) -> date | None:
    """A real calendar date from 1890 up to today, else None."""
    try:
        d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None
    if d.year < MIN_BIRTH_YEAR or d > (today or date.today()):
        return None
    return d


def is_valid_id(s: str | None) -> bool:
    """True for an 18-character ID in canonical form with the right check character and a real date.

    Canonical means what `normalise_id` returns as `id_norm`: ASCII digits, uppercase X. The
    region code is not checked (see the module docstring).
    """
    if not isinstance(s, str) or not _ID18_RE.match(s):
        return False
    return check_char(s[:17]) == s[17] and _birth_date(s[6:14]) is not None


def has_usable_id(id_kind: str | None) -> bool:
    """RULES.md: False when the row has no usable ID (missing, truncated, J/L only, unrecognised)."""
    return id_kind is not None and id_kind not in NO_USABLE_ID_KINDS


def _sex(digit: str) -> str:
    return SEX_MALE if int(digit) % 2 == 1 else SEX_FEMALE


def _join(issues: list[str]) -> str | None:
    return ISSUE_SEP.join(dict.fromkeys(issues)) if issues else None


# ---- the scalar normaliser --------------------------------------------------------------------
def _clean(raw: str, issues: list[str]) -> str:
    """Remove the repairable surface damage, naming each kind once."""
    s = raw
    if _SPACE_RE.search(s):
        issues.append(ISSUE_WHITESPACE)
        s = _SPACE_RE.sub("", s)
    folded = unicodedata.normalize("NFKC", s)
    if folded != s:
        issues.append(ISSUE_FULLWIDTH)
        s = _SPACE_RE.sub("", folded)
    if s and s[0] in _APOSTROPHES:
        issues.append(ISSUE_APOSTROPHE)
        s = s.lstrip(_APOSTROPHES)
    if _DASH_RE.search(s):
        issues.append(ISSUE_DASH)
        s = _DASH_RE.sub("", s)
    m = _DOT0_RE.match(s)
    if m:
        issues.append(ISSUE_TRAILING_DOT0)
        s = m.group(1)
    return s


def _from_18(body: str, issues: list[str], kind: str, today: date) -> IdResult:
    """Validate 18 ID characters (already ASCII, X uppercase)."""
    first17 = body[:17]
    born = _birth_date(body[6:14], today)
    if check_char(first17) != body[17]:
        issues.append(ISSUE_BAD_CHECK)
        if born is None:
            issues.append(ISSUE_BAD_DATE)
        return IdResult(
            id_issue=_join(issues), id_evidence=first17, id_kind=KIND_BAD_CHECK, birth_date=born
        )
    if born is None:
        issues.append(ISSUE_BAD_DATE)
        return IdResult(id_issue=_join(issues), id_evidence=first17, id_kind=KIND_BAD_CHECK)
    return IdResult(
        id_norm=body,
        id_issue=_join(issues),
        id_kind=kind,
        birth_date=born,
        sex=_sex(body[16]),
        region=body[:6],
    )


def _from_scientific(m: re.Match, issues: list[str], today: date) -> IdResult:
    """`4.20115E+17`: keep the significant digits shown; never rebuild an ID from them.

    The last shown digit may have been rounded by Excel, so region and birth date are derived only
    from the digits before it. A 15-digit ID (E+14) is given as the prefix of its 18-digit form.
    """
    lead, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
    digits = lead + frac
    width = exp + 1
    if width not in (15, 18, 20) or len(digits) > width:
        issues.append(ISSUE_UNRECOGNISED)
        return IdResult(id_issue=_join(issues), id_kind=KIND_UNRECOGNISED)
    issues.append(ISSUE_SCIENTIFIC)
    if width == 15 and len(digits) > 6:
        digits = digits[:6] + "19" + digits[6:]
    evidence = digits[:17]
    exact = digits[:-1]
    region = exact[:6] if len(exact) >= 6 else None
    born = _birth_date(exact[6:14], today) if len(exact) >= 14 else None
    return IdResult(
        id_issue=_join(issues),
        id_evidence=evidence,
        id_kind=KIND_TRUNCATED,
        birth_date=born,
        region=region,
    )


def normalise_id(raw: str | None, kind: str = "id", today: date | None = None) -> IdResult:
    """Repair and validate one identifier cell.

    kind says which column the value came from: "id" (身份证号), "cert" (残疾人证号) or "student"
    (学籍号). The value's own shape decides how it is read (a G number in the ID column is still a
    G number); an ID read from the certificate column is named ISSUE_FROM_CERT.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    today = today or date.today()
    if raw is None:
        return IdResult(id_issue=ISSUE_MISSING, id_kind=KIND_NONE)
    issues: list[str] = []
    s = _clean(str(raw), issues)
    if not _ANY_DIGIT_RE.search(s):  # '', '/', '无', '不详', 'NULL': nothing to read
        return IdResult(id_issue=ISSUE_MISSING, id_kind=KIND_NONE)

    m = _SCI_RE.match(s)
    if m:
        return _from_scientific(m, issues, today)

    prefix = s[0].upper()
    if prefix in "GJL" and len(s) > 1 and s[1:2].isdigit():
        return _from_student(prefix, s[1:], issues, today)

    if s[-1:] == "x":
        issues.append(ISSUE_LOWER_X)
        s = s[:-1] + "X"
    if not s.isascii():
        issues.append(ISSUE_UNRECOGNISED)
        return IdResult(id_issue=_join(issues), id_kind=KIND_UNRECOGNISED)

    if _ID18_RE.match(s):
        if kind == "cert":
            issues.append(ISSUE_FROM_CERT)
            return _from_18(s, issues, KIND_CERT, today)
        return _from_18(s, issues, KIND_ID, today)
    if len(s) == 20 and _ID18_RE.match(s[:18]) and _DIGITS_RE.match(s[18:]):
        return _from_cert(s, issues, today)
    if len(s) == 20 and _ID18_RE.match(s[:17] + s[17].upper()) and s[17] == "x":
        issues.append(ISSUE_LOWER_X)
        return _from_cert(s[:17] + "X" + s[18:], issues, today)
    if len(s) == 15 and _DIGITS_RE.match(s):
        return _from_15(s, issues, kind, today)
    issues.append(ISSUE_UNRECOGNISED)
    return IdResult(id_issue=_join(issues), id_kind=KIND_UNRECOGNISED)


def _from_15(s: str, issues: list[str], kind: str, today: date) -> IdResult:
    """Old 15-digit form: region(6) YYMMDD(6) sequence(3). Upgrade by inserting 19 + check."""
    seq = s[12:15]
    if seq in ("996", "997", "998", "999"):
        issues.append(ISSUE_CENTENARIAN_15)
        born = _birth_date("18" + s[6:12], today)
        return IdResult(
            id_issue=_join(issues),
            id_evidence=s,
            id_kind=KIND_UNRECOGNISED,
            birth_date=born,
            sex=_sex(s[14]),
            region=s[:6],
        )
    first17 = s[:6] + "19" + s[6:]
    if _birth_date(first17[6:14], today) is None:
        issues.append(ISSUE_BAD_DATE)
        return IdResult(id_issue=_join(issues), id_evidence=first17, id_kind=KIND_BAD_CHECK)
    issues.append(ISSUE_UPGRADED_15)
    if kind == "cert":
        issues.append(ISSUE_FROM_CERT)
    return _from_18(first17 + check_char(first17), issues, KIND_CERT if kind == "cert" else KIND_ID, today)


def _from_cert(s: str, issues: list[str], today: date) -> IdResult:
    """Disability certificate: 18-character ID + category digit + grade digit."""
    issues.append(ISSUE_FROM_CERT)
    category = CERT_CATEGORIES.get(s[18])
    grade = int(s[19]) if s[19] in "1234" else None
    res = _from_18(s[:18], issues, KIND_CERT, today)
    return IdResult(**{**asdict(res), "cert_category": category, "cert_grade": grade})


def _from_student(prefix: str, rest: str, issues: list[str], today: date) -> IdResult:
    """Student numbers: G+ID is the ID; J+ID-shaped code and L+region+date+4 digits are not."""
    if rest[-1:] == "x":
        issues.append(ISSUE_LOWER_X)
        rest = rest[:-1] + "X"
    if prefix == "G" and _ID18_RE.match(rest):
        issues.append(ISSUE_FROM_STUDENT_G)
        return _from_18(rest, issues, KIND_STUDENT_G, today)
    if prefix == "J" and _ID18_RE.match(rest):
        issues.append(ISSUE_STUDENT_J)
        if check_char(rest[:17]) != rest[17]:
            issues.append(ISSUE_BAD_CHECK)
        born = _birth_date(rest[6:14], today)
        if born is None:
            issues.append(ISSUE_BAD_DATE)
        return IdResult(
            id_issue=_join(issues), id_kind=KIND_STUDENT_J, birth_date=born, region=rest[:6]
        )
    if prefix == "L" and len(rest) == 18 and _DIGITS_RE.match(rest):
        issues.append(ISSUE_STUDENT_L)
        born = _birth_date(rest[6:14], today)
        if born is None:
            issues.append(ISSUE_BAD_DATE)
        return IdResult(
            id_issue=_join(issues), id_kind=KIND_STUDENT_L, birth_date=born, region=rest[:6]
        )
    issues.append(ISSUE_UNRECOGNISED)
    return IdResult(id_issue=_join(issues), id_kind=KIND_UNRECOGNISED)


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
_SURFACE_SAFE = r"^[0-9Xx\uff10-\uff19\uff38\uff58'\uff07\-\uff0d\u2014\u2212 \t\u3000\u00a0\u200b.]+$"


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
        .with_columns(s.str.contains(r"[\s\u200b]").alias("_ws"))
        .with_columns(s.str.replace_all(r"[\s\u200b]", ""))
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
