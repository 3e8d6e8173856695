"""Fixtures for the quckrt Python suite.

Conventions: no sleeps as synchronization. Every wait is on a queue, an event or a future,
with a bounded timeout (WAIT seconds) that fails the test. Only the time-based cases (token
expiry, idle timeout) depend on the server's one-second sweep.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import quckrt

WAIT = 10.0  # seconds; generous for a loaded 2-core machine
SECRET = "python-suite-secret"
REPO = Path(__file__).resolve().parents[2]
PHOENIX_JS_DIR = Path(os.environ.get("QUCKRT_PHOENIX_JS_DIR",
                                     REPO / "tests" / "integration" / "phoenix_js"))
PEER_SCRIPT = Path(__file__).resolve().parent / "support" / "phoenix_peer.cjs"


@pytest.fixture
def make_server() -> Iterator[Callable[..., quckrt.Server]]:
    """make_server(**options) -> a started Server (port 0, SECRET, one loop); all are
    stopped after the test."""
    servers: List[quckrt.Server] = []

    def make(channels: Optional[Dict[str, Any]] = None, start: bool = True,
             **options: Any) -> quckrt.Server:
        options.setdefault("jwt_secret", SECRET)
        options.setdefault("port", 0)
        options.setdefault("drain_timeout_ms", 2000)
        server = quckrt.Server(**options)
        for pattern, handler in (channels or {}).items():
            server.channel(pattern, handler)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., quckrt.Server]) -> quckrt.Server:
    """A started server with the built-in chat channel."""
    return make_server()


@pytest.fixture
def clients() -> Iterator[Callable[..., quckrt.Client]]:
    """clients(url, token, **options) -> a connected blocking Client, closed after the
    test."""
    made: List[quckrt.Client] = []

    def make(url: str, token: Any, connect: bool = True, **options: Any) -> quckrt.Client:
        client = quckrt.Client(url, token, **options)
        made.append(client)
        if connect:
            client.connect()
        return client

    yield make
    for client in made:
        client.close()


def token(sub: str, ttl: Optional[float] = 3600, **claims: Any) -> str:
    return quckrt.tokens.issue(SECRET, sub, ttl=ttl, **claims)


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """A thread-safe queue with predicate waits; items that do not match stay queued."""

    def __init__(self) -> None:
        self._q: "queue.Queue[Any]" = queue.Queue()
        self._held: List[Any] = []
        self.all: List[Any] = []

    def put(self, item: Any) -> None:
        self.all.append(item)
        self._q.put(item)

    def next(self, pred: Callable[[Any], bool] = lambda _: True, timeout: float = WAIT) -> Any:
        for i, item in enumerate(self._held):
            if pred(item):
                return self._held.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._q.get(timeout=remaining)
            except queue.Empty:
                continue
            if pred(item):
                return item
            self._held.append(item)
        raise AssertionError(f"timed out after {timeout} s; received so far: {self.all[:20]!r}")


class NodePeer:
    """The official phoenix.js client under Node, driven through support/phoenix_peer.cjs."""

    def __init__(self, url: str, token: str, topic: str, events: List[str]) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed (scripts/install-deps installs it)")
        if not (PHOENIX_JS_DIR / "node_modules" / "phoenix").is_dir():
            pytest.fail(f"phoenix.js is not installed: run `npm ci` in {PHOENIX_JS_DIR} "
                        "(scripts/test-python does)")
        self.proc = subprocess.Popen(
            [node, str(PEER_SCRIPT), str(PHOENIX_JS_DIR), url, token, topic, *events],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        self.lines = Inbox()
        self.stderr: List[str] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line:
                self.lines.put(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def expect(self, type_: str, timeout: float = WAIT, **fields: Any) -> Dict[str, Any]:
        try:
            return self.lines.next(
                lambda m: m.get("type") == type_ and all(m.get(k) == v
                                                         for k, v in fields.items()),
                timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}; node stderr: {''.join(self.stderr)[-2000:]}") from None

    def push(self, event: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        self._next_id += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": "push", "id": self._next_id, "event": event,
                                          "payload": payload}) + "\n")
        self.proc.stdin.flush()
        return self.expect("reply", id=self._next_id)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(WAIT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


@pytest.fixture
def node_peers() -> Iterator[Callable[..., NodePeer]]:
    peers: List[NodePeer] = []

    def make(url: str, token: str, topic: str, events: List[str]) -> NodePeer:
        peer = NodePeer(url, token, topic, events)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
