"""Console sessions: an HMAC-signed cookie (no server-side rows) and its CSRF token.

The cookie holds ``{sid, csrf, auth, iat, adm}``: a random session id, the session's CSRF token
(sent back in every form), whether it is signed in, when it was made, and a fingerprint of the
admin token it was signed in with, so changing ``SCIMHUB_ADMIN_TOKEN`` ends every session. The
signing key is a server secret in the database (like the cursor key), so every instance accepts
every session. The admin token itself is never put in the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

COOKIE = "scimhub_console"
SIGNED_IN_SECONDS = 12 * 3600
ANONYMOUS_SECONDS = 3600
MAX_COOKIE = 1024


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    csrf: str
    signed_in: bool
    issued_at: int

    @classmethod
    def new(cls, *, signed_in: bool, now: float | None = None) -> Session:
        """A fresh session (a sign-in always makes a new one: no session fixation)."""
        issued = int(time.time() if now is None else now)
        return cls(secrets.token_urlsafe(16), secrets.token_urlsafe(24), signed_in, issued)

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


def token_fingerprint(admin_token: str) -> str:
    """Names the admin token a session was signed in with (a digest prefix, not the token)."""
    return hashlib.sha256(b"scimhub-console:" + admin_token.encode()).hexdigest()[:16]


def token_matches(admin_token: str, presented: str) -> bool:
    """Constant time whatever the lengths: the digests compared are of equal length."""
    want = hashlib.sha256(admin_token.encode()).digest()
    return hmac.compare_digest(hashlib.sha256(presented.strip().encode()).digest(), want)


class SessionCodec:
    """Signs and reads session cookies with ``key`` for the admin token ``fingerprint``."""

    def __init__(self, key: bytes, fingerprint: str) -> None:
        self._key = key
        self._fingerprint = fingerprint

    def encode(self, session: Session) -> str:
        payload = orjson.dumps(
            {
                "sid": session.sid,
                "csrf": session.csrf,
                "auth": session.signed_in,
                "iat": session.issued_at,
                "adm": self._fingerprint,
            }
        )
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        return f"{body.decode()}.{self._sign(body)}"

    def decode(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session, or None when the cookie is absent, forged, expired or from another admin token."""
        if not cookie or len(cookie) > MAX_COOKIE or "." not in cookie:
            return None
        body, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body.encode()).encode()):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["sid"]), str(data["csrf"]), data["auth"] is True, int(data["iat"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if data.get("adm") != self._fingerprint:
            return None
        lifetime = SIGNED_IN_SECONDS if session.signed_in else ANONYMOUS_SECONDS
        age = (time.time() if now is None else now) - session.issued_at
        return session if 0 <= age + 60 and age < lifetime else None

    def _sign(self, body: bytes) -> str:
        mac = hmac.new(self._key, b"console-session." + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
