"""The README's webhook receiver example runs, verifies our signatures and de-duplicates retries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from scimhub.events.model import Event
from scimhub.events.sender import Sender
from scimhub.events.signing import new_secret

pytestmark = pytest.mark.anyio

README = Path(__file__).parents[2] / "README.md"


def receiver_example() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- receiver-example:[^>]*-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "the README lost its receiver example"
    return match.group(1)


def test_the_receiver_example_is_about_twenty_lines() -> None:
    code = [line for line in receiver_example().splitlines() if line.strip()]
    assert len(code) <= 22


async def test_the_readme_receiver_accepts_signed_events_once_and_refuses_forgeries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = new_secret()
    monkeypatch.setenv("SCIMHUB_WEBHOOK_SECRET", secret)
    revoked: list[tuple[str, str]] = []
    namespace: dict[str, Any] = {"revoke_sessions": lambda tenant, user: revoked.append((tenant, user))}
    exec(compile(receiver_example(), "README.md", "exec"), namespace)  # noqa: S102 - the documented example
    sender = Sender(5.0, httpx2.ASGITransport(app=namespace["app"]))
    event = Event("t1", 7, "e-7", "user.deactivated", {"type": "user.deactivated", "resourceId": "u1"})
    url = "http://receiver/scim-events"

    async with sender.client() as client:
        first = await sender.send(client, url, secret, event)
        retry = await sender.send(client, url, secret, event)
        forged = await sender.send(client, url, new_secret(), event)

    assert (first.status_code, retry.status_code, forged.status_code) == (204, 204, 400)
    assert revoked == [("t1", "u1")]
