"""Resident ID numbers (GB 11643-1999) as the departments really send them: repair, name, derive.

One value in, one `IdResult` out (`normalise_id`, the reference); a whole column in, one frame out
(`matchers.id_columns.normalise_id_column`, vectorised; a hypothesis test holds the two paths
equal).

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
ISSUE_INVISIBLE = "含不可见格式字符"
ISSUE_TEXT_FORMULA = "Excel文本公式(=\"…\")"
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

# Invisible formatting characters (Unicode format controls: zero-width space and joiners, BOM,
# left-to-right and right-to-left marks and embeddings, soft hyphen, word joiner): removed before
# anything else and named ISSUE_INVISIBLE. str.isspace knows none of them.
_INVISIBLE = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
# `="420102…"`: how an export keeps Excel from turning a long number into 4.20102E+17.
_TEXT_FORMULA_RE = re.compile(r'^\s*=\s*"(.*)"\s*\Z', re.S)
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_APOSTROPHES = "'\u2018\u2019`\u00b4\uff07"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
# \Z, not $: `$` also matches before a trailing newline.
_SCI_RE = re.compile(r"^([0-9])(?:\.([0-9]+))?[eE]\+?([0-9]{1,2})\Z")
_DOT0_RE = re.compile(r"^([0-9]+[Xx]?)\.0+\Z")
_ID18_RE = re.compile(r"^[0-9]{17}[0-9X]\Z")
_DIGITS_RE = re.compile(r"^[0-9]+\Z")
_ANY_DIGIT_RE = re.compile(r"[0-9]")
# Python's \s is str.isspace (U+3000, NBSP, tab ...).
_SPACE_RE = re.compile(r"\s")


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
    if _INVISIBLE_RE.search(s):
        issues.append(ISSUE_INVISIBLE)
        s = _INVISIBLE_RE.sub("", s)
    m = _TEXT_FORMULA_RE.match(s)
    if m:
        issues.append(ISSUE_TEXT_FORMULA)
        s = m.group(1)
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
