"""The error a department file is refused with, and how its messages name a column."""

from __future__ import annotations


class ExtractFileError(Exception):
    """A file the pipeline cannot use; the message is Chinese and names the file."""

    def __init__(self, file: str, problem: str):
        self.file = file
        self.problem = problem
        super().__init__(f"文件“{file}”{problem}")


def col_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index (0 → A, 26 → AA)."""
    s, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def column_name(index: int, header: list[str] | None = None) -> str:
    """`第E列“身份证号”`: a column as an officer finds it, by letter and (when known) header text."""
    text = (header[index] or "").strip() if header is not None and index < len(header) else ""
    return f"第{col_letter(index)}列" + (f"“{text}”" if text else "")
