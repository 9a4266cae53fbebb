"""One comparison key for attribute values (RFC 7643 §2.1 caseExact, §7)."""

from __future__ import annotations

import unicodedata

from scimhub.schema.model import Attribute


def fold(text: str) -> str:
    """NFC-normalise and casefold (Unicode-correct, unlike SQLite's ASCII lower())."""
    return unicodedata.normalize("NFC", text).casefold()


def comparison_key(attr: Attribute, value: str) -> str:
    """The key under which a string value is compared and indexed."""
    return unicodedata.normalize("NFC", value) if attr.case_exact else fold(value)
