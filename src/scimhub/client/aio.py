"""The asyncio admin API client (``scimhub.client.AsyncAdminClient``), on httpx2.

The same operations as ``AdminClient``; both build their requests and read the answers with
``calls``, so only the sending and the waiting differ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from scimhub.client.sync import PAGE
from scimhub.client.sync import admin_base

T = TypeVar("T")


class AsyncAdminClient:
    """``AdminClient`` for asyncio code: each method is awaited, each list is an async iterator."""

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        *,
        timeout: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx2.AsyncClient(
            base_url=admin_base(base_url),
            headers={"Authorization": f"Bearer {admin_token}", "User-Agent": "scimhub-client"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncAdminClient:
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call) -> tuple[int, Json]:
        response = await self._http.request(call.method, call.path, params=call.params or None, json=call.body)
        return response.status_code, calls.answer(response.status_code, response.content)

    async def _run(self, op: Op[T]) -> T:
        return op.parse((await self._send(op.call))[1])

    async def _pages(self, call: Call | None, key: str) -> AsyncIterator[Any]:
        while call is not None:
            _status, body = await self._send(call)
            for item in calls.items(body, key):
                yield item
            call = calls.next_page(call, body)

    # -- tenants and tokens --------------------------------------------------------------------------
    async def create_tenant(self, name: str) -> Tenant:
        return await self._run(calls.create_tenant(name))

    async def tenant(self, name: str) -> Tenant:
        return await self._run(calls.get_tenant(name))

    async def tenants(self, prefix: str = "", *, page_size: int = PAGE) -> AsyncIterator[Tenant]:
        async for body in self._pages(calls.tenants(prefix, page_size), "tenants"):
            yield Tenant.from_json(body)

    async def delete_tenant(self, name: str, *, force: bool = False, poll_seconds: float = 1.0) -> Deletion | None:
        """See ``AdminClient.delete_tenant``."""
        call, waited = calls.delete_tenant(name, force), False
        while True:
            try:
                _status, body = await self._send(call)
            except AdminApiError as exc:
                if waited and exc.status == 404:
                    return None
                raise
            done = calls.deletion(body)
            if done is not None:
                return done
            waited = True
            await asyncio.sleep(poll_seconds)

    async def issue_token(self, tenant: str, *, expires_in_days: int | None = None) -> IssuedToken:
        return await self._run(calls.issue_token(tenant, expires_in_days))

    async def tokens(self, tenant: str) -> list[Token]:
        return await self._run(calls.list_tokens(tenant))

    async def rotate_token(self, tenant: str, token_id: str, *, overlap_hours: float = 24.0) -> IssuedToken:
        return await self._run(calls.rotate_token(tenant, token_id, overlap_hours))

    async def revoke_token(self, tenant: str, token_id: str) -> None:
        await self._run(calls.revoke_token(tenant, token_id))

    # -- the event feed ------------------------------------------------------------------------------
    async def events(
        self, tenant: str, after: int = 0, *, page_size: int = PAGE, follow: bool = False, poll_seconds: float = 1.0
    ) -> AsyncIterator[Event]:
        """See ``AdminClient.events``."""
        while True:
            _status, body = await self._send(calls.events(tenant, after, page_size))
            page, after = calls.event_page(body)
            for event in page:
                yield event
            if len(page) < page_size:
                if not follow:
                    return
                await asyncio.sleep(poll_seconds)

    # -- the directory -------------------------------------------------------------------------------
    async def directory_users(
        self,
        tenant: str,
        *,
        group: str | None = None,
        role: str | None = None,
        state: str | None = None,
        include_raw: bool = False,
        page_size: int = PAGE,
    ) -> AsyncIterator[Json]:
        call = calls.directory_users(tenant, group, role, state, include_raw, page_size)
        async for user in self._pages(call, "users"):
            yield user

    async def directory_user(self, tenant: str, user_id: str, *, include_raw: bool = False) -> Json:
        return await self._run(calls.directory_user(tenant, user_id, include_raw))

    async def directory_groups(self, tenant: str, *, page_size: int = PAGE) -> AsyncIterator[Json]:
        async for group in self._pages(calls.directory_groups(tenant, page_size), "groups"):
            yield group

    async def group_users(self, tenant: str, group_id: str, *, page_size: int = PAGE) -> AsyncIterator[Json]:
        async for user in self._pages(calls.group_users(tenant, group_id, page_size), "users"):
            yield user
