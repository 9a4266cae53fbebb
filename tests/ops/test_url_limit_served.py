"""The URL limit through a real ``scimhub serve`` (uvicorn's own HTTP parser), not only through ASGI:
a SCIM 414 from just over MAX_URL_BYTES up to the parser's own limit (65,535 bytes of
request-target for httptools); above it the parser answers for itself, as the README says."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from scimhub.http.target import MAX_URL_BYTES
from tests.multiinstance.servers import Server
from tests.multiinstance.servers import fresh_database
from tests.multiinstance.servers import provision
from tests.multiinstance.servers import serving

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PARSER_LIMIT = 65_535  # httptools keeps URL offsets in 16 bits


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    directory = tmp_path_factory.mktemp("url-limit")
    with fresh_database(directory) as url:
        token = provision(url, "longurls")["longurls"]
        with serving(url, directory, count=1) as servers:
            yield servers[0], token


def target(size: int) -> str:
    """A request-target of exactly ``size`` bytes on /scim/v2/Users."""
    head = "/scim/v2/Users?pad="
    return head + "p" * (size - len(head))


def exchange(server: Server, request_target: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 request (httpx2 refuses URLs this long); status, headers, body."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = f"GET {request_target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode().lower().split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("size", [MAX_URL_BYTES, MAX_URL_BYTES + 1, 60_000, PARSER_LIMIT])
def test_a_served_instance_answers_scim_json_up_to_the_parsers_limit(served: tuple[Server, str], size: int) -> None:
    server, token = served

    status, headers, body = exchange(server, target(size), token)

    if size <= MAX_URL_BYTES:
        assert status == 200, body[:300]
        return
    assert status == 414, body[:300]
    assert headers["content-type"].startswith("application/scim+json")
    error = json.loads(body)
    assert error["schemas"] == [ERROR]
    assert error["status"] == "414"
    assert "POST /Users/.search" in error["detail"]


def test_above_the_parsers_limit_uvicorn_answers_400_itself(served: tuple[Server, str]) -> None:
    """Documented, not ours to change: the request never reaches the application."""
    server, token = served

    status, headers, _ = exchange(server, target(PARSER_LIMIT + 1), token)

    assert status == 400
    assert headers["content-type"].startswith("text/plain")
