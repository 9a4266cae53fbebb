"""Bearer tokens: ``scimhub_`` + 32 random bytes (base62) + CRC32 check (base62).

Shown once; stored as SHA-256 (or HMAC-SHA256 with a server pepper). 256-bit random
secrets need no slow hash: a digest lookup costs microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

PREFIX = "scimhub_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_CHARS = 43  # 62**43 > 2**256
_CHECK_CHARS = 6  # 62**6 > 2**32
DISPLAY_CHARS = len(PREFIX) + 6


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_CHARS)


def mint_token() -> str:
    body = _base62(int.from_bytes(secrets.token_bytes(32), "big"), _SECRET_CHARS)
    return f"{PREFIX}{body}{_checksum(body)}"


def well_formed(token: str) -> bool:
    """Cheap check before any lookup: prefix, length and CRC (catches typos and junk)."""
    if not token.startswith(PREFIX) or len(token) != len(PREFIX) + _SECRET_CHARS + _CHECK_CHARS:
        return False
    body = token[len(PREFIX) : -_CHECK_CHARS]
    return hmac.compare_digest(_checksum(body), token[-_CHECK_CHARS:])


def digest(token: str, pepper: str | None = None) -> str:
    if pepper:
        return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_CHARS]
