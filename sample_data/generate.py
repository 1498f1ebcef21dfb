"""Seeded synthetic extracts for the six sources, with their ground truth.

    python -m sample_data.generate --households 300 --seed 20260930 --out sample_data

writes `<out>/extracts/<quarter>/<source>*.csv|xlsx` exactly as EXTRACTS.md describes (title rows,
blank rows, 合计 rows, aliases, encodings, damaged IDs and names, garbage rows) and `<out>/truth/`
(persons, per-quarter row truth and expected flags; see truth/README.md). Families are generated
and written one at a time (rows streamed to open files, XLSX through xlsxwriter's constant_memory
mode), so memory stays bounded at any scale. The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import xlsxwriter

from matchers import contract as C

from .cells import date_text, grade_text, id_cell, j_number, money_text, name_cell
from .populations import DEFAULT, POPULATIONS, Population
from .truth_rules import expected_flags
from .world import World
from .world_types import CN_NUM, Rec, minus_months, quarter_end

DEFAULT_QUARTERS = ("2026Q2", "2026Q3")
BIG_RUN = 50_000  # households above which most sources are written as CSV instead of XLSX
SERIAL, EMPTY, REMARK = "__serial__", "__empty__", "__remark__"

# Per source: (file name pattern, format) for even and odd quarter positions; medical is split in two.
FILE_PLAN = {
    "assistance": (("assistance_{q}.csv", "utf-8-sig"), ("assistance_{q}_roll.xlsx", "xlsx")),
    "poverty": (("poverty_{q}_final.xlsx", "xlsx"), ("poverty_{q}.csv", "gb18030")),
    "disability": (("disability.csv", "gb18030"), ("disability_{q}.xlsx", "xlsx")),
    "education": (("education_{q}.csv", "utf-8"), ("education_aid.csv", "utf-8-sig")),
    "housing": (("housing.csv", "utf-8"), ("housing_{q}.csv", "gb18030")),
    "medical": (("medical_part{k}.csv", "utf-8"), ("medical_part{k}.csv", "gb18030")),
}
TITLES = {
    "assistance": ("低保对象名册", "武汉市民政局"),
    "poverty": ("建档立卡户及监测对象名单", "武汉市乡村振兴局"),
    "disability": ("持证残疾人名册", "武汉市残疾人联合会"),
    "education": ("学生资助名单", "武汉市教育局"),
    "housing": ("住房安全与住房救助台账", "武汉市住房和城市更新局"),
    "medical": ("医疗救助结算明细", "武汉市医疗保障局"),
}
MONEY_FIELDS = {f.name for spec in C.SPECS.values() for f in spec.fields if f.kind == C.MONEY}
MARKABLE = {"monthly_amount", "aid_amount", "total_cost", "insurance_paid"}  # no rule reads them
TOTAL_FIELDS = {"assistance": "monthly_amount", "medical": "out_of_pocket"}
# Name headers that only make sense in some rolls (a student roster says 学生姓名, housing 户主姓名).
NAME_ALIAS_ELSEWHERE = {
    "学生姓名": ("education",), "户主姓名": ("housing",), "救助对象姓名": ("assistance",),
    "成员姓名": ("assistance", "poverty"),
}
REMARKS = ("", "", "", "", "", "", "新增", "复核", "户籍迁出", "已入户核实", "待补充材料")


@dataclass
class FilePlan:
    source: str
    name: str
    fmt: str  # utf-8, utf-8-sig, gb18030 or xlsx
    columns: list  # field names or SERIAL/EMPTY/REMARK
    headers: list


def plan_files(quarters: list[str], xlsx_sources=C.SOURCES) -> dict[tuple[int, str], list[FilePlan]]:
    """File names, formats and headers; every alias of contract.py is used somewhere (least used first).

    Sources not in xlsx_sources are written as UTF-8-BOM CSV where the plan says XLSX (big runs).
    """
    used: Counter = Counter()
    plans: dict[tuple[int, str], list[FilePlan]] = {}
    for qi, q in enumerate(quarters):
        for src in C.SOURCES:
            name_pat, fmt = FILE_PLAN[src][qi % 2]
            if fmt == "xlsx" and src not in xlsx_sources:
                name_pat, fmt = name_pat.replace(".xlsx", ".csv"), "utf-8-sig"
            names = [name_pat.format(q=q, k=k) for k in (1, 2)] if src == "medical" else [name_pat.format(q=q)]
            plans[(qi, src)] = []
            for fi, name in enumerate(names):
                spec = C.SPECS[src]
                columns: list = [SERIAL]
                headers = ["序号"]
                for f in spec.fields:
                    choices = [a for a in f.aliases if a not in NAME_ALIAS_ELSEWHERE or src in NAME_ALIAS_ELSEWHERE[a]]
                    alias = min(choices, key=lambda a: (used[a], f.aliases.index(a)))
                    used[alias] += 1
                    if fmt == "gb18030":  # Windows exports: full-width brackets
                        alias = alias.replace("(", "（").replace(")", "）")
                    if (qi + fi) % 3 == 2 and f.name == "district":
                        alias = f" {alias} "  # stray spaces around a header
                    columns.append(f.name)
                    headers.append(alias)
                    if (f.name == "sex" and ((qi + len(src)) % 2 == 0 or fmt == "xlsx")
                            or (src == "medical" and f.name == "district" and fi == 1)):
                        columns.append(EMPTY)
                        headers.append("")
                columns.append(REMARK)
                headers.append("备注")
                plans[(qi, src)].append(FilePlan(src, name, fmt, columns, headers))
    return plans


class CsvOut:
    def __init__(self, path: Path, plan: FilePlan):
        self.fh = open(path, "w", encoding=plan.fmt, newline="")
        self.w = csv.writer(self.fh)
        self.w.writerow(plan.headers)
        self.width = len(plan.headers)

    def row(self, cells: list[str]) -> None:
        self.w.writerow(cells)

    def blank(self) -> None:
        self.w.writerow([""] * self.width)

    def close(self) -> None:
        self.fh.close()


class XlsxOut:
    def __init__(self, path: Path, plan: FilePlan, quarter: str, qend: date):
        self.wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        self.wb.set_properties({"created": datetime(qend.year, qend.month, qend.day), "author": TITLES[plan.source][1]})
        self.ws = self.wb.add_worksheet("Sheet1")
        title, dept = TITLES[plan.source]
        year, q = int(quarter[:4]), int(quarter[-1])
        width = len(plan.headers)
        bold = self.wb.add_format({"bold": True, "align": "center", "font_size": 14})
        self.ws.merge_range(0, 0, 0, width - 1, f"武汉市{year}年第{CN_NUM[q - 1]}季度{title}", bold)
        filed = qend + timedelta(days=10)
        self.ws.write_string(1, 0, f"填报单位：{dept}（盖章）    金额单位：元    填报日期：{filed.year}年{filed.month}月{filed.day}日")
        self.r = 2
        if plan.source == "poverty":
            self.r += 1  # a blank line between the unit line and the header
        self._write(plan.headers)
        self.width = width

    def _write(self, cells: list[str]) -> None:
        for c, v in enumerate(cells):
            if v != "":
                self.ws.write_string(self.r, c, v)
        self.r += 1

    def row(self, cells: list[str]) -> None:
        self._write(cells)

    def blank(self) -> None:
        self.r += 1

    def close(self) -> None:
        # A second sheet of filling notes: the roll is the first sheet, as EXTRACTS.md says.
        notes = self.wb.add_worksheet("填表说明")
        notes.write_string(0, 0, "1. 身份证号按文本格式填写;2. 金额单位为元;3. 本表由系统导出,请勿调整列顺序。")
        self.wb.close()


class Formatter:
    """Turns one true record into the cells of one file row, damaging cells at realistic rates."""

    def __init__(self, rng: random.Random, population: Population = DEFAULT):
        self.rng = rng
        self.pop = population

    def cells(self, rec: Rec, plan: FilePlan, serial: int) -> tuple[list[str], list[str], bool]:
        rng = self.rng
        p = rec.person
        v = rec.v
        xlsx = plan.fmt == "xlsx"
        labels: list[str] = []
        pop = self.pop
        name, nl = name_cell(rng, p.name, pop)
        labels += nl
        values = {"name": name}
        unusable = False
        if rec.source == "disability":
            values["cert_number"] = f"{p.id18}{v['category']}{v['grade']}"
            if rng.random() < pop.disability_cert_only:
                values["id_number"] = ""
                labels.append("cert_only")
            else:
                values["id_number"], il, _ = id_cell(rng, p.id18, pop)
                labels += il
        elif rec.source == "education":
            j_only, l_only = pop.student_number
            r = rng.random()
            if r < j_only:
                values["student_number"], values["id_number"] = j_number(rng, p.id18), ""
                labels.append("student_number_J")
                unusable = True
            elif r < l_only:
                values["student_number"] = f"L{p.id18[:14]}{rng.randrange(10000):04d}"
                values["id_number"] = ""
                labels.append("student_number_L")
                unusable = True
            else:
                values["student_number"] = "G" + p.id18
                if rng.random() < pop.student_g_only:
                    values["id_number"] = ""
                    labels.append("student_number_G_only")
                else:
                    values["id_number"], il, _ = id_cell(rng, p.id18, pop)
                    labels += il
            g = rec.guardian
            values["guardian_name"] = g.name if g else ""
            values["guardian_id"] = g.id18 if g else ""
            if g and pop.guardian_id_missing and rng.random() < pop.guardian_id_missing:
                values["guardian_id"] = ""
                labels.append("guardian_id_missing")
        else:
            values["id_number"], il, unusable = id_cell(rng, p.id18, pop)
            labels += il
        for key, val in v.items():
            if val is None:
                values[key] = ""
            elif key in MONEY_FIELDS:
                if key in MARKABLE and rng.random() < 0.006:
                    values[key] = "不详" if rng.random() < 0.5 else "-" + money_text(rng, val)
                else:
                    values[key] = money_text(rng, val)
            elif isinstance(val, date):
                values[key] = date_text(rng, val, xlsx)
            elif key == "grade":
                values[key] = grade_text(rng, val)
            elif key == "category" and rec.source == "disability":
                values[key] = C.DISABILITY_CATEGORIES[val - 1]
            else:
                values[key] = str(val)
        out = []
        for col in plan.columns:
            if col == SERIAL:
                out.append(str(serial))
            elif col == EMPTY:
                out.append("")
            elif col == REMARK:
                out.append(rng.choice(REMARKS))
            else:
                out.append(values.get(col, ""))
        return out, labels, unusable

    def garbage(self, cells: list[str], plan: FilePlan) -> tuple[list[str], list[str]]:
        """A copy of a real row with no name and an unrepairable or missing ID (expected rejected)."""
        rng = self.rng
        out = list(cells)
        junk = rng.choice(("", "", "无", "不详", "4201", "4.20115E+17", "0"))
        for i, col in enumerate(plan.columns):
            if col in ("name", "cert_number", "student_number", "guardian_name", "guardian_id", "monthly_amount"):
                out[i] = ""
            elif col == "id_number":
                out[i] = junk
        return out, ["name_empty", "id_missing" if junk == "" else "id_unrepairable"]


class Outputs:
    """All open files of one generation run plus their row counters."""

    def __init__(self, out: Path, quarters: list[str], seed: int, xlsx_sources=C.SOURCES):
        self.quarters = quarters
        self.plans = plan_files(quarters, xlsx_sources)
        self.files: dict[str, object] = {}
        self.rows: Counter = Counter()
        self.totals: Counter = Counter()
        self.rngs: dict[str, random.Random] = {}
        self.file_plans: dict[str, FilePlan] = {}
        for (qi, src), plans in self.plans.items():
            qdir = out / "extracts" / quarters[qi]
            qdir.mkdir(parents=True, exist_ok=True)
            for plan in plans:
                key = f"{quarters[qi]}/{plan.name}"
                path = qdir / plan.name
                if plan.fmt == "xlsx":
                    self.files[key] = XlsxOut(path, plan, quarters[qi], quarter_end(quarters[qi]))
                else:
                    self.files[key] = CsvOut(path, plan)
                self.rngs[key] = random.Random(f"{seed}:{key}")
                self.file_plans[key] = plan
        self.truth_dir = out / "truth"

    def plan_for(self, qi: int, rec: Rec) -> FilePlan:
        plans = self.plans[(qi, rec.source)]
        if len(plans) == 1:
            return plans[0]
        return plans[0] if C.WUHAN_DISTRICTS.index(rec.v["district"]) < 7 else plans[1]

    def close(self) -> None:
        for key, f in self.files.items():
            plan = self.file_plans[key]
            if plan.fmt == "xlsx" or plan.source in TOTAL_FIELDS:
                cells = ["合计"] + [""] * (len(plan.columns) - 1)
                tf = TOTAL_FIELDS.get(plan.source)
                if tf in plan.columns:
                    cents = self.totals[key]
                    cells[plan.columns.index(tf)] = f"{cents // 100}.{cents % 100:02d}"
                name_col = plan.columns.index("name")
                cells[name_col] = f"共{self.rows[key]}条"
                f.row(cells)
            f.close()


TRUTH_README = """\
# Ground truth of the synthetic extracts

`persons.csv` lists every person of the generated world who appears in at least one extract row or
as a student's guardian (person_key, true 18-digit id_number, true simplified name, sex, birth_date
YYYY-MM-DD, district of residence); `<quarter>/records.csv` has one line per data row of every
extract file of that quarter (quarter, source, source_file, source_row numbered exactly as
EXTRACTS.md says: 1-based among the file's data rows, restarting in each file, garbage rows
included; person_key, empty for garbage rows; expected `accepted` or `rejected`; corruptions, the
semicolon-joined labels of the damage done to that row's ID/name cells: id_space,
id_ideographic_space, id_nbsp, id_dash, id_apostrophe, id_fullwidth, id_lowercase_x,
id_trailing_dot0, id_15digit, id_excel_scientific, id_wrong_check, id_mistyped_digit and
id_transposed_digits (both re-drawn until the check character fails, so the damage is always
detectable), id_missing, cert_only, student_number_G_only, student_number_J, student_number_L,
name_space, name_fullwidth, name_traditional, name_dot_variant, name_rare_placeholder, and for
garbage rows name_empty with id_missing or id_unrepairable); `<quarter>/flags.csv` lists the flags
RULES.md expects with its default thresholds (quarter, rule_code, person_key, household_source and
household_id for the household rules M06, M07, R01-R03, empty otherwise), computed by
`sample_data/truth_rules.py` from the true identities, true household membership (a household's
roll; a student's households, used by M04, Q02 and M06's tuition, add those of the true guardian)
and true values, independently of the pipeline; Q03 lists only persons
with an accepted row that has no usable ID (missing, Excel-truncated, or J/L number only), and R04
compares with the previous generated quarter (none for the first).
"""


def generate(out: Path, households: int, seed: int, quarters: list[str], log=print,
             population: Population | str = DEFAULT) -> dict:
    """Write extracts and truth under `out`; returns counts (rows per file, flags per quarter/rule).
    population: a `sample_data.populations` Population or its name."""
    if isinstance(population, str):
        if population not in POPULATIONS:
            raise ValueError(f"未知的人口设定 {population!r},可选: {', '.join(POPULATIONS)}")
        population = POPULATIONS[population]
    started = time.perf_counter()
    for q in quarters:
        quarter_end(q)  # validates
        for d in (out / "extracts" / q, out / "truth" / q):
            if d.exists():
                shutil.rmtree(d)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    world = World(seed, quarters, population)
    # Big runs write XLSX only for the small disability roll (xlsxwriter is the slow part).
    outs = Outputs(out, quarters, seed, C.SOURCES if households <= BIG_RUN else ("disability",))
    fmt = Formatter(random.Random(f"{seed}:cells"), population)
    truth = out / "truth"
    rec_files, flag_files = [], []
    for q in quarters:
        (truth / q).mkdir(parents=True, exist_ok=True)
        rf = open(truth / q / "records.csv", "w", encoding="utf-8", newline="")
        ff = open(truth / q / "flags.csv", "w", encoding="utf-8", newline="")
        rec_files.append((rf, csv.writer(rf)))
        flag_files.append((ff, csv.writer(ff)))
        rec_files[-1][1].writerow(["quarter", "source", "source_file", "source_row", "person_key", "expected", "corruptions"])
        flag_files[-1][1].writerow(["quarter", "rule_code", "person_key", "household_source", "household_id"])
    pf = open(truth / "persons.csv", "w", encoding="utf-8", newline="")
    pw = csv.writer(pf)
    pw.writerow(["person_key", "id_number", "name", "sex", "birth_date", "district"])
    flag_counts: Counter = Counter()
    n_persons = 0
    for fid in range(households):
        fam = world.family(fid)
        seen: dict[str, object] = {}
        prev_severe = None
        for qi, q in enumerate(quarters):
            recs = world.records(fam, qi)
            rw = rec_files[qi][1]
            no_usable = []
            for rec in recs:
                plan = outs.plan_for(qi, rec)
                key = f"{q}/{plan.name}"
                frng = outs.rngs[key]
                f = outs.files[key]
                if frng.random() < 0.003:
                    f.blank()
                cells, labels, unusable = fmt.cells(rec, plan, outs.rows[key] + 1)
                if frng.random() < 0.004:
                    outs.rows[key] += 1
                    gcells, glabels = fmt.garbage(cells, plan)
                    gcells[0] = str(outs.rows[key])
                    f.row(gcells)
                    rw.writerow([q, rec.source, plan.name, outs.rows[key], "", "rejected", ";".join(glabels)])
                    cells[0] = str(outs.rows[key] + 1)
                outs.rows[key] += 1
                f.row(cells)
                tf = TOTAL_FIELDS.get(rec.source)
                if tf and rec.v.get(tf) is not None:
                    outs.totals[key] += rec.v[tf]
                rw.writerow([q, rec.source, plan.name, outs.rows[key], rec.person.key, "accepted", ";".join(labels)])
                no_usable.append(unusable)
                seen[rec.person.key] = rec.person
                if rec.guardian is not None:
                    seen.setdefault(rec.guardian.key, rec.guardian)
            qend = world.qends[qi]
            flags = expected_flags(recs, no_usable, qend, minus_months(qend, 12), prev_severe if qi else None)
            for code, pkey, hsrc, hid in flags:
                flag_files[qi][1].writerow([q, code, pkey, hsrc, hid])
                flag_counts[(q, code)] += 1
            prev_severe = {r.person.key for r in recs if r.source == "disability" and r.v["grade"] in C.SEVERE_GRADES}
        for p in sorted(seen.values(), key=lambda p: p.key):
            pw.writerow([p.key, p.id18, p.name, p.sex, p.born.isoformat(), p.district])
            n_persons += 1
        if log and households >= 50000 and (fid + 1) % 50000 == 0:
            log(f"已生成 {fid + 1} 户 ({time.perf_counter() - started:.0f} 秒)")
    outs.close()
    for f, _ in rec_files + flag_files:
        f.close()
    pf.close()
    readme = TRUTH_README
    if population is not DEFAULT:
        readme += f"\nPopulation `{population.name}`: {population.description} (sample_data/populations.py).\n"
        if population.guardian_id_missing:
            readme += "Education rows naming their guardian without an ID carry the label guardian_id_missing.\n"
    (truth / "README.md").write_text(readme, encoding="utf-8")
    return {"rows": dict(outs.rows), "flags": dict(flag_counts), "persons": n_persons,
            "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="生成带标准答案的模拟部门名册(可复现)")
    ap.add_argument("--households", type=int, default=300, help="家庭户数")
    ap.add_argument("--seed", type=int, default=20260930, help="随机种子(相同种子生成完全相同的文件)")
    ap.add_argument("--out", type=Path, default=Path("sample_data"), help="输出目录(写入 extracts/ 与 truth/)")
    ap.add_argument("--quarters", default=",".join(DEFAULT_QUARTERS), help="季度,逗号分隔,如 2026Q2,2026Q3")
    ap.add_argument("--population", default=DEFAULT.name, choices=sorted(POPULATIONS),
                    help="人口设定(姓名频率、损坏比例、家庭结构),默认与仓库内样例相同")
    args = ap.parse_args(argv)
    quarters = [q.strip() for q in args.quarters.split(",") if q.strip()]
    try:
        stats = generate(args.out, args.households, args.seed, quarters, population=args.population)
    except ValueError as e:
        print(f"错误: {e}", file=sys.stderr)
        return 2
    print(f"生成完成: {args.households} 户, {stats['persons']} 人, 用时 {stats['seconds']:.1f} 秒")
    for key in sorted(stats["rows"]):
        print(f"  {key}: {stats['rows'][key]} 行")
    for q in quarters:
        counts = {code: n for (qq, code), n in sorted(stats["flags"].items()) if qq == q}
        print(f"  {q} 预期预警: " + ", ".join(f"{c}={n}" for c, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
