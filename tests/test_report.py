"""The quarterly report: counts per rule, new/carried/resolved, subsidy coverage, M06 share, chart."""

from __future__ import annotations

import re
import stat
from datetime import datetime

import openpyxl
import pytest

from matchers import warehouse
from matchers.reports import quarterly
from matchers.reports.quarterly import report_figures, write_quarterly_reports

Q, PREV = "2026Q3", "2026Q2"

# quarter, flag_id, rule_code, person_id, district, first_seen, review_status
FLAGS = [
    (Q, "F1", "M02", "P1", "江夏区", Q, "待核查"),
    (Q, "F2", "M06", "P3", "江夏区", PREV, "属实待处理"),
    (Q, "F3", "R01", "P10", "江夏区", Q, "不属实"),
    (Q, "F4", "M06", "P7", "洪山区", Q, "待核查"),
    (Q, "F5", "Q03", "P8", "洪山区", PREV, "待核查"),
    (PREV, "F2", "M06", "P3", "江夏区", PREV, "待核查"),
    (PREV, "F5", "Q03", "P8", "洪山区", PREV, "待核查"),
    (PREV, "F6", "R02", "P4", "江夏区", PREV, "待核查"),
]

# disability rows: person_id, district, grade, nursing_subsidy, living_subsidy
DISABILITY = [
    ("P1", "江夏区", 2, False, False),
    ("P2", "江夏区", 1, True, False),
    ("P3", "江夏区", 3, False, False),  # in 低保, no 生活补贴
    ("P4", "江夏区", 4, False, True),  # in 低保, 生活补贴
    ("P5", "江夏区", 1, True, False),  # 特困: not in the 生活补贴 denominator
    ("P6", "洪山区", 2, False, False),
    ("P6", "洪山区", 2, True, False),  # the same person twice: counted once, receiving
]

# assistance rows: person_id, household_id, relation, category, status, district
ASSISTANCE = [
    ("P3", "H1", "户主", "城市低保", "在保", "江夏区"),
    ("P4", "H1", "配偶", "城市低保", "在保", "江夏区"),
    ("P5", "H2", "户主", "农村特困", "在保", "江夏区"),
    ("P7", "H3", "户主", "城市低保", "在保", "洪山区"),
    ("P8", "H3", "子女", "城市低保", "在保", "洪山区"),
    ("P9", "H4", "户主", "城市低保", "停保", "洪山区"),  # suspended: not 低保
    ("P10", "H5", "户主", "农村低保", "在保", "江夏区"),
]


def _warehouse(tmp_path, resolved: str | None):
    """resolved: "view" keeps the rules step's resolved_flags view, "table" replaces it with a table
    without a district column, None drops it (a warehouse from before the rules step)."""
    con = warehouse.connect(tmp_path / "wh.duckdb")
    for q, fid, rule, pid, district, first_seen, status in FLAGS:
        con.execute(
            "INSERT INTO flags (quarter, flag_id, rule_code, person_id, district, reason, first_seen, review_status)"
            " VALUES (?, ?, ?, ?, ?, '测试原因', ?, ?)",
            [q, fid, rule, pid, district, first_seen, status],
        ).fetchall()
    for i, (pid, district, grade, nursing, living) in enumerate(DISABILITY, start=1):
        con.execute(
            "INSERT INTO source_records (quarter, source, source_file, source_row, person_id, district, grade,"
            " nursing_subsidy, living_subsidy) VALUES (?, 'disability', 'disability.csv', ?, ?, ?, ?, ?, ?)",
            [Q, i, pid, district, grade, nursing, living],
        ).fetchall()
    for i, (pid, hid, relation, category, status, district) in enumerate(ASSISTANCE, start=1):
        con.execute(
            "INSERT INTO source_records (quarter, source, source_file, source_row, person_id, household_id,"
            " relation, category, status, district) VALUES (?, 'assistance', 'assistance.csv', ?, ?, ?, ?, ?, ?, ?)",
            [Q, i, pid, hid, relation, category, status, district],
        ).fetchall()
    if resolved != "view":
        con.execute("DROP VIEW IF EXISTS resolved_flags").fetchall()
    if resolved == "table":
        con.execute(
            "CREATE TABLE resolved_flags (quarter VARCHAR, flag_id VARCHAR, rule_code VARCHAR, person_id VARCHAR)"
        ).fetchall()
        con.execute("INSERT INTO resolved_flags VALUES (?, 'F6', 'R02', 'P4')", [Q]).fetchall()
    return con


def _rule(fig, code):
    return fig.rules.filter(fig.rules["rule_code"] == code).row(0, named=True)


@pytest.mark.parametrize("resolved", ["view", "table"])
def test_report_counts_per_rule_and_new_carried_resolved(tmp_path, resolved):
    con = _warehouse(tmp_path, resolved=resolved)
    city = report_figures(con, Q)
    assert city.rules.height == 14
    m06 = _rule(city, "M06")
    assert (m06["total"], m06["new"], m06["carried"], m06["pending"], m06["d1"]) == (2, 1, 1, 1, 1)
    assert _rule(city, "R02")["resolved"] == 1  # F6 was flagged in 2026Q2 and is gone in 2026Q3
    assert city.totals["total"] == 5 and city.totals["new"] == 3 and city.totals["carried"] == 2
    assert city.totals["resolved"] == 1 and city.totals["pending"] == 3
    jx = report_figures(con, Q, "江夏区")
    assert (jx.totals["total"], jx.totals["resolved"], _rule(jx, "M02")["total"]) == (3, 1, 1)
    hs = report_figures(con, Q, "洪山区")
    assert (hs.totals["total"], hs.totals["resolved"], hs.totals["carried"]) == (2, 0, 1)


def test_subsidy_coverage_and_expenditure_poverty_share(tmp_path):
    con = _warehouse(tmp_path, resolved=None)
    jx = report_figures(con, Q, "江夏区")
    assert (jx.severe, jx.severe_nursing, jx.dibao_disabled, jx.dibao_living) == (3, 2, 2, 1)
    assert jx.nursing_coverage == pytest.approx(2 / 3) and jx.living_coverage == pytest.approx(0.5)
    assert (jx.dibao_households, jx.dibao_persons, jx.m06) == (2, 3, 1)
    assert jx.expenditure_poverty_share == pytest.approx(0.5)
    hs = report_figures(con, Q, "洪山区")
    assert (hs.severe, hs.severe_nursing, hs.dibao_disabled) == (1, 1, 0)
    assert hs.living_coverage is None and hs.dibao_households == 1
    city = report_figures(con, Q)
    assert (city.severe, city.severe_nursing, city.dibao_disabled, city.dibao_living) == (4, 3, 2, 1)
    assert city.expenditure_poverty_share == pytest.approx(2 / 3)
    assert not city.resolved_known
    assert city.by_district["district"].to_list() == ["洪山区", "江夏区"]


def test_report_workbooks_with_chart_are_written_private_and_audited(tmp_path):
    con = _warehouse(tmp_path, resolved=None)
    out = write_quarterly_reports(con, Q, tmp_path / "exports", actor="测试", now=datetime(2026, 9, 1, 9, 0))
    assert [r.scope for r in out] == ["全市", "洪山区", "江夏区"]
    for rep in out:
        assert rep.path.name == f"报表_{Q}_{rep.scope}.xlsx"
        for p in (rep.path, rep.chart_path):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert rep.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        wb = openpyxl.load_workbook(rep.path)
        summary = wb["概况"]
        assert len(summary._images) == 1
        texts = [str(v) for row in summary.iter_rows(values_only=True) for v in row if v is not None]
        assert any("2026年09月12日" in t for t in texts)
        assert "已销号" in " ".join(texts) and any("resolved_flags" in t for t in texts)
        assert not any(re.search(r"\d{17}[\dXx]", t) for t in texts)
    city = openpyxl.load_workbook(out[0].path)
    assert city.sheetnames == ["概况", "按规则", "按区"]
    by_rule = {row[1]: row for row in city["按规则"].iter_rows(min_row=2, values_only=True)}
    assert by_rule["M06"][3:6] == (2, 1, 1)
    summary = {row[0]: row for row in city["概况"].iter_rows(min_row=6, values_only=True) if row[0]}
    assert summary["护理补贴覆盖率"][1:] == (0.75, 1, "未达标")  # numeric cells, shown as percentages
    assert summary["支出型贫困户占低保户比例"][1] == pytest.approx(2 / 3)
    assert summary["支出型贫困户占低保户比例"][2:] == (0.1, "达标")
    by_label = {row[0].value: row for row in city["概况"].iter_rows(min_row=6) if row[0].value}
    assert by_label["护理补贴覆盖率"][1].number_format == "0.0%"
    assert by_label["支出型贫困户占低保户比例"][1].number_format == "0.0%"
    assert by_label["支出型贫困户占低保户比例"][2].number_format == '"≥"0%'
    assert by_label["本季度核查对象(条)"][1].data_type == "n" and by_label["本季度核查对象(条)"][1].number_format == "#,##0"
    assert "按区" not in openpyxl.load_workbook(out[2].path).sheetnames
    audit = con.execute("SELECT action, district, rows FROM audit_log ORDER BY district").fetchall()
    assert audit == [("export_report", "全市", 5), ("export_report", "江夏区", 3), ("export_report", "洪山区", 2)]


def test_the_chart_draws_chinese_with_the_bundled_font_when_no_system_font_has_it(tmp_path, monkeypatch):
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    from matchers.contract import WUHAN_DISTRICTS
    from matchers.reports import charts
    from matchers.reports.labels import FAMILIES, UNASSIGNED_DISTRICT

    con = _warehouse(tmp_path, resolved=None)
    counts = quarterly.flags_by_district_quarter(con, Q)
    assert set(counts["quarter"].to_list()) == {PREV, Q}
    # a machine without any font but matplotlib's own DejaVu
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if f.name.startswith("DejaVu")])
    for district in (None, "江夏区"):
        assert charts.render_chart(counts, "核查对象数:各区,按季度", district)[:4] == b"\x89PNG"
    assert charts.render_chart(counts.head(0), "核查对象数", "江夏区")[:4] == b"\x89PNG"
    # a character the font lacks is an error, never a box
    with pytest.raises(RuntimeError, match="缺少字符"):
        charts.render_chart(counts, "核查对象数 \U0001F600", None)
    # every character a chart can show is in the font
    cmap = TTFont(charts.font_path(), lazy=True).getBestCmap()
    shown = "".join([*WUHAN_DISTRICTS, UNASSIGNED_DISTRICT, *FAMILIES.values(), charts.NO_FLAGS_NOTE, charts.Y_LABEL,
                     "核查对象数:各区,按季度"])
    assert [ch for ch in shown if ord(ch) not in cmap] == []
    con.close()


def test_the_chart_font_is_part_of_the_report_digest(monkeypatch):
    from matchers.reports import charts

    before = quarterly.report_layout_digest.__wrapped__()
    monkeypatch.setattr(charts, "font_identity", lambda: "another-font.otf:0")
    assert quarterly.report_layout_digest.__wrapped__() != before


def test_report_assets_materialize_with_counts_and_chart_metadata(tmp_path):
    from dagster import DagsterInstance, materialize

    from assets.partitions import QUARTER_PARTITIONS_NAME
    from assets.reports import district_workbooks, quarterly_report
    from assets.resources import WarehouseResource

    _warehouse(tmp_path, resolved="view").close()
    resource = WarehouseResource(
        path=str(tmp_path / "wh.duckdb"), extracts_dir=str(tmp_path), exports_dir=str(tmp_path / "exports")
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [Q])
    result = materialize(
        [district_workbooks, quarterly_report], resources={"warehouse": resource}, partition_key=Q, instance=instance
    )
    assert result.success
    meta = {ev.asset_key.path[-1]: ev.materialization.metadata for ev in result.get_asset_materialization_events()}
    assert meta["district_workbooks"]["核查名单数"].value == 2 and meta["district_workbooks"]["疑点条数"].value == 5
    assert "| 江夏区 | 3 |" in meta["district_workbooks"]["各区"].value
    assert meta["quarterly_report"]["图表"].value.startswith("![")
    assert "data:image/png;base64," in meta["quarterly_report"]["图表"].value
    assert meta["quarterly_report"]["护理补贴覆盖率"].value == "75.0%"
    assert meta["quarterly_report"]["本次重新生成的报表数"].value == 3
    for m in meta.values():
        for v in m.values():
            assert not re.search(r"(?<![A-Za-z0-9+/])\d{17}[\dXx](?![0-9])", str(v.value))
    assert (tmp_path / "exports" / Q / f"核查名单_{Q}_江夏区.xlsx").exists()


@pytest.fixture
def drawn(monkeypatch):
    """The scopes whose chart is drawn, per export (the report is built right after its chart)."""
    calls: list[str] = []
    real = quarterly.render_chart
    monkeypatch.setattr(
        quarterly, "render_chart", lambda counts, title, district=None: calls.append(district or "全市") or real(
            counts, title, district)
    )
    return calls


def _reports(con, root, **kw) -> dict:
    return {r.scope: r for r in write_quarterly_reports(con, Q, root, actor="测试", **kw)}


def _files(out: dict) -> dict:
    """scope → (inode, mtime_ns) of the report and its chart: a file written again gets a new inode."""
    return {s: tuple((p.stat().st_ino, p.stat().st_mtime_ns) for p in (r.path, r.chart_path)) for s, r in out.items()}


def test_a_report_whose_figures_did_not_change_keeps_its_files_and_draws_no_chart(tmp_path, drawn):
    con = _warehouse(tmp_path, resolved="view")
    first = _reports(con, tmp_path / "x", now=datetime(2026, 9, 1, 9, 0))
    assert drawn == ["全市", "洪山区", "江夏区"] and not any(r.unchanged for r in first.values())
    before = _files(first)
    drawn.clear()
    # a changed reason is on the district workbook, not in any report figure
    con.execute("UPDATE flags SET reason = '新的原因' WHERE flag_id = 'F1'").fetchall()
    second = _reports(con, tmp_path / "x", now=datetime(2026, 12, 1, 2, 0))
    assert drawn == [] and all(r.unchanged for r in second.values())
    assert _files(second) == before
    assert {s: (r.sha256, r.chart_sha256, r.content) for s, r in second.items()} == {
        s: (r.sha256, r.chart_sha256, r.content) for s, r in first.items()
    }
    assert second["全市"].figures.totals == first["全市"].figures.totals
    logged = con.execute(
        "SELECT district, rows, details->>'$.unchanged' FROM audit_log WHERE action = 'export_report'"
        " AND logged_at = ? ORDER BY district", [datetime(2026, 12, 1, 2, 0)],
    ).fetchall()
    con.close()
    assert logged == [("全市", 5, "true"), ("江夏区", 3, "true"), ("洪山区", 2, "true")]


REPORT_CHANGES = {
    # what changed → the scopes whose report is rebuilt
    "review decision": ("UPDATE flags SET review_status = '不属实' WHERE flag_id = 'F4'", ["全市", "洪山区"]),
    "new flag": ("INSERT INTO flags (quarter, flag_id, rule_code, person_id, district, reason, first_seen,"
                 " review_status) VALUES ('2026Q3', 'F9', 'M01', 'P6', '洪山区', '测试原因', '2026Q3', '待核查')",
                 ["全市", "洪山区"]),
    "flag gone": ("DELETE FROM flags WHERE flag_id = 'F5' AND quarter = '2026Q3'", ["全市", "洪山区"]),
    "subsidy coverage": ("UPDATE source_records SET nursing_subsidy = true WHERE person_id = 'P1'", ["全市", "江夏区"]),
    "dibao households": ("UPDATE source_records SET status = '停保' WHERE person_id = 'P7'", ["全市", "洪山区"]),
    "earlier quarter on the chart": ("DELETE FROM flags WHERE flag_id = 'F6'", ["全市", "江夏区"]),
}


@pytest.mark.parametrize("change", sorted(REPORT_CHANGES))
def test_a_changed_report_figure_rebuilds_that_scope_and_the_city_only(tmp_path, drawn, change):
    con = _warehouse(tmp_path, resolved="view")
    first = _reports(con, tmp_path / "x")
    before = _files(first)
    drawn.clear()
    sql, rebuilt = REPORT_CHANGES[change]
    con.execute(sql).fetchall()
    at = datetime(2026, 12, 1, 2, 0)
    second = _reports(con, tmp_path / "x", now=at)
    assert sorted(drawn) == sorted(rebuilt)
    assert sorted(s for s, r in second.items() if not r.unchanged) == sorted(rebuilt)
    after = _files(second)
    for scope in second:
        assert (after[scope] == before[scope]) == (scope not in rebuilt), scope
    # what is rebuilt is what a first export of the changed warehouse writes
    fresh = _reports(con, tmp_path / "y", now=at)
    con.close()
    for scope in rebuilt:
        assert second[scope].chart_path.read_bytes() == fresh[scope].chart_path.read_bytes()
        assert second[scope].figures.totals == fresh[scope].figures.totals
        got, want = openpyxl.load_workbook(second[scope].path), openpyxl.load_workbook(fresh[scope].path)
        assert [list(ws.iter_rows(values_only=True)) for ws in got] == [
            list(ws.iter_rows(values_only=True)) for ws in want
        ]


def test_a_report_or_chart_file_changed_on_disk_is_written_again(tmp_path, drawn):
    con = _warehouse(tmp_path, resolved=None)
    first = _reports(con, tmp_path / "x")
    first["江夏区"].chart_path.write_bytes(b"not a chart")
    first["洪山区"].path.unlink()
    drawn.clear()
    second = _reports(con, tmp_path / "x")
    con.close()
    assert sorted(drawn) == ["江夏区", "洪山区"] and second["全市"].unchanged
    assert second["江夏区"].chart_path.read_bytes()[:4] == b"\x89PNG" and second["洪山区"].path.is_file()


def test_the_report_module_does_not_import_matplotlib_until_a_chart_is_drawn():
    import subprocess
    import sys

    code = "import sys, matchers.reports.quarterly; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(quarterly.Path(quarterly.__file__).resolve().parents[2]))
    assert out.stdout.strip() == "False"


def test_a_full_disk_during_the_reports_is_reported_in_chinese_and_repeated_next_time(tmp_path, monkeypatch):
    import errno
    import os

    from matchers.reports import _io

    con = _warehouse(tmp_path, resolved="view")
    exports = tmp_path / "exports"
    real_open = _io.os.open

    def full_disk_open(path, flags, mode=0o777):
        if str(path).endswith(f".png.{os.getpid()}.tmp") and "江夏区" in str(path):  # 江夏区's chart
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, mode)

    with monkeypatch.context() as m:
        m.setattr(_io.os, "open", full_disk_open)
        with pytest.raises(_io.ExportError, match="磁盘空间已满") as failed:
            write_quarterly_reports(con, Q, exports, actor="测试")
    assert str(exports / Q) in str(failed.value)
    again = write_quarterly_reports(con, Q, exports, actor="测试")
    assert all(r.retried == str(failed.value) for r in again)
    assert all(r.path.is_file() and r.chart_path.is_file() for r in again)
    con.close()


def test_the_report_of_a_district_no_longer_in_the_quarter_is_removed(tmp_path):
    con = _warehouse(tmp_path, resolved="view")
    exports = tmp_path / "exports"
    first = {r.scope: r for r in write_quarterly_reports(con, Q, exports, actor="测试")}
    con.execute("DELETE FROM flags WHERE district = '洪山区'").fetchall()
    con.execute("DELETE FROM source_records WHERE district = '洪山区'").fetchall()
    second = write_quarterly_reports(con, Q, exports, actor="测试")
    con.close()
    assert [r.scope for r in second] == ["全市", "江夏区"]
    assert not first["洪山区"].path.exists() and not first["洪山区"].chart_path.exists()
    assert len(list((exports / Q).iterdir())) == 4


def test_report_sheets_print_landscape_a4_fitted_with_their_header_repeated_and_mark_a_past_deadline(tmp_path):
    import zipfile

    con = _warehouse(tmp_path, resolved="view")
    before = write_quarterly_reports(con, Q, tmp_path / "a", actor="测试", now=datetime(2026, 9, 1, 9, 0))
    after = write_quarterly_reports(con, Q, tmp_path / "b", actor="测试", now=datetime(2026, 10, 8, 9, 0))
    con.close()
    with zipfile.ZipFile(after[0].path) as z:
        sheets = [z.read(f"xl/worksheets/sheet{i}.xml").decode() for i in (1, 2, 3)]
        book = z.read("xl/workbook.xml").decode()
    assert 'fitToHeight="0"' not in sheets[0]  # 概况 and its chart on one page
    for xml in sheets:
        assert 'paperSize="9"' in xml and 'orientation="landscape"' in xml
    for xml in sheets[1:]:
        assert 'fitToHeight="0"' in xml
        assert '<pageSetUpPr fitToPage="1"/>' in xml
    assert "按规则!$1:$1</definedName>" in book and "按区!$1:$1</definedName>" in book
    assert re.search(r'<pane xSplit="3" ySplit="1" topLeftCell="D2"[^>]*state="frozen"/>', sheets[1])
    assert "<f>" not in "".join(sheets)

    def deadline_line(rep):
        return openpyxl.load_workbook(rep.path)["概况"]["A2"].value

    assert deadline_line(before[0]).startswith("报送截止:2026年09月12日(各区")
    assert "2026年09月12日(已过期" in deadline_line(after[0])
