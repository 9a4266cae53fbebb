"""A loopback webhook receiver that knows which server process sent each delivery, and can hold one.

Which process: the receiver looks the sending socket up in /proc (Linux), so a test can kill
exactly the instance that is in the middle of a delivery.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

HOLD_TIMEOUT = 60.0


@dataclass(frozen=True)
class Delivery:
    """One POST: the event, its headers, the sending process, and whether it was answered 204."""

    event: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    sender_pid: int | None
    acknowledged: bool

    @property
    def seq(self) -> int:
        seq: int = self.event["seq"]
        return seq


class HookReceiver:
    """Answers 204 to every POST, except the first delivery of ``hold_seq``: that request is kept
    open (``held`` is set) until :meth:`release`, then dropped without an answer."""

    def __init__(self, sender_pids: Callable[[], Sequence[int]] = list, hold_seq: int | None = None) -> None:
        self.sender_pids = sender_pids
        self.hold_seq = hold_seq
        self.held = threading.Event()
        self.held_delivery: Delivery | None = None
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def acknowledged(self) -> list[Delivery]:
        return [d for d in self.deliveries() if d.acknowledged]

    def acknowledged_seqs(self) -> list[int]:
        return [d.seq for d in self.acknowledged()]

    def release(self) -> None:
        self._release.set()

    def start(self) -> HookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _receive(self, handler: BaseHTTPRequestHandler) -> bool:
        """Record one POST; False: drop it unanswered (the held one)."""
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        event: dict[str, Any] = orjson.loads(body)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        pid = sending_pid(handler.client_address[1], self.port, self.sender_pids())
        with self._lock:
            hold = event["seq"] == self.hold_seq and self.held_delivery is None
            delivery = Delivery(event, body, headers, pid, acknowledged=not hold)
            if hold:
                self.held_delivery = delivery
            self._deliveries.append(delivery)
        if hold:
            self.held.set()
            self._release.wait(HOLD_TIMEOUT)
        return not hold

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if receiver._receive(self):
                    self.send_response(204)
                    self.send_header("content-length", "0")
                    self.end_headers()
                else:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def sending_pid(client_port: int, server_port: int, pids: Sequence[int]) -> int | None:
    """Which of ``pids`` owns the TCP socket 127.0.0.1:client_port -> :server_port (None: none)."""
    wanted: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == client_port and int(remote.rsplit(":", 1)[1], 16) == server_port:
                wanted.add(f"socket:[{inode}]")
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    return pid
            except OSError:
                continue
    return None
