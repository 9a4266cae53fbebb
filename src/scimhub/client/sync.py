"""The blocking admin API client (``scimhub.client.AdminClient``), on httpx2."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from typing import TypeVar

import httpx2

from scimhub.client import calls
from scimhub.client.calls import Call
from scimhub.client.calls import Op
from scimhub.client.errors import AdminApiError
from scimhub.client.models import Deletion
from scimhub.client.models import Event
from scimhub.client.models import IssuedToken
from scimhub.client.models import Json
from scimhub.client.models import Tenant
from scimhub.client.models import Token

T = TypeVar("T")
PAGE = 100


def admin_base(url: str) -> str:
    """The admin API under a server's root URL (which may be where a host app mounted scimhub)."""
    url = url.rstrip("/")
    return url if url.endswith("/admin/v1") else f"{url}/admin/v1"


class AdminClient:
    """The admin API for the host application: onboarding, the event feed, the directory.

    ``base_url`` is the server's root (``https://scim.example.com``, or where a host app mounted
    scimhub); ``admin_token`` is its SCIMHUB_ADMIN_TOKEN. Errors raise ``AdminApiError`` (and its
    ``FeedExpired``)."""

    def __init__(
        self, base_url: str, admin_token: str, *, timeout: float = 30.0, transport: httpx2.BaseTransport | None = None
    ) -> None:
        self._http = httpx2.Client(
            base_url=admin_base(base_url),
            headers={"Authorization": f"Bearer {admin_token}", "User-Agent": "scimhub-client"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call) -> tuple[int, Json]:
        response = self._http.request(call.method, call.path, params=call.params or None, json=call.body)
        return response.status_code, calls.answer(response.status_code, response.content)

    def _run(self, op: Op[T]) -> T:
        return op.parse(self._send(op.call)[1])

    def _pages(self, call: Call | None, key: str) -> Iterator[Any]:
        while call is not None:
            _status, body = self._send(call)
            yield from calls.items(body, key)
            call = calls.next_page(call, body)

    # -- tenants and tokens --------------------------------------------------------------------------
    def create_tenant(self, name: str) -> Tenant:
        return self._run(calls.create_tenant(name))

    def tenant(self, name: str) -> Tenant:
        return self._run(calls.get_tenant(name))

    def tenants(self, prefix: str = "", *, page_size: int = PAGE) -> Iterator[Tenant]:
        for body in self._pages(calls.tenants(prefix, page_size), "tenants"):
            yield Tenant.from_json(body)

    def delete_tenant(self, name: str, *, force: bool = False, poll_seconds: float = 1.0) -> Deletion | None:
        """Delete the tenant and wait until it is gone. The totals, or None when the server
        finished it between two looks (a deletion of a big tenant goes on in the server)."""
        call, waited = calls.delete_tenant(name, force), False
        while True:
            try:
                _status, body = self._send(call)
            except AdminApiError as exc:
                if waited and exc.status == 404:
                    return None
                raise
            done = calls.deletion(body)
            if done is not None:
                return done
            waited = True
            time.sleep(poll_seconds)

    def issue_token(self, tenant: str, *, expires_in_days: int | None = None) -> IssuedToken:
        return self._run(calls.issue_token(tenant, expires_in_days))

    def tokens(self, tenant: str) -> list[Token]:
        return self._run(calls.list_tokens(tenant))

    def rotate_token(self, tenant: str, token_id: str, *, overlap_hours: float = 24.0) -> IssuedToken:
        return self._run(calls.rotate_token(tenant, token_id, overlap_hours))

    def revoke_token(self, tenant: str, token_id: str) -> None:
        self._run(calls.revoke_token(tenant, token_id))

    # -- the event feed ------------------------------------------------------------------------------
    def events(
        self, tenant: str, after: int = 0, *, page_size: int = PAGE, follow: bool = False, poll_seconds: float = 1.0
    ) -> Iterator[Event]:
        """Every event after ``after`` in seq order; with ``follow``, wait for new ones forever.

        Store ``event.seq`` once an event is handled and pass it as ``after`` next time: nothing
        is skipped or repeated. Raises ``FeedExpired`` (410) when retention purged events after
        ``after``: resynchronise, then read on from its ``resume_after``."""
        while True:
            _status, body = self._send(calls.events(tenant, after, page_size))
            page, after = calls.event_page(body)
            yield from page
            if len(page) < page_size:  # caught up (or at a hold)
                if not follow:
                    return
                time.sleep(poll_seconds)

    # -- the directory -------------------------------------------------------------------------------
    def directory_users(
        self,
        tenant: str,
        *,
        group: str | None = None,
        role: str | None = None,
        state: str | None = None,
        include_raw: bool = False,
        page_size: int = PAGE,
    ) -> Iterator[Json]:
        """Normalized directory users, optionally only a group's (id), a role's or a state's."""
        yield from self._pages(calls.directory_users(tenant, group, role, state, include_raw, page_size), "users")

    def directory_user(self, tenant: str, user_id: str, *, include_raw: bool = False) -> Json:
        return self._run(calls.directory_user(tenant, user_id, include_raw))

    def directory_groups(self, tenant: str, *, page_size: int = PAGE) -> Iterator[Json]:
        yield from self._pages(calls.directory_groups(tenant, page_size), "groups")

    def group_users(self, tenant: str, group_id: str, *, page_size: int = PAGE) -> Iterator[Json]:
        yield from self._pages(calls.group_users(tenant, group_id, page_size), "users")
