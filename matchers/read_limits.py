"""How much one extract file may cost to read: rows, columns, decompressed bytes, one cell's length.

The defaults fit a province's largest department file with room to spare (a provincial assistance
roll is about 2 million member rows; Excel itself stops at 1,048,576 rows and 16,384 columns and
32,767 characters a cell) and keep a hostile or broken file from taking the machine's memory. An
administrator raises one with its environment variable (a whole number, read when a file is read).
A file beyond a limit is refused with a Chinese message naming the file and the limit
(`refusal`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

MIB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    max_rows: int = 5_000_000  # physical rows (lines of a CSV, rows of a sheet)
    max_columns: int = 16_384  # cells in one row (Excel's last column is XFD, the 16,384th)
    max_bytes: int = 2048 * MIB  # a CSV's size; an XLSX's parts once decompressed
    max_cell_chars: int = 1 * MIB  # characters in one cell (the CSV field limit too)


# Each limit's environment variable and the words an officer reads it by.
ENV_VARS = {
    "max_rows": "EXTRACT_MAX_ROWS",
    "max_columns": "EXTRACT_MAX_COLUMNS",
    "max_bytes": "EXTRACT_MAX_BYTES",
    "max_cell_chars": "EXTRACT_MAX_CELL_CHARS",
}
LABELS = {
    "max_rows": ("行数上限", "行"),
    "max_columns": ("列数上限", "列"),
    "max_bytes": ("大小上限", "字节"),
    "max_cell_chars": ("单元格长度上限", "个字符"),
}


def read_limits(environ: dict[str, str] | None = None) -> ReadLimits:
    """The limits in force: the defaults, each replaced by its environment variable when set."""
    env = os.environ if environ is None else environ
    values = {}
    for f in fields(ReadLimits):
        raw = env.get(ENV_VARS[f.name], "").strip().replace("_", "").replace(",", "")
        if not raw:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"环境变量{ENV_VARS[f.name]}应为正整数,当前为“{raw}”")
        values[f.name] = int(raw)
    return ReadLimits(**values)


def limit_text(name: str, limits: ReadLimits) -> str:
    """`行数上限5,000,000行(环境变量EXTRACT_MAX_ROWS)`: the limit as an officer is told it."""
    label, unit = LABELS[name]
    return f"{label}{getattr(limits, name):,}{unit}(管理员可用环境变量{ENV_VARS[name]}调整)"


def refusal(name: str, limits: ReadLimits, found: str) -> str:
    """The problem text of a file refused for a limit: what was found, and the limit."""
    return f"{found},超过读取的{limit_text(name, limits)},已拒收;请拆分文件或删除多余内容后重新导出"
