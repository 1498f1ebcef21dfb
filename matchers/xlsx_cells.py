"""The first sheet of an XLSX workbook as rows of text cells, streamed from the sheet's XML.

openpyxl still opens the package (its checks, the first worksheet, the date styles and the 1904
date system stay exactly openpyxl's), but the cells are read here: openpyxl builds a dict and a
`Text` object per cell, which cost about 40 µs a cell (14 s for a 27,000-row roll). This reader
walks the same `iterparse` stream with openpyxl's own `WorkSheetParser` (so everything outside
the cells, and every malformed part, behaves as openpyxl does) and turns each cell straight into
the text `cell_text` gives for the value openpyxl would have returned. Unlike openpyxl's
`iter_rows`, rows are not padded to the sheet's `<dimension>` (a sparse sheet costs what its cells
cost): a row ends at its last cell with a value, and the grid at the last row in the XML.

What each cell becomes (openpyxl `read_only=True, data_only=True`, then `cell_text`):
- a number: its `<v>` text; integers through `int` (never float: `420102199001011234` stays whole),
  decimals and exponents through float as openpyxl does (`1.5`, `3E+17` → `3.00000000000000E+17`);
  a number in a date style becomes the date (openpyxl's `from_excel`);
- a shared or inline string, with rich-text runs joined (phonetic runs left out); `x005F_` removed
  in shared strings as openpyxl does;
- a boolean 是/否, an error (`#N/A`) or a formula's cached text as written;
- a formula without a cached value (the file was written by a program and never saved by Excel):
  its formula text, listed in `uncomputed` (only when the sheet holds formulas at all).
Rare shapes (attributes on a string, runs, phonetic text) are handed to openpyxl's `Text` so their
text is exactly openpyxl's.
"""

from __future__ import annotations

import datetime as dt
from warnings import warn

from openpyxl.cell.text import Text
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.reader.strings import read_string_table
from openpyxl.utils import coordinate_to_tuple, get_column_letter
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

_V = f"{{{SHEET_MAIN_NS}}}v"
_F = f"{{{SHEET_MAIN_NS}}}f"
_IS = f"{{{SHEET_MAIN_NS}}}is"
_T = f"{{{SHEET_MAIN_NS}}}t"
_SI = f"{{{SHEET_MAIN_NS}}}si"


def cell_text(value: object) -> str:
    """The text of a cell value as openpyxl returns it. Every cell arrives as text (EXTRACTS.md)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if value.is_integer():
            # A long number stored as a float: Excel already dropped the tail. Keep what is left,
            # in the scientific form departments see, so it is treated as truncated.
            return f"{value:.14E}"
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _string_content(node) -> str:
    """`Text.from_tree(node).content`: fast for the plain `<t>` shape, openpyxl's own otherwise."""
    if not node.attrib:
        text = None
        for child in node:
            if child.tag != _T:
                break
            text = child.text  # openpyxl keeps the last <t>
        else:
            return text if text is not None else ""
    return Text.from_tree(node).content


def read_shared_strings(source) -> list[str]:
    """`openpyxl.reader.strings.read_string_table`, without a `Text` object per plain string."""
    strings = []
    for _, node in iterparse(source):
        if node.tag == _SI:
            strings.append(_string_content(node).replace("x005F_", ""))
            node.clear()
    return strings


class _Reader(ExcelReader):
    """openpyxl's package reader with the shared strings read by `read_shared_strings`."""

    def read_strings(self):
        ct = self.package.find(SHARED_STRINGS)
        if ct is None:
            return
        try:
            with self.archive.open(ct.PartName[1:]) as src:
                self.shared_strings = read_shared_strings(src)
        except Exception:
            # A damaged part: let openpyxl read it, so it fails (or copes) exactly as it did.
            with self.archive.open(ct.PartName[1:]) as src:
                self.shared_strings = read_string_table(src)


def open_workbook(path):
    """`openpyxl.load_workbook(path, read_only=True, data_only=True)`, faster shared strings."""
    reader = _Reader(path, read_only=True, data_only=True)
    reader.read()
    return reader.wb


class _TextParser(WorkSheetParser):
    """openpyxl's sheet parser whose rows are (row number, [(column, text or None, formula)])."""

    def __init__(self, src, ws, keep_formulas: bool):
        wb = ws.parent
        super().__init__(
            src,
            ws._shared_strings,
            data_only=True,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        self.keep_formulas = keep_formulas
        self._columns: dict[str, int] = {}

    def _column(self, coordinate: str) -> int:
        letters = coordinate.rstrip("0123456789")
        column = self._columns.get(letters)
        if column is None or len(letters) == len(coordinate):
            column = coordinate_to_tuple(coordinate)[1]  # openpyxl's check and its error
            self._columns[letters] = column
        return column

    def parse_row(self, row):
        attrs = row.attrib
        if "r" in attrs:
            try:
                self.row_counter = int(attrs["r"])
            except ValueError:
                val = float(attrs["r"])
                if val.is_integer():
                    self.row_counter = int(val)
                else:
                    raise ValueError(f"{attrs['r']} is not a valid row number") from None
        else:
            self.row_counter += 1
        self.col_counter = 0
        return self.row_counter, [self._cell(el) for el in row]

    def _cell(self, element) -> tuple[int, str | None, str | None]:
        """(column, text or None for no value, formula text when kept and there is no value)."""
        get = element.get
        data_type = get("t", "n")
        coordinate = get("r")
        style_id = get("s", 0)
        if style_id:
            style_id = int(style_id)  # as openpyxl: a broken style index is a broken file
        if coordinate:
            column = self._column(coordinate)
            self.col_counter = column
        else:
            self.col_counter += 1
            column = self.col_counter

        text = None
        if data_type == "inlineStr":
            child = element.find(_IS)
            if child is not None:
                text = _string_content(child)
        else:
            value = element.findtext(_V, None) or None
            if value is not None:
                if data_type == "n":
                    text = self._number(value, style_id, coordinate)
                elif data_type == "s":
                    text = self.shared_strings[int(value)]
                elif data_type == "b":
                    text = "是" if int(value) else "否"
                elif data_type == "d":
                    text = cell_text(from_ISO8601(value))
                else:  # "str" (a formula's text), "e" (an error such as #N/A)
                    text = value

        formula = None
        if self.keep_formulas and element.find(_F) is not None:
            # Every formula goes through openpyxl's parse_formula, in order, so shared formulas
            # translate as they did when the sheet was read a second time with data_only=False.
            parsed = self.parse_formula(element)
            if text is None and isinstance(parsed, str) and parsed.startswith("="):
                formula = parsed
        return column, text, formula

    def _number(self, value: str, style_id, coordinate: str | None) -> str:
        if style_id in self.date_formats:
            number = float(value) if ("." in value or "E" in value or "e" in value) else int(value)
            try:
                return cell_text(
                    from_excel(number, self.epoch, timedelta=style_id in self.timedelta_formats)
                )
            except (OverflowError, ValueError):
                warn(
                    f"Cell {coordinate} is marked as a date but the serial value {number} is outside "
                    "the limits for dates. The cell will be treated as an error."
                )
                return "#VALUE!"
        if "." in value or "E" in value or "e" in value:
            return cell_text(float(value))
        return str(int(value))


class SheetTooLarge(ValueError):
    """A sheet beyond a read limit: `limit` names the `ReadLimits` field, `found` says where."""

    def __init__(self, limit: str, found: str):
        self.limit = limit
        self.found = found
        super().__init__(found)


# A row with no cell in the sheet's XML: one shared immutable object, so a sheet whose rows are
# numbered far apart costs a pointer per missing row.
EMPTY_ROW: tuple[str, ...] = ()


class SheetRows:
    """The rows of a read-only sheet as text cells, streamed from its XML in order.

    Each row is as long as its last cell holding a value, never as wide as the sheet's
    `<dimension>` claims, and at most `width` cells once the caller sets it (after finding the
    header, cells right of the last column it uses are not kept). A row missing from the XML is
    EMPTY_ROW; nothing follows the last row in the XML. A row numbered beyond `max_rows` or a cell
    beyond `max_columns` raises SheetTooLarge. Formula cells without a cached value hold their
    formula text (with `keep_formulas`) and are listed in `uncomputed` (`C5`).
    """

    def __init__(self, ws, keep_formulas: bool, max_rows: int, max_columns: int):
        self.ws = ws
        self.keep_formulas = keep_formulas
        self.max_rows = max_rows
        self.max_columns = max_columns
        self.width: int | None = None
        self.uncomputed: list[str] = []

    def __iter__(self):
        expected = 1
        with self.ws._get_source() as src:
            parser = _TextParser(src, self.ws, self.keep_formulas)
            for idx, cells in parser.parse():
                if idx > self.max_rows:
                    raise SheetTooLarge("max_rows", f"工作表有第{idx:,}行")
                if idx < expected:  # a row number repeated or going back: ignored, as openpyxl does
                    continue
                while expected < idx:
                    expected += 1
                    yield EMPTY_ROW
                expected += 1
                yield self._row_values(cells, idx)

    def _row_values(self, cells, idx: int) -> list[str] | tuple[str, ...]:
        last = max((c for c, text, formula in cells if text is not None or formula is not None), default=0)
        if last > self.max_columns:
            raise SheetTooLarge("max_columns", f"工作表第{idx}行有第{last:,}列({get_column_letter(last)}{idx})")
        width = last if self.width is None else min(last, self.width)
        if not width:
            return EMPTY_ROW
        row: list[str] = [""] * width
        formulas: dict[int, str] | None = None
        for column, text, formula in cells:
            if 1 <= column <= width:
                i = column - 1
                if formula is not None:
                    row[i] = formula
                    formulas = formulas or {}
                    formulas[i] = formula
                else:
                    row[i] = text if text is not None else ""
                    if formulas:
                        formulas.pop(i, None)
        if formulas:
            self.uncomputed.extend(f"{get_column_letter(i + 1)}{idx}" for i in sorted(formulas))
        return row
