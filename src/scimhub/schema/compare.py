"""One comparison key for attribute values (RFC 7643 §2.1 caseExact, §7).

A value that is not caseExact is compared the way RFC 8265 §3.3 prepares a case-mapped username
(PRECIS UsernameCaseMapped, as RFC 7613 did): fullwidth and halfwidth characters are mapped to
their decomposition (fullwidth U+FF37 U+FF29 U+FF24 U+FF25 is ``WIDE``, U+3000 a space), then NFC and case folding
(``casefold``, a superset of the profile's ``toLowerCase``). A caseExact value keeps its width and
case; only NFC applies (so a composed and a decomposed ``é`` are one value).
"""

from __future__ import annotations

import re
import unicodedata

from scimhub.schema.model import Attribute


def _width_table() -> dict[int, str]:
    """Every character whose Unicode decomposition is tagged <wide> or <narrow>: U+3000 and the
    Halfwidth and Fullwidth Forms block (U+FF00-U+FFEF); each maps to one character."""
    table: dict[int, str] = {}
    for code in (0x3000, *range(0xFF00, 0xFFF0)):
        tag, _, target = unicodedata.decomposition(chr(code)).partition(" ")
        if tag in ("<wide>", "<narrow>"):
            table[code] = chr(int(target, 16))
    return table


WIDTH_MAP = _width_table()
_MAYBE_WIDE = re.compile("[\u3000\uff00-\uffef]")  # where every width-mapped character is


def map_width(text: str) -> str:
    """RFC 8265 §3.3.1 width mapping rule (what NFKC does, for these characters only)."""
    # translate() looks every character up in a dict; the search is a C scan that rarely finds one.
    return text.translate(WIDTH_MAP) if _MAYBE_WIDE.search(text) else text


def fold(text: str) -> str:
    """The key of a value that is not caseExact: width-mapped, NFC, casefolded (Unicode-correct,
    unlike SQLite's ASCII lower())."""
    if text.isascii():  # nearly every value: nothing to map or compose
        return text.lower()
    return unicodedata.normalize("NFC", map_width(text)).casefold()


def comparison_key(attr: Attribute, value: str) -> str:
    """The key under which a string value is compared and indexed."""
    return unicodedata.normalize("NFC", value) if attr.case_exact else fold(value)
