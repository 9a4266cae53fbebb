"""Sign-in with the admin token (throttled per client address), sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.session import Session
from scimhub.console.session import token_matches
from scimhub.console.web import ConsoleError
from scimhub.console.web import action
from scimhub.console.web import read_form
from scimhub.console.web import redirect
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import session_of
from scimhub.console.web import set_session


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def sign_in_page(request: Request) -> Response:
    """The form; an anonymous session carries the CSRF token the form sends back."""
    session = await session_of(request)
    if session is not None and session.signed_in:
        return redirect(request, "/")
    if session is None:
        session = Session.new(signed_in=False)
    response = render(request, "console/sign_in.html", session, error=None)
    await set_session(request, response, session)
    return response


async def sign_in(request: Request) -> Response:
    rt = runtime(request)
    client = client_address(request)
    wait = rt.throttle.retry_after(client)
    if wait:
        message = f"Too many failed sign-ins from your address: try again in {wait} seconds."
        raise ConsoleError(429, message, {"Retry-After": str(wait)})
    session = await session_of(request)
    form = await read_form(request)
    if session is None or not session.csrf_matches(form.get("csrf")):
        raise ConsoleError(403, "The sign-in form expired or did not come from this console: reload it and try again.")
    if not token_matches(rt.admin_token, form.get("token", "")):
        rt.throttle.failed(client)
        return render(request, "console/sign_in.html", session, 401, error="That is not the admin token.")
    rt.throttle.succeeded(client)
    response = redirect(request, "/")
    await set_session(request, response, Session.new(signed_in=True))  # a new id and CSRF token
    return response


async def _sign_out(request: Request, _session: Session, _form: dict[str, str]) -> Response:
    response = redirect(request, "/sign-in")
    await set_session(request, response, None)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in_page, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", action(_sign_out), methods=["POST"]),
    ]
