"""Chinese names folded for matching; the raw name is kept elsewhere (`name_raw`).

- `name_norm`: NFKC, zero-width characters gone, every whitespace removed inside a name that has a
  Han character (Latin names keep single spaces), middle-dot variants unified to U+00B7.
- `name_key`: `name_norm` traditional → simplified (OpenCC C++ wheel, `t2s`), dot-free, wildcard
  characters (`?`, `□`, `_`, `〓`, U+FFFD: a character the source system could not encode) as `?`,
  Latin letters lowercased. Two keys are equal or, with wildcards, `names_compatible`.
- `name_pinyin`: toneless pinyin syllables of `name_key`, space separated, the surname read as a
  surname (曾 zeng, 单 shan, 解 xie, 区 ou ..., compound surnames 欧阳 ouyang ...), so homophones
  share it (王红铭 / 王红明 → `wang hong ming`). `surname_pinyin`: the surname's syllables.

The column function works on unique names with polars expressions; pinyin comes from a
per-character cache (a few thousand distinct characters cover millions of names) and OpenCC runs
once over all unique names joined by newlines.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin

MIDDLE_DOT = "\u00b7"
# Middle-dot variants as they are after NFKC (．→ . and ･ → ・ are folded by NFKC first).
DOT_VARIANTS = ".\u00b7\u2022\u30fb\u2027\u22c5\u2219\u119e\u2e31\u0387\u318d\uff0e\uff65"
WILDCARDS = "?□_〓\ufffd"
WILDCARD = "?"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"

# Single-character surnames read differently as surnames (pypinyin's default reading in brackets).
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng",  # ceng
    "单": "shan",  # dan
    "解": "xie",  # jie
    "区": "ou",  # qu
    "仇": "qiu",  # chou
    "朴": "piao",  # pu
    "查": "zha",  # cha
    "盖": "ge",  # gai
    "乐": "yue",  # le
    "种": "chong",  # zhong
    "秘": "bi",  # mi
    "翟": "zhai",  # di
    "缪": "miao",  # mou
    "覃": "qin",  # tan
    "员": "yun",  # yuan
    "召": "shao",  # zhao
    "句": "gou",  # ju
    "繁": "po",  # fan
    "蕃": "pi",  # fan
    "能": "nai",  # neng
    "尉": "yu",  # wei
    "折": "she",  # zhe
    "黑": "he",  # hei
    "宓": "fu",  # mi
    "隗": "wei",  # kui
    "眭": "sui",  # hui
    "逄": "pang",
    "沈": "shen",
    "柏": "bai",
    "薄": "bo",
    "华": "hua",
    "任": "ren",
    "燕": "yan",
    "纪": "ji",
    "过": "guo",
    "谌": "chen",
    "长": "chang",
}
# Compound surnames, recognised when the name has at least three characters.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ou yang", "司马": "si ma", "上官": "shang guan", "诸葛": "zhu ge", "东方": "dong fang",
    "皇甫": "huang fu", "尉迟": "yu chi", "公孙": "gong sun", "慕容": "mu rong", "长孙": "zhang sun",
    "宇文": "yu wen", "司徒": "si tu", "夏侯": "xia hou", "轩辕": "xuan yuan", "令狐": "ling hu",
    "端木": "duan mu", "澹台": "tan tai", "万俟": "mo qi", "单于": "chan yu", "呼延": "hu yan",
    "闻人": "wen ren", "南宫": "nan gong", "西门": "xi men", "申屠": "shen tu", "钟离": "zhong li",
    "独孤": "du gu", "公冶": "gong ye", "太叔": "tai shu", "拓跋": "tuo ba", "百里": "bai li",
    "东郭": "dong guo", "第五": "di wu", "左丘": "zuo qiu", "梁丘": "liang qiu", "司空": "si kong",
    "宗政": "zong zheng", "濮阳": "pu yang", "淳于": "chun yu", "赫连": "he lian", "亓官": "qi guan",
    "公羊": "gong yang", "仲孙": "zhong sun", "羊舌": "yang she", "乐正": "yue zheng",
}

NAME_COLUMNS = ("name_norm", "name_key", "name_pinyin", "surname_pinyin", "name_wildcard")

_T2S = OpenCC("t2s")
_PINYIN_CACHE: dict[str, str] = {WILDCARD: WILDCARD}


@dataclass(frozen=True)
class NameResult:
    name_norm: str | None
    name_key: str | None
    name_pinyin: str | None
    surname_pinyin: str | None
    name_wildcard: bool


def _char_pinyin(chars: list[str]) -> dict[str, str]:
    """Toneless pinyin per character (cached); a character without a reading stands for itself."""
    for ch in chars:
        if ch not in _PINYIN_CACHE:
            _PINYIN_CACHE[ch] = lazy_pinyin(ch, style=Style.NORMAL)[0].lower() if ch else ch
    return {ch: _PINYIN_CACHE[ch] for ch in chars}


def _t2s(values: pl.Series) -> pl.Series:
    """Traditional → simplified, one OpenCC call for the whole (unique, newline-free) series."""
    items = values.to_list()
    present = [v for v in items if v]
    if not present:
        return values
    converted = _T2S.convert("\n".join(present)).split("\n")
    if len(converted) != len(present):  # OpenCC never merges lines; be safe if it ever does
        converted = [_T2S.convert(v) for v in present]
    it = iter(converted)
    return pl.Series(values.name, [next(it) if v else v for v in items], dtype=pl.String)


def _fold(raw: pl.Expr) -> pl.Expr:
    """name_norm from a raw name column."""
    s = raw.str.normalize("NFKC").str.replace_all(f"[{ZERO_WIDTH}]", "")
    dots = "".join("\\" + c if c in ".-^]\\" else c for c in DOT_VARIANTS)
    # A run of dots and spaces holding at least one dot is one separator.
    s = s.str.replace_all(f"\\s*[{dots}][\\s{dots}]*", MIDDLE_DOT)
    s = (
        pl.when(s.str.contains(r"\p{Han}"))
        .then(s.str.replace_all(r"\s+", ""))
        .otherwise(s.str.replace_all(r"\s+", " ").str.strip_chars(" "))
    )
    s = s.str.strip_chars(MIDDLE_DOT)
    return pl.when(s.str.len_chars() > 0).then(s)


def normalise_name_column(values: pl.Series) -> pl.DataFrame:
    """NAME_COLUMNS for every value, same length and order, computed over unique values."""
    raw = values.cast(pl.String).rename("raw")
    uniq = raw.unique().to_frame()
    wild = "".join("\\" + c if c in "?_" else c for c in WILDCARDS)
    uniq = uniq.with_columns(_fold(pl.col("raw")).alias("name_norm")).with_columns(
        pl.col("name_norm").str.contains(f"[{wild}]").fill_null(False).alias("name_wildcard"),
        pl.col("name_norm")
        .str.replace_all(MIDDLE_DOT, "", literal=True)
        .str.replace_all(f"[{wild}]", WILDCARD)
        .str.to_lowercase()
        .alias("pre_key"),
    )
    keys = uniq.select(pl.col("pre_key").unique()).get_column("pre_key")
    key_map = pl.DataFrame({"pre_key": keys, "name_key": _t2s(keys)})
    uniq = uniq.join(key_map, on="pre_key", how="left", nulls_equal=True).drop("pre_key")
    uniq = uniq.with_columns(_pinyin_columns(uniq.get_column("name_key")))
    out = raw.to_frame().join(uniq, on="raw", how="left", nulls_equal=True, maintain_order="left")
    return out.select(NAME_COLUMNS)


def _pinyin_columns(keys: pl.Series) -> list[pl.Series]:
    """name_pinyin and surname_pinyin for a series of name keys."""
    frame = keys.rename("key").to_frame().with_columns(
        pl.col("key").str.contains(r"\p{Han}").fill_null(False).alias("han"),
        (
            (pl.col("key").str.len_chars() >= 3)
            & pl.col("key").str.slice(0, 2).is_in(list(COMPOUND_SURNAMES))
        )
        .fill_null(False)
        .alias("compound"),
    )
    frame = frame.with_columns(
        pl.when(pl.col("compound")).then(2).otherwise(1).alias("surname_len")
    ).with_columns(
        pl.col("key").str.slice(0, pl.col("surname_len")).alias("surname"),
        pl.col("key").str.slice(pl.col("surname_len")).str.split("").alias("rest"),
    )
    chars = (
        frame.filter(pl.col("han"))
        .select(pl.concat_list(pl.col("surname").str.split(""), pl.col("rest")).explode().unique())
        .to_series()
        .drop_nulls()
        .to_list()
    )
    char_map = _char_pinyin(chars)
    surname_map = {**char_map, **SURNAME_READINGS, **COMPOUND_SURNAMES}
    frame = frame.with_columns(
        pl.col("surname").replace_strict(surname_map, default=None, return_dtype=pl.String),
        pl.col("rest")
        .list.eval(pl.element().replace_strict(char_map, default=None, return_dtype=pl.String))
        .list.join(" ")
        .alias("rest"),
    ).with_columns(
        pl.when(pl.col("surname") != WILDCARD).then(pl.col("surname")).alias("surname_pinyin"),
        pl.concat_str(pl.col("surname"), pl.col("rest"), separator=" ")
        .str.strip_chars(" ")
        .alias("name_pinyin"),
    )
    han = frame.get_column("han")
    return [
        pl.select(
            pl.when(han).then(frame.get_column("name_pinyin")).otherwise(keys)
        ).to_series().alias("name_pinyin"),
        pl.select(pl.when(han).then(frame.get_column("surname_pinyin"))).to_series().alias(
            "surname_pinyin"
        ),
    ]


def normalise_name(raw: str | None) -> NameResult:
    """One name (the same code path as the column function, so the two never disagree)."""
    row = normalise_name_column(pl.Series([raw], dtype=pl.String)).row(0, named=True)
    return NameResult(**row)


def names_compatible(a_key: str | None, b_key: str | None) -> bool:
    """Name keys equal, where a `?` on either side stands for exactly one unknown character."""
    if not a_key or not b_key or len(a_key) != len(b_key):
        return False
    if WILDCARD not in a_key and WILDCARD not in b_key:
        return a_key == b_key
    return all(x == y or x == WILDCARD or y == WILDCARD for x, y in zip(a_key, b_key))
