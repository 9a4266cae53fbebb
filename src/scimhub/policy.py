"""Leniency towards real identity providers, as named switches (one place, documented).

Each switch names the client that needs it. ``Policy()`` is the default a tenant gets;
``Policy.strict()`` is plain RFC 7643/7644 behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields


@dataclass(frozen=True, slots=True)
class Policy:
    # Entra sends {"op":"Replace","path":"active","value":"False"} (E-KI): booleans as strings.
    string_booleans: bool = True
    # Entra's tutorial create carries top-level attributes outside any schema and a typo'd
    # URN; RFC 7644 §3.3 lets a server ignore what it does not know instead of failing.
    ignore_unknown_attributes: bool = True
    # Entra adds a Microsoft schema URI to group creates; Okta may add extension URNs.
    ignore_unknown_schema_uris: bool = True
    # Entra PATCHes phoneNumbers[type eq "mobile"].value before such an element exists and
    # fails the whole request on 400 noTarget: create the element from the eq conditions.
    create_on_unmatched_value_path: bool = True
    # Entra removes members with {"op":"Remove","path":"members","value":[{"value":id}]}:
    # remove exactly those members, not all of them.
    remove_members_by_value: bool = True
    # Entra's legacy tutorial (Example 5) PATCHes {"path":"manager","value":[{"$ref":…,"value":id}]}:
    # an extension attribute without its URN, as a one-element array.
    unqualified_extension_paths: bool = True
    # Okta and Entra send custom attributes under extension URNs the tenant may not have declared
    # (`scimhub schema add`): keep that data as sent instead of dropping it (RFC 7644 §3.3 lets a
    # strict server refuse it instead).
    keep_undeclared_extensions: bool = True

    @classmethod
    def strict(cls) -> Policy:
        return cls(**{f.name: False for f in fields(cls)})
