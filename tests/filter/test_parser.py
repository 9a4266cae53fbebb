"""Parsing SCIM filters and PATCH paths into syntax trees (RFC 7644 §3.4.2.2, §3.5.2)."""

from __future__ import annotations

import dataclasses

import pytest

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
from scimhub.filter.ast import Present
from scimhub.filter.ast import Value
from scimhub.filter.ast import ValuePath
from scimhub.filter.ast import render_value
from scimhub.filter.lexer import tokenize
from scimhub.filter.parser import parse_filter
from scimhub.filter.parser import parse_path

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def path(name: str, sub_attr: str | None = None, uri: str | None = None) -> AttrPath:
    return AttrPath(uri, name, sub_attr)


def eq(name: str, value: Value) -> Compare:
    return Compare(path(name), CompareOp.EQ, value)


def pr(name: str) -> Present:
    return Present(path(name))


def assert_same_tree(actual: object, expected: object) -> None:
    # repr() tells True from 1 and 1 from 1.0, which dataclass equality does not.
    assert actual == expected
    assert repr(actual) == repr(expected)


VALID_FILTERS: list[tuple[str, Filter]] = [
    ('userName eq "bjensen"', eq("userName", "bjensen")),
    ("title pr", pr("title")),
    ("name.familyName pr", Present(path("name", "familyName"))),
    ("meta.version ne null", Compare(path("meta", "version"), CompareOp.NE, None)),
    ("active eq true", eq("active", True)),
    ("active eq false", eq("active", False)),
    ("age gt 30", Compare(path("age"), CompareOp.GT, 30)),
    ("score le -1.5", Compare(path("score"), CompareOp.LE, -1.5)),
    (
        'a co "x" or b sw "y"',
        Or(Compare(path("a"), CompareOp.CO, "x"), Compare(path("b"), CompareOp.SW, "y")),
    ),
    ('a ew "x" and b ge 2', And(Compare(path("a"), CompareOp.EW, "x"), Compare(path("b"), CompareOp.GE, 2))),
    ("a lt 1", Compare(path("a"), CompareOp.LT, 1)),
    ("not (a pr)", Not(pr("a"))),
    ("not(a pr)", Not(pr("a"))),
    ("((a pr))", pr("a")),
    ("(a pr or b pr) and c pr", And(Or(pr("a"), pr("b")), pr("c"))),
    ("a pr and (b pr or c pr)", And(pr("a"), Or(pr("b"), pr("c")))),
    ("not (not (a pr))", Not(Not(pr("a")))),
    ('emails[type eq "work"]', ValuePath(path("emails"), eq("type", "work"))),
    (
        'emails[type eq "work" and value co "@x"]',
        ValuePath(path("emails"), And(eq("type", "work"), Compare(path("value"), CompareOp.CO, "@x"))),
    ),
    (
        'emails[not (type eq "home") or (primary eq true)]',
        ValuePath(path("emails"), Or(Not(eq("type", "home")), eq("primary", True))),
    ),
    (
        'urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]',
        ValuePath(path("emails", uri=CORE_USER), eq("type", "work")),
    ),
    ("members.$ref pr", Present(path("members", "$ref"))),
    ("$ref pr", pr("$ref")),
    ("x-custom_attr2 pr", pr("x-custom_attr2")),
    ('userName eq "a" and not (b pr) or c pr', Or(And(eq("userName", "a"), Not(pr("b"))), pr("c"))),
    (' \t userName  eq\n"x"  ', eq("userName", "x")),
    ('userName eq "x"and b pr', And(eq("userName", "x"), pr("b"))),
]


@pytest.mark.parametrize(("text", "expected"), VALID_FILTERS, ids=[text for text, _ in VALID_FILTERS])
def test_a_valid_filter_parses_to_its_expected_tree(text: str, expected: Filter) -> None:
    assert_same_tree(parse_filter(text), expected)


@pytest.mark.parametrize(("text", "expected"), VALID_FILTERS, ids=[text for text, _ in VALID_FILTERS])
def test_a_parsed_filter_renders_to_text_that_parses_back_to_the_same_tree(text: str, expected: Filter) -> None:
    assert_same_tree(parse_filter(str(parse_filter(text))), expected)


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("a pr or b pr and c pr") == Or(pr("a"), And(pr("b"), pr("c")))
    assert parse_filter("a pr and b pr or c pr") == Or(And(pr("a"), pr("b")), pr("c"))


def test_chains_of_the_same_operator_are_left_associative() -> None:
    assert parse_filter("a pr or b pr or c pr") == Or(Or(pr("a"), pr("b")), pr("c"))
    assert parse_filter("a pr and b pr and c pr") == And(And(pr("a"), pr("b")), pr("c"))


def test_not_binds_tighter_than_and() -> None:
    assert parse_filter("not (a pr) and b pr") == And(Not(pr("a")), pr("b"))


def test_parentheses_override_precedence() -> None:
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(pr("a"), pr("b")), pr("c"))


def test_deeply_nested_parentheses_within_the_limit_parse() -> None:
    assert parse_filter("(" * 32 + "a pr" + ")" * 32) == pr("a")


def test_nested_not_and_groups_parse_inside_out() -> None:
    expected = Not(And(pr("a"), Not(Or(pr("b"), pr("c")))))
    assert parse_filter("not (a pr and not ((b pr) or (c pr)))") == expected


@pytest.mark.parametrize(
    "text",
    ['userName EQ "x"', 'userName Eq "x"', 'userName eQ "x"'],
)
def test_comparison_operators_are_case_insensitive(text: str) -> None:
    assert parse_filter(text) == eq("userName", "x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a PR AND b Pr", And(pr("a"), pr("b"))),
        ("a pr Or b pr", Or(pr("a"), pr("b"))),
        ("NOT (a pr)", Not(pr("a"))),
        ("Not(a pr)", Not(pr("a"))),
        ("a eq TRUE", eq("a", True)),
        ("a eq Null", eq("a", None)),
    ],
)
def test_keywords_are_case_insensitive(text: str, expected: Filter) -> None:
    assert_same_tree(parse_filter(text), expected)


def test_attribute_names_keep_the_case_they_were_written_in() -> None:
    assert parse_filter("USERNAME pr") == pr("USERNAME")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not pr", pr("not")),
        ("and eq 1", eq("and", 1)),
        ("pr pr", pr("pr")),
        ("a pr or or pr", Or(pr("a"), pr("or"))),
        ('not[type eq "x"]', ValuePath(path("not"), eq("type", "x"))),
    ],
)
def test_words_that_are_keywords_elsewhere_can_name_attributes(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (r'"plain"', "plain"),
        (r'""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\/"', "/"),
        (r'"\b\f\n\r\t"', "\b\f\n\r\t"),
        (r'"O\u0027Malley"', "O'Malley"),
        (r'"caf\u00E9"', "café"),
        (r'"\ud83d\ude00"', "\U0001f600"),
        ('"café 😀"', "café 😀"),
        (r'"a]b)c(d[e"', "a]b)c(d[e"),
        (r'"x\" or userName pr"', 'x" or userName pr'),
    ],
)
def test_string_literals_are_decoded_as_json(literal: str, expected: str) -> None:
    assert_same_tree(parse_filter(f"a eq {literal}"), eq("a", expected))


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("42", 42),
        ("-17", -17),
        ("12345678901234567890123", 12345678901234567890123),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("1.0", 1.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("2.5e+3", 2500.0),
        ("25E-1", 2.5),
        ("1e-400", 0.0),
    ],
)
def test_number_literals_keep_int_or_float_as_written(literal: str, expected: int | float) -> None:
    assert_same_tree(parse_filter(f"a gt {literal}"), Compare(path("a"), CompareOp.GT, expected))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{ENTERPRISE}:department eq 1", Compare(path("department", uri=ENTERPRISE), CompareOp.EQ, 1)),
        (f"{CORE_USER}:name.familyName pr", Present(path("name", "familyName", CORE_USER))),
        (f"{CORE_USER}:userName pr", Present(path("userName", uri=CORE_USER))),
        (f"{ENTERPRISE}:manager.value pr", Present(path("manager", "value", ENTERPRISE))),
        ("URN:Example:Ext:1.0:User:x pr", Present(path("x", uri="URN:Example:Ext:1.0:User"))),
        ("urn:a:b pr", Present(path("b", uri="urn:a"))),
    ],
)
def test_urn_qualified_names_split_after_the_last_colon(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


def test_a_value_path_continued_by_a_comparison_reads_as_one_value_matching_both() -> None:
    expected = ValuePath(path("emails"), And(eq("type", "work"), eq("value", "x")))
    parsed = parse_filter('emails[type eq "work"].value eq "x"')
    assert parsed == expected
    assert str(parsed) == 'emails[type eq "work" and value eq "x"]'


def test_a_value_path_continued_by_a_presence_test_reads_as_one_value_matching_both() -> None:
    expected = ValuePath(path("emails"), And(eq("type", "work"), pr("value")))
    assert parse_filter('emails[type eq "work"].value pr') == expected


def test_a_continued_value_path_keeps_an_or_selector_grouped() -> None:
    parsed = parse_filter('emails[type eq "a" or type eq "b"].value eq "x"')
    assert parsed == ValuePath(path("emails"), And(Or(eq("type", "a"), eq("type", "b")), eq("value", "x")))
    assert str(parsed) == 'emails[(type eq "a" or type eq "b") and value eq "x"]'


def test_a_continued_value_path_combines_with_other_expressions() -> None:
    parsed = parse_filter('emails[type eq "work"].value eq "x" and active eq true')
    assert parsed == And(ValuePath(path("emails"), And(eq("type", "work"), eq("value", "x"))), eq("active", True))


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (Or(pr("a"), Or(pr("b"), pr("c"))), "a pr or (b pr or c pr)"),
        (And(pr("a"), And(pr("b"), pr("c"))), "a pr and (b pr and c pr)"),
        (And(Or(pr("a"), pr("b")), Or(pr("c"), pr("d"))), "(a pr or b pr) and (c pr or d pr)"),
        (Or(And(pr("a"), pr("b")), And(pr("c"), pr("d"))), "a pr and b pr or c pr and d pr"),
        (Not(Or(pr("a"), pr("b"))), "not (a pr or b pr)"),
        (eq("a", 'q"\\\n'), 'a eq "q\\"\\\\\\n"'),
        (eq("a", "é"), 'a eq "é"'),
        (eq("a", 1e16), "a eq 1e+16"),
        (eq("a", 2), "a eq 2"),
        (eq("a", 2.0), "a eq 2.0"),
        (Present(path("emails", "value", CORE_USER)), f"{CORE_USER}:emails.value pr"),
    ],
)
def test_nodes_render_canonical_text(node: Filter, text: str) -> None:
    assert str(node) == text
    assert_same_tree(parse_filter(text), node)


def test_a_long_chain_renders_and_compares_without_deep_recursion() -> None:
    text = " or ".join(f"a{i} pr" for i in range(129))
    parsed = parse_filter(text)
    assert str(parsed) == text
    assert parse_filter(str(parsed)) == parsed
    assert hash(parsed) == hash(parse_filter(text))


def test_render_value_refuses_numbers_json_cannot_carry() -> None:
    with pytest.raises(ValueError, match="no JSON representation"):
        render_value(float("inf"))


def test_nodes_are_immutable_and_hashable() -> None:
    node = parse_filter('emails[type eq "work"] and not (a pr)')
    assert isinstance(node, And)
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.left = pr("b")  # type: ignore[misc]
    same: dict[Filter, int] = {node: 1}
    assert same[parse_filter('emails[type eq "work"] and not (a pr)')] == 1


def test_tokens_carry_their_zero_based_position() -> None:
    tokens = tokenize('emails[type eq "w"].value')
    assert [(token.kind, token.text, token.pos) for token in tokens] == [
        ("NAME", "emails", 0),
        ("[", "[", 6),
        ("NAME", "type", 7),
        ("NAME", "eq", 12),
        ("STRING", '"w"', 15),
        ("]", "]", 18),
        (".", ".", 19),
        ("NAME", "value", 20),
        ("END", "", 25),
    ]


def test_number_and_string_tokens_carry_their_decoded_value() -> None:
    tokens = tokenize(r'1.5e1 -3 "\u0041"')
    assert [(token.value, type(token.value)) for token in tokens[:3]] == [
        (15.0, float),
        (-3, int),
        ("A", str),
    ]


VALID_PATHS: list[tuple[str, PatchPath]] = [
    ("members", PatchPath(path("members"), None, None)),
    ("name.familyName", PatchPath(path("name", "familyName"), None, None)),
    ("name.givenName", PatchPath(path("name", "givenName"), None, None)),
    (f"{ENTERPRISE}:manager", PatchPath(path("manager", uri=ENTERPRISE), None, None)),
    (f"{ENTERPRISE}:manager.value", PatchPath(path("manager", "value", ENTERPRISE), None, None)),
    ('addresses[type eq "work"]', PatchPath(path("addresses"), eq("type", "work"), None)),
    (
        'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
        PatchPath(path("members"), eq("value", "2819c223-7f76-453a-919d-413861904646"), None),
    ),
    (
        'members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName',
        PatchPath(path("members"), eq("value", "2819c223-7f76-453a-919d-413861904646"), "displayName"),
    ),
    ('emails[type eq "work"].value', PatchPath(path("emails"), eq("type", "work"), "value")),
    (
        'emails[type eq "work" and value ew "example.com"]',
        PatchPath(path("emails"), And(eq("type", "work"), Compare(path("value"), CompareOp.EW, "example.com"))),
    ),
    (
        'addresses[type eq "work"].streetAddress',
        PatchPath(path("addresses"), eq("type", "work"), "streetAddress"),
    ),
    (
        f'{CORE_USER}:emails[type eq "work"].value',
        PatchPath(path("emails", uri=CORE_USER), eq("type", "work"), "value"),
    ),
    ("members.$ref", PatchPath(path("members", "$ref"), None, None)),
    ('EMAILS[TYPE EQ "work"].Value', PatchPath(path("EMAILS"), eq("TYPE", "work"), "Value")),
]


@pytest.mark.parametrize(("text", "expected"), VALID_PATHS, ids=[text for text, _ in VALID_PATHS])
def test_a_patch_path_parses_to_attribute_selector_and_sub_attribute(text: str, expected: PatchPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(("text", "expected"), VALID_PATHS, ids=[text for text, _ in VALID_PATHS])
def test_a_patch_path_renders_to_text_that_parses_back(text: str, expected: PatchPath) -> None:
    assert parse_path(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "expected an attribute path, got end of input"),
        ('emails[type eq "work"', 21, "expected 'and', 'or' or ']', got end of input"),
        ('emails[type eq "work"].', 23, "expected a sub-attribute name, got end of input"),
        ('emails[type eq "work"].value.x', 23, "expected a sub-attribute name, got 'value.x'"),
        ('emails[type eq "work"] pr', 23, "expected '.' or end of input, got 'pr'"),
        ('emails[type eq "work"].value eq "x"', 29, "expected end of input, got 'eq'"),
        ("name.givenName.x", 0, "expected an attribute path, got 'name.givenName.x'"),
        ("name.givenName x", 15, "expected '[' or end of input, got 'x'"),
        (
            'name.givenName[type eq "x"]',
            0,
            "a value filter cannot apply to the sub-attribute 'name.givenName'",
        ),
        ('emails[type[value eq "x"]]', 11, "value filters cannot be nested"),
        ('emails[type eq "unterminated]', 15, "unterminated string"),
    ],
)
def test_an_invalid_patch_path_raises_invalid_path_naming_the_position(text: str, position: int, expected: str) -> None:
    with pytest.raises(InvalidPath) as raised:
        parse_path(text)
    assert raised.value.detail == f"Invalid path at position {position}: {expected}"
    assert raised.value.scim_type == "invalidPath"
    assert not isinstance(raised.value, InvalidFilter)


def test_a_too_long_patch_path_is_refused() -> None:
    with pytest.raises(InvalidPath, match="longer than the limit of 10 characters"):
        parse_path("a" * 11, max_length=10)
