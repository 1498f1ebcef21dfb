"""Download of a district's 核查名单 and upload of a filled one (city administrators and district
officers; a street officer records decisions on the pages)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matchers import warehouse
from matchers.workbench import queries

from . import review_workbooks
from .accounts import ROLE_STREET, Officer
from .http import form, in_thread, not_found, officer, render, workbench
from .pages import _quarter, _quarters, _snapshot_or_notice
from .sync import transfer_inbox, warehouse_writer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_MAX_BYTES = 50 * 1024 * 1024


def _may_use_workbooks(o: Officer) -> None:
    if o.role == ROLE_STREET:
        raise not_found()


def _page(request: Request, scope):
    con = _snapshot_or_notice(request).cursor()
    quarter = _quarter(request, con)
    return {"quarter": quarter, "quarters": _quarters(request, con), "districts": queries.districts(con, scope, quarter),
            "name": review_workbooks.workbook_name}


async def workbooks_page(request: Request):
    o = officer(request)
    _may_use_workbooks(o)
    scope = await in_thread(workbench(request).scope, o)
    return render(request, "workbooks.html", await in_thread(_page, request, scope))


def _download(request: Request, o: Officer, quarter: str, district: str) -> tuple[bytes, int]:
    wb = workbench(request)
    con = _snapshot_or_notice(request).cursor()
    listed = {d["district"] for d in queries.districts(con, wb.scope(o), quarter)}
    if district not in listed:
        raise not_found()
    data, flag_ids, rules = review_workbooks.build(con, quarter, district)
    # Recorded as an export of the file (with its flag IDs), which is what lets it be imported back.
    wb.store.audit(review_workbooks.ACTION_EXPORT, o.username, quarter=quarter, district=district,
                   file=review_workbooks.workbook_name(quarter, district), sha256=hashlib.sha256(data).hexdigest(),
                   rows=len(flag_ids), details={"flag_ids": flag_ids, "rules": rules, "by": "核查工作台"})
    return data, len(flag_ids)


async def download(request: Request):
    o = officer(request)
    _may_use_workbooks(o)
    quarter, district = request.path_params["quarter"], request.path_params["district"]
    data, _ = await in_thread(_download, request, o, quarter, district)
    name = review_workbooks.workbook_name(quarter, district)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store"})


def _import(request: Request, o: Officer, path: Path):
    """Validate and record the workbook under the writer lock, after moving the inbox in (so the
    validation sees every decision made on the pages and every download's export record)."""
    wb = workbench(request)
    try:
        with warehouse_writer(wb.settings.warehouse_path) as con:
            transfer_inbox(wb.store, wb.settings.warehouse_path, con=con)
            result = review_workbooks.record(con, path, o.display_name, None if o.is_city else o.district)
    except review_workbooks.OtherDistrict as exc:
        raise HTTPException(400, str(exc))
    except warehouse.WarehouseBusy:
        raise HTTPException(503, "比对作业正在写入数据仓库,文件未导入。请等作业结束(通常几分钟)后重新上传同一文件。")
    wb.snapshots.refresh()
    return result


async def upload(request: Request):
    o = officer(request)
    _may_use_workbooks(o)
    data = await form(request)
    upload = data.get("file")
    if upload is None or not getattr(upload, "filename", ""):
        raise HTTPException(400, "请选择要上传的核查名单文件(.xlsx)。")
    content = await upload.read()
    if len(content) > UPLOAD_MAX_BYTES:
        raise HTTPException(400, f"文件超过 {UPLOAD_MAX_BYTES // 1024 // 1024} MB,不是本系统导出的核查名单。")
    folder = workbench(request).settings.web_dir / "uploads" / secrets.token_hex(8)
    folder.mkdir(parents=True, mode=0o700)
    path = folder / Path(upload.filename).name
    path.write_bytes(content)
    try:
        result = await in_thread(_import, request, o, path)
    except review_workbooks.WorkbookError as exc:
        raise HTTPException(400, f"{exc}。未导入任何一行。")
    return render(request, "upload_result.html", {"result": result})


routes = [
    Route("/workbooks", workbooks_page, methods=["GET"]),
    Route("/workbooks/{quarter}/{district}.xlsx", download, methods=["GET"]),
    Route("/workbooks/upload", upload, methods=["POST"]),
]
