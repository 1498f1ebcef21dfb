"""Officer accounts, roles and what each may see; login throttling and sessions.

Roles: 市级管理员 (every district), 区级核查员 (one district), 街道核查员 (one street of a district).
Passwords are stored as argon2id hashes only. A session is a random token in an HttpOnly,
SameSite cookie; the server keeps its sha256, its CSRF token and its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .store import Store

ROLE_CITY, ROLE_DISTRICT, ROLE_STREET = "city", "district", "street"
ROLE_LABELS = {ROLE_CITY: "市级管理员", ROLE_DISTRICT: "区级核查员", ROLE_STREET: "街道核查员"}

SESSION_SECONDS = 8 * 3600  # a working day; the cookie and the server-side session both expire
# Login throttling: this many failed attempts within the window, per account or per client
# address, and further attempts are refused until the window has passed.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Officer:
    username: str
    display_name: str
    role: str
    district: str | None
    street: str | None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def is_city(self) -> bool:
        return self.role == ROLE_CITY

    @property
    def scope(self) -> dict[str, str | None]:
        """The district and street this officer is limited to (None: not limited)."""
        return {
            "district": None if self.is_city else self.district,
            "street": self.street if self.role == ROLE_STREET else None,
        }

    @property
    def area(self) -> str:
        if self.is_city:
            return "全市"
        return self.district + (self.street if self.role == ROLE_STREET else "")


class AccountError(ValueError):
    """An account cannot be created as asked (message in Chinese)."""


def add_officer(store: Store, username: str, display_name: str, role: str, password: str,
                district: str | None = None, street: str | None = None) -> Officer:
    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise AccountError("用户名不能为空,也不能含空格")
    if role not in ROLE_LABELS:
        raise AccountError(f"角色应为 {'、'.join(f'{k}({v})' for k, v in ROLE_LABELS.items())} 之一")
    if role != ROLE_CITY and not district:
        raise AccountError(f"{ROLE_LABELS[role]}必须指定所属区")
    if role == ROLE_STREET and not street:
        raise AccountError("街道核查员必须指定所属街道")
    if len(password) < 8:
        raise AccountError("密码至少 8 位")
    if store.rows("SELECT 1 FROM officers WHERE username = ?", (username,)):
        raise AccountError(f"用户名“{username}”已存在")
    district = district if role != ROLE_CITY else None
    street = street if role == ROLE_STREET else None
    store.execute(
        "INSERT INTO officers (username, display_name, role, district, street, password_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (username, display_name or username, role, district, street, _hasher.hash(password),
         datetime.now().isoformat(timespec="seconds")),
    )
    return Officer(username, display_name or username, role, district, street)


def get_officer(store: Store, username: str) -> Officer | None:
    rows = store.rows(
        "SELECT username, display_name, role, district, street FROM officers WHERE username = ? AND active = 1",
        (username,),
    )
    return Officer(**rows[0]) if rows else None


def throttled(store: Store, username: str, client: str, now: float | None = None) -> bool:
    """Too many failed logins lately for this account or from this client address."""
    since = (now or time.time()) - FAILURE_WINDOW_SECONDS
    (n_user,) = store.execute(
        "SELECT count(*) FROM login_attempts WHERE username = ? AND ok = 0 AND at > ?", (username, since)
    ).fetchone()
    (n_client,) = store.execute(
        "SELECT count(*) FROM login_attempts WHERE client = ? AND ok = 0 AND at > ?", (client, since)
    ).fetchone()
    return max(n_user, n_client) >= MAX_FAILURES


def check_password(store: Store, username: str, password: str, client: str) -> Officer | None:
    """The officer when the password is right; every attempt is recorded for the throttle."""
    rows = store.rows("SELECT password_hash FROM officers WHERE username = ? AND active = 1", (username,))
    ok = False
    if rows:
        try:
            ok = _hasher.verify(rows[0]["password_hash"], password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # the same work for an unknown account: no timing hint
    store.execute("INSERT INTO login_attempts VALUES (?, ?, ?, ?)", (username, client, time.time(), int(ok)))
    return get_officer(store, username) if ok else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(store: Store, officer: Officer) -> tuple[str, str]:
    """A new session token (for the cookie) and its CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = time.time()
    store.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
    store.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
        (_token_hash(token), officer.username, csrf, now, now + SESSION_SECONDS),
    )
    return token, csrf


def session_officer(store: Store, token: str | None) -> tuple[Officer, str] | None:
    """The officer and CSRF token of a live session, or None."""
    if not token:
        return None
    rows = store.rows(
        "SELECT username, csrf FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (_token_hash(token), time.time()),
    )
    if not rows:
        return None
    officer = get_officer(store, rows[0]["username"])
    return (officer, rows[0]["csrf"]) if officer else None


def end_session(store: Store, token: str | None) -> None:
    if token:
        store.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
