"""The figures of the quarterly report (报表), for the city and each district, computed in DuckDB.

All for one quarter:
- flags per rule: total, new (first_seen == quarter), carried over (earlier first_seen), resolved
  (rows of `resolved_flags`, when the rules step has written that table), and review progress;
- disability-subsidy coverage from the `disability` source rows: 护理补贴 among the severely
  disabled (grade 一级/二级) and 生活补贴 among disabled people in 低保 (not 特困, as rule M03);
  target 100%;
- 支出型贫困 candidates (M06 flags, one per household) as a share of the 低保 households; target ≥ 10%;
- flags by district, quarter and rule family for the chart.

Pure library: no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl

from matchers.contract import DIBAO, RELATION_HEAD, SEVERE_GRADES, STATUS_ACTIVE, TEKUN, WUHAN_DISTRICTS

from ._io import check_quarter, frame, table_exists
from .labels import CITY, DECISIONS, KNOWN_DISTRICT, PENDING, RULE_NAMES, UNASSIGNED_DISTRICT, rule_family

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


COUNT_COLS = ["total", "new", "carried", "resolved", "pending", *[f"d{i}" for i in range(len(DECISIONS))]]
DISTRICT_COLS = ["severe", "severe_nursing", "dibao_disabled", "dibao_living", "dibao_households", "dibao_persons"]


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
            .join(rules.group_by("rule_code").agg(pl.col(COUNT_COLS).sum()), on="rule_code", how="left")
            .with_columns(pl.col(COUNT_COLS).fill_null(0).cast(pl.Int64))
        )
        dist = self.districts if district is None else self.districts.filter(pl.col("district") == district)
        sums = {c: int(dist[c].sum() or 0) for c in DISTRICT_COLS}
        fig = Figures(self.quarter, scope, per_rule, self.resolved_known, **sums)
        fig.totals = {c: int(per_rule[c].sum()) for c in COUNT_COLS}
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
        .with_columns(pl.col([c for c in COUNT_COLS]).fill_null(0).cast(pl.Int64))
    )
    params = {**known, "dibao": list(DIBAO), "tekun": list(TEKUN), "active": STATUS_ACTIVE,
              "severe": list(SEVERE_GRADES)}
    coverage = frame(con, COVERAGE_SQL, params)
    dibao = frame(con, DIBAO_SQL, {**known, "dibao": list(DIBAO), "active": STATUS_ACTIVE, "head": RELATION_HEAD})
    districts = (
        coverage.join(dibao, on="district", how="full", coalesce=True)
        .with_columns(pl.col(DISTRICT_COLS).fill_null(0).cast(pl.Int64))
    )
    return QuarterData(quarter, rules, districts, resolved_known)


def report_figures(con: duckdb.DuckDBPyConnection, quarter: str, district: str | None = None) -> Figures:
    """The report's figures for one district, or for the city when `district` is None."""
    return quarter_data(con, quarter).figures(district)


# ---- chart data ---------------------------------------------------------------------------------
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
