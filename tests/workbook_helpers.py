"""Plain helpers the workbook export and review import tests share (the `exported` fixture built on
them is in conftest.py): a small warehouse of four persons in two districts and four flags, how an
officer fills an exported workbook, and the reviews table as rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl

from matchers import warehouse
from matchers.reports.columns import COL_DECISION, COL_FLAG_ID, COL_NOTE, COL_REVIEWER, INFO_SHEET

Q = "2026Q3"
FULL_ID = re.compile(r"\d{17}[\dXx]")

PERSONS = [
    # person_id, id_number, name, district
    ("P1", "420115198001011234", "王秀英", "江夏区"),
    ("P2", "42011519751212567X", "李建国", "江夏区"),
    ("P3", "420111196505053456", "张伟", "洪山区"),
    ("P4", "420115201003037890", "刘小明", "江夏区"),
]
FLAGS = [
    # flag_id, rule_code, person_id, district, reason, first_seen
    ("F-M02-1", "M02", "P1", "江夏区", "王秀英(4201**********1234) 残疾等级二级,未享受重度残疾人护理补贴", "2026Q2"),
    ("F-R01-2", "R01", "P2", "江夏区", "李建国(4201**********567X) 已脱贫户人均纯收入6500元,低于监测线7800元", Q),
    ("F-Q03-4", "Q03", "P4", "江夏区", "刘小明 学籍号G420115201003037890,无可用身份证号", Q),
    ("F-M02-3", "M02", "P3", "洪山区", "张伟(4201**********3456) 残疾等级一级,未享受重度残疾人护理补贴", Q),
]


def make_warehouse(tmp_path: Path):
    con = warehouse.connect(tmp_path / "wh.duckdb")
    for pid, idn, name, district in PERSONS:
        con.execute(
            "INSERT INTO persons (person_id, id_number, name, district) VALUES (?, ?, ?, ?)",
            [pid, idn, name, district],
        ).fetchall()
        con.execute(
            "INSERT INTO source_records (quarter, source, source_file, source_row, person_id, name_raw, id_raw,"
            " id_norm, district, street, community) VALUES (?, 'disability', 'disability.csv', ?, ?, ?, ?, ?, ?,"
            " '纸坊街道', '大桥社区')",
            [Q, int(pid[1:]), pid, name, idn, idn, district],
        ).fetchall()
    for fid, rule, pid, district, reason, first_seen in FLAGS:
        evidence = json.dumps([{"source": "disability", "source_file": "disability.csv", "source_row": int(pid[1:])}])
        con.execute(
            "INSERT INTO flags (quarter, flag_id, rule_code, person_id, district, reason, evidence, first_seen,"
            " review_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '待核查')",
            [Q, fid, rule, pid, district, reason, evidence, first_seen],
        ).fetchall()
    return con


def fill_workbook(path: Path, decisions: dict[str, tuple[str, str | None, str | None]], extra_rows=()) -> None:
    """Write decision/note/reviewer for the given flag_ids, and append `extra_rows` to the first sheet."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.title == INFO_SHEET:
            continue
        header = [c.value for c in ws[2]]
        col = {h: i + 1 for i, h in enumerate(header)}
        for r in range(3, ws.max_row + 1):
            fid = ws.cell(r, col[COL_FLAG_ID]).value
            if fid in decisions:
                decision, note, reviewer = decisions[fid]
                ws.cell(r, col[COL_DECISION]).value = decision
                ws.cell(r, col[COL_NOTE]).value = note
                ws.cell(r, col[COL_REVIEWER]).value = reviewer
    ws = wb.worksheets[0]
    header = [c.value for c in ws[2]]
    col = {h: i + 1 for i, h in enumerate(header)}
    for fid, decision in extra_rows:
        r = ws.max_row + 1
        ws.cell(r, col[COL_FLAG_ID]).value = fid
        ws.cell(r, col[COL_DECISION]).value = decision
    wb.save(path)


def reviews_of(con) -> list[tuple]:
    return con.execute(
        "SELECT flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row"
        " FROM reviews ORDER BY rowid"
    ).fetchall()
