"""Which identity provider is calling, from the User-Agent of its SCIM requests (pure).

Documented values: Okta sends ``Okta SCIM Client 1.0.0`` (its SCIM reference and provisioning
guides) and ``OKTA SCIM Integration`` from its Runscope spec tests (IDP_QUIRKS §1). The other
IdPs are matched on their product name as a word, case-insensitively, so a version or platform
suffix does not matter; anything else is ``other`` (the raw value is shown next to it).
"""

from __future__ import annotations

import re

OTHER = "other"
# (name shown, pattern on the User-Agent); the first match wins.
_IDPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Okta", re.compile(r"\bokta\b", re.IGNORECASE)),
    ("Entra", re.compile(r"\b(?:entra|azure(?:[ ._-]?ad)?|aad)\b|microsoft\.azure", re.IGNORECASE)),
    ("OneLogin", re.compile(r"\bone[ -]?login\b", re.IGNORECASE)),
    ("JumpCloud", re.compile(r"\bjump[ -]?cloud\b", re.IGNORECASE)),
    ("Ping", re.compile(r"\bping(?:[ -]?(?:identity|federate|one))\b", re.IGNORECASE)),
    ("Google", re.compile(r"\bgoogle\b", re.IGNORECASE)),
)


def recognise(user_agent: str | None) -> str | None:
    """The IdP's name, ``other``, or None when there was no User-Agent at all."""
    if not user_agent:
        return None
    for name, pattern in _IDPS:
        if pattern.search(user_agent):
            return name
    return OTHER
