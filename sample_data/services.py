"""The study, housing and medical histories of a family (mixed into world.World: they draw from
its random stream in the order World.family calls them)."""

from __future__ import annotations

from datetime import timedelta

from matchers import contract as C

from .world_types import (
    AID_PROGRAMMES, CN_NUM, DIAG_ALL, DIAG_CHRONIC, DIAG_OTHER, DIAG_SERIOUS, Family, Study, _rand_date, minus_months,
)


class FamilyServices:
    def _study(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        needy = fam.kind != "general"
        parents = {r: p for p, r in fam.persons}
        for p, rel in fam.persons:
            a = self._age(p)
            if not (3 <= a <= 22) or rng.random() > (self.pop.study_share_minor if a <= 18 else self.pop.study_share_adult):
                continue
            stage = ("学前" if a <= 5 else "小学" if a <= 11 else "初中" if a <= 14 else
                     ("中职" if rng.random() < 0.3 else "高中") if a <= 17 else "高校")
            private_p = {"学前": 0.4, "小学": 0.1, "初中": 0.12, "高中": 0.12, "中职": 0.3, "高校": 0.3}[stage]
            private = rng.random() < private_p
            tuition = self._tuition(stage, private)
            school = self._school(fam.district, stage, private)
            if rel == "孙子女":
                guardian = next((q for q, r in fam.persons if r == "子女"), fam.persons[0][0])
            elif rel == "子女":
                guardian = parents.get("配偶") if rng.random() < 0.4 and "配偶" in parents else fam.persons[0][0]
            else:
                guardian = fam.persons[0][0] if fam.persons[0][0] is not p else p
            if guardian is p:
                guardian = None
            aid = AID_PROGRAMMES[stage] if rng.random() < (0.8 if needy else 0.04) else ""
            aids = [aid] * nq
            for qi in range(1, nq):
                if not aids[qi - 1] and needy and rng.random() < 0.25:
                    aids[qi:] = [AID_PROGRAMMES[stage]] * (nq - qi)
            amount = rng.choice((1000, 1250, 1500, 2000, 2500, 3300)) * 100 if aid or needy else 0
            fam.study[p.key] = Study(school, stage, "民办" if private else "公办", tuition * 100, aids, amount, guardian)

    def _tuition(self, stage: str, private: bool) -> int:
        rng = self.rng
        if not private:
            return {"学前": rng.randrange(3000, 7201, 100), "小学": 0, "初中": 0, "高中": 1600,
                    "中职": 0, "高校": rng.choice((4500, 5000, 5500, 6000, 6500))}[stage]
        r = rng.random()
        if r < 0.12:
            return rng.choice((19999, 19800, 19900))  # just under the high-fee threshold
        if r < 0.2:
            return 20000
        lo, hi = {"学前": (8000, 36000), "小学": (15000, 48000), "初中": (15000, 48000), "高中": (15000, 38000),
                  "中职": (6000, 16000), "高校": (15000, 36000)}[stage]
        return rng.randrange(lo, hi + 1, 100)

    def _school(self, district: str, stage: str, private: bool) -> str:
        rng = self.rng
        d = district[:-1]
        n = CN_NUM[rng.randrange(10)]
        if stage == "学前":
            return f"{d}区{'金色童年' if private else '机关'}幼儿园" if rng.random() < 0.5 else f"{d}区第{n}幼儿园"
        if stage == "小学":
            return f"武汉{'外国语学校' if private else d + '区实验'}小学" if rng.random() < 0.3 else f"{d}区第{n}小学"
        if stage == "初中":
            return "武汉枫叶国际学校" if private else f"武汉市第{n}十{n}中学"
        if stage == "高中":
            return "武汉光谷实验中学(民办)" if private else f"武汉市第{n}中学"
        if stage == "中职":
            return "武汉华中科技职业学校" if private else "武汉市第一商业学校"
        return rng.choice(("武昌理工学院", "武汉东湖学院", "武汉学院")) if private else rng.choice(
            ("华中科技大学", "武汉理工大学", "湖北大学", "江汉大学", "武汉职业技术学院"))

    def _housing(self, fam: Family) -> None:
        rng = self.rng
        nq = len(self.quarters)
        if rng.random() >= (0.7 if fam.kind != "general" else 0.08):
            return
        grade = rng.choices(C.SAFETY_GRADES, (45, 30, 15, 10))[0]
        if grade in C.UNSAFE_GRADES:
            aid = "无" if rng.random() < 0.5 else rng.choice(C.HOUSING_AID_TYPES[:3])
            reno = rng.choices(C.RENOVATION_STATES, (30, 25, 45))[0]
        else:
            aid = "无" if rng.random() < 0.8 else rng.choice(("公租房实物配租", "租赁补贴"))
            reno = "已改造" if rng.random() < 0.3 else ""
        aids, renos = [aid] * nq, [reno] * nq
        for qi in range(1, nq):
            if renos[qi - 1] == "在建" and rng.random() < 0.4:
                renos[qi:] = ["已改造"] * (nq - qi)
            elif renos[qi - 1] == "未改造" and rng.random() < 0.2:
                renos[qi:] = ["在建"] * (nq - qi)
            if aids[qi - 1] == "无" and grade in C.UNSAFE_GRADES and rng.random() < 0.15:
                aids[qi:] = ["危房改造"] * (nq - qi)
        fam.housing = {"grade": grade, "aid": aids, "renovation": renos}

    def _medical(self, fam: Family) -> None:
        rng = self.rng
        start = minus_months(self.qends[0], 12) + timedelta(days=1)
        end = self.qends[-1]
        common_lo = minus_months(self.qends[-1], 12) + timedelta(days=1)
        common_hi = self.qends[0]
        target = None
        if fam.poverty is not None and rng.random() < 0.25:
            n = len(fam.poverty.members)
            inc = min(fam.poverty.income) * n  # cents
            choice = rng.random()
            if choice < 0.35:
                target = rng.randrange(2_000_000, 3_500_000)  # above the amount threshold (R03)
            elif choice < 0.6:
                target = 1_999_999  # 19999.99 yuan: just under 20000
            elif inc // 2 < 2_000_000:
                target = inc // 2 - rng.randrange(1, 5000)  # just under half the household income
        for p, _ in fam.persons:
            h = p.health
            if h == C.SERIOUS_ILLNESS:
                n, lo, hi, diag = rng.randint(3, 10), 3000, 60000, DIAG_SERIOUS
            elif h == "长期慢性病":
                n, lo, hi, diag = rng.randint(2, 8), 200, 4000, DIAG_CHRONIC
            elif h == "残疾" or rng.random() < (0.05 if fam.kind == "general" else 0.12):
                n, lo, hi, diag = rng.randint(1, 3), 150, 3000, DIAG_OTHER
            else:
                continue
            d = rng.choice(diag)
            rows = []
            for _ in range(n):
                total = rng.randrange(lo * 100, hi * 100)
                ins = total * rng.randrange(50, 71) // 100
                crit = (total - ins) * rng.randrange(30, 61) // 100 if total > 1_500_000 else 0
                aid = (total - ins - crit) * rng.randrange(20, 71) // 100 if fam.kind != "general" and rng.random() < 0.6 else 0
                rows.append([_rand_date(rng, start, end), total, ins, crit, aid, total - ins - crit - aid, self._diagnosis(d)])
            fam.medical[p.key] = rows
        if target is not None:
            # put the household's whole burden into the window every quarter sees, summing to target
            sick = next((p for p, _ in fam.persons if p.health == C.SERIOUS_ILLNESS), fam.persons[0][0])
            for p, _ in fam.persons:
                fam.medical.pop(p.key, None)
            k = rng.randint(2, 5)
            cuts = sorted(rng.sample(range(1, target), k - 1)) if target > k else []
            parts = [b - a for a, b in zip([0] + cuts, cuts + [target])]
            rows = []
            diag = rng.choice(DIAG_SERIOUS)  # one illness behind the whole burden
            for oop in parts:
                total = oop * 3
                ins = total - oop - oop // 2
                crit = oop // 2
                rows.append([_rand_date(rng, common_lo, common_hi), total, ins, crit, 0, oop, self._diagnosis(diag)])
            fam.medical[sick.key] = rows

    def _diagnosis(self, usual: str) -> str:
        """The diagnosis a settlement carries: the patient's usual one, or (Population) another."""
        share = self.pop.diagnosis_change_share
        if share and self.rng.random() < share:
            return self.rng.choice(DIAG_ALL)
        return usual

    # ---- true records per quarter ---------------------------------------------------------------
