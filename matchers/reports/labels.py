"""Names officers read in the workbooks and reports: rule names, families, review decisions.

Rule codes and names follow ../shared/contract/RULES.md; decisions follow WAREHOUSE.md. This is the
one place the reports package takes them from.
"""

from __future__ import annotations

import re

RULE_NAMES: dict[str, str] = {
    "M01": "按人施保未落实",
    "M02": "重度残疾人护理补贴未落实",
    "M03": "困难残疾人生活补贴未落实",
    "M04": "教育资助未落实",
    "M05": "住房安全未保障",
    "M06": "疑似支出型贫困",
    "M07": "申请被拒后困难加重",
    "R01": "收入低于监测线",
    "R02": "收入大幅下降",
    "R03": "因病返贫风险",
    "R04": "新增重度残疾",
    "Q01": "重复享受救助",
    "Q02": "高收费学校疑点",
    "Q03": "身份待核实",
}

# Rule family = first letter of the code. One workbook sheet per family (sheet names must stay
# under 31 characters and may not contain '/').
FAMILIES: dict[str, str] = {
    "M": "应保未保",
    "R": "返贫风险",
    "Q": "错保疑点及身份核实",
}


def rule_family(rule_code: str) -> str:
    return (rule_code or "?")[:1].upper()


def rule_label(rule_code: str) -> str:
    return RULE_NAMES.get(rule_code, rule_code)


# Review decisions, exactly as WAREHOUSE.md spells them.
DECISIONS: tuple[str, ...] = ("属实已纳入救助", "属实待处理", "不属实", "无法核实")
PENDING = "待核查"  # flags.review_status before any decision

CITY = "全市"
UNASSIGNED_DISTRICT = "未明确区"  # flags whose district is null

# Report targets (issue 5): subsidy coverage 100%, 支出型贫困 candidates ≥ 10% of the 低保 count.
COVERAGE_TARGET = 1.0
EXPENDITURE_POVERTY_TARGET = 0.10
# Districts report by this day of the quarter's last month.
REPORT_DEADLINE_DAY = 12


def _local_mask_id(value: object) -> str:
    """First 4 + stars + last 4 (`4201**********123X`); short values are starred entirely."""
    if value is None:
        return ""
    s = str(value).strip()
    if not s:
        return ""
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


try:  # matchers/ids.py is the project's single masking helper once it exists
    from matchers.ids import mask_id as _project_mask_id  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the tree state
    _project_mask_id = None


def mask_id(value: object) -> str:
    if value is None or str(value).strip() == "":
        return ""
    if _project_mask_id is not None:
        return _project_mask_id(value)
    return _local_mask_id(value)


# A run of 15 or more digits (last may be X): a resident ID, its 15-digit form, or a disability
# certificate / student number that carries one.
UNMASKED_ID = re.compile(r"(?<![0-9])[0-9]{14,}[0-9Xx](?![0-9])")


def mask_ids_in_text(text: object) -> str:
    """Defence in depth: mask any full ID that slipped into free text (reasons, notes)."""
    if text is None:
        return ""
    return UNMASKED_ID.sub(lambda m: _local_mask_id(m.group(0)), str(text))
