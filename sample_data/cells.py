"""How departments damage one cell: IDs, names, money, dates and grades as they come out of their
systems, at the rates of a `sample_data.populations` Population. Each function takes the file's
random stream, so the same seed damages the same cells."""

from __future__ import annotations

import random
from datetime import date

from matchers import contract as C

from . import ids, pools
from .populations import DEFAULT, Population

_S2T: dict[str, str] = {}
_converter = None


def traditional(name: str) -> str:
    global _converter
    if name not in _S2T:
        if _converter is None:
            import opencc

            _converter = opencc.OpenCC("s2t")
        _S2T[name] = _converter.convert(name)
    return _S2T[name]


def id_cell(rng: random.Random, id18: str, pop: Population = DEFAULT) -> tuple[str, list[str], bool]:
    """(text written, damage labels, unusable) for an 18-digit ID: damaged at the population's rates
    (the default damages ~9% of cells)."""
    if id18.endswith("X") and rng.random() < pop.id_lowercase_x:
        return id18[:17] + "x", ["id_lowercase_x"], False
    space, dash, apostrophe, fullwidth, dot0, digits15, scientific, check, mistyped, transposed, missing = pop.id_damage
    r = rng.random()
    if r < space:
        sp, label = rng.choice(((" ", "id_space"), ("\u3000", "id_ideographic_space"), ("\u00a0", "id_nbsp")))
        if rng.random() < 0.5:
            return f"{id18[:6]}{sp}{id18[6:14]}{sp}{id18[14:]}", [label], False
        return f"{sp}{id18}{sp}", [label], False
    if r < dash:
        return f"{id18[:6]}-{id18[6:14]}-{id18[14:]}", ["id_dash"], False
    if r < apostrophe:
        return "'" + id18, ["id_apostrophe"], False
    if r < fullwidth:
        return ids.fullwidth(id18), ["id_fullwidth"], False
    if r < dot0:
        if id18.endswith("X"):
            return id18, [], False
        return id18 + ".0", ["id_trailing_dot0"], False
    if r < digits15:
        if id18[6:8] != "19":
            return id18, [], False
        return ids.to_15(id18), ["id_15digit"], False
    if r < scientific:
        return ids.excel_scientific(id18), ["id_excel_scientific"], True
    if r < check:
        return ids.wrong_check(rng, id18), ["id_wrong_check"], False
    if r < mistyped:
        return ids.mistype(rng, id18), ["id_mistyped_digit"], False
    if r < transposed:
        return ids.transpose(rng, id18), ["id_transposed_digits"], False
    if r < missing:
        return "", ["id_missing"], True
    return id18, [], False


def name_cell(rng: random.Random, name: str, pop: Population = DEFAULT) -> tuple[str, list[str]]:
    if "·" in name and rng.random() < pop.name_dot_variant:
        return name.replace("·", rng.choice("•・.‧")), ["name_dot_variant"]
    rare = [ch for ch in name if ch in pools.RARE_CHARS]
    if rare and rng.random() < pop.name_rare_placeholder:
        return name.replace(rare[0], rng.choice("?□_")), ["name_rare_placeholder"]
    space, ideographic, traditional_share = pop.name_damage
    r = rng.random()
    if r < space:
        if len(name) == 2:
            return name[0] + rng.choice(("  ", " ")) + name[1], ["name_space"]
        return name, []
    if r < ideographic:
        return (name[0] + "\u3000" + name[1:]) if len(name) == 2 else name + "\u3000", ["name_fullwidth"]
    if r < traditional_share:
        t = traditional(name)
        if t != name:
            return t, ["name_traditional"]
    return name, []


def money_text(rng: random.Random, cents: int) -> str:
    yuan, c = divmod(cents, 100)
    text = f"{yuan}.{c:02d}" if c or rng.random() < 0.3 else str(yuan)
    r = rng.random()
    if r < 0.08 and yuan >= 1000:
        head, _, tail = text.partition(".")
        text = f"{int(head):,}" + (f".{tail}" if tail else "")
    elif r < 0.13:
        text += "元"
    elif r < 0.16:
        text = ids.fullwidth(text).replace(".", "．")
    return text


def date_text(rng: random.Random, d: date, xlsx: bool) -> str:
    r = rng.random()
    if xlsx and r < 0.25:
        return str((d - date(1899, 12, 30)).days)
    if r < 0.55:
        return d.isoformat()
    if r < 0.8:
        return f"{d.year}/{d.month}/{d.day}"
    return f"{d.year}年{d.month}月{d.day}日"


def grade_text(rng: random.Random, g: int) -> str:
    r = rng.random()
    return C.GRADES[g] if r < 0.85 else (f"{g}级" if r < 0.95 else str(g))


def j_number(rng: random.Random, id18: str) -> str:
    """An ID-shaped J number: same region and birth date, a different sequence, a valid check char."""
    while True:
        seq = rng.randrange(1000)
        first17 = id18[:14] + f"{seq:03d}"
        code = first17 + ids.check_char(first17)
        if code != id18:
            return "J" + code
