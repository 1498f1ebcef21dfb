"""Names officers read in the workbooks and reports: rule names, families, review decisions.

Rule codes, names, families and the review decisions come from `matchers.rules.engine` (the rules
engineer's single definition); ID masking from `matchers.privacy`. This is the one place the reports
package takes them from.
"""

from __future__ import annotations

from matchers.privacy import mask_id, mask_ids_in_text
from matchers.rules.engine import FAMILIES as RULE_FAMILIES
from matchers.rules.engine import PENDING_REVIEW, REVIEW_DECISIONS, RULES

# The rules engine owns the rule codes, titles, families and decisions; the reports reuse them.
RULE_NAMES: dict[str, str] = {r.code: r.title for r in RULES}
# One workbook sheet per family (the names are valid sheet names: under 31 characters, no '/').
FAMILIES: dict[str, str] = dict(RULE_FAMILIES)


def rule_family(rule_code: str) -> str:
    return (rule_code or "?")[:1].upper()


def rule_label(rule_code: str) -> str:
    return RULE_NAMES.get(rule_code, rule_code)


DECISIONS: tuple[str, ...] = tuple(REVIEW_DECISIONS)  # WAREHOUSE.md reviews.decision, exactly
PENDING = PENDING_REVIEW  # flags.review_status before any decision

CITY = "全市"
UNASSIGNED_DISTRICT = "未明确区"  # flags whose district is null or not one of the city's districts
# SQL: a district in the contract's list, else the unassigned one (parameters $districts: the
# contract's WUHAN_DISTRICTS, $unassigned). Every export and the import group districts this way.
KNOWN_DISTRICT = "CASE WHEN list_contains($districts, {column}) THEN {column} ELSE $unassigned END"

# Report targets: subsidy coverage 100%, 支出型贫困 candidates ≥ 10% of the 低保 count.
COVERAGE_TARGET = 1.0
EXPENDITURE_POVERTY_TARGET = 0.10
# Districts report by this day of the quarter's last month.
REPORT_DEADLINE_DAY = 12

NOT_YET = "—"  # a figure that cannot be given (no one to count, resolved_flags not written yet)


def percent_text(value: float | None) -> str:
    """A share as officers read it outside a workbook (Dagster metadata, pages): 75.0%, or NOT_YET."""
    return NOT_YET if value is None else f"{value:.1%}"
