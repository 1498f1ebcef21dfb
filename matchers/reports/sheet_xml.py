"""A worksheet's data rows as SpreadsheetML, built column-wise, spliced into an xlsxwriter workbook.

xlsxwriter writes a cell in about 12 µs of Python (its write call, its row/column table, then the
XML and the shared-strings table at close): 2 M cells of district workbooks at 300,000 households
cost 25 CPU s. The data rows of a verification list are plain text cells with one of two styles,
so they are built here as whole columns with polars string expressions and put into the sheet XML
that xlsxwriter wrote for everything else (title, header, column widths, frozen pane, filter, the
decision dropdown, the styles): `splice_rows` adds them before `</sheetData>` and fixes the sheet's
`<dimension>`.

The cells are the ones xlsxwriter writes in its constant_memory mode: in-line strings
(`<c r="B5" s="2" t="inlineStr"><is><t>…</t></is></c>`), `xml:space="preserve"` when a text starts or
ends with white space, `&`, `<`, `>` escaped, control characters written as `_xHHHH_` (and a literal
`_xHHHH_` escaped as `_x005F_xHHHH_`), as xlsxwriter does; an empty cell with a style is
`<c r="N5" s="3"/>`. Excel, WPS and openpyxl read them as the same texts. A numeric column
(序号) is written as number cells, `<c r="A5" s="4"><v>3</v></c>`. No cell is ever a formula.

Pure library: no Dagster.
"""

from __future__ import annotations

import io
import re
import zipfile

import polars as pl
from xlsxwriter.utility import xl_col_to_name

_CONTROL = r"[\x00-\x08\x0b-\x1f]"  # the characters xlsxwriter writes as _xHHHH_
_ESCAPE_LIKE = r"_x[0-9a-fA-F]{4}_"
_NEEDS_ESCAPE = f"{_CONTROL}|{_ESCAPE_LIKE}|[\ufffe\uffff]"
_DIMENSION = re.compile(rb'<dimension ref="[^"]*"/>')


def _control_escaped(text: str) -> str:
    """xlsxwriter's escaping of control characters (XMLwriter._escape_control_characters)."""
    text = re.sub(f"({_ESCAPE_LIKE})", r"_x005F\1", text)
    text = re.sub(_CONTROL, lambda m: f"_x{ord(m.group()):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def _with_control_escaped(column: pl.Series) -> pl.Series:
    """The column with the (rare) values holding control characters escaped, in Python."""
    rare = column.str.contains(_NEEDS_ESCAPE)
    if not rare.any():
        return column
    at = rare.arg_true()
    return column.scatter(at, [_control_escaped(v) for v in column.gather(at).to_list()])


def _number_cell(col: int, name: str, style: int) -> pl.Expr:
    """The XML of one numeric column's cells (row number in the column `__r`)."""
    ref = pl.concat_str(pl.lit(f'<c r="{xl_col_to_name(col)}'), pl.col("__r").cast(pl.String), pl.lit(f'" s="{style}"'))
    value = pl.col(name)
    return (
        pl.when(value.is_null())
        .then(pl.concat_str(ref, pl.lit("/>")))
        .otherwise(pl.concat_str(ref, pl.lit("><v>"), value.cast(pl.String), pl.lit("</v></c>")))
    )


def _cell(col: int, name: str, style: int) -> pl.Expr:
    """The XML of one text column's cells (row number in the column `__r`)."""
    ref = pl.concat_str(pl.lit(f'<c r="{xl_col_to_name(col)}'), pl.col("__r").cast(pl.String), pl.lit(f'" s="{style}"'))
    value = pl.col(name)
    text = (
        value.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )
    preserve = value.str.contains(r"^\s|\s$")
    return (
        pl.when(value.is_null())
        .then(pl.concat_str(ref, pl.lit("/>")))
        .otherwise(
            pl.concat_str(
                ref,
                pl.lit(' t="inlineStr"><is><t'),
                pl.when(preserve).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit("")),
                pl.lit(">"),
                text,
                pl.lit("</t></is></c>"),
            )
        )
    )


def rows_xml(cells: pl.DataFrame, first_row: int, styles: list[int], heights: pl.Series | None = None) -> bytes:
    """`<row>` elements for `cells` (one column per sheet column, from column A: a numeric column
    gives number cells, any other text cells; null: an empty cell with its style), the first one on
    0-based sheet row `first_row`; `styles[i]` is the xf index of column i's cells. `heights`: each
    row's height in points, as xlsxwriter's set_row writes it (`ht="27" customHeight="1"`)."""
    if cells.height == 0:
        return b""
    if len(styles) != cells.width:
        raise ValueError(f"{cells.width} 列却有 {len(styles)} 个样式")
    names = [f"__c{i}" for i in range(cells.width)]
    numeric = [cells.get_column(c).dtype.is_numeric() for c in cells.columns]
    frame = pl.DataFrame(
        [
            cells.get_column(c).alias(n) if is_number else _with_control_escaped(cells.get_column(c).cast(pl.String)).alias(n)
            for c, n, is_number in zip(cells.columns, names, numeric)
        ]
    ).with_columns(
        pl.int_range(first_row + 1, first_row + 1 + cells.height, dtype=pl.Int64).alias("__r")
    )
    spans = f"1:{cells.width}"
    height = pl.lit("")
    if heights is not None:
        frame = frame.with_columns(heights.cast(pl.Float64).alias("__h"))
        # xlsxwriter writes a height as Python's %g does: 27, 40.5
        text = pl.col("__h").round(2).cast(pl.String).str.replace(r"\.0$", "")
        height = pl.concat_str(pl.lit('" ht="'), text, pl.lit('" customHeight="1'))
    row = pl.concat_str(
        pl.lit('<row r="'), pl.col("__r").cast(pl.String), pl.lit(f'" spans="{spans}'), height, pl.lit('">'),
        *[(_number_cell if is_number else _cell)(i, n, s) for i, (n, s, is_number) in enumerate(zip(names, styles, numeric))],
        pl.lit("</row>"),
    )
    return frame.select(row.str.join("")).item().encode("utf-8")


def splice_rows(xlsx: bytes, sheets: dict[int, tuple[bytes, str]]) -> bytes:
    """Put rows into worksheets of an xlsxwriter workbook: {sheet number (1-based, in the order the
    sheets were added): (rows_xml, the sheet's dimension, e.g. "A1:O120")}. Every other part and
    every zip entry's name, date and compression stay as they were."""
    if not any(rows for rows, _ in sheets.values()):
        return xlsx
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if m and int(m.group(1)) in sheets:
                rows, dimension = sheets[int(m.group(1))]
                if rows:
                    head, sep, tail = data.rpartition(b"</sheetData>")
                    if not sep:
                        raise ValueError(f"{info.filename} 中没有 </sheetData>")
                    data = head + rows + sep + tail
                    data = _DIMENSION.sub(f'<dimension ref="{dimension}"/>'.encode(), data, count=1)
            zout.writestr(info, data)
    return out.getvalue()
