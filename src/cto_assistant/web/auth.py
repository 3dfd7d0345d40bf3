"""Sign-in for the web: signed session cookies, CSRF tokens, role dependencies, rate limiting.

The session cookie is signed (itsdangerous) and HTTP-only; it carries the user id, a random
session id and a fingerprint of the user's password hash. A request is signed in only if the
signature and age check out, the user is still active, the password has not changed since
(fingerprint) and the session was not signed out (revocations survive restarts through the
action log). Every sign-in issues a new session id, so a planted cookie is never promoted.

CSRF: state-changing requests that carry the session cookie must send the session's token in
the `X-CSRF-Token` header (or the `csrf_token` form field); the token is an HMAC of the session
id, so it is bound to one session. The sign-in form is protected by a token bound to a short-lived
pre-session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cto_assistant import accounts
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog, User

SESSION_COOKIE = "cto_session"
PRESESSION_COOKIE = "cto_presession"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRESESSION_MAX_AGE = 3600


class NotAuthenticated(Exception):
    """No valid session: the API answers 401, pages redirect to /login."""


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user of one request."""

    id: int
    username: str
    role: str
    session_id: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        """Whether the user may use admin endpoints."""
        return self.role == "admin"


@dataclass(frozen=True)
class SessionClaims:
    """What a valid session cookie says (not yet checked against the store)."""

    user_id: int
    session_id: str
    fingerprint: str


class SessionManager:
    """Issues, reads and revokes session cookies and their CSRF tokens."""

    def __init__(self, secret_key: str, *, max_age_seconds: int, secure: bool) -> None:
        self._key = hashlib.sha256(b"cto-assistant:" + secret_key.encode()).digest()
        self._sessions = URLSafeTimedSerializer(secret_key, salt="cto-session")
        self._presessions = URLSafeTimedSerializer(secret_key, salt="cto-presession")
        self.max_age_seconds = max_age_seconds
        self.secure = secure
        self._revoked: dict[str, float] = {}

    # ------------------------------------------------------------------ tokens and digests
    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return digest.hex()

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to a session."""
        return self._mac("csrf", session_id)

    def fingerprint(self, password_hash: str) -> str:
        """A short keyed digest of a password hash: changes when the password does."""
        return self._mac("password", password_hash)[:24]

    @staticmethod
    def session_digest(session_id: str) -> str:
        """The form in which a session id is written to the action log."""
        return hashlib.sha256(session_id.encode()).hexdigest()[:32]

    # ------------------------------------------------------------------ session cookie
    def issue(self, response: Response, user: User) -> CurrentUser:
        """Start a fresh session for `user` (new id) and set its cookie."""
        session_id = secrets.token_urlsafe(24)
        value = self._sessions.dumps(
            {"u": user.id, "s": session_id, "f": self.fingerprint(user.password_hash)}
        )
        response.set_cookie(
            SESSION_COOKIE,
            str(value),
            max_age=self.max_age_seconds,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        response.delete_cookie(PRESESSION_COOKIE, path="/")
        return CurrentUser(
            user.id, user.username, user.role, session_id, self.csrf_token(session_id)
        )

    def read(self, request: Request) -> SessionClaims | None:
        """The claims of the request's session cookie if signed, fresh and not signed out."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._sessions.loads(raw, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        try:
            claims = SessionClaims(int(data["u"]), str(data["s"]), str(data["f"]))
        except (KeyError, TypeError, ValueError):
            return None
        if self.is_revoked(claims.session_id):
            return None
        return claims

    def clear(self, response: Response) -> None:
        """Remove the session cookie from the browser."""
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure
        )

    def revoke(self, session_id: str) -> str:
        """Mark a session signed out; return the digest to record in the action log."""
        digest = self.session_digest(session_id)
        self.remember_revoked(digest, time.time() + self.max_age_seconds)
        return digest

    def remember_revoked(self, digest: str, until: float) -> None:
        """Refuse the session with this digest until `until` (epoch seconds)."""
        now = time.time()
        self._revoked = {d: t for d, t in self._revoked.items() if t > now}
        self._revoked[digest] = until

    def is_revoked(self, session_id: str) -> bool:
        """Whether the session was signed out."""
        until = self._revoked.get(self.session_digest(session_id))
        return until is not None and until > time.time()

    def load_revocations(self, store: Store) -> None:
        """Reload sign-outs still inside the session lifetime (so they survive a restart)."""
        since = datetime.now(UTC) - timedelta(seconds=self.max_age_seconds)
        with store.session() as session:
            rows = session.scalars(
                sa.select(ActionLog).where(ActionLog.action == "sign_out", ActionLog.at >= since)
            )
            for row in rows:
                digest = (row.arguments or {}).get("session")
                if isinstance(digest, str):
                    until = row.at.timestamp() + self.max_age_seconds
                    self.remember_revoked(digest, until)

    # ------------------------------------------------------------------ sign-in form CSRF
    def presession_token(self, request: Request, response: Response) -> str:
        """The CSRF token of the sign-in form, (re)setting its pre-session cookie."""
        nonce = self._presession_nonce(request)
        if nonce is None:
            nonce = secrets.token_urlsafe(24)
            response.set_cookie(
                PRESESSION_COOKIE,
                str(self._presessions.dumps(nonce)),
                max_age=PRESESSION_MAX_AGE,
                path="/",
                httponly=True,
                samesite="lax",
                secure=self.secure,
            )
        return self._mac("sign-in", nonce)

    def check_presession_token(self, request: Request, token: str | None) -> bool:
        """Whether `token` matches the request's pre-session cookie."""
        nonce = self._presession_nonce(request)
        if nonce is None or not token:
            return False
        return hmac.compare_digest(self._mac("sign-in", nonce), token)

    def _presession_nonce(self, request: Request) -> str | None:
        raw = request.cookies.get(PRESESSION_COOKIE)
        if not raw:
            return None
        try:
            nonce = self._presessions.loads(raw, max_age=PRESESSION_MAX_AGE)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None


class SignInLimiter:
    """Refuse sign-in after `max_failures` failures per (user name, client) inside `window`."""

    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def blocked(self, username: str, client: str, now: float | None = None) -> bool:
        """Whether this user name from this client must wait."""
        key = (username.strip().lower(), client)
        return len(self._recent(key, now or time.monotonic())) >= self.max_failures

    def failed(self, username: str, client: str, now: float | None = None) -> None:
        """Count one failed attempt."""
        key = (username.strip().lower(), client)
        self._recent(key, now or time.monotonic()).append(now or time.monotonic())

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a user name after a good sign-in."""
        self._failures.pop((username.strip().lower(), client), None)


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in attempt: a user, or the reason and HTTP status of a refusal."""

    user: User | None
    status: int
    reason: str


def client_address(request: Request) -> str:
    """The peer address of the request (no proxy headers are trusted)."""
    return request.client.host if request.client else "unknown"


def sign_in(request: Request, *, username: str, password: str) -> SignInResult:
    """Check credentials with rate limiting and record the attempt in the action log."""
    store: Store = request.app.state.store
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    client = client_address(request)
    actor = username.strip().lower()[:64] or "(empty)"
    if limiter.blocked(username, client):
        _audit(store, actor, "sign_in", False, client, reason="rate_limited")
        return SignInResult(None, 429, "Too many failed sign-ins; wait a few minutes.")
    with store.session() as session:
        user = accounts.authenticate(session=session, username=username, password=password)
        accounts.record_action(
            session=session,
            actor=actor,
            action="sign_in",
            ok=user is not None,
            arguments={"client": client},
            result={} if user else {"reason": "bad_credentials"},
        )
    if user is None:
        limiter.failed(username, client)
        return SignInResult(None, 401, "Wrong user name or password.")
    limiter.succeeded(username, client)
    request.state.username = user.username
    return SignInResult(user, 200, "")


def sign_out(request: Request, response: Response, user: CurrentUser) -> None:
    """End the session everywhere this cookie was copied to, and clear the cookie."""
    sessions: SessionManager = request.app.state.sessions
    digest = sessions.revoke(user.session_id)
    sessions.clear(response)
    _audit(
        request.app.state.store,
        user.username,
        "sign_out",
        True,
        client_address(request),
        session=digest,
    )


def _audit(store: Store, actor: str, action: str, ok: bool, client: str, **details: str) -> None:
    reason = details.pop("reason", None)
    with store.session() as session:
        accounts.record_action(
            session=session,
            actor=actor,
            action=action,
            ok=ok,
            arguments={"client": client, **details},
            result={"reason": reason} if reason else {},
        )


# ---------------------------------------------------------------------- dependencies
def optional_user(request: Request) -> CurrentUser | None:
    """The signed-in user, or None; checks the session against the store."""
    sessions: SessionManager = request.app.state.sessions
    claims = sessions.read(request)
    if claims is None:
        return None
    store: Store = request.app.state.store
    with store.session() as session:
        user = accounts.get_user(session=session, user_id=claims.user_id)
        if user is None or not user.active:
            return None
        if not hmac.compare_digest(sessions.fingerprint(user.password_hash), claims.fingerprint):
            return None
        current = CurrentUser(
            user.id,
            user.username,
            user.role,
            claims.session_id,
            sessions.csrf_token(claims.session_id),
        )
    request.state.username = current.username
    return current


def current_user(user: CurrentUser | None = Depends(optional_user)) -> CurrentUser:
    """The signed-in user; raises NotAuthenticated (401 / redirect) without one."""
    if user is None:
        raise NotAuthenticated()
    return user


def require_admin(user: CurrentUser = Depends(current_user)) -> CurrentUser:
    """The signed-in user if an admin, else 403."""
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="admin role required")
    return user


async def require_csrf(request: Request, user: CurrentUser | None = Depends(optional_user)) -> None:
    """Refuse a state-changing, cookie-authenticated request without the session's token."""
    if request.method not in UNSAFE_METHODS or user is None:
        return
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FORM_FIELD)
        token = field if isinstance(field, str) else None
    if not token or not hmac.compare_digest(token, user.csrf_token):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
