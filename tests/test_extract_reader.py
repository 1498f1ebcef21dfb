"""Reading extract files: encodings, banner rows, 合计 rows, aliases, row numbering, bad files."""

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matchers.contract import SOURCES, SPECS, fold_header
from matchers.extract_reader import (
    ExtractFileError,
    _decode_by_line,
    decode_csv_bytes,
    list_quarters,
    read_extract_file,
    source_files,
)

HEADER = ["序号", "家庭编号", "与户主关系", "姓名", "身份证号", "救助类别", "状态", "备注"]
ROWS = [
    ["1", "H001", "户主", "王秀英", "420102195001011234", "城市低保", "在保", ""],
    ["2", "H001", "配偶", "张伟", "420102194812125678", "城市低保", "在保", "同住"],
]


def write_csv(path: Path, rows, encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    data = buf.getvalue().encode("gb18030" if encoding == "gb18030" else "utf-8")
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def write_xlsx(path: Path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_each_csv_encoding_is_detected(tmp_path, encoding):
    p = write_csv(tmp_path / "assistance.csv", [HEADER] + ROWS, encoding)
    f = read_extract_file(p, "assistance")
    assert f.encoding == encoding
    assert f.rows["name"].to_list() == ["王秀英", "张伟"]
    assert f.rows["__row"].to_list() == [1, 2]


def test_xlsx_banner_rows_and_total_row_do_not_count(tmp_path):
    grid = [
        ["武汉市2026年第三季度低保对象名册", None, None],
        ["填报单位:江夏区民政局", None, None],
        [None],
        HEADER,
        ROWS[0],
        [None] * 8,  # blank row in the middle: not counted
        ROWS[1],
        ["合计", None, None, None, None, None, None, None],
    ]
    p = write_xlsx(tmp_path / "assistance_2026Q3.xlsx", grid)
    f = read_extract_file(p, "assistance")
    assert f.header_row == 4
    assert f.rows["__row"].to_list() == [1, 2]
    assert f.rows["name"].to_list() == ["王秀英", "张伟"]
    assert f.rows["household_id"].to_list() == ["H001", "H001"]


def test_csv_banner_row_above_header(tmp_path):
    p = write_csv(tmp_path / "assistance.csv", [["武汉市社会救助对象名册"], [], HEADER] + ROWS)
    f = read_extract_file(p, "assistance")
    assert f.header_row == 3 and f.rows.height == 2


def test_row_numbering_counts_rows_that_will_be_rejected(tmp_path):
    garbage = ["", "", "", "", "", "", "", "作废"]  # only an unnamed column: blank, not counted
    bad = ["3", "H002", "户主", "", "4.20115E+17", "城市低保", "在保", ""]  # counted
    p = write_csv(tmp_path / "assistance.csv", [HEADER, ROWS[0], garbage, bad, ROWS[1]])
    f = read_extract_file(p, "assistance")
    assert f.rows["__row"].to_list() == [1, 2, 3]
    assert f.rows["id_number"].to_list()[1] == "4.20115E+17"


@pytest.mark.parametrize("source", SOURCES)
def test_every_alias_maps_to_its_field(tmp_path, source):
    spec = SPECS[source]
    for fld in spec.fields:
        for alias in fld.aliases:
            header = [a.aliases[0] for a in spec.fields if a.name != fld.name] + [alias]
            # full-width parentheses and padding spaces must still match
            header[-1] = " " + alias.replace("(", "（").replace(")", "）") + " "
            row = ["x"] * len(header)
            p = write_csv(tmp_path / f"{source}.csv", [header, row])
            f = read_extract_file(p, source)
            assert fold_header(f.columns[fld.name]) == fold_header(alias), (source, fld.name, alias)


def test_preferred_alias_wins_when_two_are_present(tmp_path):
    header = ["户主姓名", "户主身份证号", "姓名", "身份证号", "住房安全等级"]
    p = write_csv(tmp_path / "housing.csv", [header, ["王五", "1", "王五2", "2", "C"]])
    f = read_extract_file(p, "housing")
    assert f.columns["name"] == "户主姓名" and f.columns["id_number"] == "户主身份证号"


def test_missing_required_column_names_file_and_column(tmp_path):
    header = ["家庭编号", "姓名", "身份证号", "状态"]  # 救助类别 missing
    p = write_csv(tmp_path / "assistance_jx.csv", [header, ["H1", "王五", "1", "在保"]])
    with pytest.raises(ExtractFileError) as exc:
        read_extract_file(p, "assistance")
    assert "assistance_jx.csv" in str(exc.value) and "救助类别" in str(exc.value)


def test_no_header_found(tmp_path):
    p = write_csv(tmp_path / "medical.csv", [["a", "b"], ["1", "2"]])
    with pytest.raises(ExtractFileError, match="未找到表头"):
        read_extract_file(p, "medical")


def test_corrupt_xlsx_fails_with_file_name(tmp_path):
    p = tmp_path / "poverty.xlsx"
    p.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(ExtractFileError) as exc:
        read_extract_file(p, "poverty")
    assert "poverty.xlsx" in str(exc.value)


def test_html_saved_as_xlsx_is_explained(tmp_path):
    p = tmp_path / "poverty.xlsx"
    p.write_text("<html><table><tr><td>姓名</td></tr></table></html>", encoding="utf-8")
    with pytest.raises(ExtractFileError, match="HTML"):
        read_extract_file(p, "poverty")


def test_duplicated_contract_header_is_an_error(tmp_path):
    header = ["家庭编号", "姓名", "身份证号", "身份证号", "救助类别", "状态"]
    p = write_csv(tmp_path / "assistance.csv", [header, ["H1", "王五", "1", "2", "城市低保", "在保"]])
    with pytest.raises(ExtractFileError, match="重复"):
        read_extract_file(p, "assistance")


def test_source_files_by_stem_prefix_and_quarters(tmp_path):
    q = tmp_path / "2026Q3"
    q.mkdir()
    (tmp_path / "2026Q2").mkdir()
    (tmp_path / "notes").mkdir()
    for name in ["medical_part2.csv", "medical_part1.csv", "poverty_2026Q3_final.xlsx", "readme.txt", "~$medical.xlsx"]:
        (q / name).write_text("x")
    assert [p.name for p in source_files(tmp_path, "2026Q3", "medical")] == ["medical_part1.csv", "medical_part2.csv"]
    assert [p.name for p in source_files(tmp_path, "2026Q3", "poverty")] == ["poverty_2026Q3_final.xlsx"]
    assert source_files(tmp_path, "2026Q3", "housing") == []
    assert list_quarters(tmp_path) == ["2026Q2", "2026Q3"]


def test_numbers_in_xlsx_cells_never_pass_through_float_text(tmp_path):
    grid = [HEADER, ["1", "H001", "户主", "王秀英", 420102195001011234, "城市低保", "在保", ""]]
    p = write_xlsx(tmp_path / "assistance.xlsx", grid)
    f = read_extract_file(p, "assistance")
    # Excel stored the ID as a number: the tail is lost, so it must read as truncated, not as an ID.
    assert "E+17" in f.rows["id_number"][0]


def _decoded_or_error(fn, data):
    warnings: list[str] = []
    try:
        return fn(data, "f.csv", warnings), warnings
    except ExtractFileError as exc:
        return str(exc), warnings


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="姓名王秀英张伟abc,1 \ufffd", max_size=8),
            st.sampled_from(["utf-8", "gb18030", "broken"]),
            st.sampled_from(["\n", "\r\n", "\r"]),
        ),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=300, deadline=None)
def test_gb18030_file_read_whole_equals_line_by_line(lines):
    data = b"".join(
        (t + end).encode("gb18030") + b"\xff" if enc == "broken" else (t + end).encode(enc)
        for t, enc, end in lines
    )
    assume(not _is_utf8(data))
    fast = _decoded_or_error(decode_csv_bytes, data)
    assert fast == _decoded_or_error(_decode_by_line, data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
