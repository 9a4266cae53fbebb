"""Recursive-descent parser for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

Precedence, loosest first: ``or``, ``and``, then ``not (...)``, groups and attribute
expressions. ``and``/``or`` chains are left-associative. The grammar is the RFC's ABNF with
its errata: ``not`` may or may not be followed by a space (errata 7319), a value filter holds
any boolean expression but no nested ``[...]``, and a filter may continue a value path with a
sub-attribute test, as Microsoft Entra sends.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NoReturn

from scimhub.errors import InvalidFilter
from scimhub.errors import InvalidPath
from scimhub.filter.ast import And
from scimhub.filter.ast import AttrPath
from scimhub.filter.ast import Compare
from scimhub.filter.ast import CompareOp
from scimhub.filter.ast import Filter
from scimhub.filter.ast import Not
from scimhub.filter.ast import Or
from scimhub.filter.ast import PatchPath
from scimhub.filter.ast import PathExpr
from scimhub.filter.ast import Present
from scimhub.filter.ast import Value
from scimhub.filter.ast import ValuePath
from scimhub.filter.lexer import END
from scimhub.filter.lexer import NAME
from scimhub.filter.lexer import NUMBER
from scimhub.filter.lexer import STRING
from scimhub.filter.lexer import FilterSyntaxError
from scimhub.filter.lexer import Token
from scimhub.filter.lexer import tokenize

DEFAULT_MAX_LENGTH = 4096
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_OPERATORS = 128

_OPERATORS = {op.value: op for op in CompareOp}
_LITERALS: dict[str, Value] = {"true": True, "false": False, "null": None}
# ATTRNAME = ALPHA *(nameChar), plus the leading "$" of "$ref" (RFC 7643 §2.4).
_ATTR_NAME = re.compile(r"\$?[A-Za-z][A-Za-z0-9_-]*")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9][A-Za-z0-9._-]*)*", re.IGNORECASE)


def parse_filter(
    text: str,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_operators: int = DEFAULT_MAX_OPERATORS,
) -> Filter:
    """Parse a ``filter`` expression (RFC 7644 §3.4.2.2, Figure 1) into its syntax tree.

    ``max_depth`` bounds the nesting of parentheses, ``not (...)`` and ``[...]``. Each ``and``
    or ``or`` deepens the (binary) tree too, so ``max_operators`` bounds their count: together
    they keep the tree shallow enough for recursive code, ``==`` and ``hash`` included.

    :raises InvalidFilter: with a detail naming the 0-based position and what was expected.
    """
    try:
        _check_length(text, max_length)
        return _Parser(tokenize(text), max_depth, max_operators).filter()
    except FilterSyntaxError as exc:
        raise InvalidFilter(_detail("filter", exc)) from None


def parse_path(text: str, *, max_length: int = DEFAULT_MAX_LENGTH, max_depth: int = DEFAULT_MAX_DEPTH) -> PathExpr:
    """Parse a PATCH ``path``: ``attrPath / valuePath [subAttr]`` (RFC 7644 §3.5.2, Figure 7).

    :raises InvalidPath: with a detail naming the 0-based position and what was expected.
    """
    try:
        _check_length(text, max_length)
        return _Parser(tokenize(text), max_depth, DEFAULT_MAX_OPERATORS).patch_path()
    except FilterSyntaxError as exc:
        raise InvalidPath(_detail("path", exc)) from None


def _check_length(text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise FilterSyntaxError(max_length, f"longer than the limit of {max_length} characters")


def _detail(what: str, exc: FilterSyntaxError) -> str:
    return f"Invalid {what} at position {exc.position}: {exc.reason}"


def _describe(token: Token) -> str:
    if token.kind == END:
        return "end of input"
    text = token.text if len(token.text) <= 32 else token.text[:32] + "..."
    return repr(text)


def _is_operator(token: Token) -> bool:
    word = token.text.lower()
    return token.kind == NAME and (word == "pr" or word in _OPERATORS)


@lru_cache(maxsize=1024)
def _split_attr_path(text: str) -> AttrPath | None:
    """Split a raw name: the attribute follows the URN's last ':', the sub-attribute its first '.'."""
    uri: str | None = None
    name = text
    if text[:4].lower() == "urn:":
        uri, _, name = text.rpartition(":")
        if not _URN.fullmatch(uri):
            return None
    attr, dot, sub_attr = name.partition(".")
    if not _ATTR_NAME.fullmatch(attr) or (dot and not _ATTR_NAME.fullmatch(sub_attr)):
        return None
    return AttrPath(uri, attr, sub_attr if dot else None)


class _Parser:
    """One parse over a token list; ``_depth`` counts open groups and brackets."""

    __slots__ = ("_depth", "_in_brackets", "_index", "_max_depth", "_max_operators", "_operators", "_tokens")

    def __init__(self, tokens: list[Token], max_depth: int, max_operators: int) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._max_depth = max_depth
        self._operators = 0
        self._max_operators = max_operators
        self._in_brackets = False

    # Entry points -----------------------------------------------------------------------

    def filter(self) -> Filter:
        if self._peek().kind == END:
            self._error(self._peek(), "the filter is empty")
        node = self._or()
        self._expect(END, "'and', 'or' or end of input")
        return node

    def patch_path(self) -> PatchPath:
        name = self._peek()
        path = self._attr_path("an attribute path")
        if self._peek().kind != "[":
            self._expect(END, "'[' or end of input")
            return PatchPath(path, None, None)
        selector = self._brackets(path, name)
        sub_attr = self._sub_attr() if self._accept(".") else None
        self._expect(END, "end of input" if sub_attr else "'.' or end of input")
        return PatchPath(path, selector, sub_attr)

    # Grammar ----------------------------------------------------------------------------

    def _or(self) -> Filter:
        node = self._and()
        while self._accept_logical("or"):
            node = Or(node, self._and())
        return node

    def _and(self) -> Filter:
        node = self._unary()
        while self._accept_logical("and"):
            node = And(node, self._unary())
        return node

    def _unary(self) -> Filter:
        token = self._peek()
        if token.kind == "(":
            return self._group()
        if token.kind != NAME:
            self._fail(token, "an attribute path, '(' or 'not'")
        if token.text.lower() == "not" and self._starts_not():
            self._index += 1
            return Not(self._group())
        return self._attr_expression()

    def _starts_not(self) -> bool:
        # SCIM reserves no attribute names, so "not" is the operator only before "(":
        # "not pr" tests an attribute called "not".
        following = self._tokens[self._index + 1]
        if following.kind == "(":
            return True
        if following.kind == "[" or _is_operator(following):
            return False
        self._fail(following, "'(' after 'not'")

    def _group(self) -> Filter:
        self._open(self._peek(), "(")
        node = self._or()
        self._expect(")", "'and', 'or' or ')'")
        self._depth -= 1
        return node

    def _attr_expression(self) -> Filter:
        name = self._peek()
        path = self._attr_path("an attribute path, '(' or 'not'")
        if self._peek().kind == "[":
            return self._value_path(path, name)
        return self._test(path)

    def _value_path(self, path: AttrPath, name: Token) -> Filter:
        selector = self._brackets(path, name)
        if not self._accept("."):
            return ValuePath(path, selector)
        # emails[type eq "work"].value eq "x" is PATH syntax (§3.5.2), not FILTER syntax, yet
        # Microsoft Entra sends it in filters; it can only mean one email matching both tests.
        test = self._test(AttrPath(None, self._sub_attr(), None))
        return ValuePath(path, And(selector, test))

    def _brackets(self, path: AttrPath, name: Token) -> Filter:
        bracket = self._peek()
        if self._in_brackets:
            self._error(bracket, "value filters cannot be nested")
        if path.sub_attr is not None:
            self._error(name, f"a value filter cannot apply to the sub-attribute {str(path)!r}")
        self._open(bracket, "[")
        self._in_brackets = True
        selector = self._or()
        self._expect("]", "'and', 'or' or ']'")
        self._in_brackets = False
        self._depth -= 1
        return selector

    def _test(self, path: AttrPath) -> Filter:
        token = self._next()
        word = token.text.lower()
        if token.kind == NAME and word == "pr":
            return Present(path)
        if token.kind == NAME and word in _OPERATORS:
            return Compare(path, _OPERATORS[word], self._value())
        self._fail(token, "a comparison operator")

    def _value(self) -> Value:
        token = self._next()
        if token.kind == STRING or token.kind == NUMBER:
            return token.value
        word = token.text.lower()
        if token.kind == NAME and word in _LITERALS:
            return _LITERALS[word]
        self._fail(token, "a value (a string, number, true, false or null)")

    def _attr_path(self, expected: str) -> AttrPath:
        token = self._next()
        path = _split_attr_path(token.text) if token.kind == NAME else None
        if path is None:
            self._fail(token, expected)
        return path

    def _sub_attr(self) -> str:
        token = self._next()
        if token.kind != NAME or not _ATTR_NAME.fullmatch(token.text):
            self._fail(token, "a sub-attribute name")
        return token.text

    # Token helpers ----------------------------------------------------------------------

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _next(self) -> Token:
        token = self._tokens[self._index]
        if token.kind != END:
            self._index += 1
        return token

    def _accept(self, kind: str) -> bool:
        if self._tokens[self._index].kind != kind:
            return False
        self._index += 1
        return True

    def _accept_logical(self, word: str) -> bool:
        token = self._tokens[self._index]
        if token.kind != NAME or token.text.lower() != word:
            return False
        self._index += 1
        self._operators += 1
        if self._operators > self._max_operators:
            self._error(token, f"more than {self._max_operators} 'and'/'or' operators")
        return True

    def _expect(self, kind: str, expected: str) -> None:
        if not self._accept(kind):
            self._fail(self._peek(), expected)

    def _open(self, token: Token, kind: str) -> None:
        self._expect(kind, repr(kind))
        self._depth += 1
        if self._depth > self._max_depth:
            self._error(token, f"nested deeper than {self._max_depth} levels")

    def _fail(self, token: Token, expected: str) -> NoReturn:
        self._error(token, f"expected {expected}, got {_describe(token)}")

    def _error(self, token: Token, reason: str) -> NoReturn:
        raise FilterSyntaxError(token.pos, reason)
