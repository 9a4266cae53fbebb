"""comparison_key: NFC always; width mapping (RFC 8265 §3.3.1) and case folding unless caseExact."""

from __future__ import annotations

import unicodedata

import pytest

from scimhub.schema.compare import WIDTH_MAP
from scimhub.schema.compare import comparison_key
from scimhub.schema.compare import fold
from scimhub.schema.registry import default_registry
from tests.http.scim_checks import fullwidth

REGISTRY = default_registry()
USER_NAME = REGISTRY.resource_type("User").schema.attribute("userName")
EXTERNAL_ID = REGISTRY.common.attribute("externalId")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (fullwidth("WIDE"), "wide"),  # fullwidth Latin
        (fullwidth("wide@example.com"), "wide@example.com"),
        ("\uff76\uff9e\uff77\uff9e", "ガギ"),  # halfwidth katakana and voiced marks, composed by NFC
        ("a\u3000b", "a b"),  # IDEOGRAPHIC SPACE is a wide space
        ("\uffe6" + fullwidth("10"), "\u20a910"),  # halfwidth won sign, fullwidth digits
        ("Straße", "strasse"),
        ("E\u0301", "é"),
        ("ASCII Only", "ascii only"),
    ],
)
def test_a_case_ignoring_key_maps_width_then_nfc_then_folds(value: str, key: str) -> None:
    assert fold(value) == key
    assert comparison_key(USER_NAME, value) == key  # type: ignore[arg-type]


def test_a_case_exact_key_keeps_width_and_case() -> None:
    assert comparison_key(EXTERNAL_ID, fullwidth("A") + "b") == fullwidth("A") + "b"  # type: ignore[arg-type]
    assert comparison_key(EXTERNAL_ID, "E\u0301") == "É"  # type: ignore[arg-type]


def test_the_width_map_is_every_wide_and_narrow_decomposition() -> None:
    """Checked against the whole Unicode range of this Python, so a new Unicode version that adds
    such a character outside the two scanned ranges fails here."""
    expected = {}
    for code in range(0x110000):
        tag, _, target = unicodedata.decomposition(chr(code)).partition(" ")
        if tag in ("<wide>", "<narrow>"):
            expected[code] = chr(int(target, 16))
    assert expected == WIDTH_MAP
    assert all(unicodedata.normalize("NFKC", chr(c)) == t for c, t in WIDTH_MAP.items() if c < 0xFFA0)
