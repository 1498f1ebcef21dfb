"""Request helpers shared by the pages: who is logged in, CSRF, rendering, 404s."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from matchers.contract import SOURCE_LABELS
from matchers.reports.labels import DECISIONS, PENDING, rule_label

from . import accounts
from .accounts import Officer
from .service import Workbench

SESSION_COOKIE = "wb_session"
LOGIN_CSRF_COOKIE = "wb_login_csrf"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(rule_label=rule_label, source_label=SOURCE_LABELS.get, DECISIONS=DECISIONS, PENDING=PENDING, CSRF_FIELD=CSRF_FIELD)


class NotLoggedIn(Exception):
    """Raised by `officer()`: the request goes to the login page."""


def workbench(request: Request) -> Workbench:
    return request.app.state.workbench


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def session(request: Request) -> tuple[Officer, str]:
    """The logged-in officer and the session's CSRF token; NotLoggedIn otherwise."""
    found = accounts.session_officer(workbench(request).store, request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise NotLoggedIn()
    return found


def officer(request: Request) -> Officer:
    return session(request)[0]


async def form(request: Request) -> dict:
    """The posted form after checking its CSRF token against the session's (403 otherwise)."""
    _, csrf = session(request)
    data = await request.form()
    if not accounts.same_token(data.get(CSRF_FIELD), csrf):
        raise HTTPException(403, "表单已失效或来源不明(缺少安全校验码),请返回上一页刷新后重新提交。")
    return data


def not_found() -> HTTPException:
    """The one answer for anything outside the officer's area, or not existing: 404."""
    return HTTPException(404, "没有找到该页面,或它不在您负责的区域内。")


def render(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    found = None
    try:
        found = session(request)
    except NotLoggedIn:
        pass
    ctx = {"officer": found[0] if found else None, "csrf_token": found[1] if found else "",
           "snapshot": workbench(request).snapshot, **context}
    return templates.TemplateResponse(request, template, ctx, status_code=status_code,
                                      headers={"Cache-Control": "no-store"})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def in_thread(fn, *args, **kwargs):
    """Run blocking work (DuckDB, SQLite, files) off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)
