"""Resident ID numbers (GB 11643-1999) for the generator: building valid ones and damaging them.

Every damage here is one EXTRACTS.md lists. Mistyped and transposed digits are re-drawn until the
ISO 7064 MOD 11-2 check character FAILS, so the damage is always detectable from the cell alone
(a damaged number that happened to validate would be a different, valid ID: undetectable).
"""

from __future__ import annotations

import random
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def is_valid(id18: str) -> bool:
    return len(id18) == 18 and id18[:17].isdigit() and check_char(id18[:17]) == id18[17]


def make_id(region: str, born: date, seq: int) -> str:
    """18-digit ID; seq (0..999) is the 3-digit sequence, its last digit odd for men."""
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def to_15(id18: str) -> str:
    """The old 15-digit form (born 19xx only): region + YYMMDD + sequence, no check character."""
    assert id18[6:8] == "19", "only people born 19xx carry a 15-digit ID"
    return id18[:6] + id18[8:17]


def excel_scientific(id18: str) -> str:
    """How Excel shows an 18-digit number in General format: 6 significant digits, `4.20115E+17`.

    (An ID ending in X is text to Excel; the generator uses the digits before it all the same.)
    """
    mantissa = round(int(id18[:7]) / 10**6, 5)
    text = f"{mantissa:.5f}".rstrip("0").rstrip(".")
    return f"{text}E+17"


def _failing(rng: random.Random, id18: str, mutate) -> str:
    for _ in range(50):
        out = mutate(id18)
        if out != id18 and not is_valid(out):
            return out
    raise RuntimeError("could not damage ID detectably")  # pragma: no cover (never with 50 draws)


def mistype(rng: random.Random, id18: str) -> str:
    """One of the first 17 digits replaced by another digit; the check character then fails."""

    def mutate(s: str) -> str:
        i = rng.randrange(17)
        d = rng.choice([c for c in "0123456789" if c != s[i]])
        return s[:i] + d + s[i + 1 :]

    return _failing(rng, id18, mutate)


def transpose(rng: random.Random, id18: str) -> str:
    """Two adjacent different digits among the first 17 swapped; the check character then fails."""

    def mutate(s: str) -> str:
        i = rng.randrange(16)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]

    return _failing(rng, id18, mutate)


def wrong_check(rng: random.Random, id18: str) -> str:
    return id18[:17] + rng.choice([c for c in "0123456789X" if c != id18[17]])


def fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


def mask(id18: str) -> str:
    """Printable form: first 4 and last 4 characters only."""
    return f"{id18[:4]}{'*' * (len(id18) - 8)}{id18[-4:]}" if len(id18) > 8 else "*" * len(id18)
