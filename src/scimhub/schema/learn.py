"""What a tenant's IdP sent under undeclared extension URNs, and a schema document declaring it.

``learn`` reads stored documents (the values kept as sent, ``schema.undeclared``) and gives, per
URN, each attribute with the RFC 7643 types every value seen can be given (most specific first).
``adopt_document`` turns that into a schema document for ``declare_schema``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.undeclared import is_undeclared_urn

LEARN_LIMIT = 100_000  # resources of each type read by `schema learned` / `adopt` (newest first)

# Candidate types of one JSON value, most specific first; a string that reads as a dateTime may
# be declared either way. Complex values get their sub-attributes learned too.
_ORDER = ("dateTime", "integer", "decimal", "boolean", "string", "complex")


@dataclass
class LearnedAttribute:
    name: str
    types: set[str] | None = None  # None until a value is seen; empty: no type fits every value
    multi_valued: bool | None = None  # None: seen both single and as an array
    seen: int = 0
    subs: dict[str, LearnedAttribute] = field(default_factory=dict)

    @property
    def candidates(self) -> list[str]:
        found = self.types or set()
        if self.multi_valued is None or (found == {"complex"} and any(s.subs for s in self.subs.values())):
            return []  # mixed arrays and scalars, or complex in complex: nothing RFC 7643 can declare
        return [t for t in _ORDER if t in found]

    def learn(self, value: Any, nested: bool = False) -> None:
        self.seen += 1
        is_list = isinstance(value, list)
        if self.seen == 1:
            self.multi_valued = is_list
        elif self.multi_valued is not None and self.multi_valued != is_list:
            self.multi_valued = None
        for item in value if is_list else [value]:
            self._learn_item(item, nested)

    def _learn_item(self, item: Any, nested: bool) -> None:
        kinds = _kinds(item)
        self.types = kinds if self.types is None else self.types & kinds
        if isinstance(item, dict) and not nested:
            for key, sub in item.items():
                self.subs.setdefault(key, LearnedAttribute(key)).learn(sub, nested=True)
        elif isinstance(item, dict):
            self.subs.setdefault("", LearnedAttribute(""))  # complex inside complex: marks it undeclarable


@dataclass
class LearnedSchema:
    urn: str
    resource_type: str
    resources: int = 0
    attributes: dict[str, LearnedAttribute] = field(default_factory=dict)

    def ordered(self) -> list[LearnedAttribute]:
        """Attributes by name (the order the documents were read in says nothing)."""
        return sorted(self.attributes.values(), key=lambda a: a.name.casefold())


def _kinds(value: Any) -> set[str]:
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "decimal"}
    if isinstance(value, float):
        return {"decimal"}
    if isinstance(value, dict):
        return {"complex"}
    if isinstance(value, str):
        return {"string", "dateTime"} if _is_datetime(value) else {"string"}
    return set()  # an array inside an array


def _is_datetime(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


def learn(docs: Iterable[JsonDoc], rtype: ResourceType) -> list[LearnedSchema]:
    """Undeclared extension containers in ``docs`` (all of ``rtype``), by URN (case-insensitive)."""
    found: dict[str, LearnedSchema] = {}
    for doc in docs:
        for key, container in doc.items():
            if not isinstance(container, dict) or not is_undeclared_urn(rtype, key):
                continue
            learned = found.setdefault(key.casefold(), LearnedSchema(key, rtype.id))
            learned.resources += 1
            for name, value in container.items():
                learned.attributes.setdefault(name.casefold(), LearnedAttribute(name)).learn(value)
    return sorted(found.values(), key=lambda s: s.urn.casefold())


def adopt_document(learned: LearnedSchema) -> JsonDoc:
    """A schema document declaring what was seen, each attribute with its most specific type;
    ValueError naming the attributes no RFC 7643 type fits."""
    unfit = [a.name for a in learned.ordered() if not a.candidates]
    if unfit:
        raise ValueError(
            f"No RFC 7643 type fits every value seen of {', '.join(unfit)} in {learned.urn} (mixed types, or "
            "complex values inside complex ones): write the schema file yourself (scimhub schema add)."
        )
    return {
        "id": learned.urn,
        "name": learned.urn,
        "description": f"Adopted from what the identity provider sent ({learned.resources} resources).",
        "attributes": [_attribute(a) for a in learned.ordered()],
    }


def _attribute(attr: LearnedAttribute) -> JsonDoc:
    kind = attr.candidates[0]
    out: JsonDoc = {"name": attr.name, "type": kind, "multiValued": bool(attr.multi_valued)}
    if kind == "complex":
        out["subAttributes"] = [_attribute(s) for s in sorted(attr.subs.values(), key=lambda s: s.name.casefold())]
    return out
