"""Reading a CSV department file: its encoding, what it really is, its records as text, bounded
by `matchers.read_limits` (size, lines, columns, one field's length), every refusal naming the
row and column."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from matchers.extract_errors import ExtractFileError, column_name
from matchers.extract_xlsx import CFB_MAGIC
from matchers.read_limits import ReadLimits, refusal

_FIELD_TOO_LONG = "field larger than field limit"


def decode_csv_bytes(data: bytes, file: str, warnings: list[str] | None = None) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, else GB18030 (a superset of GBK/GB2312).

    A file pasted together from a UTF-8 and a GB18030 export (some lines each) is decoded line by
    line, each line in the encoding it is valid in, with a warning naming the GB18030 lines.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:4096]:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), "utf-16"
        raise ExtractFileError(file, "不是文本格式的CSV文件(含二进制内容),请确认导出格式为CSV或XLSX")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    whole = _decode_gb18030_whole(data)
    if whole is not None:
        return whole, "gb18030"
    return _decode_by_line(data, file, warnings)


_REPLACEMENT_UTF8 = "\ufffd".encode("utf-8")


def _decode_gb18030_whole(data: bytes) -> str | None:
    """`_decode_by_line`'s answer for a plain GB18030 file, in a few whole-file passes: the text
    when every line decodes as GB18030 and no non-ASCII line is valid UTF-8, else None (the
    caller then goes line by line for the mixed file's warning or the undecodable line's error).

    A line is valid UTF-8 exactly when decoding the whole file with errors="replace" leaves no
    U+FFFD in it (UTF-8 sequences never span a line break); a file that holds a real U+FFFD
    takes the line-by-line way.
    """
    if data.startswith(codecs.BOM_UTF8) or _REPLACEMENT_UTF8 in data:
        return None
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    for line in data.decode("utf-8", errors="replace").split("\n"):
        if line.isascii():
            continue
        if "\ufffd" not in line:
            return None  # a valid UTF-8 line with Chinese text in it: a mixed file
        if line.find("\r", 0, len(line) - 1) != -1:
            # A lone CR also ends a line (bytes.splitlines): look at those parts one by one.
            for part in line.split("\r"):
                if "\ufffd" not in part and not part.isascii():
                    return None
    return text


def _decode_by_line(data: bytes, file: str, warnings: list[str] | None) -> tuple[str, str]:
    """Not UTF-8 as a whole: GB18030, unless some non-ASCII lines are valid UTF-8 (a mixed file).

    Line breaks are single bytes in both encodings (GB18030 never uses 0x0A/0x0D inside a
    character), so splitting the bytes at them is safe.
    """
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    lines = data[len(bom):].splitlines(keepends=True)
    parts: list[str] = []
    gb_lines: list[int] = []
    utf8_lines = 0
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            parts.append(line.decode("ascii"))
            continue
        try:
            parts.append(line.decode("utf-8"))
            utf8_lines += 1
            continue
        except UnicodeDecodeError:
            pass
        try:
            parts.append(line.decode("gb18030"))
            gb_lines.append(number)
        except UnicodeDecodeError as exc:
            raise ExtractFileError(
                file,
                f"第{number}行无法识别编码(既不是UTF-8也不是GB18030/GBK,该行第{exc.start + 1}字节起无法解码);"
                "请用Excel或记事本重新另存为UTF-8编码的CSV",
            ) from exc
    text = "".join(parts)
    if not utf8_lines:
        return text, "gb18030"
    if warnings is not None:
        shown = "、".join(str(n) for n in gb_lines[:10]) + ("等" if len(gb_lines) > 10 else "")
        warnings.append(
            f"文件“{file}”混用了两种编码:{utf8_lines}行是UTF-8,{len(gb_lines)}行是GB18030/GBK"
            f"(第{shown}行),已逐行识别;请核对这些行的文字是否正确,今后请统一导出为一种编码"
        )
    return text, "utf-8+gb18030"


def _refuse_disguised_csv(data: bytes, file: str) -> None:
    """A workbook or web page renamed to .csv: say what it really is."""
    if data.startswith(b"PK\x03\x04"):
        raise ExtractFileError(file, "实际是Excel工作簿(XLSX),只是扩展名被改成了.csv;请把扩展名改回.xlsx")
    if data.startswith(CFB_MAGIC):
        raise ExtractFileError(file, "实际是旧版Excel(.xls)或加密的文件,不是CSV;请在Excel中打开后另存为CSV或Excel工作簿(.xlsx)")
    head = data[:4096].lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if head.startswith((b"<html", b"<!doctype", b"<table", b"<meta", b"<?xml")):
        raise ExtractFileError(file, "实际是网页(HTML)或XML格式,不是CSV;请在Excel中打开后另存为CSV或Excel工作簿(.xlsx)")


def read_csv_text(path: Path, limits: ReadLimits, warnings: list[str]) -> tuple[str, str]:
    """(text, encoding) of a CSV file within the size and line limits, or ExtractFileError."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ExtractFileError(path.name, refusal("max_bytes", limits, f"文件大小{size:,}字节"))
    data = path.read_bytes()
    if not data.strip():
        raise ExtractFileError(path.name, "是空文件(没有任何内容)")
    _refuse_disguised_csv(data, path.name)
    text, encoding = decode_csv_bytes(data, path.name, warnings)
    lines = max(text.count("\n"), text.count("\r"))
    if lines > limits.max_rows:
        raise ExtractFileError(path.name, refusal("max_rows", limits, f"共有{lines:,}行"))
    return text, encoding


def _reader(text: str, skip_lines: int, strict: bool, field_limit: int):
    """A csv reader over `text` from physical line `skip_lines + 1`; its `line_num` counts from there.

    The field limit is the csv module's (one setting per process): every reader sets it first.
    """
    stream = io.StringIO(text, newline="")  # "": a lone CR also ends a line
    for _ in range(skip_lines):
        stream.readline()
    csv.field_size_limit(field_limit)
    return csv.reader(stream, strict=strict)


def head_records_csv(
    text: str, count: int, file: str, limits: ReadLimits
) -> tuple[list[list[str]], list[int]]:
    """First `count` records and, for each, the physical line it ends on.

    No cell limit here (a few records, already in memory): a long cell in an early row is
    refused by `csv_body`, naming its row and header, never taken for a header problem.
    """
    reader = _reader(text, 0, False, max(len(text), limits.max_cell_chars))
    records, line_ends = [], []
    try:
        for rec in reader:
            records.append(rec)
            line_ends.append(reader.line_num)
            if len(records) >= count:
                break
    except csv.Error as exc:
        raise _record_error(exc, text, 0, False, limits, file, None) from exc
    return records, line_ends


def csv_body(
    text: str, skip_lines: int, file: str, limits: ReadLimits, header: list[str]
) -> list[list[str]]:
    """The records after the header line(s). csv keeps quoted fields (IDs, commas) intact.

    A quote opened and never closed would swallow every later row into one cell: that is an error
    naming the line, never a silent loss of rows. Other irregular quoting (`"ab"c`) is read
    leniently, as Excel does. A field over the cell limit and a record over the column limit are
    refused naming line and column.
    """
    strict = True
    try:
        body = list(_reader(text, skip_lines, strict, limits.max_cell_chars))
    except csv.Error as exc:
        if "end of data" in str(exc) or "EOF" in str(exc):
            line = _failing_record_line(text, skip_lines, strict, limits.max_cell_chars)
            raise ExtractFileError(
                file,
                f"第{line}行有未闭合的引号(\"),其后的所有行都会被并入一个单元格;请检查该行的引号后重新导出",
            ) from exc
        if _FIELD_TOO_LONG in str(exc):
            raise _record_error(exc, text, skip_lines, strict, limits, file, header) from exc
        strict = False
        try:
            body = list(_reader(text, skip_lines, strict, limits.max_cell_chars))
        except csv.Error as exc2:
            raise _record_error(exc2, text, skip_lines, strict, limits, file, header) from exc2
    if body and max(map(len, body)) > limits.max_columns:
        index = next(i for i, rec in enumerate(body) if len(rec) > limits.max_columns)
        line = _record_line(text, skip_lines, index, limits.max_cell_chars)
        raise ExtractFileError(file, refusal("max_columns", limits, f"第{line}行有{len(body[index]):,}列"))
    return body


def _record_error(
    exc: csv.Error, text: str, skip_lines: int, strict: bool, limits: ReadLimits, file: str,
    header: list[str] | None,
) -> ExtractFileError:
    """The officer's message for a record csv could not read. A cell over the cell limit names its
    line and column (that record read again without the limit), never the header."""
    line = _failing_record_line(text, skip_lines, strict, limits.max_cell_chars)
    if _FIELD_TOO_LONG not in str(exc):
        return ExtractFileError(file, f"第{line}行CSV格式错误(引号或分隔符不成对),无法读取;请检查该行后重新导出")
    try:
        record = next(_reader(text, line - 1, False, max(len(text), limits.max_cell_chars)), [])
    finally:
        csv.field_size_limit(limits.max_cell_chars)
    long_cells = [i for i, cell in enumerate(record) if len(cell) > limits.max_cell_chars] or [0]
    column = long_cells[0]
    length = len(record[column]) if record else 0
    where = f"第{line}行{column_name(column, header)}的单元格长{length:,}个字符"
    return ExtractFileError(file, refusal("max_cell_chars", limits, where))


def _failing_record_line(text: str, skip_lines: int, strict: bool, field_limit: int) -> int:
    """The physical line where the record csv fails on starts: the line after the last good one."""
    reader = _reader(text, skip_lines, strict, field_limit)
    started = skip_lines + 1
    try:
        for _rec in reader:
            started = skip_lines + reader.line_num + 1
    except csv.Error:
        pass
    return started


def _record_line(text: str, skip_lines: int, index: int, field_limit: int) -> int:
    """The physical line where record `index` (0-based, after `skip_lines`) starts (error path)."""
    reader = _reader(text, skip_lines, False, field_limit)
    line = skip_lines + 1
    for i, _rec in enumerate(reader):
        if i == index:
            return line
        line = skip_lines + reader.line_num + 1
    return line
