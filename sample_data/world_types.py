"""The generator's true world, its vocabulary: persons, true source rows, families and what they
hold (assistance and poverty units, disability, study), and the date helpers. See world.py."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from matchers import contract as C

@dataclass(slots=True)
class Person:
    key: str
    id18: str
    name: str
    sex: str
    born: date
    district: str
    health: str = "健康"  # 健康, 长期慢性病, 患有大病, 残疾 (first quarter; may worsen)
    gone_from: int = 99  # first quarter index in which the person no longer appears (died/moved)


@dataclass(slots=True)
class Rec:
    """One true source row: the person, the true field values (money in cents, dates as date)."""

    source: str
    person: Person
    v: dict
    guardian: Person | None = None


@dataclass(slots=True)
class AssistUnit:
    hid: str
    members: list  # [(Person, relation)]
    category: str
    status: list  # per quarter
    status_date: list  # per quarter
    amount: list  # per quarter, cents per month


@dataclass(slots=True)
class PovertyUnit:
    hid: str
    members: list
    status: list
    monitor: list
    income: list  # per quarter, cents per person per year
    income_prev: int | None
    risk_cause: str
    health: dict = field(default_factory=dict)  # person key -> per-quarter list


@dataclass(slots=True)
class Disability:
    category: int  # 1..7 (index into DISABILITY_CATEGORIES + 1)
    grade: list  # per quarter: 1..4 or None (no certificate that quarter)
    living: list  # per quarter: 是/否
    nursing: list


@dataclass(slots=True)
class Study:
    school: str
    stage: str
    school_type: str
    tuition: int  # cents per year
    aid: list  # per quarter programme ('' = none)
    aid_amount: int
    guardian: Person


@dataclass(slots=True)
class Family:
    fid: int
    district: str
    street: str
    community: str
    rural: bool
    kind: str
    first_q: int
    last_q: int
    persons: list  # [(Person, relation)]
    assistance: list = field(default_factory=list)
    poverty: PovertyUnit | None = None
    disability: dict = field(default_factory=dict)  # key -> Disability
    study: dict = field(default_factory=dict)  # key -> Study
    housing: dict | None = None  # {'grade','aid':[..],'renovation':[..]}
    medical: dict = field(default_factory=dict)  # key -> [settlement tuples]
    off_roll: frozenset = frozenset()  # person keys on none of the family's rolls (grandchildren)


KINDS = ("dibao", "tekun", "poverty", "poverty_dibao", "assist_other", "general")  # Population.kind_weights

DIAG_CHRONIC = ("高血压", "2型糖尿病", "慢性阻塞性肺疾病", "冠心病", "类风湿关节炎", "慢性肾病")
DIAG_SERIOUS = ("恶性肿瘤", "尿毒症(血液透析)", "白血病", "脑梗死后遗症", "重性精神病", "再生障碍性贫血")
DIAG_OTHER = ("肺炎", "骨折", "急性阑尾炎", "支气管炎", "白内障")
DIAG_ALL = DIAG_SERIOUS + DIAG_CHRONIC + DIAG_OTHER
AID_PROGRAMMES = {
    "学前": "学前教育资助", "小学": "家庭经济困难寄宿生生活费补助", "初中": "家庭经济困难寄宿生生活费补助",
    "高中": "普通高中国家助学金", "中职": "中职国家助学金", "高校": "高校国家助学金",
}
CN_NUM = "一二三四五六七八九十"


def quarter_end(quarter: str) -> date:
    m = C.QUARTER_PATTERN.match(quarter)
    if not m:
        raise ValueError(f"季度格式应为 2026Q3: {quarter}")
    year, q = int(m.group(1)), int(m.group(2))
    return date(year, 3 * q, 31 if q in (1, 4) else 30)


@lru_cache(maxsize=4096)
def minus_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def _rand_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))
