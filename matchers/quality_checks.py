"""Data-quality measures behind the asset checks (pure SQL over the warehouse; no Dagster).

Thresholds live here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matchers.quarters import previous_quarter_with_rows

ROW_COUNT_CHANGE_WARN = 0.30  # ± share of last quarter's rows
REJECTED_SHARE_WARN = 0.05
VALID_ID_SHARE_WARN = 0.50
PROBABILISTIC_SHARE_WARN = 0.10


@dataclass
class CheckOutcome:
    passed: bool
    message: str
    severity: str = "warn"  # warn | error
    metadata: dict = field(default_factory=dict)


def _rows(con, table: str, quarter: str, source: str) -> int:
    return con.execute(
        f"SELECT count(*) FROM {table} WHERE quarter = ? AND source = ?", [quarter, source]
    ).fetchone()[0]


def valid_id_share(con, quarter: str, source: str) -> CheckOutcome:
    total, valid = con.execute(
        "SELECT count(*), count(id_norm) FROM stg_records WHERE quarter = ? AND source = ?",
        [quarter, source],
    ).fetchone()
    share = valid / total if total else None
    meta = {"行数": total, "有效身份证号行数": valid, "有效占比": round(share, 4) if share is not None else None}
    if total == 0:
        return CheckOutcome(True, "本季度没有该部门的数据行", metadata=meta)
    if valid == 0:
        return CheckOutcome(
            False,
            f"{total} 行数据中没有一个有效身份证号,疑似身份证号列损坏(如被Excel转成科学计数法),已停止生成疑点",
            severity="error",
            metadata=meta,
        )
    if share < VALID_ID_SHARE_WARN:
        return CheckOutcome(False, f"有效身份证号仅占 {share:.1%},低于 {VALID_ID_SHARE_WARN:.0%}", metadata=meta)
    return CheckOutcome(True, f"有效身份证号占 {share:.1%}", metadata=meta)


def row_count_vs_previous(con, quarter: str, source: str) -> CheckOutcome:
    prev = previous_quarter_with_rows(con, quarter, "stg_files", source)
    now = _rows(con, "stg_records", quarter, source) + _rows(con, "stg_rejected", quarter, source)
    if prev is None:
        return CheckOutcome(True, "没有上一季度数据可比", metadata={"本季度行数": now})
    before = _rows(con, "stg_records", prev, source) + _rows(con, "stg_rejected", prev, source)
    meta = {"本季度行数": now, "上季度": prev, "上季度行数": before}
    if before == 0:
        return CheckOutcome(now == 0, f"上季度 {prev} 为 0 行,本季度 {now} 行", metadata=meta)
    change = (now - before) / before
    meta["变化"] = round(change, 4)
    if abs(change) > ROW_COUNT_CHANGE_WARN:
        return CheckOutcome(
            False, f"行数 {now},比上季度 {prev} 的 {before} 行变化 {change:+.0%},超过 ±{ROW_COUNT_CHANGE_WARN:.0%}", metadata=meta
        )
    return CheckOutcome(True, f"行数 {now},比上季度变化 {change:+.0%}", metadata=meta)


def rejected_share(con, quarter: str, source: str) -> CheckOutcome:
    ok = _rows(con, "stg_records", quarter, source)
    bad = _rows(con, "stg_rejected", quarter, source)
    total = ok + bad
    share = bad / total if total else 0.0
    meta = {"拒收行数": bad, "数据行数": total, "拒收占比": round(share, 4)}
    if share > REJECTED_SHARE_WARN:
        return CheckOutcome(False, f"拒收 {bad} 行,占 {share:.1%},超过 {REJECTED_SHARE_WARN:.0%}", metadata=meta)
    return CheckOutcome(True, f"拒收 {bad} 行,占 {share:.1%}", metadata=meta)


def probabilistic_share(con, quarter: str, probabilistic_methods: tuple[str, ...]) -> CheckOutcome:
    """Share of the quarter's rows that reached their person only through a probabilistic link."""
    rows = con.execute(
        "SELECT source, count(*) AS n, count(*) FILTER (WHERE list_contains(?, match_method)) AS p "
        "FROM work_source_records WHERE quarter = ? GROUP BY source ORDER BY source",
        [list(probabilistic_methods), quarter],
    ).fetchall()
    total = sum(n for _, n, _ in rows)
    prob = sum(p for _, _, p in rows)
    share = prob / total if total else 0.0
    meta = {"行数": total, "概率匹配行数": prob, "占比": round(share, 4)}
    meta.update({f"{s} 概率匹配占比": round(p / n, 4) for s, n, p in rows if n})
    if share > PROBABILISTIC_SHARE_WARN:
        return CheckOutcome(
            False, f"{prob} 行({share:.1%})只靠概率匹配找到人员,超过 {PROBABILISTIC_SHARE_WARN:.0%},请检查身份证号质量", metadata=meta
        )
    return CheckOutcome(True, f"{prob} 行({share:.1%})靠概率匹配找到人员", metadata=meta)


def rule_counts_vs_previous(con, quarter: str, rule_codes: tuple[str, ...]) -> CheckOutcome:
    """Each rule's flag count against the previous published quarter (warn beyond ±30%)."""
    now = dict(con.execute("SELECT rule_code, count(*) FROM work_flags WHERE quarter = ? GROUP BY 1", [quarter]).fetchall())
    prev = previous_quarter_with_rows(con, quarter, "flags")
    meta: dict = {f"{c} 本季度": now.get(c, 0) for c in rule_codes}
    if prev is None:
        return CheckOutcome(True, "没有上一季度的疑点可比", metadata=meta)
    before = dict(con.execute("SELECT rule_code, count(*) FROM flags WHERE quarter = ? GROUP BY 1", [prev]).fetchall())
    meta["上季度"] = prev
    jumps = []
    for c in rule_codes:
        a, b = now.get(c, 0), before.get(c, 0)
        meta[f"{c} 上季度"] = b
        if b and abs(a - b) / b > ROW_COUNT_CHANGE_WARN:
            jumps.append(f"{c} {b}→{a}")
        elif not b and a >= 5:
            jumps.append(f"{c} 0→{a}")
    if jumps:
        return CheckOutcome(False, f"与上季度 {prev} 相比变化超过 ±{ROW_COUNT_CHANGE_WARN:.0%} 的规则:" + ",".join(jumps), metadata=meta)
    return CheckOutcome(True, f"各规则疑点数与上季度 {prev} 相比变化均在 ±{ROW_COUNT_CHANGE_WARN:.0%} 以内", metadata=meta)
