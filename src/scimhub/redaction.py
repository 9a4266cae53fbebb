"""Secret values out of JSON text, in one linear pass that stops at the logged prefix (pure).

The text may be whole JSON, JSON cut off anywhere, or anything else: a string followed by ``:``
is a key wherever it stands. A key naming a secret has its value (string, number, object or
array) replaced by ``"[redacted]"``; so has the ``value`` of an object whose ``path`` names a
secret (a PATCH operation, RFC 7644 §3.5.2), and, not knowing its ``path`` yet, of an object the
text stops inside. Everything else is copied as sent.

Cost: every regular expression here matches in one forward pass (possessive repeats over
disjoint character classes, nothing to backtrack into), and the Python loop runs at most
``2 * limit`` turns, so a call costs O(limit) interpreted steps plus O(len(text)) of C scanning
whatever the text holds. The secret-pair regex this replaced backtracked quadratically on an
unterminated string full of secret words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import orjson

from scimhub.schema.compare import fold

REDACTED = "[redacted]"
_REDACTED_JSON = orjson.dumps(REDACTED)
# Words that make a key's value a secret wherever the key appears in a body.
WORDS = ("password", "secret", "token", "authorization", "credential")

_WS = re.compile(rb"[ \t\r\n]++")
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)  # after the opening quote
_SCALAR = re.compile(rb'[^ \t\r\n,:\[\]{}"]++')  # a number, a literal, or anything else up to a delimiter
_NESTED = re.compile(rb'["\[\]{}]')
_QUOTE, _OPEN, _CLOSE, _SPACE = 0x22, b"[{", b"]}", b" \t\r\n"


def names_secret(name: str) -> bool:
    """Whether a key (or a PATCH path) names a secret, compared as attribute lookup compares names:
    NFC and Unicode casefold, so "PASSWORD", "paßword" and "pa\\u017f\\u017fword" (long s) all do."""
    folded = fold(name)
    return any(word in folded for word in WORDS)


def redact_parsed(value: Any) -> Any:
    """Parsed JSON with the values replaced that :func:`redact_json_text` replaces: for small bodies,
    ~4x faster than the scan (orjson parses), but it walks the whole body."""
    if isinstance(value, dict):
        members = [(fold(key), key, item) for key, item in value.items()]
        secret_path = any(f == "path" and isinstance(item, str) and names_secret(item) for f, _, item in members)
        return {
            key: REDACTED
            if any(word in folded for word in WORDS) or (secret_path and folded == "value")
            else redact_parsed(item)
            for folded, key, item in members
        }
    if isinstance(value, list):
        return [redact_parsed(item) for item in value]
    return value


@dataclass(slots=True)
class _Frame:
    """An open object or array (or the top level)."""

    member: str | None = None  # folded key this container is the value of, in its parent
    key: str | None = None  # folded key whose value comes next
    path_seen: bool = False  # a "path" member was read
    secret_path: bool = False  # ... and one names a secret
    values: list[tuple[int, int]] = field(default_factory=list)  # output spans (piece indexes) of "value"s
    value_at: int = -1  # where a "value" that has not ended yet starts


class _Redactor:
    def __init__(self, raw: bytes, limit: int) -> None:
        self.raw, self.n, self.limit = raw, len(raw), limit
        self.out: list[bytes] = []
        self.length = 0  # bytes in out
        self.pos = 0
        self.turns = 2 * limit + 16  # the interpreted steps this call may take
        self.stack = [_Frame()]

    def run(self) -> tuple[bytes, int]:
        """The redacted text and the index of the first byte of ``raw`` it does not stand for."""
        while self.pos < self.n and self.length < self.limit and self.turns > 0:
            self.turns -= 1
            self._step()
        for frame in reversed(self.stack):  # innermost first: a replacement moves only what follows it
            if frame.secret_path or not frame.path_seen:  # the text stopped before a "path" could come
                if frame.value_at >= 0:
                    frame.values.append((frame.value_at, len(self.out)))
                self._replace_values(frame)
        return b"".join(self.out), self.pos

    def _emit(self, piece: bytes) -> None:
        self.out.append(piece)
        self.length += len(piece)

    def _step(self) -> None:
        raw, pos, byte = self.raw, self.pos, self.raw[self.pos]
        if byte in _SPACE:
            end = _after_space(raw, pos)
        elif byte == _QUOTE:
            end, closed = _string_end(raw, pos + 1)
            colon = _after_space(raw, end)
            if closed and colon < self.n and raw[colon] == 0x3A:  # a string followed by ':' is a key
                self.stack[-1].key = fold(_decoded(raw[pos:end]))
                self._emit(raw[pos:end])
                self.pos = end
                return
            self._value(end, raw[pos:end])
            return
        elif byte in _OPEN:
            self._open()
            return
        elif byte in _CLOSE:
            self._close()
            return
        elif byte == 0x2C:  # ','
            self.stack[-1].key = None
            end = pos + 1
        elif byte == 0x3A:  # ':'
            end = pos + 1
        else:
            match = _SCALAR.match(raw, pos)
            self._value(match.end() if match else pos + 1, None)
            return
        self._emit(raw[pos:end])
        self.pos = end

    def _secret_value(self) -> bool:
        frame = self.stack[-1]
        key = frame.key
        return key is not None and (any(word in key for word in WORDS) or (key == "value" and frame.secret_path))

    def _value(self, end: int, string: bytes | None) -> None:
        """A string (``string``: its token) or another scalar, ending at ``end``."""
        frame, start = self.stack[-1], self.pos
        if self._secret_value():
            self._emit(_REDACTED_JSON)
        else:
            if frame.key == "path":
                frame.path_seen = True
                frame.secret_path |= string is not None and names_secret(_decoded(string))
            at = len(self.out)
            self._emit(self.raw[start:end])
            if frame.key == "value":
                frame.values.append((at, len(self.out)))
        frame.key = None
        self.pos = end

    def _open(self) -> None:
        parent = self.stack[-1]
        if self._secret_value():
            self._emit(_REDACTED_JSON)
            parent.key = None
            self.pos = self._skip_nested()
            return
        if parent.key == "value":
            parent.value_at = len(self.out)
        self.stack.append(_Frame(member=parent.key))
        parent.key = None
        self._emit(self.raw[self.pos : self.pos + 1])
        self.pos += 1

    def _close(self) -> None:
        self._emit(self.raw[self.pos : self.pos + 1])
        self.pos += 1
        if len(self.stack) == 1:
            return  # a stray bracket at the top level
        frame = self.stack.pop()
        if frame.secret_path:
            self._replace_values(frame)
        if frame.member == "value":
            parent = self.stack[-1]
            parent.values.append((parent.value_at, len(self.out)))
            parent.value_at = -1

    def _replace_values(self, frame: _Frame) -> None:
        """Each "value" of ``frame`` replaced, the last first: a replacement moves what follows it."""
        for start, end in reversed(frame.values):
            self.length -= sum(len(piece) for piece in self.out[start:end])
            self.out[start:end] = [_REDACTED_JSON]
            self.length += len(_REDACTED_JSON)
        frame.values.clear()

    def _skip_nested(self) -> int:
        """The index after the object or array at ``pos`` (or the end of the text). Out of turns:
        stop, so that nothing after the secret's start is shown."""
        raw, pos, depth = self.raw, self.pos, 0
        while self.turns > 0:
            self.turns -= 1
            match = _NESTED.search(raw, pos)
            if match is None:
                return self.n
            pos = match.end()
            byte = raw[match.start()]
            if byte == _QUOTE:
                pos = _string_end(raw, pos)[0]
            elif byte in _OPEN:
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return pos
        self.limit = 0  # ends run(): the rest of the text is counted as cut
        return self.pos


def redact_json_text(raw: bytes, limit: int) -> tuple[bytes, int]:
    """``raw`` with secret values replaced, at most about ``limit`` bytes of it (the redaction
    stops once it has that many), and the index in ``raw`` where it stopped (``len(raw)``: all)."""
    return _Redactor(raw, limit).run()


def _string_end(raw: bytes, start: int) -> tuple[int, bool]:
    """The index after the string whose text starts at ``start``, and whether a quote closed it."""
    quote = raw.find(b'"', start)
    if quote >= 0 and raw.find(b"\\", start, quote) < 0:  # no escape: the common case, memchr fast
        return quote + 1, True
    match = _STRING_REST.match(raw, start)
    end = match.end() if match else start
    if end < len(raw) and raw[end] == _QUOTE:
        return end + 1, True
    return len(raw), False


def _after_space(raw: bytes, pos: int) -> int:
    match = _WS.match(raw, pos)
    return match.end() if match else pos


def _decoded(token: bytes) -> str:
    """A string token's text (escapes such as ``pass\\u0077ord`` decoded), also of a broken token."""
    try:
        text = orjson.loads(token)
    except orjson.JSONDecodeError:
        return token[1:].removesuffix(b'"').decode("utf-8", "replace")
    return text if isinstance(text, str) else ""
