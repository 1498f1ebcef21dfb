"""The quarterly report workbook (报表) per district and for the city, with its chart.

Figures, all for one quarter:
- flags per rule: total, new (first_seen == quarter), carried over (earlier first_seen), resolved
  (rows of `resolved_flags`, when the rules step has written that table), and review progress;
- disability-subsidy coverage from the `disability` source rows: 护理补贴 among the severely
  disabled (grade 一级/二级) and 生活补贴 among disabled people in 低保 (not 特困, as rule M03);
  target 100%;
- 支出型贫困 candidates (M06 flags, one per household) as a share of the 低保 households; target ≥ 10%;
- a chart of flags by district and by quarter (PNG inside the workbook and saved next to it).

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
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter

from matchers.contract import DIBAO, RELATION_HEAD, SEVERE_GRADES, STATUS_ACTIVE, TEKUN, WUHAN_DISTRICTS
from matchers.extract_reader import file_sha256
from matchers.warehouse import transaction

from . import _io, labels
from ._io import (
    audit,
    check_quarter,
    default_actor,
    frame,
    exports_with_content,
    failure_recorded,
    last_export_failure,
    layout_digest,
    remove_stale,
    report_deadline,
    safe_part,
    table_exists,
    write_private,
)
from .labels import (
    CITY,
    COVERAGE_TARGET,
    DECISIONS,
    EXPENDITURE_POVERTY_TARGET,
    FAMILIES,
    KNOWN_DISTRICT,
    PENDING,
    RULE_NAMES,
    UNASSIGNED_DISTRICT,
    rule_family,
)

ACTION_REPORT, ACTION_REPORT_FAILED = "export_report", "export_report_failed"
CHART_QUARTERS = 4  # the chart shows the report's quarter and up to three before it

# ---- SQL ----------------------------------------------------------------------------------------
# Every district below is one of the contract's districts or the unassigned one (KNOWN_DISTRICT):
# a department's typo or a formula typed as a district never gets a report of its own. Parameters
# of every query: $quarter, $districts, $unassigned.
def _known(column: str) -> str:
    return KNOWN_DISTRICT.format(column=column)


# Flags per district and rule.
RULE_COUNTS_SQL = f"""
SELECT {_known("district")} AS district,
       rule_code,
       count(*) AS total,
       count(*) FILTER (WHERE first_seen = $quarter) AS new,
       count(*) FILTER (WHERE first_seen IS DISTINCT FROM $quarter) AS carried,
       count(*) FILTER (WHERE review_status IS NULL OR review_status = '{PENDING}') AS pending,
       {", ".join(f"count(*) FILTER (WHERE review_status = '{d}') AS d{i}" for i, d in enumerate(DECISIONS))}
FROM flags
WHERE quarter = $quarter
GROUP BY ALL
"""

# Resolved findings of the quarter per district and rule; the district comes from the table when
# it has one, else from the flag's latest row in `flags`.
RESOLVED_WITH_DISTRICT_SQL = f"""
SELECT {_known("district")} AS district, rule_code, count(*) AS resolved
FROM resolved_flags WHERE quarter = $quarter GROUP BY ALL
"""
RESOLVED_VIA_FLAGS_SQL = f"""
SELECT {_known("f.district")} AS district, r.rule_code, count(*) AS resolved
FROM resolved_flags AS r
LEFT JOIN (SELECT flag_id, arg_max(district, quarter) AS district FROM flags GROUP BY flag_id) AS f
       USING (flag_id)
WHERE r.quarter = $quarter
GROUP BY ALL
"""

# Disability-subsidy coverage per district. A person counts once: their most severe grade, and a
# subsidy when any of their rows says 是. "In 低保" = member of an assistance household with an
# active (在保) 低保 row; members come from the roll and from household_members.
COVERAGE_SQL = f"""
WITH member AS (
    SELECT DISTINCT person_id, household_id
    FROM source_records
    WHERE quarter = $quarter AND source = 'assistance' AND person_id IS NOT NULL
    UNION
    SELECT person_id, household_id
    FROM household_members
    WHERE quarter = $quarter AND source = 'assistance'
),
aid AS (
    SELECT household_id,
           bool_or(list_contains($dibao, category)) AS is_dibao,
           bool_or(list_contains($tekun, category)) AS is_tekun
    FROM source_records
    WHERE quarter = $quarter AND source = 'assistance' AND status = $active
    GROUP BY household_id
),
person_aid AS (
    SELECT m.person_id, bool_or(a.is_dibao) AS dibao, bool_or(a.is_tekun) AS tekun
    FROM member AS m JOIN aid AS a USING (household_id)
    GROUP BY m.person_id
),
disabled AS (
    SELECT person_id,
           {_known("min(district)")} AS district,
           min(grade) AS grade,
           bool_or(coalesce(nursing_subsidy, false)) AS nursing,
           bool_or(coalesce(living_subsidy, false)) AS living
    FROM source_records
    WHERE quarter = $quarter AND source = 'disability' AND person_id IS NOT NULL
    GROUP BY person_id
)
SELECT d.district,
       count(*) FILTER (WHERE list_contains($severe, d.grade)) AS severe,
       count(*) FILTER (WHERE list_contains($severe, d.grade) AND d.nursing) AS severe_nursing,
       count(*) FILTER (WHERE coalesce(p.dibao, false) AND NOT coalesce(p.tekun, false)) AS dibao_disabled,
       count(*) FILTER (WHERE coalesce(p.dibao, false) AND NOT coalesce(p.tekun, false) AND d.living) AS dibao_living
FROM disabled AS d LEFT JOIN person_aid AS p USING (person_id)
GROUP BY d.district
"""

# 低保 households (active 低保 row) and their members per district; the district is the head's.
DIBAO_SQL = f"""
WITH hh AS (
    SELECT household_id,
           {_known("coalesce(min(district) FILTER (WHERE relation = $head), min(district))")} AS district,
           count(DISTINCT person_id) AS members
    FROM source_records
    WHERE quarter = $quarter AND source = 'assistance' AND status = $active
      AND list_contains($dibao, category)
    GROUP BY household_id
)
SELECT district, count(*) AS dibao_households, sum(members)::BIGINT AS dibao_persons
FROM hh GROUP BY district
"""

# Flags per district and quarter, for the chart.
FLAGS_BY_QUARTER_SQL = f"""
SELECT {_known("district")} AS district, quarter, rule_code, count(*) AS n
FROM flags WHERE quarter <= $quarter GROUP BY ALL
"""


# ---- figures ------------------------------------------------------------------------------------
@dataclass
class Figures:
    """Everything a report shows, for one scope (a district or the city)."""

    quarter: str
    scope: str
    rules: pl.DataFrame  # one row per rule code: total, new, carried, resolved, pending, d0..d3
    resolved_known: bool  # False when resolved_flags does not exist yet
    severe: int = 0
    severe_nursing: int = 0
    dibao_disabled: int = 0
    dibao_living: int = 0
    dibao_households: int = 0
    dibao_persons: int = 0
    by_district: pl.DataFrame | None = None  # city only: one row per district
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def m06(self) -> int:
        return int(self.rules.filter(pl.col("rule_code") == "M06")["total"].sum())

    @property
    def nursing_coverage(self) -> float | None:
        return self.severe_nursing / self.severe if self.severe else None

    @property
    def living_coverage(self) -> float | None:
        return self.dibao_living / self.dibao_disabled if self.dibao_disabled else None

    @property
    def expenditure_poverty_share(self) -> float | None:
        return self.m06 / self.dibao_households if self.dibao_households else None


_COUNT_COLS = ["total", "new", "carried", "resolved", "pending", *[f"d{i}" for i in range(len(DECISIONS))]]
_DISTRICT_COLS = ["severe", "severe_nursing", "dibao_disabled", "dibao_living", "dibao_households", "dibao_persons"]


@dataclass
class QuarterData:
    """The quarter's figures for every district, computed once; `figures()` picks a scope."""

    quarter: str
    rules: pl.DataFrame  # district, rule_code, counts
    districts: pl.DataFrame  # district, coverage and 低保 counts
    resolved_known: bool

    @property
    def district_names(self) -> list[str]:
        names = set(self.rules["district"].to_list()) | set(self.districts["district"].to_list())
        order = {d: i for i, d in enumerate(WUHAN_DISTRICTS)}
        return sorted(names, key=lambda d: (order.get(d, len(order)), d))

    def figures(self, district: str | None = None) -> Figures:
        scope = district or CITY
        rules = self.rules if district is None else self.rules.filter(pl.col("district") == district)
        per_rule = (
            pl.DataFrame({"rule_code": list(RULE_NAMES)})
            .join(rules.group_by("rule_code").agg(pl.col(_COUNT_COLS).sum()), on="rule_code", how="left")
            .with_columns(pl.col(_COUNT_COLS).fill_null(0).cast(pl.Int64))
        )
        dist = self.districts if district is None else self.districts.filter(pl.col("district") == district)
        sums = {c: int(dist[c].sum() or 0) for c in _DISTRICT_COLS}
        fig = Figures(self.quarter, scope, per_rule, self.resolved_known, **sums)
        fig.totals = {c: int(per_rule[c].sum()) for c in _COUNT_COLS}
        if district is None:
            rows = []
            for d in self.district_names:
                f = self.figures(d)
                rows.append({
                    "district": d, **f.totals,
                    "nursing_coverage": f.nursing_coverage, "living_coverage": f.living_coverage,
                    "dibao_households": f.dibao_households, "m06": f.m06,
                    "expenditure_poverty_share": f.expenditure_poverty_share,
                })
            fig.by_district = pl.DataFrame(rows, infer_schema_length=None) if rows else None
        return fig


def _district_params(quarter: str) -> dict[str, object]:
    return {"quarter": quarter, "districts": list(WUHAN_DISTRICTS), "unassigned": UNASSIGNED_DISTRICT}


def quarter_data(con: duckdb.DuckDBPyConnection, quarter: str) -> QuarterData:
    check_quarter(quarter)
    known = _district_params(quarter)
    rules = frame(con, RULE_COUNTS_SQL, known)
    resolved_known = table_exists(con, "resolved_flags")
    if resolved_known:
        cols = {r[0] for r in con.execute("DESCRIBE resolved_flags").fetchall()}
        sql = RESOLVED_WITH_DISTRICT_SQL if "district" in cols else RESOLVED_VIA_FLAGS_SQL
        resolved = frame(con, sql, known)
    else:
        resolved = pl.DataFrame(schema={"district": pl.String, "rule_code": pl.String, "resolved": pl.Int64})
    keys = ["district", "rule_code"]
    rules = (
        rules.join(resolved, on=keys, how="full", coalesce=True)
        .with_columns(pl.col([c for c in _COUNT_COLS]).fill_null(0).cast(pl.Int64))
    )
    params = {**known, "dibao": list(DIBAO), "tekun": list(TEKUN), "active": STATUS_ACTIVE,
              "severe": list(SEVERE_GRADES)}
    coverage = frame(con, COVERAGE_SQL, params)
    dibao = frame(con, DIBAO_SQL, {**known, "dibao": list(DIBAO), "active": STATUS_ACTIVE, "head": RELATION_HEAD})
    districts = (
        coverage.join(dibao, on="district", how="full", coalesce=True)
        .with_columns(pl.col(_DISTRICT_COLS).fill_null(0).cast(pl.Int64))
    )
    return QuarterData(quarter, rules, districts, resolved_known)


def report_figures(con: duckdb.DuckDBPyConnection, quarter: str, district: str | None = None) -> Figures:
    """The report's figures for one district, or for the city when `district` is None."""
    return quarter_data(con, quarter).figures(district)


# ---- chart --------------------------------------------------------------------------------------
_CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Noto Serif CJK SC", "AR PL UMing CN",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family that has Chinese glyphs, or None (the chart then renders with boxes)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in _CJK_FONTS:
        if name in names:
            return name
    for name in sorted(names):
        if any(k in name for k in ("CJK", "Hei", "Han Sans", "WenQuanYi", "Song", "Kai")):
            return name
    return None


def flags_by_district_quarter(con: duckdb.DuckDBPyConnection, quarter: str) -> pl.DataFrame:
    """Flag counts per district, quarter and rule family for the chart's quarters (≤ `quarter`)."""
    df = frame(con, FLAGS_BY_QUARTER_SQL, _district_params(quarter))
    quarters = sorted(set(df["quarter"].to_list()))[-CHART_QUARTERS:]
    return (
        df.filter(pl.col("quarter").is_in(quarters))
        .with_columns(pl.col("rule_code").map_elements(rule_family, return_dtype=pl.String).alias("family"))
        .group_by("district", "quarter", "family")
        .agg(pl.col("n").sum())
        .sort("district", "quarter", "family")
    )


def render_chart(counts: pl.DataFrame, title: str, district: str | None = None) -> bytes:
    """PNG bytes. City: grouped bars of flags per district, one bar per quarter. A district: its
    flags per quarter, stacked by rule family."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    rc = {"axes.unicode_minus": False}
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]
    with rc_context(rc), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-glyph warnings when no CJK font is installed
        fig = Figure(figsize=(10, 4.8), dpi=100)
        ax = fig.add_subplot()
        if district is None:
            totals = counts.group_by("district", "quarter").agg(pl.col("n").sum())
            order = {d: i for i, d in enumerate(WUHAN_DISTRICTS)}
            districts = sorted(set(totals["district"].to_list()), key=lambda d: (order.get(d, 99), d))
            quarters = sorted(set(totals["quarter"].to_list()))
            lookup = {(d, q): n for d, q, n in totals.iter_rows()}
            width = 0.8 / max(len(quarters), 1)
            for qi, q in enumerate(quarters):
                xs = [i + (qi - (len(quarters) - 1) / 2) * width for i in range(len(districts))]
                ax.bar(xs, [lookup.get((d, q), 0) for d in districts], width, label=q)
            ax.set_xticks(range(len(districts)), districts, rotation=30, ha="right")
        else:
            part = counts.filter(pl.col("district") == district)
            quarters = sorted(set(part["quarter"].to_list()))
            lookup = {(q, f): n for _, q, f, n in part.iter_rows()}
            bottom = [0] * len(quarters)
            for fam, fam_name in FAMILIES.items():
                values = [lookup.get((q, fam), 0) for q in quarters]
                ax.bar(range(len(quarters)), values, 0.6, bottom=bottom, label=fam_name)
                bottom = [b + v for b, v in zip(bottom, values)]
            ax.set_xticks(range(len(quarters)), quarters)
        if not len(counts):
            ax.text(0.5, 0.5, "本季度无核查对象", transform=ax.transAxes, ha="center", va="center")
        ax.set_title(title)
        ax.set_ylabel("核查对象数")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


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


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "无统计对象"
    return "达标" if value >= target - 1e-12 else "未达标"


def _build_report(fig: Figures, chart_png: bytes, now: datetime) -> bytes:
    buf = io.BytesIO()
    # every cell a text or a number, never a formula or a link, whatever a value looks like
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                   "strings_to_urls": False})
    wb.set_properties({"title": f"社会救助数据比对季度报表 {fig.quarter} {fig.scope}"})
    title = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "vcenter"})
    cell = wb.add_format({"border": 1})
    warn = wb.add_format({"border": 1, "font_color": "#C00000", "bold": True})
    deadline = report_deadline(fig.quarter)

    ws = wb.add_worksheet("概况")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 3, 14)
    ws.write(0, 0, f"武汉市社会救助数据比对季度报表 {fig.quarter} {fig.scope}", title)
    ws.write(1, 0, f"报送截止:{deadline:%Y年%m月%d日}(各区于每季度最后一个月12日前报送)", bold)
    ws.write(2, 0, f"生成时间:{now:%Y-%m-%d %H:%M}")
    for c, h in enumerate(("指标", "数值", "目标", "是否达标")):
        ws.write(4, c, h, head)
    t = fig.totals
    resolved = t["resolved"] if fig.resolved_known else "—"
    lines: list[tuple] = [
        ("本季度核查对象(条)", t["total"], "", ""),
        ("其中:新发现", t["new"], "", ""),
        ("其中:上季度延续", t["carried"], "", ""),
        ("已销号(上季度有、本季度消失)", resolved, "", ""),
        ("待核查", t["pending"], "", ""),
        *[(f"核查结论:{d}", t[f"d{i}"], "", "") for i, d in enumerate(DECISIONS)],
        ("重度残疾人(一、二级)人数", fig.severe, "", ""),
        ("其中享受重度残疾人护理补贴", fig.severe_nursing, "", ""),
        ("护理补贴覆盖率", _pct(fig.nursing_coverage), _pct(COVERAGE_TARGET), _verdict(fig.nursing_coverage, COVERAGE_TARGET)),
        ("低保(不含特困)持证残疾人人数", fig.dibao_disabled, "", ""),
        ("其中享受困难残疾人生活补贴", fig.dibao_living, "", ""),
        ("生活补贴覆盖率", _pct(fig.living_coverage), _pct(COVERAGE_TARGET), _verdict(fig.living_coverage, COVERAGE_TARGET)),
        ("低保户数", fig.dibao_households, "", ""),
        ("低保人数", fig.dibao_persons, "", ""),
        ("疑似支出型贫困户(M06)", fig.m06, "", ""),
        ("支出型贫困户占低保户比例", _pct(fig.expenditure_poverty_share), f"≥{EXPENDITURE_POVERTY_TARGET:.0%}",
         _verdict(fig.expenditure_poverty_share, EXPENDITURE_POVERTY_TARGET)),
    ]
    for r, (label, value, target, verdict) in enumerate(lines, start=5):
        ws.write(r, 0, label, cell)
        ws.write(r, 1, value, cell)
        ws.write(r, 2, target, cell)
        ws.write(r, 3, verdict, warn if verdict == "未达标" else cell)
    r = 5 + len(lines) + 1
    if not fig.resolved_known:
        ws.write(r, 0, "注:本次运行尚未生成已销号清单(resolved_flags),已销号数暂缺。")
        r += 1
    ws.write(r, 0, "注:覆盖率按持证残疾人名册统计,每人计一次;支出型贫困户按户统计。")
    ws.insert_image(r + 2, 0, "chart.png", {"image_data": io.BytesIO(chart_png), "x_scale": 0.9, "y_scale": 0.9})

    rs = wb.add_worksheet("按规则")
    headers = ("类别", "规则编号", "规则名称", "本季度总数", "新发现", "延续", "已销号", "待核查", *DECISIONS)
    for c, h in enumerate(headers):
        rs.write(0, c, h, head)
    rs.set_column(0, 0, 18)
    rs.set_column(2, 2, 26)
    rs.set_column(3, len(headers) - 1, 11)
    rs.freeze_panes(1, 0)
    for r, rec in enumerate(fig.rules.iter_rows(named=True), start=1):
        code = rec["rule_code"]
        values = (
            FAMILIES.get(rule_family(code), ""), code, RULE_NAMES.get(code, code), rec["total"], rec["new"],
            rec["carried"], rec["resolved"] if fig.resolved_known else "—", rec["pending"],
            *[rec[f"d{i}"] for i in range(len(DECISIONS))],
        )
        for c, v in enumerate(values):
            rs.write(r, c, v, cell)
    r = fig.rules.height + 1
    total_values = ("合计", "", "", t["total"], t["new"], t["carried"], resolved, t["pending"],
                    *[t[f"d{i}"] for i in range(len(DECISIONS))])
    for c, v in enumerate(total_values):
        rs.write(r, c, v, head)

    if fig.by_district is not None:
        ds = wb.add_worksheet("按区")
        headers = ("区", "核查对象", "新发现", "延续", "已销号", "待核查", "护理补贴覆盖率", "生活补贴覆盖率",
                   "低保户数", "疑似支出型贫困户", "占低保户比例")
        for c, h in enumerate(headers):
            ds.write(0, c, h, head)
        ds.set_column(0, 0, 12)
        ds.set_column(1, len(headers) - 1, 12)
        ds.freeze_panes(1, 1)
        for r, rec in enumerate(fig.by_district.iter_rows(named=True), start=1):
            values = (
                rec["district"], rec["total"], rec["new"], rec["carried"],
                rec["resolved"] if fig.resolved_known else "—", rec["pending"],
                _pct(rec["nursing_coverage"]), _pct(rec["living_coverage"]), rec["dibao_households"],
                rec["m06"], _pct(rec["expenditure_poverty_share"]),
            )
            for c, v in enumerate(values):
                ds.write(r, c, v, cell)
    wb.close()
    return buf.getvalue()


# What shapes a report besides its figures: this module, the labels, the writers' versions.
_LAYOUT_DIGEST = layout_digest(
    [__file__, labels.__file__, _io.__file__],
    {"rules": RULE_NAMES, "families": FAMILIES, "decisions": DECISIONS, "pending": PENDING,
     "districts": WUHAN_DISTRICTS, "targets": [COVERAGE_TARGET, EXPENDITURE_POVERTY_TARGET],
     "chart_quarters": CHART_QUARTERS},
    {"xlsxwriter": xlsxwriter.__version__, "matplotlib": version("matplotlib")},
)


def _chart_data(counts: pl.DataFrame, district: str | None) -> pl.DataFrame:
    """The part of `counts` the scope's chart draws (the city's draws all of it)."""
    return counts if district is None else counts.filter(pl.col("district") == district)


def _report_digest(fig: Figures, chart: pl.DataFrame, any_flags: bool) -> str:
    """Everything one report shows but its generation time: the figures of its scope, its chart's
    data (and whether the chart quarters have any flag at all, which puts a note on every chart)
    and the layout. Equal digests give the same report."""
    h = hashlib.sha256(f"{_LAYOUT_DIGEST}|{fig.quarter}|{fig.scope}|{fig.resolved_known}|{any_flags}|".encode())
    h.update(json.dumps({c: getattr(fig, c) for c in _DISTRICT_COLS}, sort_keys=True).encode())
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
