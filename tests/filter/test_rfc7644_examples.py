"""Every filter example of RFC 7644 §3.4.2.2 parses to the tree its text describes.

Figure 2 ("Example Filters") is reproduced in full, in order, with the line breaks the RFC
puts inside long filters joined by a single space; the two case-insensitivity examples of the
section's prose come first.
"""

from __future__ import annotations

import pytest

from scimhub.filter.ast import And
from scimhub.filter.ast import AttrPath
from scimhub.filter.ast import Compare
from scimhub.filter.ast import CompareOp
from scimhub.filter.ast import Filter
from scimhub.filter.ast import Not
from scimhub.filter.ast import Or
from scimhub.filter.ast import Present
from scimhub.filter.ast import ValuePath
from scimhub.filter.parser import parse_filter

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LAST_MODIFIED = AttrPath(None, "meta", "lastModified")
TIMESTAMP = "2011-05-13T04:42:34Z"


def attr(name: str, sub_attr: str | None = None) -> AttrPath:
    return AttrPath(None, name, sub_attr)


def cmp(path: AttrPath, op: str, value: str) -> Compare:
    return Compare(path, CompareOp(op), value)


EMAILS_CO_EITHER = Or(cmp(attr("emails"), "co", "example.com"), cmp(attr("emails", "value"), "co", "example.org"))
WORK_EMAIL = ValuePath(attr("emails"), And(cmp(attr("type"), "eq", "work"), cmp(attr("value"), "co", "@example.com")))

RFC_EXAMPLES: list[tuple[str, Filter]] = [
    # §3.4.2.2 prose: attribute names and operators are case-insensitive.
    ('userName Eq "john"', cmp(attr("userName"), "eq", "john")),
    ('Username eq "john"', cmp(attr("Username"), "eq", "john")),
    # Figure 2.
    ('userName eq "bjensen"', cmp(attr("userName"), "eq", "bjensen")),
    ('name.familyName co "O\'Malley"', cmp(attr("name", "familyName"), "co", "O'Malley")),
    ('userName sw "J"', cmp(attr("userName"), "sw", "J")),
    (f'{CORE_USER}:userName sw "J"', cmp(AttrPath(CORE_USER, "userName", None), "sw", "J")),
    ("title pr", Present(attr("title"))),
    (f'meta.lastModified gt "{TIMESTAMP}"', cmp(LAST_MODIFIED, "gt", TIMESTAMP)),
    (f'meta.lastModified ge "{TIMESTAMP}"', cmp(LAST_MODIFIED, "ge", TIMESTAMP)),
    (f'meta.lastModified lt "{TIMESTAMP}"', cmp(LAST_MODIFIED, "lt", TIMESTAMP)),
    (f'meta.lastModified le "{TIMESTAMP}"', cmp(LAST_MODIFIED, "le", TIMESTAMP)),
    (
        'title pr and userType eq "Employee"',
        And(Present(attr("title")), cmp(attr("userType"), "eq", "Employee")),
    ),
    (
        'title pr or userType eq "Intern"',
        Or(Present(attr("title")), cmp(attr("userType"), "eq", "Intern")),
    ),
    (
        'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
        cmp(attr("schemas"), "eq", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
    ),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(cmp(attr("userType"), "eq", "Employee"), EMAILS_CO_EITHER),
    ),
    (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(cmp(attr("userType"), "ne", "Employee"), Not(EMAILS_CO_EITHER)),
    ),
    (
        'userType eq "Employee" and (emails.type eq "work")',
        And(cmp(attr("userType"), "eq", "Employee"), cmp(attr("emails", "type"), "eq", "work")),
    ),
    (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(cmp(attr("userType"), "eq", "Employee"), WORK_EMAIL),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            WORK_EMAIL,
            ValuePath(attr("ims"), And(cmp(attr("type"), "eq", "xmpp"), cmp(attr("value"), "co", "@foo.com"))),
        ),
    ),
]

IDS = [text for text, _ in RFC_EXAMPLES]


@pytest.mark.parametrize(("text", "expected"), RFC_EXAMPLES, ids=IDS)
def test_an_rfc_example_parses_to_the_tree_it_describes(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(("text", "expected"), RFC_EXAMPLES, ids=IDS)
def test_an_rfc_example_round_trips_through_its_canonical_text(text: str, expected: Filter) -> None:
    rendered = str(parse_filter(text))
    assert parse_filter(rendered) == expected
    assert str(parse_filter(rendered)) == rendered


# Rendering drops parentheses that precedence makes redundant.
CANONICAL = {
    'userType eq "Employee" and (emails.type eq "work")': 'userType eq "Employee" and emails.type eq "work"',
}


@pytest.mark.parametrize(("text", "expected"), RFC_EXAMPLES, ids=IDS)
def test_an_rfc_example_renders_as_written_up_to_operator_case(text: str, expected: Filter) -> None:
    assert str(parse_filter(text)).lower() == CANONICAL.get(text, text).lower()


def test_an_rfc_example_wrapped_over_lines_as_printed_still_parses() -> None:
    wrapped = 'userType eq "Employee" and emails[type eq "work" and\n  value co "@example.com"]'
    assert parse_filter(wrapped) == And(cmp(attr("userType"), "eq", "Employee"), WORK_EMAIL)


def test_both_spellings_of_the_case_insensitivity_example_compare_the_same_operator() -> None:
    first = parse_filter('userName Eq "john"')
    second = parse_filter('Username eq "john"')
    assert isinstance(first, Compare)
    assert isinstance(second, Compare)
    assert (first.op, first.value) == (second.op, second.value)
    assert first.path.attr.lower() == second.path.attr.lower()
