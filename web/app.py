"""The review workbench (核查工作台): an ASGI app on Starlette with server-rendered Chinese pages.

    uvicorn --factory web.app:create_app      (or `make review`)

Settings come from the environment like the pipeline's (WAREHOUSE_PATH, EXTRACTS_DIR, EXPORTS_DIR;
WEB_DIR for the web's own files). See docs/web.md.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import mplfonts
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import auth_routes, extract_routes, pages, workbook_routes
from .http import NotLoggedIn, redirect, render
from .service import Settings, Workbench

# Sent with every response: no framing, no sniffing, no referrer leaking a household URL, and only
# the app's own scripts and styles.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; font-src 'self'; frame-ancestors 'none'",
}


# A CJK font for machines without one (a bare Linux desktop, the browser tests); officers' Windows
# machines render with their own 微软雅黑 and never fetch it. mplfonts bundles Noto Sans CJK SC.
CJK_FONT = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"


async def _cjk_font(request: Request):
    return FileResponse(CJK_FONT, media_type="font/otf", headers={"Cache-Control": "public, max-age=604800"})


async def _not_logged_in(request: Request, exc: NotLoggedIn):
    return redirect("/login")


async def _http_error(request: Request, exc: HTTPException):
    return render(request, "error.html", {"status": exc.status_code, "message": exc.detail}, exc.status_code)


def create_app(settings: Settings | None = None, *, background: bool = True) -> Starlette:
    """The app; `background=False` leaves syncing with the warehouse to explicit `sync_now()` calls."""
    wb = Workbench(settings or Settings.from_environment())

    @asynccontextmanager
    async def lifespan(app):
        if background:
            wb.start()
        else:
            wb.sync_now()
        yield
        wb.stop()

    app = Starlette(
        routes=[Route("/fonts/cjk-sans.otf", _cjk_font, methods=["GET"]), *auth_routes.routes, *pages.routes, *workbook_routes.routes, *extract_routes.routes,
                Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")],
        exception_handlers={NotLoggedIn: _not_logged_in, HTTPException: _http_error},
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.workbench = wb
    return app


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        await self.app(scope, receive, send_with_headers)
