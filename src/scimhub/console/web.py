"""The console's plumbing: runtime, templates, sessions on requests, forms with CSRF, guards.

Every page handler is wrapped by ``page`` (GET: a signed-in session or a redirect to sign-in) or
``action`` (POST: a signed-in session, a form body of bounded size and its CSRF token, or 403
with nothing done). Handlers never read cookies or bodies themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote_plus
from urllib.parse import urlencode

from jinja2 import Environment
from jinja2 import PackageLoader
from jinja2 import select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response

from scimhub.console.format import event_summary
from scimhub.console.format import pretty_json
from scimhub.console.session import COOKIE
from scimhub.console.session import SIGNED_IN_SECONDS
from scimhub.console.session import Session
from scimhub.console.session import SessionCodec
from scimhub.console.session import token_fingerprint
from scimhub.console.throttle import SignInThrottle
from scimhub.http.admin import AdminRuntime
from scimhub.protocol.cursor import CursorCodec
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.tenant_config import TenantConfigCache
from scimhub.settings import Settings
from scimhub.store.base import Tenant

MAX_FORM = 64 * 1024
SESSION_KEY_NAME = "console-session"  # the server_secrets row that signs session cookies

# What a redirect after a POST may say (?done=<key>): fixed texts, nothing from the URL is shown.
DONE = {
    "created": "Tenant created.",
    "revoked": "Token revoked.",
    "webhook-removed": "Webhook removed.",
    "redelivered": "Dead letters sent again; see the deliveries below.",
    "saved": "Setting saved.",
    "released": "Hold released: events flow again.",
    "paused": "Event stream paused.",
    "resumed": "Event stream resumed.",
    "link-revoked": "Setup link revoked: its page now answers 410 Gone.",
    "role-mapped": "Role rule added: every user's roles are being recomputed (progress under Roles).",
    "role-unmapped": "Role rule removed: every user's roles are being recomputed (progress under Roles).",
    "roles-configured": "Role settings saved: every user's roles are being recomputed (progress under Roles).",
    "attribute-mapped": "Attribute mapped: the directory API uses it now, events within 10 seconds.",
    "attribute-unmapped": "Attribute unmapped: the directory API drops it now, events within 10 seconds.",
}


class ConsoleError(Exception):
    """Rendered as the error page with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class ConsoleRuntime:
    admin_token: str
    settings: Settings
    admin: AdminRuntime
    service: ResourceService
    configs: TenantConfigCache
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    templates: Environment = field(default_factory=lambda: templates())
    cursor_codec: CursorCodec | None = None  # RFC 9865 cursors of the directory's pages
    _codec: SessionCodec | None = None

    async def codec(self) -> SessionCodec:
        if self._codec is None:
            key = await self.service.store.server_secret(SESSION_KEY_NAME)
            self._codec = SessionCodec(key, token_fingerprint(self.admin_token))
        return self._codec


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("scimhub.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["event_summary"] = event_summary
    env.filters["pretty_json"] = pretty_json
    env.filters["unquote"] = unquote_plus  # a logged query string, readable (then escaped as any value)
    return env


def _when(value: str | None) -> str:
    """An ISO instant as ``2026-12-07 11:19:05`` (UTC), or an em dash."""
    if not value:
        return "—"
    return value.replace("T", " ").removesuffix("Z").split(".")[0].split("+")[0]


def runtime(request: Request) -> ConsoleRuntime:
    rt: ConsoleRuntime = request.app.state.console
    return rt


def root(request: Request) -> str:
    """The console's own path prefix (``/console``, under any prefix the server is mounted at)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def url(request: Request, path: str, **query: object) -> str:
    params = {k: v for k, v in query.items() if v is not None and v != ""}
    return root(request) + path + (f"?{urlencode(params)}" if params else "")


async def session_of(request: Request) -> Session | None:
    return (await runtime(request).codec()).decode(request.cookies.get(COOKIE))


async def set_session(request: Request, response: Response, session: Session | None) -> None:
    """Set (or, with None, clear) the cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    secure = request.url.scheme == "https"
    path = root(request) or "/"
    if session is None:
        response.delete_cookie(COOKIE, path=path, secure=secure, httponly=True, samesite="strict")
        return
    value = (await runtime(request).codec()).encode(session)
    max_age = SIGNED_IN_SECONDS if session.signed_in else None
    response.set_cookie(COOKIE, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="strict")


def render(request: Request, template: str, session: Session | None, status: int = 200, **context: Any) -> HTMLResponse:
    done = request.query_params.get("done")
    html = (
        runtime(request)
        .templates.get_template(template)
        .render(
            root=root(request),
            session=session,
            csrf=session.csrf if session is not None else "",
            notice=DONE.get(done or ""),
            tenant=context.pop("tenant", None),
            tab=context.pop("tab", None),
            **context,
        )
    )
    return HTMLResponse(html, status)


def redirect(request: Request, path: str, **query: object) -> RedirectResponse:
    return RedirectResponse(url(request, path, **query), status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind the console's forms send)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise ConsoleError(413, "The form is too large.")
    if kind != "application/x-www-form-urlencoded" and (kind or body):  # an empty POST is an empty form
        raise ConsoleError(415, "Forms are sent as application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError(400, "The form could not be read.") from None
    return dict(pairs)


PageHandler = Callable[[Request, Session], Awaitable[Response]]
ActionHandler = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(handler: PageHandler) -> Endpoint:
    """A GET page: signed-in only (otherwise 303 to the sign-in page)."""

    async def endpoint(request: Request) -> Response:
        session = await session_of(request)
        if session is None or not session.signed_in:
            return redirect(request, "/sign-in")
        return await handler(request, session)

    return endpoint


def action(handler: ActionHandler) -> Endpoint:
    """A POST: signed-in only, and its form must carry the session's CSRF token (403 otherwise)."""

    async def endpoint(request: Request) -> Response:
        session = await session_of(request)
        if session is None or not session.signed_in:
            raise ConsoleError(403, "Your session has ended: sign in again.")
        form = await read_form(request)
        if not session.csrf_matches(form.get("csrf")):
            raise ConsoleError(403, "The form's CSRF token does not match this session: reload the page and try again.")
        return await handler(request, session, form)

    return endpoint


async def tenant_of(request: Request) -> Tenant:
    name = request.path_params["tenant"]
    tenant = await runtime(request).service.store.tenant_by_name(name)
    if tenant is None:
        raise ConsoleError(404, f"No tenant named {name!r}.")
    return tenant


def no_store(response: Response) -> Response:
    """A page showing a secret once: never cached, never stored."""
    response.headers["Cache-Control"] = "no-store"
    return response
