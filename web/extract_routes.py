"""Receiving the departments' files (市级管理员 only): upload a quarter's extract, see the pipeline
reader's verdict in Chinese, then confirm to put it into the quarter folder, where the file sensor
and the nightly refresh pick it up. The page lists what each department has sent and the runs."""

from __future__ import annotations

import json
import secrets
import shutil
from datetime import datetime
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from matchers.contract import QUARTER_PATTERN, SOURCE_LABELS, SOURCES
from matchers.extract_reader import file_sha256, list_quarters, source_files
from matchers.workbench import queries
from matchers.workbench.extract_check import check_extract, file_name_for

from .accounts import Officer
from .http import form, in_thread, not_found, officer, redirect, render, workbench
from .snapshot import writer_busy
from .workbook_routes import UPLOAD_MAX_BYTES

ACTION_CHECK, ACTION_RECEIVE = "web_check_extract", "web_receive_extract"
_TICKET = "ticket.json"


def _city(request: Request) -> Officer:
    o = officer(request)
    if not o.is_city:
        raise not_found()
    return o


def _received(extracts_dir: Path) -> list[dict]:
    out = []
    for q in reversed(list_quarters(extracts_dir)):
        for source in SOURCES:
            files = source_files(extracts_dir, q, source)
            out.append({"quarter": q, "source": source, "label": SOURCE_LABELS[source], "files": [
                {"name": p.name, "size": p.stat().st_size,
                 "mtime": datetime.fromtimestamp(p.stat().st_mtime).isoformat(sep=" ", timespec="seconds")}
                for p in files]})
    return out


def _page(request: Request) -> dict:
    wb = workbench(request)
    snap = wb.snapshot
    con = snap.cursor() if snap else None
    lock_file = Path(str(wb.settings.warehouse_path) + ".lock")
    busy = writer_busy(wb.settings.warehouse_path)
    holder = {}
    if busy and lock_file.exists():
        try:
            holder = json.loads(lock_file.read_text(encoding="utf-8") or "{}")
        except ValueError:
            holder = {}
    read = {(r["quarter"], r["source_file"]): r for r in queries.files_read(con)} if con else {}
    return {"received": _received(wb.settings.extracts_dir), "read": read, "runs": queries.recent_runs(con) if con else [],
            "busy": busy, "holder": holder, "sources": SOURCE_LABELS,
            "quarters": list(reversed(list_quarters(wb.settings.extracts_dir)))}


async def extracts_page(request: Request):
    _city(request)
    return render(request, "extracts.html", await in_thread(_page, request))


async def check(request: Request):
    o = _city(request)
    data = await form(request)
    quarter, source, upload = str(data.get("quarter", "")).strip(), str(data.get("source", "")), data.get("file")
    if not QUARTER_PATTERN.match(quarter):
        raise HTTPException(400, f"季度“{quarter}”格式不对,应写成如 2026Q3(年份、Q、1-4)。")
    if source not in SOURCES:
        raise HTTPException(400, "请选择数据来源部门。")
    if upload is None or not getattr(upload, "filename", ""):
        raise HTTPException(400, "请选择要上传的文件(CSV 或 .xlsx)。")
    content = await upload.read()
    if len(content) > UPLOAD_MAX_BYTES:
        raise HTTPException(400, f"文件超过 {UPLOAD_MAX_BYTES // 1024 // 1024} MB,请联系技术人员放入季度文件夹。")
    ticket = secrets.token_hex(12)
    folder = workbench(request).settings.web_dir / "incoming" / ticket
    folder.mkdir(parents=True, mode=0o700)
    path = folder / file_name_for(source, Path(upload.filename).name)
    path.write_bytes(content)
    result = await in_thread(check_extract, path, source)
    (folder / _TICKET).write_text(json.dumps({"quarter": quarter, "source": source, "file": path.name,
                                             "ok": result.ok, "by": o.username}, ensure_ascii=False))
    await in_thread(workbench(request).store.audit, ACTION_CHECK, o.username, quarter=quarter, file=path.name,
                    sha256=file_sha256(path), rows=result.data_rows,
                    details={"source": source, "ok": result.ok, "accepted": result.accepted,
                             "rejected": result.rejected_count})
    return render(request, "extract_check.html", {"r": result, "quarter": quarter, "ticket": ticket,
                                                  "exists": (workbench(request).settings.extracts_dir / quarter / path.name).exists()})


def _receive(request: Request, o: Officer, ticket: str) -> tuple[str, Path]:
    wb = workbench(request)
    folder = wb.settings.web_dir / "incoming" / ticket
    if not ticket.isalnum() or not (folder / _TICKET).is_file():
        raise HTTPException(400, "找不到这次上传(可能已放入季度文件夹),请重新上传文件。")
    info = json.loads((folder / _TICKET).read_text(encoding="utf-8"))
    if not info["ok"]:
        raise HTTPException(400, "该文件未通过检查,不能放入季度文件夹。请让部门更正后重新上传。")
    target_dir = wb.settings.extracts_dir / info["quarter"]
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / info["file"]
    if target.exists():  # a corrected resend replaces the earlier file, which is kept in the web folder
        kept = wb.settings.web_dir / "replaced" / info["quarter"] / f"{datetime.now():%Y%m%d%H%M%S}_{target.name}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), kept)
    shutil.move(str(folder / info["file"]), target)
    shutil.rmtree(folder)
    wb.store.audit(ACTION_RECEIVE, o.username, quarter=info["quarter"], file=target.name, sha256=file_sha256(target),
                   details={"source": info["source"]})
    return info["quarter"], target


async def receive(request: Request):
    o = _city(request)
    data = await form(request)
    await in_thread(_receive, request, o, str(data.get("ticket", "")))
    return redirect("/extracts?received=1")


routes = [
    Route("/extracts", extracts_page, methods=["GET"]),
    Route("/extracts/check", check, methods=["POST"]),
    Route("/extracts/receive", receive, methods=["POST"]),
]
