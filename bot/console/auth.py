"""Staff log-in: bcrypt password hashes, server-side sessions, CSRF tokens, roles.

The session cookie holds a random token; the store keeps only its sha256, so a leaked
database does not leak live sessions. Every state-changing request carries the session's
CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import functools

import bcrypt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.models import STAFF_ROLES, StaffSession, StaffUser
from bot.throttle import Limit
from bot.store.types import now_utc

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
SESSION_HOURS = 12
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer
MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
# Failed log-ins: per username, and per client address (many usernames tried from one place).
# Kept in the store or Redis (bot/throttle.py): a restart or another gateway forgets nothing.
LOGIN_PER_USER = Limit("login-user", 5, 600.0)
LOGIN_PER_CLIENT = Limit("login-client", 30, 600.0)  # a call centre may share one address


def _rounds() -> int:
    return int(os.environ.get("BCRYPT_ROUNDS") or 12)


@functools.lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> bytes:
    """A valid hash of the configured cost, checked when the user does not exist: an unknown
    username then costs the same bcrypt work as a wrong password, so timing does not tell."""
    return bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=rounds))


def hash_password(password: str) -> str:
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password shorter than {MIN_PASSWORD_LENGTH} characters")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=_rounds())).decode("ascii")


def check_password(password: str, password_hash: str | None) -> bool:
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES or not password_hash:
        bcrypt.checkpw(b"x", _dummy_hash(_rounds()))
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except ValueError:
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    username: str
    display_name: str
    role: str
    csrf_token: str
    availability: str = "online"

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def upsert_staff(session: Session, username: str, display_name: str, role: str, password: str) -> StaffUser:
    if not USERNAME_RE.match(username):
        raise ValueError("username: 2-64 letters, digits, '_', '.', '-'")
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
    display_name = display_name.strip()
    if not display_name or len(display_name) > 64:
        raise ValueError("display name: 1-64 characters")
    user = session.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
    hashed = hash_password(password)
    if user is None:
        user = StaffUser(username=username, display_name=display_name, role=role, password_hash=hashed,
                         active=True)
        session.add(user)
    else:
        user.display_name, user.role, user.password_hash, user.active = display_name, role, hashed, True
        # A new password ends every open session of the user.
        session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    session.flush()
    return user


def log_in(session: Session, username: str, password: str) -> tuple[str, StaffIdentity] | None:
    """Checks the password; on success opens a session and returns (cookie token, identity)."""
    user = session.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
    ok = check_password(password, user.password_hash if user is not None else None)
    if user is None or not ok or not user.active:
        return None
    now = now_utc()
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=token_hash(token), user_id=user.id, csrf_token=csrf,
                             created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return token, StaffIdentity(user.id, user.username, user.display_name, user.role, csrf)


def identity_for(session: Session, token: str) -> StaffIdentity | None:
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.expires_at <= now_utc() or not user.active:
        return None
    return StaffIdentity(user.id, user.username, user.display_name, user.role, staff_session.csrf_token,
                         user.availability)


def log_out(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
