"""Finding the header row of a department file under its banner rows, and what an officer is told
when there is none: the file, the row, the headers found and the names accepted for each missing
column (the aliases of `matchers.contract`)."""

from __future__ import annotations

from matchers.contract import MAX_BANNER_ROWS, SourceSpec, alias_index, fold_header
from matchers.extract_errors import ExtractFileError, col_letter
from matchers.privacy import mask_ids_in_text

# How much of a row is quoted back in a header message.
SHOWN_HEADERS = 30
SHOWN_HEADER_CHARS = 20


def _is_blank(cells) -> bool:
    return all(not (c or "").strip() for c in cells)


def _match_header(cells, spec: SourceSpec) -> dict[str, int]:
    """field → column index for the alias with the best priority present in this row."""
    index = alias_index(spec)
    best: dict[str, tuple[int, int]] = {}
    for col, cell in enumerate(cells):
        hit = index.get(fold_header(cell))
        if hit is None:
            continue
        fname, prio = hit
        if fname not in best or prio < best[fname][0]:
            best[fname] = (prio, col)
    return {f: col for f, (prio, col) in best.items()}


def _missing_required(mapping: dict[str, int], spec: SourceSpec) -> list[tuple[str, ...]]:
    return [group for group in spec.required if not any(f in mapping for f in group)]


def find_header(
    records: list, spec: SourceSpec, file: str, row_numbers: list[int] | None = None
) -> tuple[int, dict[str, int]]:
    """Index (0-based, among `records`) of the header row and its field → column mapping.

    The header is the first non-blank row within the first MAX_BANNER_ROWS + 1 non-blank rows that
    names every required field; failing that, the error names the row that came closest, the
    headers it holds and the names accepted for each missing column. `row_numbers` are the
    physical rows of `records` (1-based; by default their positions).
    """
    best: tuple[int, int, dict[str, int]] | None = None
    first: int | None = None
    seen = 0
    for i, cells in enumerate(records):
        if _is_blank(cells):
            continue
        first = i if first is None else first
        seen += 1
        mapping = _match_header(cells, spec)
        if mapping and not _missing_required(mapping, spec):
            return i, mapping
        if best is None or len(mapping) > best[1]:
            best = (i, len(mapping), mapping)
        if seen > MAX_BANNER_ROWS:
            break
    row_of = (lambda i: row_numbers[i]) if row_numbers is not None else (lambda i: i + 1)
    if best is None or best[1] < 1:
        found = f";第{row_of(first)}行的内容为:{shown_cells(records[first])}" if first is not None else ""
        raise ExtractFileError(
            file,
            f"未找到表头:前{MAX_BANNER_ROWS + 1}个非空行中没有“姓名”“身份证号”等列名{found};"
            "请确认表头行在前几行,或文件是否导出正确",
        )
    raise ExtractFileError(file, missing_columns_problem(records[best[0]], best[2], spec, row_of(best[0])))


def missing_columns_problem(cells, mapping: dict[str, int], spec: SourceSpec, row: int) -> str:
    """`第1行表头缺少必需的列“救助类别”(可用的列名:救助类别);该行的列名为:…`."""
    missing = _missing_required(mapping, spec)
    wanted = "、".join(
        "或".join(f"“{spec.field(f).header}”(可用的列名:{'、'.join(spec.field(f).aliases)})" for f in group)
        for group in missing
    )
    return (
        f"第{row}行表头缺少必需的列{wanted};该行的列名为:{shown_cells(cells)}。"
        "请把对应的列名改为可用的列名之一后重新导出"
    )


def shown_cells(cells) -> str:
    """The non-empty cells of a row as quoted to an officer: IDs masked, each and the list cut."""
    texts = [mask_ids_in_text((c or "").strip()) for c in cells if (c or "").strip()]
    cut = [t if len(t) <= SHOWN_HEADER_CHARS else t[:SHOWN_HEADER_CHARS] + "…" for t in texts[:SHOWN_HEADERS]]
    more = f"等{len(texts)}个" if len(texts) > SHOWN_HEADERS else ""
    return "、".join(f"“{t}”" for t in cut) + more if cut else "(空)"


def check_duplicate_headers(header: list[str], mapping: dict[str, int], file: str, row: int) -> None:
    """A header the file uses twice: which column holds the field cannot be known."""
    folded = [fold_header(h) for h in header]
    for col in mapping.values():
        dups = [i for i, h in enumerate(folded) if h == folded[col] and i != col]
        if dups:
            cols = "、".join(col_letter(i) for i in [col] + dups)
            raise ExtractFileError(
                file,
                f"第{row}行表头“{header[col].strip()}”重复出现在第{cols}列,无法确定使用哪一列,请删除多余的列",
            )
