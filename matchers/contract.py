"""The extract contract (../shared/contract/EXTRACTS.md) as data: sources, fields, header aliases.

This is the one place where a header alias, a required column or a field's type is defined.
Everything else (reader, parser, generator, tests) reads it from here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

SOURCES: tuple[str, ...] = ("assistance", "poverty", "disability", "education", "housing", "medical")

SOURCE_LABELS: dict[str, str] = {
    "assistance": "民政社会救助对象名册",
    "poverty": "扶贫建档立卡/监测对象",
    "disability": "残联持证残疾人",
    "education": "教育学生资助",
    "housing": "住建住房安全与住房救助",
    "medical": "医保结算明细",
}

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")

# WAREHOUSE.md `reviews.decision` values, and the status of a flag nobody has decided yet.
REVIEW_DECISIONS = ("属实已纳入救助", "属实待处理", "不属实", "无法核实")
PENDING_REVIEW = "待核查"

# Field types: text stays text; money/int/date/bool/grade are parsed by matchers.parsing.
TEXT, MONEY, INT, DATE, BOOL, GRADE = "text", "money", "int", "date", "bool", "grade"


@dataclass(frozen=True)
class Field:
    name: str
    aliases: tuple[str, ...]  # in priority order: the first alias present in a file wins
    kind: str = TEXT
    label: str = ""  # the Chinese header officers know it by (first alias by default)

    @property
    def header(self) -> str:
        return self.label or self.aliases[0]


@dataclass(frozen=True)
class SourceSpec:
    key: str
    fields: tuple[Field, ...]
    # Each entry is a group of field names of which at least one must be present as a column.
    required: tuple[tuple[str, ...], ...]
    # The field that carries the person's identifier for this source, in the order tried.
    id_fields: tuple[str, ...] = ("id_number",)
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# ---- common person fields -------------------------------------------------------------------
_NAME = ("姓名", "成员姓名", "救助对象姓名", "学生姓名", "户主姓名")
_ID = ("身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证")


def _name(first: tuple[str, ...] = ()) -> Field:
    return Field("name", tuple(dict.fromkeys(first + _NAME)))


def _id(first: tuple[str, ...] = ()) -> Field:
    return Field("id_number", tuple(dict.fromkeys(first + _ID)))


SEX = Field("sex", ("性别",))
DISTRICT = Field("district", ("区", "所在区", "区县", "行政区"))
STREET = Field("street", ("街道", "乡镇", "街道(乡镇)", "乡镇(街道)"))
COMMUNITY = Field("community", ("社区", "村", "村(社区)", "社区(村)"))
HOUSEHOLD_ID_ASSISTANCE = Field("household_id", ("家庭编号", "户编号"))
RELATION = Field("relation", ("与户主关系",))

SPECS: dict[str, SourceSpec] = {
    "assistance": SourceSpec(
        "assistance",
        (
            _name(),
            _id(),
            SEX,
            DISTRICT,
            STREET,
            COMMUNITY,
            HOUSEHOLD_ID_ASSISTANCE,
            RELATION,
            Field("category", ("救助类别",)),
            Field("monthly_amount", ("月保障金额(元)", "保障金额"), MONEY),
            Field("household_size", ("家庭人口", "保障人数"), INT),
            Field("status", ("状态",)),
            Field("status_date", ("状态日期", "变更日期"), DATE),
        ),
        required=(("name",), ("id_number",), ("household_id",), ("category",), ("status",)),
    ),
    "poverty": SourceSpec(
        "poverty",
        (
            _name(),
            _id(),
            SEX,
            DISTRICT,
            STREET,
            COMMUNITY,
            Field("household_id", ("户编号",)),
            RELATION,
            Field("poverty_status", ("脱贫状态", "贫困户状态")),
            Field("monitor_type", ("监测对象类别", "监测类型")),
            Field("income_per_capita", ("家庭年人均纯收入(元)", "人均纯收入"), MONEY),
            Field("income_prev", ("上年人均纯收入(元)",), MONEY),
            Field("risk_cause", ("主要致贫原因", "致贫返贫风险")),
            Field("health", ("健康状况",)),
        ),
        required=(("name",), ("id_number",), ("household_id",), ("poverty_status",)),
    ),
    "disability": SourceSpec(
        "disability",
        (
            _name(),
            _id(),
            SEX,
            DISTRICT,
            STREET,
            COMMUNITY,
            Field("cert_number", ("残疾人证号", "残疾证号")),
            Field("category", ("残疾类别",)),
            Field("grade", ("残疾等级",), GRADE),
            Field("living_subsidy", ("享受困难残疾人生活补贴", "生活补贴"), BOOL),
            Field("nursing_subsidy", ("享受重度残疾人护理补贴", "护理补贴"), BOOL),
        ),
        required=(("name",), ("cert_number", "id_number"), ("grade",)),
        id_fields=("id_number", "cert_number"),
    ),
    "education": SourceSpec(
        "education",
        (
            _name(("学生姓名",)),
            _id(("学生身份证号",)),
            SEX,
            DISTRICT,
            STREET,
            COMMUNITY,
            Field("student_number", ("学籍号", "全国学籍号")),
            Field("school", ("学校名称",)),
            Field("stage", ("学段",)),
            Field("school_type", ("办学性质",)),
            Field("tuition", ("年学费(元)",), MONEY),
            Field("aid_programme", ("资助项目",)),
            Field("aid_amount", ("资助金额(元)",), MONEY),
            Field("guardian_name", ("监护人姓名",)),
            Field("guardian_id", ("监护人身份证号",)),
        ),
        required=(("name",), ("student_number", "id_number")),
        id_fields=("id_number", "student_number"),
    ),
    "housing": SourceSpec(
        "housing",
        (
            _name(("户主姓名",)),
            _id(("户主身份证号",)),
            DISTRICT,
            STREET,
            COMMUNITY,
            Field("safety_grade", ("住房安全等级", "房屋鉴定等级")),
            Field("aid_type", ("住房救助类型",)),
            Field("renovation", ("改造状态",)),
        ),
        required=(("name",), ("id_number",), ("safety_grade",)),
    ),
    "medical": SourceSpec(
        "medical",
        (
            _name(),
            _id(),
            DISTRICT,
            Field("settle_date", ("结算日期",), DATE),
            Field("total_cost", ("医疗总费用(元)",), MONEY),
            Field("insurance_paid", ("基本医保支付(元)",), MONEY),
            Field("critical_illness_paid", ("大病保险支付(元)",), MONEY),
            Field("aid_paid", ("医疗救助支付(元)",), MONEY),
            Field("out_of_pocket", ("个人自付(元)",), MONEY),
            Field("diagnosis", ("疾病名称", "病种")),
        ),
        required=(("name",), ("id_number",), ("out_of_pocket",)),
    ),
}

# ---- category values (RULES.md terms) --------------------------------------------------------
RELATION_HEAD = "户主"
RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "兄弟姐妹", "其他")
DIBAO = ("城市低保", "农村低保")
TEKUN = ("城市特困", "农村特困")
ASSISTANCE_CATEGORIES = DIBAO + TEKUN + ("临时救助", "低收入")
STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_EXITED, STATUS_REFUSED = "在保", "停保", "退出", "未批准"
ASSISTANCE_STATUSES = (STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_EXITED, STATUS_REFUSED)
POVERTY_STATUSES = ("已脱贫", "未脱贫", "返贫")
MONITOR_TYPES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")
RISK_CAUSES = ("因病", "因残", "因学", "因灾", "缺劳动力", "缺技术", "其他")
HEALTH_VALUES = ("健康", "长期慢性病", "患有大病", "残疾")
SERIOUS_ILLNESS = "患有大病"
DISABILITY_CATEGORIES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
GRADES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
SEVERE_GRADES = (1, 2)
STAGES = ("学前", "小学", "初中", "高中", "中职", "高校")
SCHOOL_TYPES = ("公办", "民办")
SAFETY_GRADES = ("A", "B", "C", "D")
UNSAFE_GRADES = ("C", "D")
HOUSING_AID_TYPES = ("危房改造", "公租房实物配租", "租赁补贴", "无")
RENOVATION_STATES = ("已改造", "在建", "未改造")

# Wuhan's 13 districts: the only district values a row keeps (anything else is null, with a row
# issue, so it never gets a district list of its own).
WUHAN_DISTRICTS = (
    "江岸区", "江汉区", "硚口区", "汉阳区", "武昌区", "青山区", "洪山区",
    "东西湖区", "汉南区", "蔡甸区", "江夏区", "黄陂区", "新洲区",
)
# Written before a district name by some exports (`武汉市江夏区`); the name without its 区
# (`江夏`) is accepted too.
DISTRICT_PREFIXES = ("湖北省武汉市", "武汉市")


def district_name(value: str | None) -> str | None:
    """The contract's name of a district cell (`武汉市 江夏`, `江夏区` → 江夏区), or None when the
    value names none of WUHAN_DISTRICTS."""
    if value is None:
        return None
    s = fold_header(value)
    for prefix in DISTRICT_PREFIXES:
        s = s.removeprefix(prefix)
    if s in WUHAN_DISTRICTS:
        return s
    return s + "区" if s + "区" in WUHAN_DISTRICTS else None

# Rows whose first non-empty cell reads like this are totals, not data. (The reader looks closely
# only at rows containing 计: keep that true of every marker.)
TOTAL_ROW_MARKERS = ("合计", "总计", "小计")
MAX_BANNER_ROWS = 5
# Rows read before the header must have been found (banner rows, blank rows between them).
HEADER_SEARCH_ROWS = MAX_BANNER_ROWS * 4 + 20


def fold_header(text: object) -> str:
    """Header text as compared with the aliases: NFKC (full-width → half-width), no whitespace."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    return "".join(ch for ch in s if not ch.isspace())


def alias_index(spec: SourceSpec) -> dict[str, tuple[str, int]]:
    """Folded alias → (field name, priority). Lower priority number wins when several are present."""
    index: dict[str, tuple[str, int]] = {}
    for f in spec.fields:
        for priority, alias in enumerate(f.aliases):
            index.setdefault(fold_header(alias), (f.name, priority))
    return index


def source_of_file(stem: str) -> str | None:
    """The source key a file stem starts with (`medical_part1` → medical), or None."""
    for key in SOURCES:
        if stem == key or stem.startswith(key + "_") or stem.startswith(key):
            return key
    return None
