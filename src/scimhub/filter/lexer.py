"""Tokenizer for SCIM filters and PATCH paths (RFC 7644 §3.4.2.2, §3.5.2).

One anchored regular expression is matched per token, so lexing is linear in the input.
Keywords (``and``, ``eq``, ``true``...) are lexed as :data:`NAME` tokens: whether a word is
a keyword depends on where it stands, which only the parser knows.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final
from typing import NamedTuple

from scimhub.filter.ast import Value

NAME: Final = "NAME"
STRING: Final = "STRING"
NUMBER: Final = "NUMBER"
END: Final = "END"
# Punctuation tokens use their own character as kind: "(", ")", "[", "]" and ".".

# One character per repetition keeps backtracking linear on an unterminated string.
_STRING_BODY = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*'
_TOKEN = re.compile(
    r"(?P<WS>[ \t\r\n]+)"
    # A raw attribute path, URN prefix and sub-attribute included; the parser checks its shape.
    r"|(?P<NAME>[A-Za-z$][A-Za-z0-9_$:.\-]*)"
    rf"|(?P<STRING>{_STRING_BODY}\")"
    # A number glued to a name or a dot ("1and", "1.") is refused rather than split.
    r"|(?P<NUMBER>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_$.])"
    r"|(?P<PUNCT>[()\[\].])"
)
_STRING_PREFIX = re.compile(_STRING_BODY)
_SURROGATE = re.compile("[\ud800-\udfff]")


class FilterSyntaxError(ValueError):
    """A syntax error at a 0-based ``position``; the public parsers turn it into a SCIM error."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"at position {position}: {reason}")
        self.position = position
        self.reason = reason


class Token(NamedTuple):
    """A lexeme, its 0-based position and, for strings and numbers, its decoded value."""

    kind: str
    text: str
    pos: int
    value: Value = None


def tokenize(text: str) -> list[Token]:
    """Split filter text into tokens ending with an :data:`END` token (RFC 7644 §3.4.2.2)."""
    tokens: list[Token] = []
    match = _TOKEN.match
    pos = 0
    while pos < len(text):
        found = match(text, pos)
        if found is None:
            raise _unlexable(text, pos)
        if found.lastgroup != "WS":
            tokens.append(_token(found.lastgroup, found.group(), pos))
        pos = found.end()
    tokens.append(Token(END, "", pos))
    return tokens


def _token(kind: str | None, lexeme: str, pos: int) -> Token:
    if kind == STRING:
        return Token(STRING, lexeme, pos, _decode_string(lexeme, pos))
    if kind == NUMBER:
        return Token(NUMBER, lexeme, pos, _decode_number(lexeme, pos))
    if kind == NAME:
        return Token(NAME, lexeme, pos)
    return Token(lexeme, lexeme, pos)


def _decode_string(lexeme: str, pos: int) -> str:
    if "\\" not in lexeme:
        return lexeme[1:-1]
    value: str = json.loads(lexeme)
    # JSON lets \uD800 stand alone; such a string cannot be stored or sent as UTF-8.
    surrogate = _SURROGATE.search(value)
    if surrogate is not None:
        raise FilterSyntaxError(pos, f"unpaired UTF-16 surrogate \\u{ord(surrogate.group()):04X} in string")
    return value


def _decode_number(lexeme: str, pos: int) -> int | float:
    try:
        if "." in lexeme or "e" in lexeme or "E" in lexeme:
            number = float(lexeme)
            if math.isinf(number):
                raise ValueError(lexeme)
            return number
        return int(lexeme)
    except ValueError:
        raise FilterSyntaxError(pos, f"number {_clip(lexeme)} is out of range") from None


def _unlexable(text: str, pos: int) -> FilterSyntaxError:
    char = text[pos]
    if char == '"':
        return _bad_string(text, pos)
    if char == "-" or char.isdigit():
        return FilterSyntaxError(pos, "invalid number (numbers follow JSON syntax)")
    return FilterSyntaxError(pos, f"unexpected character {char!r}")


def _bad_string(text: str, pos: int) -> FilterSyntaxError:
    prefix = _STRING_PREFIX.match(text, pos)
    end = prefix.end() if prefix is not None else pos
    if end >= len(text):
        return FilterSyntaxError(pos, "unterminated string")
    if text[end] == "\\":
        width = 6 if text[end + 1 : end + 2] == "u" else 2
        return FilterSyntaxError(end, f"invalid escape {text[end : end + width]} in string")
    return FilterSyntaxError(end, f"control character {text[end]!r} in string; escape it")


def _clip(text: str, limit: int = 24) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
