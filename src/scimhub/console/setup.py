"""The setup page (``/setup/<link>``): walks a tenant's IdP admin through connecting their IdP.

GET  /setup/<link>[?idp=okta]   the page (404 unknown link, 410 expired or revoked: a plain page)
POST /setup/<link>/token        Generate token: CSRF-checked, at most MAX_TOKENS_PER_LINK per link;
                                the token is in the response body only, never in a URL
GET  /setup/<link>/status       the connection check as JSON (polled by setup.js every 3 s)
GET  /setup/static/…            setup.css, setup.js (own files: the CSP allows nothing else)

Server-rendered (Jinja2, autoescaped); works without JavaScript ("Check again" reloads). Every
answer carries a strict CSP, ``Referrer-Policy: no-referrer`` (the link is a credential) and
``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from scimhub.console.setup_guides import GUIDES
from scimhub.console.setup_guides import Value
from scimhub.console.setup_guides import guide
from scimhub.http.activity import ActivityRecorder
from scimhub.http.request_log import RequestLogBuffer
from scimhub.protocol.setup_links import MAX_TOKENS_PER_LINK
from scimhub.protocol.setup_links import LinkState
from scimhub.protocol.setup_links import Opened
from scimhub.protocol.setup_links import SetupLinks
from scimhub.protocol.setup_links import csrf_token
from scimhub.protocol.setup_links import csrf_valid
from scimhub.protocol.setup_links import new_nonce
from scimhub.timestamps import format_instant

HERE = Path(__file__).parent
NONCE_COOKIE = "scimhub_setup_nonce"
POLL_SECONDS = 3
TOUCH_SECONDS = 60  # last_used_at is written at most this often per link
MAX_FORM_BYTES = 4096
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class SetupRuntime:
    links: SetupLinks
    scim_base_url: str | None  # SCIMHUB_BASE_URL; else the page's root + /scim/v2
    token_pepper: str | None
    activity: ActivityRecorder | None = None  # flushed before a status read (this process's last second)
    request_log: RequestLogBuffer | None = None


def _rt(request: Request) -> SetupRuntime:
    rt: SetupRuntime = request.app.state.setup
    return rt


def _now() -> str:
    return format_instant(dt.datetime.now(dt.UTC))


def _html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    static_url = f"{request.scope.get('root_path', '')}/static"
    body = _templates.get_template(template).render(static_url=static_url, **context)
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def _refused(request: Request, opened: Opened | None) -> HTMLResponse:
    """404 for a link that never existed; 410 for one that expired or was revoked."""
    if opened is None:
        return _html(request, "setup/gone.html", 404, title="Link not found", reason="unknown")
    return _html(request, "setup/gone.html", 410, title="Link no longer valid", reason=opened.state.value)


async def _opened(request: Request) -> Opened | None:
    return await _rt(request).links.open(request.path_params["link"], _now())


def _page_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/{request.path_params['link']}"


def _scim_base_url(request: Request) -> str:
    """SCIMHUB_BASE_URL, else this server's SCIM root as the page was reached: scheme, host and the
    setup mount's ``root_path`` (every prefix above it, then ``/setup``) with ``/scim/v2`` instead."""
    configured = _rt(request).scim_base_url
    if configured:
        return configured.rstrip("/")
    root = str(request.scope.get("root_path", "")).removesuffix("/setup")
    return f"{request.url.scheme}://{request.url.netloc}{root}/scim/v2"


async def page(request: Request) -> Response:
    opened = await _opened(request)
    if opened is None or opened.state is not LinkState.ACTIVE:
        return _refused(request, opened)
    now = _now()
    if opened.link.last_used_at is None or _seconds_between(opened.link.last_used_at, now) >= TOUCH_SECONDS:
        await _rt(request).links.links.touch(opened.link.id, now)
    nonce = request.cookies.get(NONCE_COOKIE) or new_nonce()
    return await _render(request, opened, nonce, token=None, tokens_issued=opened.link.tokens_issued)


async def generate_token(request: Request) -> Response:
    opened = await _opened(request)
    if opened is None or opened.state is not LinkState.ACTIVE:
        return _refused(request, opened)
    rt = _rt(request)
    form = await _form(request)
    nonce = request.cookies.get(NONCE_COOKIE)
    if not csrf_valid(await rt.links.key(), opened.link.id, nonce, form.get("csrf")):
        return _html(request, "setup/refused.html", 403, title="Form expired", page_url=_page_url(request))
    token = await rt.links.issue_token(opened, rt.token_pepper, _now())
    if token is None:
        return _html(
            request,
            "setup/refused.html",
            429,
            title="Token limit reached",
            page_url=_page_url(request),
            limit=MAX_TOKENS_PER_LINK,
        )
    # A new nonce: re-sending this form (reload, back button) cannot issue a second token.
    return await _render(
        request, opened, new_nonce(), token=token, tokens_issued=opened.link.tokens_issued + 1, idp_key=form.get("idp")
    )


async def status(request: Request) -> Response:
    opened = await _opened(request)
    if opened is None or opened.state is not LinkState.ACTIVE:
        code = 404 if opened is None else 410
        return Response(
            orjson.dumps({"detail": "This setup link is not valid."}),
            code,
            media_type="application/json",
            headers=SECURITY_HEADERS,
        )
    body = await _state(request, opened)
    return Response(orjson.dumps(body), media_type="application/json", headers=SECURITY_HEADERS)


async def _state(request: Request, opened: Opened) -> dict[str, Any]:
    """The connection check, after writing this process's last second of traffic and requests."""
    rt = _rt(request)
    if rt.activity is not None:
        await rt.activity.flush()
    if rt.request_log is None:
        return await rt.links.status(opened, None)
    await rt.request_log.flush()
    return await rt.links.status(opened, rt.request_log.store)


async def _render(
    request: Request,
    opened: Opened,
    nonce: str,
    *,
    token: str | None,
    tokens_issued: int,
    idp_key: str | None = None,
) -> HTMLResponse:
    rt = _rt(request)
    chosen = guide(idp_key if idp_key is not None else request.query_params.get("idp"))
    state = await _state(request, opened)
    response = _html(
        request,
        "setup/page.html",
        title=f"Connect your identity provider — {opened.tenant.name}",
        tenant=opened.tenant.name,
        expires=opened.link.expires_at,
        page_url=_page_url(request),
        guides=GUIDES,
        chosen=chosen,
        Value=Value,
        base_url=_scim_base_url(request),
        token=token,
        csrf=csrf_token(await rt.links.key(), opened.link.id, nonce),
        tokens_left=max(MAX_TOKENS_PER_LINK - tokens_issued, 0),
        max_tokens=MAX_TOKENS_PER_LINK,
        state=state,
        poll_seconds=POLL_SECONDS,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(NONCE_COOKIE, nonce, path=_page_url(request), httponly=True, samesite="strict", secure=secure)
    return response


async def _form(request: Request) -> dict[str, str]:
    """The Generate token form (csrf, idp); an oversized or unreadable body reads as empty (refused
    by the CSRF check), read no further than MAX_FORM_BYTES."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            return {}
    try:
        return dict(parse_qsl(raw.decode("latin-1"), max_num_fields=8))
    except ValueError:  # more fields than any form of the page has
        return {}


def _seconds_between(earlier: str, later: str) -> float:
    return (dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)).total_seconds()


def setup_app(runtime: SetupRuntime) -> Starlette:
    """The setup pages as an ASGI app, to mount at ``/setup``."""
    app = Starlette(
        routes=[
            Mount("/static", app=StaticFiles(directory=HERE / "static" / "setup"), name="static"),
            Route("/{link}", page, methods=["GET"]),
            Route("/{link}/token", generate_token, methods=["POST"]),
            Route("/{link}/status", status, methods=["GET"]),
        ]
    )
    app.state.setup = runtime
    return app
