"""matchers.privacy: every ID-shaped run is masked wherever it stands, by one function."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers.privacy import contains_full_id, mask_id, mask_ids_in_text, mask_ids_series, mask_valid_id

ID = "42010619900101123X"


def test_mask_id_keeps_first_and_last_four():
    assert mask_id(ID) == "4201**********123X"
    assert mask_id(None) == ""
    assert mask_id("4201") == "****"
    assert mask_id("420106900101123") == "4201*******1123"


def test_mask_valid_id_names_a_person_without_one():
    assert mask_valid_id(ID) == "4201**********123X"
    assert mask_valid_id(None) == "无有效身份证号"
    assert mask_valid_id("4201") == "无有效身份证号"


@pytest.mark.parametrize(
    "text",
    [
        f"杨凡ID{ID}",  # glued to Latin letters
        f"纸坊街道(联系人{ID})",
        f"G{ID}",  # a student number
        f"{ID}21",  # a disability certificate (20 digits)
        "420106900101123",  # the old 15-digit form
        "4201 0619 9001 0112 3X",  # typed in groups
        "420106-19900101-123X",
        "４２０１０６１９９００１０１１２３Ｘ",  # full-width
        "4201\u200b06199001011231",  # an invisible character inside
        f"核查名单_{ID}.xlsx",
    ],
)
def test_id_shaped_runs_are_masked_wherever_they_stand(text):
    assert contains_full_id(text)
    masked = mask_ids_in_text(text)
    assert not contains_full_id(masked)
    assert "**********" in masked or "*******" in masked


@pytest.mark.parametrize("text", ["王秀英", "13912345678", "2026Q3", "4201**********123X", "12345678901234"])
def test_short_runs_and_masked_ids_are_left_alone(text):
    assert not contains_full_id(text)
    assert mask_ids_in_text(text) == text


@given(st.lists(st.one_of(st.text(max_size=8), st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True)), max_size=6))
def test_series_masking_equals_text_masking(parts):
    texts = ["".join(parts), None, *parts]
    got = mask_ids_series(pl.Series(texts, dtype=pl.String)).to_list()
    assert got == [None if t is None else mask_ids_in_text(t) for t in texts]
    assert not any(contains_full_id(t) for t in got if t)
