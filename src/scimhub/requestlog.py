"""What the request log keeps of a request: redacted, size-capped bodies (pure)."""

from __future__ import annotations

import re

import orjson

from scimhub.redaction import REDACTED
from scimhub.redaction import WORDS
from scimhub.redaction import redact_json_text
from scimhub.redaction import redact_parsed
from scimhub.schema.compare import fold

__all__ = ["REDACTED", "error_detail", "redact_body"]

# The words for the quick check on raw bytes: ``in`` on the lowered text is ~20x faster than a
# case-insensitive alternation, and the check runs on every request and response body.
_SECRET_WORDS = tuple(word.encode() for word in WORDS)
# The characters outside ASCII whose case fold holds an ASCII letter (ß ss, U+017F s, U+212A k,
# U+FB06 st, U+1E97 t and a combining mark, ...): only a body holding one can name a secret in
# other letters. tests/ops/test_redaction_unit.py recomputes the list.
FOLDS_TO_ASCII = "\u00df\u0130\u0149\u017f\u1e96\u1e97\u1e98\u1e9a\u1e9e\u212a\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
_FOLDS_TO_ASCII = re.compile(f"[{FOLDS_TO_ASCII}]")  # one pass: ~4x faster than a find per character
# The redaction reads at most this much of a body, or this many times the cap: what the log shows
# of a longer body ends at the latest with a secret whose end is past it.
WINDOW_BYTES = 64 * 1024
WINDOW_CAPS = 16
# Whole JSON up to this size is parsed and walked instead (~4x faster, at most a few ms).
WALK_BYTES = 16 * 1024


def redact_body(raw: bytes, cap: int, size: int | None = None) -> str | None:
    """The body with secret values replaced, cut to ``cap`` bytes; None when empty.

    ``size``: the body's full length when ``raw`` is only its beginning. The redaction reads at most
    the window and stops at the cap, so a body built to be slow costs a few ms (tests/ops/test_hostile_bodies.py).
    """
    if not raw:
        return None
    window = max(WINDOW_BYTES, WINDOW_CAPS * cap)
    # Past the window the quick check would cost more than the redaction, which reads the window only.
    if len(raw) > window or _may_name_secret(raw):
        text, stop = _redacted(raw, cap, window)
    else:
        text, stop = raw, len(raw)  # nothing that could name a secret (the common case)
    # Bytes not shown: past the cap, and of the body after where the redaction stopped (as sent).
    more = max(0, len(text) - cap) + len(raw) - stop + (0 if size is None else max(0, size - len(raw)))
    if more > 0:
        return text[:cap].decode("utf-8", "ignore") + f"… [{more} more bytes]"
    return text.decode("utf-8", "replace")


def _redacted(raw: bytes, cap: int, window: int) -> tuple[bytes, int]:
    """The redacted text and where in ``raw`` it stopped: a small body that is whole JSON is parsed
    and walked (the canonical text), anything else scanned."""
    if len(raw) <= WALK_BYTES:
        try:
            return orjson.dumps(redact_parsed(orjson.loads(raw))), len(raw)
        except (orjson.JSONDecodeError, TypeError, RecursionError):  # not JSON, or nested too deep
            pass
    return redact_json_text(raw[:window], cap + 1)


def _may_name_secret(raw: bytes) -> bool:
    """Whether ``raw`` could hold a secret's key (also one spelled with \\u escapes: "pass\\u0077ord",
    or with characters that fold to ASCII letters, as attribute lookup folds names: U+017F, the
    long s, for "s", "ß" for "ss", the Kelvin sign for "k")."""
    lowered = raw.lower()
    if b"\\u" in raw or any(word in lowered for word in _SECRET_WORDS):
        return True
    if raw.isascii():
        return False
    text = raw.decode("utf-8", "replace")
    if _FOLDS_TO_ASCII.search(text) is None:
        return False
    folded = fold(text)
    return any(word in folded for word in WORDS)


def error_detail(raw: bytes) -> str | None:
    """The ``detail`` of a SCIM error body (RFC 7644 §3.12), if the body is one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict):
        detail, scim_type = body.get("detail"), body.get("scimType")
        if isinstance(detail, str):
            return f"{scim_type}: {detail}" if isinstance(scim_type, str) else detail
    return None
