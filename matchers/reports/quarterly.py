"""The quarterly report workbook (报表) per district and for the city, with its chart (PNG inside
the workbook and saved next to it). The figures are computed in `figures`, the chart drawn in
`charts`.

Districts report by the 12th of the quarter's last month; the report says so.

A report whose figures and chart data did not change since its last export keeps its files (a
digest of them is recorded in `audit_log`, the files are checked by sha256): a nightly refresh
that changed one district's flags rebuilds that district's report and the city's, and draws no
chart at all when no figure changed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from matchers.contract import WUHAN_DISTRICTS
from matchers.extract_reader import file_sha256
from matchers.warehouse import transaction

from . import _io, charts, figures, labels
from ._io import (
    audit,
    default_actor,
    exports_with_content,
    failure_recorded,
    last_export_failure,
    layout_digest,
    remove_stale,
    deadline_passed,
    report_deadline,
    safe_part,
    write_private,
)
from .charts import render_chart
from .figures import CHART_QUARTERS, DISTRICT_COLS, Figures, flags_by_district_quarter, quarter_data, report_figures
from .labels import (
    COVERAGE_TARGET,
    DECISIONS,
    EXPENDITURE_POVERTY_TARGET,
    FAMILIES,
    NOT_YET,
    PENDING,
    RULE_NAMES,
    rule_family,
)

__all__ = ["QuarterlyReport", "flags_by_district_quarter", "render_chart", "report_figures", "write_quarterly_reports"]

ACTION_REPORT, ACTION_REPORT_FAILED = "export_report", "export_report_failed"


# ---- workbook -----------------------------------------------------------------------------------
@dataclass
class QuarterlyReport:
    scope: str  # district or 全市
    path: Path
    chart_path: Path
    figures: Figures
    sha256: str
    content: str = ""  # digest of the figures and chart data the report shows (_report_digest)
    unchanged: bool = False  # the files of an earlier export with the same content were kept
    chart_sha256: str = ""
    retried: str | None = None  # the message of the quarter's previous report export, when it failed


def report_path(exports_dir: Path | str, quarter: str, scope: str) -> Path:
    """A scope's report; its chart is the same path with .png."""
    return Path(exports_dir) / quarter / f"报表_{quarter}_{safe_part(scope)}.xlsx"


REPORT_FILES = "报表_{quarter}_*.*"  # every scope's report and chart (report_path)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "无统计对象"
    return "达标" if value >= target - 1e-12 else "未达标"


def _formats(wb: xlsxwriter.Workbook) -> dict[str, object]:
    cell = {"border": 1, "valign": "top"}
    return {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "bold": wb.add_format({"bold": True}),
        "late": wb.add_format({"bold": True, "font_color": "#C00000"}),
        "head": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "vcenter"}),
        "text": wb.add_format({**cell, "num_format": "@"}),
        "count": wb.add_format({**cell, "num_format": "#,##0"}),
        "pct": wb.add_format({**cell, "num_format": "0.0%"}),
        "at_least": wb.add_format({**cell, "num_format": '"≥"0%'}),
        "warn": wb.add_format({**cell, "font_color": "#C00000", "bold": True}),
        "total_text": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1}),
        "total_count": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "num_format": "#,##0"}),
    }


def _put(ws, r: int, c: int, value, fmt: dict, number: str = "count", text: str = "text") -> None:
    """A cell as what it is: a number (format `number`: count, pct, at_least) or a text; None is
    written as NOT_YET."""
    if value is None:
        ws.write_string(r, c, NOT_YET, fmt[text])
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(r, c, value, fmt[number])
    else:
        ws.write_string(r, c, str(value), fmt[text])


def _for_print(ws, header_rows: int) -> None:
    """Landscape A4 fitted to the page width, the header rows repeated on every page."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页,共 &N 页")
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)


def _summary_lines(fig: Figures) -> list[tuple]:
    """(label, value, target, target format, verdict) of the 概况 sheet."""
    t = fig.totals
    return [
        ("本季度核查对象(条)", t["total"], "", "", ""),
        ("其中:新发现", t["new"], "", "", ""),
        ("其中:上季度延续", t["carried"], "", "", ""),
        ("已销号(上季度有、本季度消失)", t["resolved"] if fig.resolved_known else None, "", "", ""),
        ("待核查", t["pending"], "", "", ""),
        *[(f"核查结论:{d}", t[f"d{i}"], "", "", "") for i, d in enumerate(DECISIONS)],
        ("重度残疾人(一、二级)人数", fig.severe, "", "", ""),
        ("其中享受重度残疾人护理补贴", fig.severe_nursing, "", "", ""),
        ("护理补贴覆盖率", fig.nursing_coverage, COVERAGE_TARGET, "pct",
         _verdict(fig.nursing_coverage, COVERAGE_TARGET)),
        ("低保(不含特困)持证残疾人人数", fig.dibao_disabled, "", "", ""),
        ("其中享受困难残疾人生活补贴", fig.dibao_living, "", "", ""),
        ("生活补贴覆盖率", fig.living_coverage, COVERAGE_TARGET, "pct", _verdict(fig.living_coverage, COVERAGE_TARGET)),
        ("低保户数", fig.dibao_households, "", "", ""),
        ("低保人数", fig.dibao_persons, "", "", ""),
        ("疑似支出型贫困户(M06)", fig.m06, "", "", ""),
        ("支出型贫困户占低保户比例", fig.expenditure_poverty_share, EXPENDITURE_POVERTY_TARGET, "at_least",
         _verdict(fig.expenditure_poverty_share, EXPENDITURE_POVERTY_TARGET)),
    ]


def _summary_sheet(wb, fmt: dict, fig: Figures, chart_png: bytes, now: datetime) -> None:
    ws = wb.add_worksheet("概况")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 3, 14)
    deadline = report_deadline(fig.quarter)
    late = deadline_passed(fig.quarter, now.date())
    ws.write_string(0, 0, f"武汉市社会救助数据比对季度报表 {fig.quarter} {fig.scope}", fmt["title"])
    ws.write_string(1, 0, f"报送截止:{deadline:%Y年%m月%d日}{'(已过期,请尽快报送)' if late else ''}"
                    "(各区于每季度最后一个月12日前报送)", fmt["late" if late else "bold"])
    ws.write_string(2, 0, f"生成时间:{now:%Y-%m-%d %H:%M}")
    for c, h in enumerate(("指标", "数值", "目标", "是否达标")):
        ws.write_string(4, c, h, fmt["head"])
    lines = _summary_lines(fig)
    for r, (label, value, target, target_format, verdict) in enumerate(lines, start=5):
        ws.write_string(r, 0, label, fmt["text"])
        _put(ws, r, 1, value, fmt, number="pct" if target_format else "count")
        _put(ws, r, 2, target, fmt, number=target_format or "count")
        ws.write_string(r, 3, verdict, fmt["warn" if verdict == "未达标" else "text"])
    r = 5 + len(lines) + 1
    if not fig.resolved_known:
        ws.write_string(r, 0, "注:本次运行尚未生成已销号清单(resolved_flags),已销号数暂缺。")
        r += 1
    ws.write_string(r, 0, "注:覆盖率按持证残疾人名册统计,每人计一次;支出型贫困户按户统计。")
    ws.insert_image(r + 2, 0, "chart.png", {"image_data": io.BytesIO(chart_png), "x_scale": 0.9, "y_scale": 0.9})
    _for_print(ws, 0)
    ws.fit_to_pages(1, 1)  # the figures and the chart on one page


def _rules_sheet(wb, fmt: dict, fig: Figures) -> None:
    rs = wb.add_worksheet("按规则")
    headers = ("类别", "规则编号", "规则名称", "本季度总数", "新发现", "延续", "已销号", "待核查", *DECISIONS)
    for c, h in enumerate(headers):
        rs.write_string(0, c, h, fmt["head"])
    rs.set_column(0, 0, 18)
    rs.set_column(2, 2, 26)
    rs.set_column(3, len(headers) - 1, 11)
    rs.freeze_panes(1, 3)
    known = fig.resolved_known
    for r, rec in enumerate(fig.rules.iter_rows(named=True), start=1):
        code = rec["rule_code"]
        values = (
            FAMILIES.get(rule_family(code), ""), code, RULE_NAMES.get(code, code), rec["total"], rec["new"],
            rec["carried"], rec["resolved"] if known else None, rec["pending"],
            *[rec[f"d{i}"] for i in range(len(DECISIONS))],
        )
        for c, v in enumerate(values):
            _put(rs, r, c, v, fmt)
    t = fig.totals
    total_values = ("合计", "", "", t["total"], t["new"], t["carried"], t["resolved"] if known else None,
                    t["pending"], *[t[f"d{i}"] for i in range(len(DECISIONS))])
    for c, v in enumerate(total_values):
        _put(rs, fig.rules.height + 1, c, v, fmt, number="total_count", text="total_text")
    _for_print(rs, 1)


def _districts_sheet(wb, fmt: dict, fig: Figures) -> None:
    ds = wb.add_worksheet("按区")
    headers = ("区", "核查对象", "新发现", "延续", "已销号", "待核查", "护理补贴覆盖率", "生活补贴覆盖率",
               "低保户数", "疑似支出型贫困户", "占低保户比例")
    for c, h in enumerate(headers):
        ds.write_string(0, c, h, fmt["head"])
    ds.set_column(0, 0, 12)
    ds.set_column(1, len(headers) - 1, 12)
    ds.freeze_panes(1, 1)
    for r, rec in enumerate(fig.by_district.iter_rows(named=True), start=1):
        counts = (rec["total"], rec["new"], rec["carried"], rec["resolved"] if fig.resolved_known else None,
                  rec["pending"])
        ds.write_string(r, 0, rec["district"], fmt["text"])
        for c, v in enumerate(counts, start=1):
            _put(ds, r, c, v, fmt)
        _put(ds, r, 6, rec["nursing_coverage"], fmt, number="pct")
        _put(ds, r, 7, rec["living_coverage"], fmt, number="pct")
        _put(ds, r, 8, rec["dibao_households"], fmt)
        _put(ds, r, 9, rec["m06"], fmt)
        _put(ds, r, 10, rec["expenditure_poverty_share"], fmt, number="pct")
    _for_print(ds, 1)


def _build_report(fig: Figures, chart_png: bytes, now: datetime) -> bytes:
    """The report workbook: 概况 (figures, targets, chart), 按规则 and, for the city, 按区. Counts
    and shares are numeric cells with number formats; every other cell is a text, never a formula."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                   "strings_to_urls": False})
    wb.set_properties({"title": f"社会救助数据比对季度报表 {fig.quarter} {fig.scope}"})
    fmt = _formats(wb)
    _summary_sheet(wb, fmt, fig, chart_png, now)
    _rules_sheet(wb, fmt, fig)
    if fig.by_district is not None:
        _districts_sheet(wb, fmt, fig)
    wb.close()
    return buf.getvalue()


@lru_cache(maxsize=1)
def report_layout_digest() -> str:
    """What shapes a report besides its figures: the code, the labels, the chart font file, the
    writers' versions (computed once, when the first report is digested)."""
    return layout_digest(
        [__file__, labels.__file__, _io.__file__, charts.__file__, figures.__file__],
        {"rules": RULE_NAMES, "families": FAMILIES, "decisions": DECISIONS, "pending": PENDING,
         "districts": WUHAN_DISTRICTS, "targets": [COVERAGE_TARGET, EXPENDITURE_POVERTY_TARGET],
         "chart_quarters": CHART_QUARTERS, "chart_font": charts.font_identity()},
        {"xlsxwriter": xlsxwriter.__version__, "matplotlib": version("matplotlib")},
    )


def _chart_data(counts: pl.DataFrame, district: str | None) -> pl.DataFrame:
    """The part of `counts` the scope's chart draws (the city's draws all of it)."""
    return counts if district is None else counts.filter(pl.col("district") == district)


def _report_digest(fig: Figures, chart: pl.DataFrame, any_flags: bool) -> str:
    """Everything one report shows but its generation time: the figures of its scope, its chart's
    data (and whether the chart quarters have any flag at all, which puts a note on every chart)
    and the layout. Equal digests give the same report."""
    h = hashlib.sha256(f"{report_layout_digest()}|{fig.quarter}|{fig.scope}|{fig.resolved_known}|{any_flags}|".encode())
    h.update(json.dumps({c: getattr(fig, c) for c in DISTRICT_COLS}, sort_keys=True).encode())
    h.update(fig.rules.write_csv().encode())
    h.update(b"|" + (fig.by_district.write_csv().encode() if fig.by_district is not None else b"-"))
    h.update(b"|" + chart.write_csv().encode())
    return h.hexdigest()


def _unchanged_reports(con: duckdb.DuckDBPyConnection, quarter: str, exports_dir: Path | str,
                       digests: dict[str, str]) -> dict[str, tuple[str, str]]:
    """scope → (report sha256, chart sha256) for the scopes whose two files are exactly the ones an
    earlier export wrote from the same content digest."""
    kept = {}
    for scope, earlier in exports_with_content(con, ACTION_REPORT, quarter, digests).items():
        path = report_path(exports_dir, quarter, scope)
        chart_path = path.with_suffix(".png")
        if path.is_file() and chart_path.is_file():
            on_disk = (file_sha256(path), file_sha256(chart_path))
            if on_disk in {(sha, details.get("chart_sha256")) for sha, details in earlier}:
                kept[scope] = on_disk
    return kept


def write_quarterly_reports(
    con: duckdb.DuckDBPyConnection,
    quarter: str,
    exports_dir: Path | str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> list[QuarterlyReport]:
    """Write 报表_<quarter>_全市.xlsx and one per district (each with its chart PNG next to it).

    A scope whose figures and chart data are those of its last export keeps its files (they show
    that export's generation time); the others are drawn and written. Reports of a district that is
    no longer in the quarter's figures are removed. A file that cannot be written raises
    ExportError naming the folder and is recorded: the next export says it repeats the failed one
    (`QuarterlyReport.retried`).
    """
    now = now or datetime.now()
    actor = actor if actor is not None else default_actor()
    failed_before = last_export_failure(con, quarter, ACTION_REPORT, ACTION_REPORT_FAILED)
    with failure_recorded(con, action=ACTION_REPORT_FAILED, quarter=quarter, actor=actor, at=now):
        out = _write_reports(con, quarter, exports_dir, now)
        keep = {p for rep in out for p in (rep.path, rep.chart_path)}
        remove_stale(Path(exports_dir) / quarter, REPORT_FILES.format(quarter=quarter), keep)
    for rep in out:
        rep.retried = failed_before
    _audit_reports(con, quarter, out, actor, now)
    return out


def _write_reports(con: duckdb.DuckDBPyConnection, quarter: str, exports_dir: Path | str, now: datetime
                   ) -> list[QuarterlyReport]:
    """Draw and write the reports whose content changed; every scope's report."""
    data = quarter_data(con, quarter)
    counts = flags_by_district_quarter(con, quarter)
    figures = {district: data.figures(district) for district in [None, *data.district_names]}
    digests = {
        fig.scope: _report_digest(fig, _chart_data(counts, district), not counts.is_empty())
        for district, fig in figures.items()
    }
    kept = _unchanged_reports(con, quarter, exports_dir, digests)
    out: list[QuarterlyReport] = []
    for district, fig in figures.items():
        path = report_path(exports_dir, quarter, fig.scope)
        chart_path = path.with_suffix(".png")
        if fig.scope in kept:
            sha, chart_sha = kept[fig.scope]
        else:
            title = f"核查对象数:{'各区' if district is None else district},按季度"
            png = render_chart(counts, title, district)
            chart_sha = write_private(chart_path, png)
            sha = write_private(path, _build_report(fig, png, now))
        out.append(QuarterlyReport(
            fig.scope, path, chart_path, fig, sha, digests[fig.scope], fig.scope in kept, chart_sha
        ))
    return out


def _audit_reports(con: duckdb.DuckDBPyConnection, quarter: str, out: list[QuarterlyReport], actor: str | None,
                   now: datetime) -> None:
    with transaction(con):
        for rep in out:
            audit(
                con, action=ACTION_REPORT, quarter=quarter, district=rep.scope, file=rep.path, sha256=rep.sha256,
                actor=actor, rows=rep.figures.totals["total"], at=now,
                details={
                    "new": rep.figures.totals["new"], "carried": rep.figures.totals["carried"],
                    "resolved": rep.figures.totals["resolved"] if rep.figures.resolved_known else None,
                    "nursing_coverage": rep.figures.nursing_coverage, "living_coverage": rep.figures.living_coverage,
                    "expenditure_poverty_share": rep.figures.expenditure_poverty_share,
                    "content": rep.content, "chart_sha256": rep.chart_sha256, "unchanged": rep.unchanged,
                },
            )
