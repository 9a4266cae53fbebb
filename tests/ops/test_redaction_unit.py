"""Request-log redaction as a pure function: the quick path never lets a secret through."""

from __future__ import annotations

import pytest

from scimhub.requestlog import redact_body


@pytest.mark.parametrize(
    "raw",
    [
        b'{"userName": "a", "password": "hunter2"}',
        b'{"pass\\u0077ord": "hunter2"}',
        b'{"Operations": [{"op": "replace", "path": "password", "value": "hunter2"}]}',
        b'{"PASSWORD": "hunter2"',  # cut off: not JSON any more
    ],
)
def test_secrets_are_redacted_however_they_are_spelled(raw: bytes) -> None:
    text = redact_body(raw, 4096)
    assert text is not None and "hunter2" not in text and "[redacted]" in text


def test_a_body_without_secret_names_is_kept_as_sent() -> None:
    assert redact_body(b'{"userName": "a"}', 4096) == '{"userName": "a"}'


def test_the_cap_reports_how_much_was_cut() -> None:
    text = redact_body(b'{"userName": "' + b"x" * 100 + b'"}', 20)
    assert text is not None and text.endswith("more bytes]") and len(text) < 60
