"""The session cookie codec and the sign-in throttle, with their clocks in hand."""

from __future__ import annotations

from scimhub.console.session import ANONYMOUS_SECONDS
from scimhub.console.session import SIGNED_IN_SECONDS
from scimhub.console.session import Session
from scimhub.console.session import SessionCodec
from scimhub.console.session import token_fingerprint
from scimhub.console.session import token_matches
from scimhub.console.throttle import SignInThrottle

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_cookie_reads_back_until_it_expires() -> None:
    codec = SessionCodec(KEY, token_fingerprint("admin-token"))
    session = Session.new(signed_in=True, now=NOW)
    cookie = codec.encode(session)
    assert codec.decode(cookie, NOW + 10) == session
    assert codec.decode(cookie, NOW + SIGNED_IN_SECONDS + 1) is None
    anonymous = Session.new(signed_in=False, now=NOW)
    assert codec.decode(codec.encode(anonymous), NOW + ANONYMOUS_SECONDS + 1) is None


def test_tampered_foreign_and_malformed_cookies_are_no_session() -> None:
    codec = SessionCodec(KEY, token_fingerprint("admin-token"))
    cookie = codec.encode(Session.new(signed_in=False, now=NOW))
    body, _, signature = cookie.rpartition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert codec.decode(f"{flipped}.{signature}", NOW) is None
    assert SessionCodec(b"x" * 32, token_fingerprint("admin-token")).decode(cookie, NOW) is None  # other key
    assert SessionCodec(KEY, token_fingerprint("new-admin-token")).decode(cookie, NOW) is None  # new admin token
    for junk in ("", "no-dot", "a.b", "." * 2000, "e30.AAAA"):
        assert codec.decode(junk, NOW) is None


def test_token_matches_only_the_admin_token() -> None:
    assert token_matches("admin-token", "admin-token")
    assert token_matches("admin-token", "  admin-token\n")  # pasted with whitespace
    assert not token_matches("admin-token", "admin-tokem")
    assert not token_matches("admin-token", "")


def test_csrf_comparison() -> None:
    session = Session.new(signed_in=True, now=NOW)
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(session.csrf + "x")


def test_throttle_counts_failures_per_client_within_the_window() -> None:
    now = [100.0]
    throttle = SignInThrottle(attempts=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60
    assert throttle.retry_after("10.0.0.2") == 0  # another address is not held back
    now[0] += 30
    assert throttle.retry_after("10.0.0.1") == 30
    now[0] += 31
    assert throttle.retry_after("10.0.0.1") == 0  # the window has passed
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0


def test_throttle_memory_is_bounded() -> None:
    now = [0.0]
    throttle = SignInThrottle(attempts=2, window=60, clock=lambda: now[0], max_clients=100)
    for i in range(1000):
        throttle.failed(f"client-{i}")
        now[0] += 0.01
    assert len(throttle._failures) <= 100
