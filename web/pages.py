"""The officers' pages: overview, work list, household, decisions, revealing one ID."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from matchers.reports.labels import DECISIONS, PENDING
from matchers.workbench import household as hh
from matchers.workbench import queries
from matchers.workbench.recording import WEB_SOURCE

from .charts import quarter_chart
from .http import form, in_thread, not_found, officer, redirect, render, workbench

ACTION_DECISION, ACTION_REVEAL = "web_decision", "web_reveal_id"
NOTE_MAX, REASON_MIN = 500, 4


def _snapshot_or_notice(request: Request):
    snap = workbench(request).snapshot
    if snap is None:
        raise HTTPException(503, "数据仓库尚未生成或正在首次写入,请先运行 make run,稍后刷新本页。")
    return snap


def _quarters(request: Request, con) -> list[str]:
    return workbench(request).snapshot.remember(("quarters",), lambda: queries.quarters(con))


def _quarter(request: Request, con) -> str:
    known = _quarters(request, con)
    if not known:
        raise HTTPException(503, "数据仓库中还没有任何季度的疑点,请先运行 make run。")
    q = request.query_params.get("quarter")
    return q if q in known else known[0]


def _overview(request: Request, o, scope):
    con = _snapshot_or_notice(request).cursor()
    quarter = _quarter(request, con)
    data = queries.overview(con, scope, quarter)
    return {"quarter": quarter, "quarters": _quarters(request, con), "data": data,
            "chart": quarter_chart(data["per_quarter"])}


async def overview(request: Request):
    o = officer(request)
    scope = await in_thread(workbench(request).scope, o)
    return render(request, "overview.html", await in_thread(_overview, request, o, scope))


def _list(request: Request, scope):
    con = _snapshot_or_notice(request).cursor()
    qp = request.query_params
    quarter = _quarter(request, con)
    try:
        page = max(1, int(qp.get("page", "1")))
    except ValueError:
        page = 1
    f = queries.ListFilter(quarter=quarter, rule_code=qp.get("rule") or None, status=qp.get("status") or None,
                           street=qp.get("street") or None, community=qp.get("community") or None,
                           age=qp.get("age") or None, search=qp.get("q") or None,
                           sort=qp.get("sort") if qp.get("sort") in queries.SORTS else "rule", page=page)
    rows, total = queries.work_list(con, scope, f)
    pages = max(1, -(-total // queries.PAGE_SIZE))
    kept = {k: v for k, v in qp.items() if k != "page" and v}
    return {"f": f, "rows": rows, "total": total, "pages": pages, "quarters": _quarters(request, con),
            "choices": workbench(request).snapshot.remember(
                ("choices", scope.district, scope.street, quarter), lambda: queries.filter_choices(con, scope, quarter)), "sorts": list(queries.SORTS),
            "statuses": (PENDING, *DECISIONS), "query": lambda **kw: urlencode({**kept, **kw}),
            "here": request.url.path + ("?" + request.url.query if request.url.query else "")}


async def work_list(request: Request):
    scope = await in_thread(workbench(request).scope, officer(request))
    return render(request, "list.html", await in_thread(_list, request, scope))


def _household(request: Request, key: str, scope):
    con = _snapshot_or_notice(request).cursor()
    flags = hh.household_flags(con, scope, key)
    if not flags:
        raise not_found()
    known = hh.household_quarters(con, key)
    quarter = request.query_params.get("quarter")
    quarter = quarter if quarter in known else (known[0] if known else flags[0]["quarter"])
    flag_ids = sorted({f["flag_id"] for f in flags})
    history: dict[str, dict] = {}
    for f in flags:  # newest quarter first within each flag
        h = history.setdefault(f["flag_id"], {**f, "quarters": []})
        h["quarters"].append(f["quarter"])
    inbox = [d for d in workbench(request).store.decisions_since(workbench(request).snapshot.taken_at)
             if d["flag_id"] in history]
    recorded = [d for d in hh.decisions(con, flag_ids)
                if not (d["import_file"] == WEB_SOURCE and d["import_row"] in {i["id"] for i in inbox})]
    decisions = sorted([{**d, "pending": d["transferred_at"] is None} for d in inbox] + recorded,
                       key=lambda d: str(d["decided_at"]), reverse=True)
    return {"key": key, "quarter": quarter, "quarters": known, "members": hh.members(con, key, quarter),
            "rows": hh.source_rows(con, key, quarter), "flags": list(history.values()), "decisions": decisions,
            "here": request.url.path + ("?" + request.url.query if request.url.query else "")}


async def household(request: Request):
    scope = await in_thread(workbench(request).scope, officer(request))
    return render(request, "household.html", await in_thread(_household, request, request.path_params["key"], scope))


def _safe_next(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/flags"


async def decide(request: Request):
    """Record one decision for every selected flag (each must lie in the officer's area)."""
    data = await form(request)
    o, wb = officer(request), workbench(request)
    flag_ids = sorted({str(v) for v in data.getlist("flag_id") if v})
    decision, note = str(data.get("decision", "")), str(data.get("note", "")).strip()[:NOTE_MAX] or None
    if not flag_ids:
        raise HTTPException(400, "没有选中任何核查对象,请勾选后再提交。")
    if decision not in DECISIONS:
        raise HTTPException(400, f"请选择核查结论({'、'.join(DECISIONS)}之一)。")
    scope = await in_thread(wb.scope, o)
    visible = await in_thread(queries.visible_flags, _snapshot_or_notice(request).cursor(), scope, flag_ids)
    if set(visible) != set(flag_ids):
        raise not_found()
    items = [{"flag_id": fid, "quarter": visible[fid]["quarter"], "decision": decision, "note": note}
             for fid in flag_ids]
    await in_thread(wb.store.add_decisions, items, o.display_name)
    for fid in flag_ids:
        await in_thread(wb.store.audit, ACTION_DECISION, o.username, quarter=visible[fid]["quarter"],
                        district=visible[fid]["district"], rows=1, details={"flag_id": fid, "decision": decision})
    return redirect(_safe_next(data.get("next")))


async def reveal(request: Request):
    """A city administrator sees one person's full ID after stating why; audit_log keeps it."""
    data = await form(request)
    o, wb = officer(request), workbench(request)
    if not o.is_city:
        raise not_found()
    reason = str(data.get("reason", "")).strip()
    if len(reason) < REASON_MIN:
        raise HTTPException(400, f"查看完整身份证号须填写理由(至少 {REASON_MIN} 个字)。")
    person_id = request.path_params["person_id"]
    id_number = await in_thread(hh.person_id_number, _snapshot_or_notice(request).cursor(), person_id)
    if id_number is None:
        raise not_found()
    await in_thread(wb.store.audit, ACTION_REVEAL, o.username, rows=1,
                    details={"person_id": person_id, "reason": reason})
    return render(request, "reveal.html", {"person_id": person_id, "id_number": id_number, "reason": reason,
                                           "back": _safe_next(data.get("next"))})


routes = [
    Route("/", overview, methods=["GET"]),
    Route("/flags", work_list, methods=["GET"]),
    Route("/households/{key:path}", household, methods=["GET"]),
    Route("/decisions", decide, methods=["POST"]),
    Route("/persons/{person_id}/reveal", reveal, methods=["POST"]),
]
