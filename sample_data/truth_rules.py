"""RULES.md evaluated on the generator's true world: the flags a perfect pipeline must raise.

Written independently from the pipeline's SQL so that it is a real cross-check. Input is the true
records of a quarter (true identities, true values, money in integer cents; garbage rows excluded)
plus, per record, whether the row as written gives no usable ID (for Q03). All arithmetic is exact
(integers), so values placed exactly on a threshold behave as RULES.md says ("<" vs "≥").

Readings where RULES.md leaves room (stated once here, also in truth/README.md):
- Members of a household are the persons on its rows (its roll), nobody else. A student's
  households are those the student is a member of and those the guardian is a member of; only M04,
  Q02 and M06's members' tuition (students who are members or whose guardian is) use them.
- "A household with active assistance" (Q01) is an `assistance` household_id that has an active
  row (在保 and 低保/特困). A household's status/category fields are read from its rows (the
  generator writes them identically on every row of a household).
- M01 and M03 test the named member (person in 低保/特困), M04/M06/Q02 the household(s).
- The `poverty` household's income, status and monitor type are read from its head's row.
- M06 divides by the number of members on the `poverty` roll.
- R04: a person absent from the previous quarter's disability extract was "not severe" then.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from matchers import contract as C

# RULES.md defaults (yuan), kept here on purpose rather than read from the pipeline's config.
DEFAULTS = {
    "dibao_standard_monthly": 800,
    "monitoring_line_annual": 7800,
    "income_drop_ratio": (3, 10),  # 0.30 as an exact fraction
    "medical_burden_ratio": (1, 2),  # 0.50
    "medical_burden_amount": 20000,
    "high_fee_tuition": 20000,
}

HOUSEHOLD_RULES = ("M06", "M07", "R01", "R02", "R03")


def expected_flags(recs, no_usable_id, quarter_end: date, within_from: date, prev_severe: set | None,
                   th: dict = DEFAULTS) -> list[tuple[str, str, str, str]]:
    """(rule_code, person_key, household_source, household_id) for every expected flag, sorted.

    recs: true records (world.Rec) of the quarter; no_usable_id: parallel booleans;
    within_from: quarter end minus 12 months (a date must be after it); prev_severe: person keys
    with grade 一级/二级 in the previous quarter's disability extract, or None for the first quarter.
    """
    by_source = defaultdict(list)
    for r in recs:
        by_source[r.source].append(r)

    rows_of = defaultdict(list)  # (source, household_id) -> rows in file order
    for src in ("assistance", "poverty"):
        for r in by_source[src]:
            rows_of[(src, r.v["household_id"])].append(r)
    listed = {h: {r.person.key for r in rows} for h, rows in rows_of.items()}
    guardians = defaultdict(set)  # student -> guardian keys
    for r in by_source["education"]:
        if r.guardian is not None:
            guardians[r.person.key].add(r.guardian.key)
    members = listed
    households_of = defaultdict(set)
    for h, keys in members.items():
        for k in keys:
            households_of[k].add(h)
    student_households = {s: households_of[s].union(*(households_of[g] for g in gs))
                          for s, gs in guardians.items()}

    def active(h, cats):
        return h[0] == "assistance" and any(
            r.v["status"] == C.STATUS_ACTIVE and r.v["category"] in cats for r in rows_of[h])

    dibao_h = {h for h in rows_of if active(h, C.DIBAO)}
    tekun_h = {h for h in rows_of if active(h, C.TEKUN)}
    active_h = dibao_h | tekun_h

    def in_dibao(k):
        return bool(households_of[k] & dibao_h)

    def in_tekun(k):
        return bool(households_of[k] & tekun_h)

    def hh_in_dt(h):
        return any(in_dibao(m) or in_tekun(m) for m in members[h])

    severe = {r.person.key for r in by_source["disability"] if r.v["grade"] in C.SEVERE_GRADES}
    serious = {r.person.key for r in by_source["poverty"] if r.v["health"] == C.SERIOUS_ILLNESS}
    med = defaultdict(int)
    for r in by_source["medical"]:
        if r.v["out_of_pocket"] is not None:
            med[r.person.key] += r.v["out_of_pocket"]

    def burden(h):
        return sum(med[m] for m in members[h])

    def head(h):
        rows = rows_of[h]
        return next((r for r in rows if r.v["relation"] == C.RELATION_HEAD), rows[0])

    def poverty_hh(h):
        return h[0] == "poverty"

    def monitored(h):
        return poverty_hh(h) and bool(head(h).v["monitor_type"])

    def pov_status(h):
        return head(h).v["poverty_status"]

    flags: set[tuple[str, str, str, str]] = set()

    def person_flag(code, key):
        flags.add((code, key, "", ""))

    def household_flag(code, h):
        flags.add((code, head(h).person.key, h[0], h[1]))

    amount = th["medical_burden_amount"] * 100
    for h in rows_of:
        if not poverty_hh(h):
            continue
        n = len(rows_of[h])
        hv = head(h).v
        inc = hv["income_per_capita"]
        b = burden(h)
        status = pov_status(h)
        if status in ("未脱贫", "返贫"):  # M01
            for m in members[h]:
                if (m in severe or m in serious) and not (in_dibao(m) or in_tekun(m)):
                    person_flag("M01", m)
        if inc is not None and not hh_in_dt(h):  # M06
            tuition = sum(r.v["tuition"] or 0 for r in by_source["education"]
                          if h in student_households.get(r.person.key, households_of[r.person.key]))
            if inc * n - b - tuition < th["dibao_standard_monthly"] * 12 * 100 * n:
                household_flag("M06", h)
        if status == "已脱贫" and inc is not None and inc < th["monitoring_line_annual"] * 100:
            household_flag("R01", h)
        if status == "已脱贫" or monitored(h):
            prev = hv["income_prev"]
            num, den = th["income_drop_ratio"]
            if prev and prev > 0 and inc is not None and (prev - inc) * den >= num * prev:
                household_flag("R02", h)
            rn, rd = th["medical_burden_ratio"]
            if (inc is not None and b * rd >= rn * inc * n) or b >= amount:
                household_flag("R03", h)
            if prev_severe is not None:
                for m in members[h]:
                    if m in severe and m not in prev_severe:
                        person_flag("R04", m)

    for h in rows_of:
        if h[0] != "assistance":
            continue
        hv = head(h).v
        if hv["status"] == C.STATUS_REFUSED and hv["status_date"] is not None and hv["status_date"] > within_from:
            if any(m in severe or m in serious for m in members[h]) or burden(h) >= amount:
                household_flag("M07", h)

    for r in by_source["disability"]:
        k = r.person.key
        if r.v["grade"] in C.SEVERE_GRADES and r.v["nursing_subsidy"] == "否":
            person_flag("M02", k)
        if in_dibao(k) and not in_tekun(k) and r.v["living_subsidy"] == "否":
            person_flag("M03", k)

    for r in by_source["education"]:
        k = r.person.key
        hs = student_households.get(k, households_of[k])
        if not r.v["aid_programme"] and any(
                hh_in_dt(h) or (poverty_hh(h) and (pov_status(h) in ("未脱贫", "返贫") or monitored(h))) for h in hs):
            person_flag("M04", k)
        if (r.v["school_type"] == "民办" and r.v["tuition"] is not None
                and r.v["tuition"] >= th["high_fee_tuition"] * 100 and any(hh_in_dt(h) for h in hs)):
            person_flag("Q02", k)

    for r in by_source["housing"]:
        k = r.person.key
        if (r.v["safety_grade"] in C.UNSAFE_GRADES and r.v["renovation"] != "已改造" and r.v["aid_type"] == "无"
                and (in_dibao(k) or in_tekun(k) or any(poverty_hh(h) for h in households_of[k]))):
            person_flag("M05", k)

    for k, hs in households_of.items():
        if len(hs & active_h) >= 2:
            person_flag("Q01", k)

    for r, bad in zip(recs, no_usable_id):
        if bad:
            person_flag("Q03", r.person.key)

    return sorted(flags)
