"""The public surface of ``scimhub`` is its ``__all__``, sorted case-insensitively (httpx's test_exported_members).

Submodules become attributes of the package once imported, and ``from __future__ import
annotations`` leaves a feature object behind: neither is part of the API. The exported names are
imported on first use (PEP 562 ``__getattr__``), so the package is read through ``dir`` and ``getattr``.
"""

from __future__ import annotations
import __future__

from importlib.metadata import version
from types import ModuleType

import scimhub

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def public_names() -> list[str]:
    return sorted(
        (
            name
            for name in dir(scimhub)
            if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
            and not isinstance(getattr(scimhub, name), ModuleType | type(__future__.annotations))
        ),
        key=str.casefold,
    )


def test_all_lists_the_public_names_sorted_case_insensitively() -> None:
    assert scimhub.__all__ == public_names()


def test_every_exported_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from scimhub import *", namespace)  # noqa: S102 - the star import is what is under test
    assert set(scimhub.__all__) <= set(namespace)


def test_the_version_is_the_installed_distribution_version() -> None:
    assert scimhub.__version__ == version("scimhub")
