"""The bad-input corpus (tests/bad_inputs/, table in its README): each broken file either fails its
source with a Chinese message naming the file and the problem, leaving the warehouse exactly as it
was, or loads with the damage marked on the row (null cell + row_issues) or the row quarantined."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from assets.extracts import build_extract_asset, load_source
from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from matchers import warehouse
from matchers.contract import SOURCES
from matchers.extract_reader import ExtractFileError, read_extract_file

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
SAMPLE = ROOT / "sample_data" / "extracts"
QUARTER = "2026Q3"
PUBLIC_TABLES = ("source_records", "persons", "household_members", "flags", "reviews", "rejected_rows")
STAGING_TABLES = ("stg_records", "stg_rejected", "stg_files")

# case file → (source that receives it, expected message substring)
FILE_ERRORS = {
    "assistance_empty.csv": "是空文件",
    "assistance_binary_garbage.csv": "不是文本格式的CSV文件",
    "assistance_undecodable.csv": "第3行无法识别编码",
    "assistance_html.xlsx": "实际是网页(HTML)格式",
    "assistance_encrypted.xlsx": "设置了打开密码",
    "assistance_truncated.xlsx": "不是有效的XLSX文件",
    "assistance_old_format.xls": "是.xls格式",
    "assistance_xls_renamed.xlsx": "实际是旧版Excel 97-2003(.xls)格式",
    "assistance_xlsx_renamed.csv": "实际是Excel工作簿(XLSX),只是扩展名被改成了.csv",
    "assistance_html_renamed.csv": "实际是网页(HTML)或XML格式,不是CSV",
    "assistance_zip_of_csv.xlsx": "实际是ZIP压缩包(内含:assistance_part1.csv)",
    "assistance_roll_on_second_sheet.xlsx": "只读取第一个工作表“说明”;本文件还有工作表“名册”",
    "assistance_no_header.csv": "未找到表头",
    "assistance_missing_column.csv": "缺少必需的列“救助类别”",
    "assistance_duplicated_header.csv": "表头“身份证号”重复出现在第E、M列",
    "assistance_unclosed_quote.csv": "第3行有未闭合的引号",
    "assistance_row_beyond_limit.xlsx": "工作表有第9,999,999行,超过读取的行数上限5,000,000行",
    "assistance_column_beyond_limit.xlsx": "工作表第9行有第16,385列(XFE9),超过读取的列数上限16,384列",
    "assistance_too_many_columns.csv": "第2行有17,012列,超过读取的列数上限16,384列",
}
# case file → (environment variable lowering a limit, expected message substring)
LIMIT_ERRORS = {
    "assistance_unpacks_large.xlsx": (
        ("EXTRACT_MAX_BYTES", "10000000"), "解压后共12,0"
    ),
    "assistance_long_cell.csv": (
        ("EXTRACT_MAX_CELL_CHARS", "1000"), "第2行第M列“备注”的单元格长5,000个字符,超过读取的单元格长度上限1,000个字符"
    ),
}


# ---- a warehouse holding a good quarter, and how to compare it -------------------------------


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory) -> Path:
    """The committed 2026Q3 sample staged for all six sources, plus a row in every public table."""
    path = tmp_path_factory.mktemp("good") / "wh.duckdb"
    con = warehouse.connect(path)
    try:
        for source in SOURCES:
            load_source(con, str(SAMPLE), QUARTER, source)
        con.execute(
            "INSERT INTO source_records BY NAME SELECT *, 'P-sentinel' AS person_id FROM stg_records "
            "WHERE quarter = ? AND source = 'assistance' LIMIT 5",
            [QUARTER],
        )
        con.execute("INSERT INTO persons (person_id, name) VALUES ('P-sentinel', '王秀英')")
        con.execute(
            "INSERT INTO household_members VALUES (?, 'assistance:H1', 'assistance', 'H1', 'P-sentinel', '户主', TRUE, 'member')",
            [QUARTER],
        )
        con.execute(
            "INSERT INTO flags (quarter, flag_id, rule_code, person_id, reason, first_seen, review_status) "
            "VALUES (?, 'F-sentinel', 'M01', 'P-sentinel', '示例', ?, '待核查')",
            [QUARTER, QUARTER],
        )
        con.execute("INSERT INTO reviews (flag_id, decision, decided_at) VALUES ('F-sentinel', '属实待处理', now())")
        con.execute(
            "INSERT INTO rejected_rows BY NAME SELECT quarter, source, source_file, source_row, reason, raw "
            "FROM stg_rejected WHERE quarter = ?",
            [QUARTER],
        )
    finally:
        con.close()
    return path


def _tables(con) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
    ).fetchall()]


def snapshot(path: Path, except_source: str | None = None) -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row as text, in order) per table; staging tables per source, all
    sources but `except_source`."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in _tables(con):
            where = ""
            if table in STAGING_TABLES and except_source:
                where = f"WHERE source <> '{except_source}'"
            out[table] = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR), '')) "
                f"FROM {table} t {where}"
            ).fetchone()
        return out
    finally:
        con.close()


@pytest.fixture
def wh_copy(good_warehouse, tmp_path) -> Path:
    path = tmp_path / "wh.duckdb"
    shutil.copy(good_warehouse, path)
    return path


def quarter_with(tmp_path: Path, *files: Path | tuple[str, bytes]) -> Path:
    """An extracts folder whose 2026Q3 holds the given files (the department's new delivery)."""
    root = tmp_path / "extracts"
    folder = root / QUARTER
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        if isinstance(f, tuple):
            (folder / f[0]).write_bytes(f[1])
        else:
            shutil.copy(f, folder / f.name)
    return root


def load(path: Path, extracts: Path, source: str) -> dict:
    con = warehouse.connect(path)
    try:
        return load_source(con, str(extracts), QUARTER, source)
    finally:
        con.close()


def query(path: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# ---- file-level errors: the source fails, nothing changes -------------------------------------


@pytest.mark.parametrize("name", sorted(FILE_ERRORS))
def test_unusable_file_fails_its_source_and_changes_nothing(wh_copy, tmp_path, name):
    before = snapshot(wh_copy)
    extracts = quarter_with(tmp_path, CORPUS / name)
    with pytest.raises(ExtractFileError) as exc:
        load(wh_copy, extracts, "assistance")
    message = str(exc.value)
    assert name in message and FILE_ERRORS[name] in message, message
    assert_officer_can_read(message)
    assert snapshot(wh_copy) == before


def assert_officer_can_read(message: str) -> None:
    """No Python class name, traceback or source path in a message an officer reads."""
    assert not re.search(r"[A-Z][a-z]+(Error|Exception)|Traceback|\.py\b|matchers[/.]", message), message


def test_missing_column_message_names_the_headers_found_and_the_accepted_names(wh_copy, tmp_path):
    extracts = quarter_with(tmp_path, CORPUS / "assistance_missing_column.csv")
    with pytest.raises(ExtractFileError) as exc:
        load(wh_copy, extracts, "assistance")
    message = str(exc.value)
    assert message.startswith("文件“assistance_missing_column.csv”第1行表头缺少必需的列“救助类别”(可用的列名:救助类别)")
    assert "该行的列名为:“序号”、“家庭编号”、“与户主关系”、“姓名”、“身份证号”" in message
    assert "contract" not in message


def test_missing_column_of_another_source_names_its_accepted_headers(tmp_path):
    from tests.bad_inputs.make_corpus import GOOD, csv_bytes

    path = tmp_path / "disability.csv"
    path.write_bytes(csv_bytes([["姓名", "身份证", "等级"], ["王秀英", GOOD[0][4], "一级"]]))
    with pytest.raises(ExtractFileError) as exc:
        read_extract_file(path, "disability")
    message = str(exc.value)
    assert "缺少必需的列“残疾等级”(可用的列名:残疾等级)" in message
    assert "该行的列名为:“姓名”、“身份证”、“等级”" in message


def test_a_file_the_system_will_not_let_us_read_says_so_in_chinese(tmp_path, monkeypatch):
    path = tmp_path / "assistance.csv"
    path.write_bytes((CORPUS / "assistance_mixed_encoding.csv").read_bytes())

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ExtractFileError) as exc:
        read_extract_file(path, "assistance")
    assert str(exc.value) == "文件“assistance.csv”没有读取权限,请管理员检查该文件的权限"


@pytest.mark.parametrize("name", sorted(LIMIT_ERRORS))
def test_file_beyond_a_lowered_limit_is_refused_naming_the_limit(wh_copy, tmp_path, monkeypatch, name):
    (variable, value), expected = LIMIT_ERRORS[name]
    extracts = quarter_with(tmp_path, CORPUS / name)
    load(wh_copy, extracts, "assistance")  # within the default limits the file loads
    before = snapshot(wh_copy)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ExtractFileError) as exc:
        load(wh_copy, extracts, "assistance")
    message = str(exc.value)
    assert name in message and expected in message and variable in message, message
    assert "表头" not in message
    assert_officer_can_read(message)
    assert snapshot(wh_copy) == before


def test_link_leading_out_of_the_quarter_folder_is_refused_not_followed(wh_copy, tmp_path, monkeypatch):
    """A link named like the department's file pointing at a file elsewhere: refused, its target
    never read (not for the roll, not for the change fingerprint); a link inside the folder loads."""
    from matchers import extract_changes

    outside = tmp_path / "elsewhere" / "secret.csv"
    outside.parent.mkdir()
    outside.write_bytes((CORPUS / "assistance_mixed_encoding.csv").read_bytes())
    extracts = quarter_with(tmp_path)
    (extracts / QUARTER / "assistance_link.csv").symlink_to(outside)
    before = snapshot(wh_copy)
    real_open = open

    def guarded_open(file, *args, **kwargs):
        assert Path(file).resolve() != outside.resolve(), "the link's target was read"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr("io.open", guarded_open)
    with pytest.raises(ExtractFileError) as exc:
        load(wh_copy, extracts, "assistance")
    assert "assistance_link.csv" in str(exc.value) and "指向季度文件夹以外的链接" in str(exc.value)
    assert extract_changes.fingerprint(extracts, QUARTER)["assistance"]["assistance_link.csv"]
    monkeypatch.undo()
    assert snapshot(wh_copy) == before
    (extracts / QUARTER / "assistance_link.csv").unlink()
    (extracts / QUARTER / "assistance_real.csv").write_bytes(outside.read_bytes())
    (extracts / QUARTER / "assistance_link.csv").symlink_to("assistance_real.csv")
    result = load(wh_copy, extracts, "assistance")
    assert {f["source_file"] for f in result["files"]} == {"assistance_link.csv", "assistance_real.csv"}


def test_one_bad_part_fails_the_whole_split_source(wh_copy, tmp_path):
    """medical_part1 is fine, medical_part2 is an HTML page: no part of medical is half-loaded."""
    before = snapshot(wh_copy)
    extracts = quarter_with(
        tmp_path, SAMPLE / QUARTER / "medical_part1.csv", ("medical_part2.xlsx", (CORPUS / "assistance_html.xlsx").read_bytes())
    )
    with pytest.raises(ExtractFileError, match="medical_part2.xlsx"):
        load(wh_copy, extracts, "medical")
    assert snapshot(wh_copy) == before


def test_100mb_single_column_file_fails_fast_naming_the_missing_columns(wh_copy, tmp_path):
    folder = tmp_path / "extracts" / QUARTER
    folder.mkdir(parents=True)
    big = folder / "assistance_big.csv"
    line = "王秀英王秀英王秀英王秀英王秀英王秀英王秀英王秀英王秀英王秀英\n".encode("utf-8")  # 91 bytes
    with open(big, "wb") as fh:
        fh.write("姓名\n".encode("utf-8"))
        block = line * 11_000  # ~1 MB
        for _ in range(100):
            fh.write(block)
    assert big.stat().st_size >= 100_000_000
    before = snapshot(wh_copy)
    started = time.monotonic()
    with pytest.raises(ExtractFileError) as exc:
        load(wh_copy, tmp_path / "extracts", "assistance")
    elapsed = time.monotonic() - started
    assert "assistance_big.csv" in str(exc.value)
    assert "缺少必需的列" in str(exc.value) and "身份证号" in str(exc.value) and "救助类别" in str(exc.value)
    assert elapsed < 60, elapsed
    assert snapshot(wh_copy) == before


def _materialize_assistance(wh_copy: Path, extracts: Path, tmp_path: Path):
    """The assistance extract asset run through Dagster on `extracts`, failures kept in the result."""
    resource = WarehouseResource(path=str(wh_copy), extracts_dir=str(extracts), exports_dir=str(tmp_path / "exports"))
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [QUARTER])
        return materialize(
            [build_extract_asset("assistance")], partition_key=QUARTER, resources={"warehouse": resource},
            instance=instance, raise_on_error=False,
        )


def test_extract_asset_failure_says_what_failed_and_that_the_warehouse_is_unchanged(wh_copy, tmp_path):
    extracts = quarter_with(tmp_path, CORPUS / "assistance_encrypted.xlsx")
    before = snapshot(wh_copy)
    result = _materialize_assistance(wh_copy, extracts, tmp_path)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = str(failure.event_specific_data.error.to_string())
    assert "assistance_encrypted.xlsx" in text and "设置了打开密码" in text and "仓库中的数据保持不变" in text
    assert snapshot(wh_copy) == before


def test_extract_asset_failure_masks_an_id_in_the_file_name(wh_copy, tmp_path):
    from matchers.privacy import contains_full_id

    extracts = quarter_with(tmp_path, ("assistance_王秀英420102195001011238.csv", b""))
    result = _materialize_assistance(wh_copy, extracts, tmp_path)
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    shown = [error.message] + [str(v.value) for v in failure.event_specific_data.user_failure_data.metadata.values()]
    assert any("4201**********1238" in t for t in shown) and not any(contains_full_id(t) for t in shown), shown


# ---- row-level damage: the file loads, the damage is marked or the row quarantined ------------


def load_row_case(wh_copy: Path, tmp_path: Path, name: str) -> dict:
    """Load a row-level case as the assistance delivery; every other source stays byte-identical."""
    before = snapshot(wh_copy, except_source="assistance")
    whole_before = snapshot(wh_copy)
    result = load(wh_copy, quarter_with(tmp_path, CORPUS / name), "assistance")
    after = snapshot(wh_copy, except_source="assistance")
    assert after == before  # other sources' staging rows and every public table untouched
    assert snapshot(wh_copy)["stg_files"] != whole_before["stg_files"]  # the comparison can see a change
    (files,) = query(wh_copy, "SELECT count(*) FROM stg_files WHERE quarter = ? AND source = 'assistance'", [QUARTER])
    assert files == (1,)
    return result


def rows(wh_copy: Path, columns: str) -> list[tuple]:
    return query(
        wh_copy,
        f"SELECT {columns} FROM stg_records WHERE quarter = ? AND source = 'assistance' ORDER BY source_row",
        [QUARTER],
    )


def test_header_only_file_loads_no_rows_with_a_warning(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_header_only.csv")
    assert result["accepted"] == 0 and result["rejected"] == 0
    assert any("只有表头,没有数据行" in w for w in result["warnings"])


def test_negative_and_non_numeric_amounts_and_bad_dates_are_null_and_marked(wh_copy, tmp_path):
    load_row_case(wh_copy, tmp_path, "assistance_bad_amount_date.csv")
    got = rows(wh_copy, "source_row, monthly_amount, status_date::VARCHAR, row_issues")
    assert [r[:3] for r in got] == [(1, None, "2026-07-01"), (2, None, None), (3, 900.0, None)]
    assert "“-300”金额为负数" in got[0][3]
    assert "“不详”不是数字" in got[1][3] and "“七月初”不是可识别的日期" in got[1][3]
    assert "“2026-02-30”不是有效日期" in got[2][3]


def test_row_with_no_name_and_garbage_id_is_quarantined_with_its_reason(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_no_name_garbage_id.csv")
    assert result["accepted"] == 2 and result["rejected"] == 1
    assert [r[0] for r in rows(wh_copy, "source_row")] == [1, 3]
    ((row, reason, raw),) = query(
        wh_copy, "SELECT source_row, reason, raw::VARCHAR FROM stg_rejected WHERE quarter = ? AND source = 'assistance'", [QUARTER]
    )
    assert row == 2 and "姓名为空" in reason and "身份证号无法修复" in reason
    assert "12345ABC" in raw and "H9003" in raw  # the row as received, for the officer


def test_mixed_utf8_and_gb18030_lines_are_each_decoded(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_mixed_encoding.csv")
    assert rows(wh_copy, "name_norm") == [("王秀英",), ("张伟",), ("李娜",)]
    assert any("混用了两种编码" in w and "第3行" in w for w in result["warnings"])
    assert query(wh_copy, "SELECT encoding FROM stg_files WHERE source = 'assistance'") == [("utf-8+gb18030",)]


def test_ragged_rows_keep_their_cells_and_are_listed(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_ragged_rows.csv")
    got = rows(wh_copy, "source_row, name_norm, category, monthly_amount, status")
    assert got == [(1, "王秀英", "城市低保", None, None), (2, "张伟", "城市低保", None, "在保"), (3, "李娜", "农村特困", 900.0, "在保")]
    assert any("列数与表头(12列)不一致(第1、2条数据)" in w for w in result["warnings"])


def test_full_width_and_spaced_headers_match(wh_copy, tmp_path):
    load_row_case(wh_copy, tmp_path, "assistance_fullwidth_header.csv")
    assert rows(wh_copy, "household_id, name_norm, id_norm, monthly_amount, status") == [
        ("H9001", "王秀英", "420102195001011238", 1600.0, "在保")
    ]


def test_cr_only_line_endings_load(wh_copy, tmp_path):
    load_row_case(wh_copy, tmp_path, "assistance_cr_line_endings.csv")
    assert [r[0] for r in rows(wh_copy, "name_norm")] == ["王秀英", "张伟", "李娜"]


def test_formula_cells_use_the_cached_value(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_formula_cached.xlsx")
    assert rows(wh_copy, "monthly_amount, row_issues")[0] == (1600.0, None)
    assert not result["warnings"]


def test_formula_without_cached_value_is_marked_not_silently_empty(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_formula_uncached.xlsx")
    amount, issues = rows(wh_copy, "monthly_amount, row_issues")[0]
    assert amount is None and "“=1000+600”不是数字" in issues
    assert any("没有计算结果(I2)" in w for w in result["warnings"])


def test_merged_cells_in_the_data_area_fill_every_row_they_span(wh_copy, tmp_path):
    result = load_row_case(wh_copy, tmp_path, "assistance_merged_cells.xlsx")
    assert rows(wh_copy, "source_row, household_id, category, name_norm") == [
        (1, "H9001", "城市低保", "王秀英"), (2, "H9001", "城市低保", "张伟"), (3, "H9002", "农村特困", "李娜")
    ]
    assert any("合并单元格" in w for w in result["warnings"])


def test_sparse_sheets_load_only_their_cells(wh_copy, tmp_path):
    """A sheet claiming A1:XFD10000 and one with stray cells in column XFD load as the plain roll."""
    for name in ("assistance_sparse_dimension.xlsx", "assistance_stray_far_cells.xlsx"):
        result = load_row_case(wh_copy, tmp_path / name, name)
        assert result["accepted"] == 3 and not result["warnings"]
        assert rows(wh_copy, "source_row, name_norm") == [(1, "王秀英"), (2, "张伟"), (3, "李娜")]


def test_ids_in_a_text_formula_or_with_invisible_characters_are_repaired(wh_copy, tmp_path):
    from matchers.ids import ISSUE_INVISIBLE, ISSUE_SEP, ISSUE_TEXT_FORMULA, ISSUE_WHITESPACE

    load_row_case(wh_copy, tmp_path, "assistance_wrapped_ids.csv")
    got = rows(wh_copy, "source_row, id_norm, id_issue")
    assert [r[1] for r in got] == ["420102195001011238", "420106199001011231", "42011119800101106X"]
    repairs = {ISSUE_TEXT_FORMULA, ISSUE_INVISIBLE, ISSUE_WHITESPACE}
    assert [set(r[2].split(ISSUE_SEP)) & repairs for r in got] == [
        {ISSUE_TEXT_FORMULA}, {ISSUE_INVISIBLE}, {ISSUE_INVISIBLE, ISSUE_WHITESPACE}
    ]


def test_unknown_districts_are_null_and_marked_and_formula_text_stays_text(wh_copy, tmp_path):
    load_row_case(wh_copy, tmp_path, "assistance_districts_and_formulas.csv")
    got = rows(wh_copy, "source_row, district, street, community, row_issues")
    assert [r[:4] for r in got] == [
        (1, None, "+cmd|' /C calc'!A0", "@SUM(1)"),
        (2, "江岸区", "-2+3", "=1+1"),
        (3, None, "纸坊街道", "幸福社区"),
    ]
    assert "“区”值“=HYPERLINK(\"http://example.invalid\",\"点击\"…”不是本市的区,已置空" in got[0][4]
    assert got[1][4] is None and "“区”值“东湖高新区”不是本市的区" in got[2][4]


def test_corpus_files_stay_small():
    sizes = {p.name: p.stat().st_size for p in CORPUS.iterdir() if p.name.startswith("assistance_")}
    assert len(sizes) == 35 and max(sizes.values()) < 20_000, sizes
    assert not os.path.exists(CORPUS / "assistance_big.csv")


def test_duplicated_columns_the_contract_does_not_name_are_ignored(wh_copy, tmp_path):
    from tests.bad_inputs.make_corpus import GOOD, HEADER, csv_bytes

    data = csv_bytes([HEADER + ["备注", "备注"]] + [r + ["同住", "低保"] for r in GOOD])
    before = snapshot(wh_copy, except_source="assistance")
    load(wh_copy, quarter_with(tmp_path, ("assistance_two_remarks.csv", data)), "assistance")
    assert snapshot(wh_copy, except_source="assistance") == before
    assert rows(wh_copy, "name_norm") == [("王秀英",), ("张伟",), ("李娜",)]
