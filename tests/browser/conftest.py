"""Browser tests: Playwright driving Debian's chromium (``apt-get install chromium``; a browser is
never downloaded) against a live uvicorn server running the real app on its own SQLite database.

Fixtures: ``live_server`` (one per test module: URL, admin token, the app's store settings),
``browser`` (one chromium per test module), ``page`` (a fresh browser context per test: no cookies),
``signed_in`` (a page signed in to the console). Every test here is skipped, saying why, only
when /usr/bin/chromium is missing; .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import Playwright
from playwright.sync_api import sync_playwright

from scimhub.app import create_app
from scimhub.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_TOKEN = "console-admin-token-for-browser-tests-0123456789"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    admin_token: str
    settings: Settings

    @property
    def console(self) -> str:
        return f"{self.url}/console"

    @property
    def scim(self) -> str:
        return f"{self.url}/scim/v2"


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def live_settings(database_url: str, **overrides: object) -> Settings:
    """What the live server runs with: the admin token set, the request log on, no rate limit."""
    values: dict[str, object] = {
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "rate_limit": "",
        "database_pool_size": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def live_server(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free port, on a SQLite database of its own."""
    path = tmp_path_factory.mktemp("live") / "scimhub.db"
    shutil.copy(migrated_template, path)
    settings = live_settings(f"sqlite:///{path}")
    server, thread, url = _serve(settings)
    try:
        yield LiveServer(url, ADMIN_TOKEN, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def playwright(migrated_template: Path) -> Iterator[Playwright]:
    """Playwright's sync API keeps an event loop running in this thread while it is started, so
    ``asyncio.run`` and async tests cannot run meanwhile: it lives for one test module (the
    suite's async tests after it run once it stopped), the database template is made first, and
    browser tests seed data through the live server's HTTP APIs."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new browser context (no cookies, no storage) and a page in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.console}/")
    page.get_by_label("Admin token").fill(server.admin_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.console}/")


@pytest.fixture
def signed_in(page: Page, live_server: LiveServer) -> Page:
    sign_in(page, live_server)
    return page
