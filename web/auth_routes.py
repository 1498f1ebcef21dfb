"""Login and logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from . import accounts
from .http import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    form,
    in_thread,
    new_login_token,
    redirect,
    render,
    workbench,
)

ACTION_LOGIN, ACTION_LOGIN_FAILED, ACTION_LOGOUT = "web_login", "web_login_failed", "web_logout"


def _login_page(request: Request, message: str = "", status_code: int = 200):
    token = new_login_token()
    response = render(request, "login.html", {"message": message, "login_token": token}, status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=workbench(request).settings.secure_cookies)
    return response


async def login_form(request: Request):
    return _login_page(request)


async def login(request: Request):
    data = await request.form()
    # The login form is protected by a double-submit token: the hidden field must equal the cookie.
    if not accounts.same_token(data.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, "登录页面已失效,请重新输入用户名和密码。", 403)
    wb = workbench(request)
    username, password = str(data.get("username", "")).strip(), str(data.get("password", ""))
    client = request.client.host if request.client else "?"
    if await in_thread(accounts.throttled, wb.store, username, client):
        return _login_page(request, f"登录失败次数过多,请 {accounts.FAILURE_WINDOW_SECONDS // 60} 分钟后再试。", 429)
    found = await in_thread(accounts.check_password, wb.store, username, password, client)
    if found is None:
        await in_thread(wb.store.audit, ACTION_LOGIN_FAILED, username, details={"client": client})
        return _login_page(request, "用户名或密码不正确。", 401)
    token, _ = await in_thread(accounts.new_session, wb.store, found)
    await in_thread(wb.store.audit, ACTION_LOGIN, found.username, district=found.district,
                    details={"client": client, "role": found.role})
    response = redirect("/")
    response.set_cookie(SESSION_COOKIE, token, max_age=accounts.SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=wb.settings.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


async def logout(request: Request):
    await form(request)
    wb = workbench(request)
    officer = accounts.session_officer(wb.store, request.cookies.get(SESSION_COOKIE))
    await in_thread(accounts.end_session, wb.store, request.cookies.get(SESSION_COOKIE))
    if officer:
        await in_thread(wb.store.audit, ACTION_LOGOUT, officer[0].username, district=officer[0].district)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
