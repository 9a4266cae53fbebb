"""Invalid filters raise InvalidFilter naming the 0-based position and what was expected."""

from __future__ import annotations

import pytest

from scimhub.errors import InvalidFilter
from scimhub.filter.parser import parse_filter

ANY_START = "expected an attribute path, '(' or 'not'"
A_VALUE = "expected a value (a string, number, true, false or null)"
AND_OR_END = "expected 'and', 'or' or end of input"

INVALID_FILTERS: list[tuple[str, int, str]] = [
    # Empty.
    ("", 0, "the filter is empty"),
    ("   ", 3, "the filter is empty"),
    # Unterminated or malformed strings.
    ('userName eq "bjensen', 12, "unterminated string"),
    ('userName eq "', 12, "unterminated string"),
    ('a eq "\\x"', 6, "invalid escape \\x in string"),
    ('a eq "\\u12"', 6, 'invalid escape \\u12" in string'),
    ('a eq "\\ud800"', 5, "unpaired UTF-16 surrogate \\uD800 in string"),
    ('a eq "\\udc00\\ud800"', 5, "unpaired UTF-16 surrogate \\uDC00 in string"),
    ('a eq "tab\t"', 9, "control character '\\t' in string; escape it"),
    # Missing or malformed values.
    ("userName eq", 11, f"{A_VALUE}, got end of input"),
    ("userName eq and b pr", 12, f"{A_VALUE}, got 'and'"),
    ("a eq tru", 5, f"{A_VALUE}, got 'tru'"),
    ("a eq .5", 5, f"{A_VALUE}, got '.'"),
    ("a eq 01", 5, "invalid number (numbers follow JSON syntax)"),
    ("a eq 1.", 5, "invalid number (numbers follow JSON syntax)"),
    ("a eq -", 5, "invalid number (numbers follow JSON syntax)"),
    ("a eq 1and b pr", 5, "invalid number (numbers follow JSON syntax)"),
    ("a eq 1e999", 5, "number '1e999' is out of range"),
    # Unknown or missing operators.
    ('userName foo "x"', 9, "expected a comparison operator, got 'foo'"),
    ('userName "x"', 9, "expected a comparison operator, got '\"x\"'"),
    ("userName", 8, "expected a comparison operator, got end of input"),
    ("userName pr pr", 12, f"{AND_OR_END}, got 'pr'"),
    ("a ~ 1", 2, "unexpected character '~'"),
    ("a eq \u2018x\u2019", 5, "unexpected character '\u2018'"),
    # Malformed attribute paths.
    ("a.b.c pr", 0, f"{ANY_START}, got 'a.b.c'"),
    ("name. pr", 0, f"{ANY_START}, got 'name.'"),
    ("foo:bar pr", 0, f"{ANY_START}, got 'foo:bar'"),
    ("urn::x pr", 0, f"{ANY_START}, got 'urn::x'"),
    ("1abc pr", 0, "invalid number (numbers follow JSON syntax)"),
    ("[a pr]", 0, f"{ANY_START}, got '['"),
    # "not" without parentheses.
    ('not userName eq "x"', 4, "expected '(' after 'not', got 'userName'"),
    ('a eq "x" and not b pr', 17, "expected '(' after 'not', got 'b'"),
    ("not", 3, "expected '(' after 'not', got end of input"),
    ("not ()", 5, f"{ANY_START}, got ')'"),
    # Unbalanced parentheses and brackets.
    ("(userName pr", 12, "expected 'and', 'or' or ')', got end of input"),
    ("((a pr)", 7, "expected 'and', 'or' or ')', got end of input"),
    ("userName pr)", 11, f"{AND_OR_END}, got ')'"),
    ("()", 1, f"{ANY_START}, got ')'"),
    ('emails[type eq "work"', 21, "expected 'and', 'or' or ']', got end of input"),
    ('emails type eq "work"]', 7, "expected a comparison operator, got 'type'"),
    ("a pr]", 4, f"{AND_OR_END}, got ']'"),
    ("emails[]", 7, f"{ANY_START}, got ']'"),
    ('emails[(type eq "work"]', 22, "expected 'and', 'or' or ')', got ']'"),
    # Value paths the grammar does not allow.
    ("emails[type[value pr]]", 11, "value filters cannot be nested"),
    ("name.familyName[x pr]", 0, "a value filter cannot apply to the sub-attribute 'name.familyName'"),
    ('emails[type eq "work"].', 23, "expected a sub-attribute name, got end of input"),
    ('emails[type eq "work"].value', 28, "expected a comparison operator, got end of input"),
    ('emails[type eq "work"].a.b pr', 23, "expected a sub-attribute name, got 'a.b'"),
    ('emails[type eq "work"] eq "x"', 23, f"{AND_OR_END}, got 'eq'"),
    # Trailing garbage and dangling operators.
    ('userName eq "x" garbage', 16, f"{AND_OR_END}, got 'garbage'"),
    ("title pr 42", 9, f"{AND_OR_END}, got '42'"),
    ("a pr and", 8, f"{ANY_START}, got end of input"),
    ("or a pr", 3, "expected a comparison operator, got 'a'"),
    # Limits.
    ("a" * 4097 + " pr", 4096, "longer than the limit of 4096 characters"),
    ("(" * 33 + "a pr" + ")" * 33, 32, "nested deeper than 32 levels"),
    ("not (" * 33 + "a pr" + ")" * 33, 32 * 5 + 4, "nested deeper than 32 levels"),
    ("(" * 32 + "a[b pr]" + ")" * 32, 33, "nested deeper than 32 levels"),
    (" or ".join(["a pr"] * 130), 8 * 129 - 3, "more than 128 'and'/'or' operators"),
]


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    INVALID_FILTERS,
    ids=[text if len(text) < 40 else text[:37] + "..." for text, _, _ in INVALID_FILTERS],
)
def test_an_invalid_filter_raises_invalid_filter_naming_the_position(text: str, position: int, reason: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)
    assert raised.value.detail == f"Invalid filter at position {position}: {reason}"


def test_an_invalid_filter_renders_as_a_400_invalid_filter_error_body() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter('userName foo "x"')
    assert raised.value.to_body() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidFilter",
        "detail": "Invalid filter at position 9: expected a comparison operator, got 'foo'",
    }


def test_a_filter_exactly_at_the_limits_is_accepted() -> None:
    parse_filter("a" * 4093 + " pr")
    parse_filter("(" * 32 + "a pr" + ")" * 32)
    parse_filter(" or ".join(["a pr"] * 129))


@pytest.mark.parametrize(
    ("text", "limits", "position", "reason"),
    [
        ("a pr", {"max_length": 3}, 3, "longer than the limit of 3 characters"),
        ("(a pr)", {"max_depth": 0}, 0, "nested deeper than 0 levels"),
        ('emails[type eq "x"]', {"max_depth": 0}, 6, "nested deeper than 0 levels"),
        ("a pr and b pr", {"max_operators": 0}, 5, "more than 0 'and'/'or' operators"),
    ],
)
def test_the_limits_can_be_configured_per_call(text: str, limits: dict[str, int], position: int, reason: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text, **limits)
    assert raised.value.detail == f"Invalid filter at position {position}: {reason}"


def test_a_long_token_is_clipped_in_the_detail() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter("a pr " + "b" * 100)
    assert raised.value.detail == f"Invalid filter at position 5: {AND_OR_END}, got '{'b' * 32}...'"


def test_a_long_unterminated_string_fails_fast_in_linear_time() -> None:
    with pytest.raises(InvalidFilter, match="position 5: unterminated string"):
        parse_filter('a eq "' + "x\\n" * 1300)
