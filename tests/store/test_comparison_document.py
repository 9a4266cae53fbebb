"""The comparison-key document (resources.doc_keys on PostgreSQL): every string a filter compares,
as its comparison key; everything else as it was. Schema-driven, so it agrees with the evaluator."""

from __future__ import annotations

from scimhub.schema.compare import comparison_key
from scimhub.schema.registry import default_registry
from scimhub.store.index_plan import comparison_document
from scimhub.store.index_plan import index_keys

REGISTRY = default_registry()
USERS = REGISTRY.resource_type("User")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def keyed(doc: dict[str, object]) -> dict[str, object]:
    return comparison_document(doc, USERS, REGISTRY.common)


def test_case_insensitive_strings_are_nfc_casefolded() -> None:
    doc = keyed({"userName": "Straße", "title": "CEO", "name": {"familyName": "FIsher", "givenName": "A\u0301na"}})

    assert doc == {"userName": "strasse", "title": "ceo", "name": {"familyName": "fisher", "givenName": "\u00e1na"}}


def test_case_exact_strings_are_only_nfc_normalised() -> None:
    doc = keyed({"externalId": "AbC-e\u0301"})  # caseExact (RFC 7643 §3.1)

    assert doc == {"externalId": "AbC-\u00e9"}


def test_every_string_follows_its_own_attribute_definition() -> None:
    certificate = USERS.schema.attribute("x509Certificates").sub_attribute("value")  # type: ignore[union-attr]

    doc = keyed({"x509Certificates": [{"value": "TUlJQ0"}]})

    assert doc == {"x509Certificates": [{"value": comparison_key(certificate, "TUlJQ0")}]}


def test_multi_valued_complex_values_keep_their_shape_and_non_strings() -> None:
    emails = [{"value": "Babs@Example.COM", "type": "Work", "primary": True}, {"value": "b@x.org"}]

    doc = keyed({"emails": emails, "active": False})

    assert doc == {
        "emails": [{"value": "babs@example.com", "type": "work", "primary": True}, {"value": "b@x.org"}],
        "active": False,
    }


def test_extension_attributes_are_keyed_by_their_own_schema() -> None:
    doc = keyed({ENTERPRISE: {"department": "R&D", "manager": {"value": "M-1", "displayName": "Boss"}}})

    assert doc == {ENTERPRISE: {"department": "r&d", "manager": {"value": "m-1", "displayName": "boss"}}}
    manager_value = USERS.extension(ENTERPRISE).attribute("manager").sub_attribute("value")  # type: ignore[union-attr]
    assert doc[ENTERPRISE]["manager"]["value"] == comparison_key(manager_value, "M-1")  # type: ignore[index]


def test_date_times_and_attributes_no_schema_names_are_kept() -> None:
    doc = keyed({"nickName": "Bob", "unknownThing": "KeepMe"})

    assert doc == {"nickName": "bob", "unknownThing": "KeepMe"}


def test_undeclared_extension_strings_are_keyed_as_rfc_default_strings() -> None:
    """caseExact false, RFC 7643's default: a later declaration (usually so) finds the keys right."""
    doc = keyed({"urn:example:unknown:1.0:User": {"X": "Ÿ", "n": 1, "l": ["A", {"B": "C"}]}})

    assert doc == {"urn:example:unknown:1.0:User": {"X": "ÿ", "n": 1, "l": ["a", {"B": "c"}]}}


def test_index_keys_compute_the_document_only_when_a_store_asks() -> None:
    keys = index_keys({"userName": "BJensen"}, USERS, REGISTRY.common)

    assert keys.comparison_doc is not None
    assert keys.comparison_doc() == {"userName": "bjensen"}
