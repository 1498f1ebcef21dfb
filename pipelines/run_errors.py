"""What an officer reads when a run fails: one Chinese sentence, never a class name or a traceback.

A `dagster.Failure` raised by an asset already carries a Chinese description naming file, row and
column; it is shown as it is. A full disk (in the warehouse folder, DuckDB's temp folder, the
exports folder or Dagster's storage) is recognised from the error text, whichever library raised
it, and named by its folder. Anything else is reported as an internal error of the stage, pointing
to the run log, which keeps the technical detail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from matchers.privacy import mask_ids_in_text

# Error texts of a full disk: ENOSPC from the OS (and DuckDB, which repeats it), sqlite's own
# wording, and EFBIG (a file-size limit set on the process, which stops a write just like a full disk).
_DISK_FULL = re.compile(
    r"No space left on device|database or disk is full|disk is full|\[Errno 28\]|\[Errno 27\]|File too large",
    re.IGNORECASE,
)
# A quoted absolute path inside an error text (DuckDB and Python quote the file they failed on).
_QUOTED_PATH = re.compile(r"""["'](/[^"'\n]+)["']""")
# "PackageName.ClassName: " at the start of a serialised error's message.
_CLASS_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Interrupt|Exit)\w*:\s*")


def error_chain(error) -> Iterator[tuple[str, str]]:
    """(class name, message) of an error and of every error it was raised from or during.

    `error` is a Python exception or Dagster's serialised SerializableErrorInfo.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, BaseException):
            yield type(error).__name__, str(error)
            error = error.__cause__ or error.__context__
        else:
            yield error.cls_name or "", error.message or ""
            error = error.cause or error.context


def plain_message(message: str) -> str:
    """The first line of an error message without a leading class name."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return _CLASS_PREFIX.sub("", first)


def full_disk_folder(chain: Iterable[tuple[str, str]], fallback_folders: Iterable[str] = ()) -> str | None:
    """The folder whose disk is full, when the error chain is a full disk (else None).

    The folder comes from the path the error names; without one, the first of `fallback_folders`.
    """
    for _, message in chain:
        if _DISK_FULL.search(message or ""):
            found = _QUOTED_PATH.search(message)
            if found:
                return str(Path(found.group(1)).parent)
            return next(iter(fallback_folders), "(未知文件夹)")
    return None


def run_folders() -> list[str]:
    """The folders a run writes, most likely to be full first when an error names no path:
    the warehouse's, DuckDB's temp folder, Dagster's storage, the exports."""
    import os

    from assets.resources import default_exports_dir, default_warehouse_path
    from matchers.warehouse import TEMP_DIR_ENV

    folders = [str(Path(default_warehouse_path()).parent), os.environ.get(TEMP_DIR_ENV),
               os.environ.get("DAGSTER_HOME"), default_exports_dir()]
    return [f for f in folders if f]


def disk_full_message(folder: str) -> str:
    return (
        f"磁盘空间不足:文件夹 {folder} 所在的磁盘已写满(或超过允许的文件大小),本次运行已停止,"
        "仓库中已发布的数据保持不变。请清理该磁盘,或把 WAREHOUSE_PATH / DUCKDB_TEMP_DIR / EXPORTS_DIR "
        "指向空间更大的位置,然后重新运行 make run。"
    )


def officer_message(
    error,
    stage: str,
    failure_description: str | None = None,
    fallback_folders: list[str] | None = None,
    log_path: str | None = None,
) -> str:
    """The one Chinese sentence (IDs masked) an officer reads for a failed stage."""
    chain = list(error_chain(error))
    folder = full_disk_folder(chain, fallback_folders or run_folders())
    if folder is not None:
        return disk_full_message(folder)
    if failure_description:
        return mask_ids_in_text(failure_description.strip())
    for cls_name, message in chain:
        if cls_name == "Failure" and plain_message(message):
            return mask_ids_in_text(plain_message(message))
    where = f",技术细节已记入运行日志 {log_path}" if log_path else ",技术细节已记入 Dagster 的运行记录"
    return f"{stage}出错,没有完成(程序内部错误{where})。仓库中已发布的数据保持不变。"
