"""Versions and entity tags (RFC 7644 §3.14): version n ↔ weak ETag W/"n"."""

from __future__ import annotations

from scimhub.errors import PreconditionFailed


def etag(version: int) -> str:
    return f'W/"{version}"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def check_if_match(header: str | None, version: int) -> None:
    """412 when If-Match names none of the current version (``*`` matches any)."""
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags or f'"{version}"' in tags:
        return
    raise PreconditionFailed(f"If-Match {header} does not match the current version {etag(version)}.")


def matches_if_none_match(header: str | None, version: int) -> bool:
    """True when a GET may answer 304 Not Modified."""
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or f'"{version}"' in tags
