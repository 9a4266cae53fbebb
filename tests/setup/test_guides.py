"""The IdP guides: every IdP the issue names, the fields each IdP's documentation names, and
docs/setup/*.md rendered from the same data (so the page and the docs never disagree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimhub.console.setup_guides import GUIDES
from scimhub.console.setup_guides import Value
from scimhub.console.setup_guides import guide
from scimhub.console.setup_guides import render_index
from scimhub.console.setup_guides import render_markdown

DOCS = Path(__file__).parents[2] / "docs" / "setup"
REGENERATE = "python -c 'from scimhub.console.setup_guides import write_docs; write_docs()'"


def test_the_six_idps_in_order() -> None:
    names = [g.name for g in GUIDES]
    assert names == ["Okta", "Microsoft Entra ID", "OneLogin", "JumpCloud", "Ping Identity", "Other SCIM client"]


@pytest.mark.parametrize(
    ("key", "labels"),
    [
        ("okta", {"SCIM connector base URL", "Unique identifier field for users", "Authentication Mode"}),
        ("entra", {"Tenant URL", "Secret Token", "Provisioning Mode"}),
        ("onelogin", {"SCIM Base URL", "SCIM Bearer Token", "SCIM JSON Template"}),
        ("jumpcloud", {"Base URL", "Token Key", "Test User Email"}),
        ("ping", {"SCIM base URL", "Authentication method", "OAuth Access Token"}),
    ],
)
def test_each_guide_uses_its_idps_field_names(key: str, labels: set[str]) -> None:
    found = guide(key)
    assert found is not None
    assert labels <= {f.label for f in found.fields}


def test_okta_values_the_issue_names() -> None:
    okta = guide("okta")
    assert okta is not None
    values = {f.label: f.text for f in okta.fields if f.value is Value.FIXED}
    assert values["Unique identifier field for users"] == "userName"
    assert values["Authentication Mode"] == "HTTP Header"


def test_every_guide_asks_for_the_base_url_and_the_token_and_cites_https_sources() -> None:
    for g in GUIDES:
        kinds = [f.value for f in g.fields]
        assert kinds.count(Value.BASE_URL) == 1 and kinds.count(Value.TOKEN) == 1, g.key
        assert g.sources and all(url.startswith("https://") for url in g.sources)


def test_an_unknown_idp_key_chooses_nothing() -> None:
    assert guide("nope") is None and guide(None) is None and guide("") is None


@pytest.mark.parametrize("g", GUIDES, ids=lambda g: g.key)
def test_docs_setup_markdown_matches_the_guides(g: object) -> None:
    from scimhub.console.setup_guides import Guide

    assert isinstance(g, Guide)
    path = DOCS / f"{g.key}.md"
    assert path.read_text(encoding="utf-8") == render_markdown(g), f"regenerate with: {REGENERATE}"
    for f in g.fields:
        assert f"| {f.label} |" in path.read_text(encoding="utf-8")


def test_docs_setup_index_lists_every_guide() -> None:
    assert (DOCS / "README.md").read_text(encoding="utf-8") == render_index(), f"regenerate with: {REGENERATE}"
