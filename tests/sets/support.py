"""Helpers of the SET tests: streams through the admin API, the published JWKS, polling, and
verification with PyJWT, a JOSE library independent of the one that signs (joserfc)."""

from __future__ import annotations

from typing import Any

import httpx2
import jwt

from tests.events.support import admin_client

ROOT = "http://testserver"
ISSUER = "https://scim.example.com/scim/v2"
PROV = "urn:ietf:params:scim:event:prov"


def public_client(app: object) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ROOT)  # type: ignore[arg-type]


async def add_stream(app: object, tenant: str = "acme", **body: Any) -> dict[str, Any]:
    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/{tenant}/streams", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def jwks(app: object, tenant_id: str) -> dict[str, Any]:
    async with public_client(app) as client:
        response = await client.get(f"/sets/v1/tenants/{tenant_id}/jwks.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    keys: dict[str, Any] = response.json()
    return keys


def verify(token: str, key_set: dict[str, Any], audience: str) -> dict[str, Any]:
    """PyJWT's verification: the kid's key in the JWKS, ES256, aud and iss; the SET typ header."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "secevent+jwt"
    assert header["alg"] == "ES256"
    key = jwt.PyJWKSet.from_dict(key_set)[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["ES256"], audience=audience, issuer=ISSUER, options={"require": ["iat", "jti"]}
    )
    return claims


async def poll(app: object, stream: dict[str, Any], token: str | None = None, **body: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token if token is not None else stream['token']}"}
    async with public_client(app) as client:
        return await client.post(f"/sets/v1/streams/{stream['id']}/poll", json=body, headers=headers)


def only_event(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((uri, payload),) = claims["events"].items()
    return uri, payload
