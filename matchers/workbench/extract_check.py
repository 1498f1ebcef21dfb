"""Checking a department's extract on arrival, with the pipeline's own reader and row preparation.

The result says in Chinese what the quarterly run will make of the file: its encoding, header row,
the columns found, how many data rows it has, how many would be accepted, and every row that would
be rejected with its reason. Texts are masked (they may quote an ID).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from matchers.contract import SOURCE_LABELS, SOURCES, SPECS
from matchers.extract_reader import EXTENSIONS, ExtractFileError, _stem_source, read_extract_file
from matchers.ingest import prepare_source
from matchers.privacy import mask_ids_in_text

REJECTED_SHOWN = 200  # rows listed on the page; the count is always complete


@dataclass
class ExtractCheck:
    file: str
    source: str
    ok: bool  # the file can be read; rows may still be rejected
    problem: str = ""  # why it cannot be read
    encoding: str = ""
    header_row: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)  # (contract header, header in the file)
    missing_optional: list[str] = field(default_factory=list)
    data_rows: int = 0
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (data row, reason)
    rejected_count: int = 0
    marked_rows: int = 0  # accepted rows with a cell blanked (negative or non-numeric amount ...)
    warnings: list[str] = field(default_factory=list)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]


def file_name_for(source: str, name: str) -> str:
    """The name the file is stored under: as sent when its stem names the source (EXTRACTS.md:
    `<source>[_anything]`), else the source key in front."""
    stem = Path(name).stem
    return name if _stem_source(stem) == source else f"{source}_{name}"


def check_extract(path: Path, source: str) -> ExtractCheck:
    if source not in SOURCES:
        raise ValueError(source)
    if path.suffix.lower() not in EXTENSIONS:
        return ExtractCheck(path.name, source, False, f"文件“{path.name}”不是 CSV 或 Excel 工作簿(.xlsx),无法接收")
    try:
        extract = read_extract_file(path, source)
    except ExtractFileError as exc:
        return ExtractCheck(path.name, source, False, mask_ids_in_text(str(exc)))
    prepared = prepare_source(source, [extract])
    spec = SPECS[source]
    rejected = prepared.rejected.sort("source_row")
    marked = prepared.records.filter(prepared.records["row_issues"].is_not_null()).height
    return ExtractCheck(
        file=path.name, source=source, ok=True, encoding=extract.encoding, header_row=extract.header_row,
        columns=[(spec.field(f).header, mask_ids_in_text(h)) for f, h in extract.columns.items()],
        missing_optional=[f.header for f in spec.fields if f.name not in extract.columns],
        data_rows=extract.rows.height, accepted=prepared.records.height,
        rejected=[(int(r), mask_ids_in_text(reason)) for r, reason in
                  rejected.select("source_row", "reason").head(REJECTED_SHOWN).iter_rows()],
        rejected_count=rejected.height, marked_rows=marked,
        warnings=[mask_ids_in_text(w) for w in extract.warnings],
    )
