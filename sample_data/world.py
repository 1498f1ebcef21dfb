"""The generator's true world: families, the persons in them, and what each source knows per quarter.

A family is generated once (all quarters at a time) and yields, for each quarter, the true source
records (`Rec`): true identities, true values, money in integer cents. Nothing here is damaged;
damage happens when a record is written (generate.py). Every interaction the rules need (household
membership, guardians, duplicate enrolment) stays inside one family, so a family's flags can be
computed from its own records and the generator streams family by family with bounded memory.
The types and date helpers are in world_types.py; the study, housing and medical histories in
services.py; the population's rates in populations.py.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from matchers import contract as C

from . import ids, pools
from .populations import DEFAULT, Population
from .services import FamilyServices
from .world_types import (
    KINDS, AssistUnit, Disability, Family, Person, PovertyUnit, Rec, _rand_date, minus_months, quarter_end,
)


class World(FamilyServices):
    """Sequential family factory; one instance per generation run (holds the RNG and used IDs)."""

    def __init__(self, seed: int, quarters: list[str], population: Population = DEFAULT):
        self.rng = random.Random(seed)
        self.pop = population
        self.quarters = quarters
        self.qends = [quarter_end(q) for q in quarters]
        self.ref = self.qends[0]
        self.used_ids: set[str] = set()
        self.next_person = 1
        self.last_head: dict[str, tuple] = {}  # district -> (name, born year, sex) of the last head
        self.pending_name: dict[str, tuple] = {}  # district -> (name, born year) for a namesake/homophone
        self.districts = list(C.WUHAN_DISTRICTS)

    # ---- persons ------------------------------------------------------------------------------
    def _region(self, district: str, born: date, minority: bool) -> str:
        rng = self.rng
        if minority:
            return rng.choice(pools.XINJIANG_CODES)
        r = rng.random()
        if r < 0.12:
            return rng.choice(pools.OTHER_REGION_CODES)
        if r < 0.30:
            return pools.DISTRICT_CODES[rng.choice(self.districts)]
        if born.year < 1998 and district in pools.OLD_WUHAN_CODES and rng.random() < 0.5:
            return pools.OLD_WUHAN_CODES[district]
        return pools.DISTRICT_CODES[district]

    def _id(self, region: str, born: date, sex: str, avoid_seq: int | None = None) -> str:
        rng = self.rng
        while True:
            seq = rng.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
            if seq == avoid_seq:
                continue
            id18 = ids.make_id(region, born, seq)
            if id18 not in self.used_ids:
                self.used_ids.add(id18)
                return id18

    def _surname(self) -> str:
        return self.rng.choices(pools.SURNAMES, self.pop.surname_weights)[0]

    def _pick_given(self, pool: tuple[str, ...]) -> str:
        s = self.pop.given_name_zipf
        if s is None:
            return self.rng.choice(pool)
        return self.rng.choices(pool, [1 / (rank ** s) for rank in range(1, len(pool) + 1)])[0]

    def _given(self, sex: str, born: date) -> str:
        tier = 0 if born.year < 1965 else (1 if born.year < 2000 else 2)
        rng = self.rng
        if rng.random() < 0.02:
            return rng.choice(pools.RARE_GIVEN[sex]) + (self._pick_given(pools.GIVEN[(sex, tier)])[:1] if rng.random() < 0.5 else "")
        return self._pick_given(pools.GIVEN[(sex, tier)])

    def person(self, district: str, born: date, sex: str, surname: str, *, minority: bool = False,
               name: str | None = None, twin_of: Person | None = None) -> Person:
        rng = self.rng
        if name is None:
            if minority:
                name = rng.choice(pools.MINORITY[sex])
            elif surname and rng.random() < self.pop.common_full_name_share and born.year < 2000 and len(surname) == 1:
                name = rng.choices(pools.COMMON_FULL[sex], pools.COMMON_WEIGHTS[sex])[0]
            else:
                name = surname + self._given(sex, born)
        if twin_of is not None:
            region = twin_of.id18[:6]
            id18 = self._id(region, born, sex, avoid_seq=int(twin_of.id18[14:17]))
        else:
            id18 = self._id(self._region(district, born, minority), born, sex)
        p = Person(f"P{self.next_person:07d}", id18, name, sex, born, district)
        self.next_person += 1
        return p

    def _born(self, age_lo: int, age_hi: int) -> date:
        y = self.ref.year - self.rng.randint(age_lo, age_hi)
        return _rand_date(self.rng, date(y, 1, 1), min(date(y, 12, 31), self.ref))

    # ---- families -----------------------------------------------------------------------------
    def family(self, fid: int) -> Family:
        rng = self.rng
        nq = len(self.quarters)
        kind = rng.choices(KINDS, self.pop.kind_weights)[0]
        if kind in ("poverty", "poverty_dibao") or (kind == "assist_other" and rng.random() < 0.5):
            district = rng.choice(pools.NEW_CITY_DISTRICTS) if rng.random() < 0.85 else rng.choice(self.districts)
        else:
            district = rng.choice(self.districts)
        street = rng.choice(pools.STREETS[district])
        community = rng.choice(pools.communities(district, street))
        rural = community.endswith("村")
        first_q = 1 if (nq > 1 and rng.random() < 0.05) else 0
        last_q = nq - 1
        if nq > 1 and first_q == 0 and rng.random() < 0.03:
            last_q = rng.randrange(0, nq - 1)
        persons = self._members(district, kind)
        fam = Family(fid, district, street, community, rural, kind, first_q, last_q, persons)
        for p, rel in persons:
            if p.born < date(self.ref.year - 80, 1, 1) and rel != C.RELATION_HEAD and rng.random() < 0.03 and nq > 1:
                p.gone_from = rng.randrange(1, nq)
        grandchildren = frozenset(p.key for p, rel in persons if rel == "孙子女")
        if grandchildren and self.pop.grandchild_off_roll_share and rng.random() < self.pop.grandchild_off_roll_share:
            fam.off_roll = grandchildren  # registered elsewhere, living with this family
        self._health(fam)
        self._disability(fam)
        self._assistance(fam)
        self._poverty(fam)
        self._subsidies(fam)
        self._study(fam)
        self._housing(fam)
        self._medical(fam)
        return fam

    def _members(self, district: str, kind: str) -> list:
        rng = self.rng
        minority = rng.random() < 0.02
        compound = rng.random() < 0.012
        if kind == "tekun":
            sex = rng.choice("男女")
            born = self._born(62, 92) if rng.random() < 0.8 else self._born(25, 60)
            surname = rng.choice(pools.COMPOUND_SURNAMES) if compound else self._surname()
            return [(self.person(district, born, sex, surname, minority=minority), C.RELATION_HEAD)]
        head_sex = "男" if rng.random() < 0.7 else "女"
        head_born = self._born(26, 84)
        name = None
        named = kind != "general" and not minority  # namesakes only where they will appear in a roll
        if named and district in self.pending_name:
            name, year = self.pending_name.pop(district)
            head_born = _rand_date(rng, date(year, 1, 1), date(year, 12, 31))
        elif named and district in self.last_head and rng.random() < self.pop.namesake_head_share:
            # a different person with the same name, born the same year, in the same district
            name, year, head_sex = self.last_head[district]
            head_born = _rand_date(rng, date(year, 1, 1), date(year, 12, 31))
        elif named and rng.random() < self.pop.homophone_head_share:
            pair = rng.choice(pools.HOMOPHONES)
            name = pair[0]
            self.pending_name[district] = (pair[1], head_born.year)
        surname = (rng.choice(pools.COMPOUND_SURNAMES) if compound
                   else self._surname())
        if name is not None and not minority:
            surname = name[:2] if name[:2] in pools.COMPOUND_SURNAMES else name[0]
        head = self.person(district, head_born, head_sex, surname, minority=minority, name=name)
        if named:
            self.last_head[district] = (head.name, head.born.year, head.sex)
        out = [(head, C.RELATION_HEAD)]
        age = self.ref.year - head_born.year
        spouse = None
        if rng.random() < (0.8 if age < 75 else 0.5):
            s_sex = "女" if head_sex == "男" else "男"
            s_born = self._born(max(22, age - 6), min(95, age + 6))
            s_surname = self._surname()
            spouse = self.person(district, s_born, s_sex, s_surname, minority=minority)
            out.append((spouse, "配偶"))
        father = head if head_sex == "男" else (spouse or head)
        child_surname = surname if father is head else father.name[0]
        if age <= 60:
            n = rng.choice(self.pop.children)
            prev = None
            for i in range(n):
                lo = max(0, age - 40)
                hi = max(lo, age - 21)
                c_sex = rng.choice("男女")
                if prev is not None and rng.random() < 0.05:  # real twins
                    c = self.person(district, prev.born, c_sex, child_surname, minority=minority, twin_of=prev)
                else:
                    c = self.person(district, self._born(max(1, lo), max(1, hi)), c_sex, child_surname, minority=minority)
                out.append((c, "子女"))
                prev = c
            if age <= 58 and rng.random() < 0.25:
                for sex in rng.sample(("男", "女"), rng.choice((1, 2))):
                    pb = self._born(min(95, age + 22), min(97, age + 32))
                    ps = surname if sex == "男" else self._surname()
                    out.append((self.person(district, pb, sex, ps, minority=minority), "父母"))
        else:
            if rng.random() < 0.35:
                a_sex = rng.choice("男女")
                adult = self.person(district, self._born(age - 35, age - 24), a_sex, child_surname, minority=minority)
                out.append((adult, "子女"))
                a_age = self.ref.year - adult.born.year
                if rng.random() < 0.6 and a_age > 24:
                    for _ in range(rng.choice((1, 2))):
                        g_surname = adult.name[: len(child_surname)] if a_sex == "男" else self._surname()
                        out.append((self.person(district, self._born(1, min(20, a_age - 22)), rng.choice("男女"),
                                                g_surname, minority=minority), "孙子女"))
        if rng.random() < 0.04:
            out.append((self.person(district, self._born(max(20, age - 8), min(90, age + 8)), rng.choice("男女"),
                                    surname), "兄弟姐妹"))
        return out

    def _age(self, p: Person) -> int:
        return self.ref.year - p.born.year

    def _health(self, fam: Family) -> None:
        rng = self.rng
        poor = fam.kind != "general"
        for p, _ in fam.persons:
            a = self._age(p)
            r = rng.random()
            serious = (0.09 if poor else 0.03) * (1.5 if a >= 40 else 0.4)
            chronic = (0.30 if a >= 55 else 0.06) * (1.2 if poor else 0.8)
            if r < serious:
                p.health = C.SERIOUS_ILLNESS
            elif r < serious + chronic:
                p.health = "长期慢性病"

    def _disability(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        poor = fam.kind != "general"
        for p, _ in fam.persons:
            a = self._age(p)
            prob = (0.11 if a >= 40 else 0.05) if poor else (0.04 if a >= 40 else 0.015)
            if fam.kind == "tekun":
                prob = 0.35
            prob *= self.pop.disability_scale
            start = 0
            if rng.random() >= prob:
                if nq > 1 and rng.random() < 0.015:
                    start = rng.randrange(1, nq)  # newly certified later
                else:
                    continue
            grade = rng.choices((1, 2, 3, 4), (15, 25, 30, 30))[0]
            if start:
                grade = rng.choice((1, 2, 2, 3))
            grades = [None] * start + [grade] * (nq - start)
            worsen_p = 0.30 if fam.kind in ("poverty", "poverty_dibao") else 0.05
            for qi in range(max(1, start + 1), nq):
                if grades[qi - 1] and grades[qi - 1] > 1 and rng.random() < worsen_p:
                    step = 1 if rng.random() < 0.7 else 2
                    grades[qi:] = [max(1, grades[qi - 1] - step)] * (nq - qi)
            cat = rng.choices(range(1, 8), (10, 12, 4, 40, 14, 12, 8))[0]
            fam.disability[p.key] = Disability(cat, grades, ["否"] * nq, ["否"] * nq)
            if p.health == "健康" or rng.random() < 0.5:
                p.health = "残疾"

    def _status_date(self, qi: int, refused: bool) -> date:
        rng = self.rng
        qend = self.qends[qi]
        if refused:
            r = rng.random()
            if r < 0.65:
                return _rand_date(rng, minus_months(qend, 11) + timedelta(days=1), qend - timedelta(days=5))
            if r < 0.8:
                return minus_months(self.qends[-1], 12)  # exactly on the boundary of the last quarter: not within
            return minus_months(qend, rng.choice((13, 14, 18)))
        return _rand_date(rng, minus_months(qend, 36), qend - timedelta(days=3))

    def _assistance(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        members = [(p, r) for p, r in fam.persons if p.key not in fam.off_roll]
        cat_dibao = "农村低保" if fam.rural else "城市低保"
        cat_tekun = "农村特困" if fam.rural else "城市特困"
        prefix = f"MZ{pools.DISTRICT_CODES[fam.district]}"
        if fam.kind == "dibao":
            status = C.STATUS_ACTIVE if rng.random() < 0.93 else rng.choice((C.STATUS_SUSPENDED, C.STATUS_EXITED))
            unit = self._unit(f"{prefix}{fam.fid:07d}", members, cat_dibao, status)
            fam.assistance.append(unit)
            kids = [p for p, r in fam.persons if r == "子女"]
            if kids and rng.random() < 0.25:
                # the head's parent keeps a separate 低保 household that also lists a grandchild
                head = fam.persons[0][0]
                g_sex = rng.choice("男女")
                g_lo = min(self._age(head) + 24, 95)
                g = self.person(fam.district, self._born(g_lo, max(g_lo, min(97, self._age(head) + 34))),
                                g_sex, head.name[0] if g_sex == "男" else self._surname())
                fam.persons.append((g, "父母"))
                second = C.STATUS_ACTIVE if rng.random() < 0.6 else rng.choice((C.STATUS_EXITED, C.STATUS_SUSPENDED))
                fam.assistance.append(self._unit(f"{prefix}{fam.fid:07d}B", [(g, C.RELATION_HEAD), (rng.choice(kids), "孙子女")],
                                                 cat_dibao, second))
        elif fam.kind == "tekun":
            fam.assistance.append(self._unit(f"{prefix}{fam.fid:07d}", members, cat_tekun, C.STATUS_ACTIVE))
        elif fam.kind == "poverty_dibao":
            needy = [(p, r) for p, r in members
                     if p.health == C.SERIOUS_ILLNESS or (fam.disability.get(p.key) and (fam.disability[p.key].grade[0] or 4) <= 2)]
            if len(needy) == 1 and rng.random() < 0.35:
                # 按人施保 (single-person coverage) of the one severely ill/disabled member
                fam.assistance.append(self._unit(f"{prefix}{fam.fid:07d}", [(needy[0][0], C.RELATION_HEAD)], cat_dibao, C.STATUS_ACTIVE))
            else:
                fam.assistance.append(self._unit(f"{prefix}{fam.fid:07d}", members, cat_dibao, C.STATUS_ACTIVE))
        elif fam.kind == "assist_other":
            r = rng.random()
            if r < 0.6:
                unit = self._unit(f"{prefix}{fam.fid:07d}", members, cat_dibao, C.STATUS_REFUSED)
                # a refused household that is now in trouble (M07) or not (near miss)
                if rng.random() < 0.6:
                    p = rng.choice(members)[0]
                    if p.key not in fam.disability:
                        fam.disability[p.key] = Disability(rng.randint(1, 7), [rng.choice((1, 2, 3))] * nq, ["否"] * nq, ["否"] * nq)
                        p.health = "残疾"
                elif rng.random() < 0.5:
                    rng.choice(members)[0].health = C.SERIOUS_ILLNESS
            else:
                cat = "临时救助" if r < 0.8 else "低收入"
                unit = self._unit(f"{prefix}{fam.fid:07d}", members, cat, C.STATUS_ACTIVE)
            fam.assistance.append(unit)
        for unit in fam.assistance:
            self._evolve_assistance(unit)

    def _unit(self, hid: str, members: list, category: str, status: str) -> AssistUnit:
        nq = len(self.quarters)
        refused = status == C.STATUS_REFUSED
        d = self._status_date(0, refused)
        amount = sum(self.rng.randrange(300, 801, 10) for _ in members) * 100
        return AssistUnit(hid, members, category, [status] * nq, [d] * nq, [amount] * nq)

    def _evolve_assistance(self, unit: AssistUnit) -> None:
        rng = self.rng
        for qi in range(1, len(self.quarters)):
            s = unit.status[qi - 1]
            new = s
            r = rng.random()
            if s == C.STATUS_ACTIVE and r < 0.06:
                new = C.STATUS_SUSPENDED if r < 0.03 else C.STATUS_EXITED
            elif s == C.STATUS_SUSPENDED and r < 0.3:
                new = C.STATUS_ACTIVE
            elif s == C.STATUS_REFUSED and r < 0.15:
                new = C.STATUS_ACTIVE
            if new != s:
                unit.status[qi:] = [new] * (len(self.quarters) - qi)
                d = _rand_date(rng, self.qends[qi - 1] + timedelta(days=1), self.qends[qi])
                unit.status_date[qi:] = [d] * (len(self.quarters) - qi)
            if rng.random() < 0.2:
                unit.amount[qi:] = [max(10000, unit.amount[qi - 1] + rng.randrange(-100, 101, 10) * 100)] * (len(self.quarters) - qi)

    def _poverty(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        if fam.kind not in ("poverty", "poverty_dibao") and not (fam.kind == "assist_other" and rng.random() < 0.3):
            return
        status = rng.choices(C.POVERTY_STATUSES, (72, 15, 13))[0]
        monitored = self.pop.monitored_share_lifted if status == "已脱贫" else self.pop.monitored_share_other
        monitor = rng.choice(C.MONITOR_TYPES) if rng.random() < monitored else ""
        prev = rng.randrange(7000, 24001, 10)
        r = rng.random()
        if r < 0.08:
            cur = int(prev * rng.uniform(0.45, 0.70))  # a sharp drop (R02)
        elif r < 0.12:
            cur = int(prev * 0.71)  # drop ratio just under 0.30 (near miss)
        elif r < 0.18:
            cur = 7800  # exactly on the monitoring line (near miss for R01)
        elif r < 0.22:
            cur = 9600  # exactly the 低保 standard x 12 (near miss for M06)
        else:
            cur = int(prev * rng.uniform(0.85, 1.25))
        cur = cur // 10 * 10 if cur not in (7800, 9600) else cur
        incomes = [cur * 100] * nq
        statuses = [status] * nq
        monitors = [monitor] * nq
        for qi in range(1, nq):
            if rng.random() < 0.25 and incomes[qi - 1] not in (780000, 960000):
                incomes[qi:] = [int(incomes[qi - 1] * rng.uniform(0.8, 1.15)) // 1000 * 1000] * (nq - qi)
            s = statuses[qi - 1]
            if s == "已脱贫" and rng.random() < 0.04:
                statuses[qi:] = ["返贫"] * (nq - qi)
            elif s == "未脱贫" and rng.random() < 0.1:
                statuses[qi:] = ["已脱贫"] * (nq - qi)
            if not monitors[qi - 1] and rng.random() < 0.05:
                monitors[qi:] = [rng.choice(C.MONITOR_TYPES)] * (nq - qi)
        cause = ("因病" if any(p.health in (C.SERIOUS_ILLNESS, "长期慢性病") for p, _ in fam.persons)
                 else "因残" if fam.disability else rng.choice(C.RISK_CAUSES))
        members = [(p, r) for p, r in fam.persons if p.key not in fam.off_roll]
        unit = PovertyUnit(f"FP{pools.DISTRICT_CODES[fam.district]}{fam.fid:08d}", members, statuses, monitors,
                           incomes, None if rng.random() < 0.1 else prev * 100, cause)
        for p, _ in fam.persons:
            hs = [p.health] * nq
            if p.health == "长期慢性病" and nq > 1 and rng.random() < 0.1:
                k = rng.randrange(1, nq)
                hs[k:] = [C.SERIOUS_ILLNESS] * (nq - k)
            unit.health[p.key] = hs
        fam.poverty = unit

    def in_dibao_first(self, fam: Family, key: str) -> bool:
        return any(u.category in C.DIBAO and u.status[0] == C.STATUS_ACTIVE and any(p.key == key for p, _ in u.members)
                   for u in fam.assistance)

    def _subsidies(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        for key, d in fam.disability.items():
            dibao = self.in_dibao_first(fam, key)
            living = "是" if rng.random() < (0.75 if dibao else 0.15) else "否"
            d.living = [living] * nq
            nursing = []
            for g in d.grade:
                if g is None:
                    nursing.append("否")
                elif g <= 2:
                    nursing.append("是" if (nursing and nursing[-1] == "是") or rng.random() < 0.72 else "否")
                else:
                    nursing.append("否")
            d.nursing = nursing
            for qi in range(1, nq):
                if d.living[qi - 1] == "否" and rng.random() < 0.15:
                    d.living[qi:] = ["是"] * (nq - qi)

    def records(self, fam: Family, qi: int) -> list[Rec]:
        """The true rows every source holds about this family in quarter qi (empty if absent)."""
        if not (fam.first_q <= qi <= fam.last_q):
            return []
        qend = self.qends[qi]
        lo = minus_months(qend, 12)
        here = lambda p: p.gone_from > qi  # noqa: E731
        place = {"district": fam.district, "street": fam.street, "community": fam.community}
        out: list[Rec] = []
        for u in fam.assistance:
            members = [(p, r) for p, r in u.members if here(p)]
            for i, (p, rel) in enumerate(members):
                out.append(Rec("assistance", p, {
                    **place, "sex": p.sex, "household_id": u.hid, "relation": rel, "category": u.category,
                    "monthly_amount": u.amount[qi] if i == 0 else None, "household_size": len(members),
                    "status": u.status[qi], "status_date": u.status_date[qi]}))
        pu = fam.poverty
        if pu is not None:
            for p, rel in pu.members:
                if here(p):
                    out.append(Rec("poverty", p, {
                        **place, "sex": p.sex, "household_id": pu.hid, "relation": rel,
                        "poverty_status": pu.status[qi], "monitor_type": pu.monitor[qi],
                        "income_per_capita": pu.income[qi], "income_prev": pu.income_prev,
                        "risk_cause": pu.risk_cause, "health": pu.health[p.key][qi]}))
        persons = {p.key: p for p, _ in fam.persons}
        for key, d in fam.disability.items():
            p = persons[key]
            if d.grade[qi] is not None and here(p):
                out.append(Rec("disability", p, {
                    **place, "sex": p.sex, "category": d.category, "grade": d.grade[qi],
                    "living_subsidy": d.living[qi], "nursing_subsidy": d.nursing[qi]}))
        for key, s in fam.study.items():
            p = persons[key]
            if here(p):
                out.append(Rec("education", p, {
                    **place, "sex": p.sex, "school": s.school, "stage": s.stage, "school_type": s.school_type,
                    "tuition": s.tuition, "aid_programme": s.aid[qi], "aid_amount": s.aid_amount if s.aid[qi] else None},
                    guardian=s.guardian))
        if fam.housing is not None:
            head = fam.persons[0][0]
            out.append(Rec("housing", head, {
                **place, "safety_grade": fam.housing["grade"], "aid_type": fam.housing["aid"][qi],
                "renovation": fam.housing["renovation"][qi]}))
        for key, rows in fam.medical.items():
            p = persons[key]
            if not here(p):
                continue
            for d, total, ins, crit, aid, oop, diag in sorted(rows, key=lambda r: r[0]):
                if lo < d <= qend:
                    out.append(Rec("medical", p, {
                        "district": fam.district, "settle_date": d, "total_cost": total, "insurance_paid": ins,
                        "critical_illness_paid": crit, "aid_paid": aid, "out_of_pocket": oop, "diagnosis": diag}))
        return out
