"""Chinese name folding: one table row per contract case, plus properties."""

from __future__ import annotations

from dataclasses import asdict

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.names import (
    MIDDLE_DOT,
    NAME_COLUMNS,
    names_compatible,
    normalise_name,
    normalise_name_column,
)

DOT_VARIANTS = ["·", "•", "・", "‧", "⋅", "∙", "．", ".", "･"]


@pytest.mark.parametrize(
    "raw, name_norm, name_key, name_pinyin",
    [
        # 2-character names padded with spaces of every kind
        ("张 伟", "张伟", "张伟", "zhang wei"),
        ("张  伟", "张伟", "张伟", "zhang wei"),
        (" 张\u3000伟 ", "张伟", "张伟", "zhang wei"),
        ("张\u00a0伟", "张伟", "张伟", "zhang wei"),
        ("\u200b张伟\t", "张伟", "张伟", "zhang wei"),
        # full-width Latin folds by NFKC
        ("ＬＩ　Ｍｉｎｇ", "LI Ming", "li ming", "li ming"),
        # traditional characters: raw kept in name_norm, simplified key
        ("張偉", "張偉", "张伟", "zhang wei"),
        ("歐陽國華", "歐陽國華", "欧阳国华", "ou yang guo hua"),
        ("鍾麗", "鍾麗", "钟丽", "zhong li"),
        # surname readings
        ("曾小红", "曾小红", "曾小红", "zeng xiao hong"),
        ("单田芳", "单田芳", "单田芳", "shan tian fang"),
        ("解放", "解放", "解放", "xie fang"),
        ("区志强", "区志强", "区志强", "ou zhi qiang"),
        ("仇英", "仇英", "仇英", "qiu ying"),
        ("朴明", "朴明", "朴明", "piao ming"),
        # compound surname
        ("欧阳娜娜", "欧阳娜娜", "欧阳娜娜", "ou yang na na"),
        ("诸葛亮", "诸葛亮", "诸葛亮", "zhu ge liang"),
        # rare character typed as a wildcard
        ("李?明", "李?明", "李?明", "li ? ming"),
        ("李？明", "李?明", "李?明", "li ? ming"),
        ("李□明", "李□明", "李?明", "li ? ming"),
        ("李_明", "李_明", "李?明", "li ? ming"),
    ],
)
def test_name_cases_from_the_issue(raw, name_norm, name_key, name_pinyin):
    res = normalise_name(raw)
    assert (res.name_norm, res.name_key, res.name_pinyin) == (name_norm, name_key, name_pinyin)


@pytest.mark.parametrize("dot", DOT_VARIANTS)
def test_minority_name_with_each_dot_variant_folds_to_one_norm_and_key(dot):
    res = normalise_name(f"买买提{dot}艾力")
    assert res.name_norm == f"买买提{MIDDLE_DOT}艾力"
    assert res.name_key == "买买提艾力"
    assert res.name_pinyin == "mai mai ti ai li"


@pytest.mark.parametrize("dot", DOT_VARIANTS)
def test_dot_with_spaces_around_it_still_folds(dot):
    assert normalise_name(f"阿依古丽 {dot} 吐尔逊").name_norm == f"阿依古丽{MIDDLE_DOT}吐尔逊"
    assert normalise_name(f"一{dot} {dot}一").name_norm == f"一{MIDDLE_DOT}一"  # found by hypothesis


def test_homophone_pair_shares_a_pinyin_key_but_not_a_name_key():
    a, b = normalise_name("王红铭"), normalise_name("王红明")
    assert a.name_pinyin == b.name_pinyin == "wang hong ming"
    assert a.name_key != b.name_key


def test_traditional_and_simplified_surname_share_the_key():
    assert normalise_name("張三").name_key == normalise_name("张三").name_key
    assert normalise_name("張三").surname_pinyin == "zhang"


def test_surname_pinyin_uses_surname_readings():
    assert normalise_name("曾国藩").surname_pinyin == "zeng"
    assert normalise_name("单雄信").surname_pinyin == "shan"
    assert normalise_name("欧阳修").surname_pinyin == "ou yang"
    # a 2-character name starting like a compound surname is surname + given name
    assert normalise_name("欧阳").surname_pinyin == "ou"


def test_wildcard_is_flagged_and_matches_any_one_character():
    res = normalise_name("李?明")
    assert res.name_wildcard
    assert not normalise_name("李晓明").name_wildcard
    assert names_compatible(res.name_key, normalise_name("李昇明").name_key)
    assert not names_compatible(res.name_key, normalise_name("王昇明").name_key)
    assert not names_compatible(res.name_key, normalise_name("李明").name_key)
    assert normalise_name("?明").surname_pinyin is None


def test_names_compatible_without_wildcards_is_equality():
    assert names_compatible("张伟", "张伟")
    assert not names_compatible("张伟", "张玮")
    assert not names_compatible(None, "张伟")


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_empty_names_give_nulls(raw):
    res = normalise_name(raw)
    assert res.name_norm is None and res.name_key is None and res.name_pinyin is None
    assert res.name_wildcard is False


def test_column_keeps_order_duplicates_and_columns():
    frame = normalise_name_column(pl.Series(["張偉", None, "王红明", "張偉"]))
    assert frame.columns == list(NAME_COLUMNS)
    assert frame.get_column("name_key").to_list() == ["张伟", None, "王红明", "张伟"]
    assert frame.schema["name_wildcard"] == pl.Boolean


han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
noise = st.sampled_from([" ", "\u3000", "\u00a0"] + DOT_VARIANTS + ["?", "□"])
names = st.lists(st.one_of(han, noise), min_size=0, max_size=6).map("".join)


@given(names)
@settings(max_examples=80, deadline=None)
def test_folding_twice_changes_nothing(raw):
    first = normalise_name(raw)
    if first.name_norm is None:
        return
    again = normalise_name(first.name_norm)
    assert again.name_norm == first.name_norm
    assert again.name_key == first.name_key
    assert again.name_pinyin == first.name_pinyin


@given(st.lists(names, max_size=20))
@settings(max_examples=40, deadline=None)
def test_column_equals_one_at_a_time(values):
    frame = normalise_name_column(pl.Series(values, dtype=pl.String))
    assert frame.to_dicts() == [asdict(normalise_name(v)) for v in values]
