"""A Phoenix Channels V2 client for quckrt servers, standard library only.

Two flavours over the same engine:

* :class:`AsyncClient` for asyncio code (``await client.join(...)``);
* :class:`Client`, blocking, which runs an AsyncClient on a private thread.

Example (blocking)::

    import quckrt

    with quckrt.Client("ws://127.0.0.1:4000/socket", token) as client:
        client.on("chat:42", "message:new", lambda m: print(m["senderId"], m["content"]))
        client.join("chat:42")
        reply = client.push("chat:42", "message:send", {"content": "hi"})
        print("stored as", reply["id"])

Example (asyncio)::

    async with quckrt.AsyncClient(url, token) as client:
        await client.join("chat:42")
        await client.push("chat:42", "message:send", {"content": "hi"})

Wire: ``ws[s]://HOST:PORT/PATH/websocket?vsn=2.0.0&token=JWT``; frames are the V2 JSON
arrays ``[join_ref, ref, topic, event, payload]``. The client sends a heartbeat every
``heartbeat_interval`` seconds (a connection whose previous heartbeat is still unanswered is
considered dead), reconnects with backoff after any close it did not ask for, and rejoins the
topics it had joined. A connection closed with 4001 (token expired) is only reopened when
``token`` is a callable that can mint a fresh token.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import json
import logging
import ssl as _ssl
import threading
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from . import _websocket
from .errors import (
    ChannelError,
    ConnectError,
    ConnectionClosed,
    Error,
    HandshakeError,
    InvalidURL,
    JoinRefused,
    NotJoined,
    ProtocolError,
    ReplyError,
    Timeout,
)

__all__ = ["AsyncClient", "Client", "default_reconnect_after", "default_rejoin_after"]

log = logging.getLogger("quckrt.client")

Payload = Dict[str, Any]
TokenSource = Union[str, Callable[[], Union[str, Awaitable[str]]]]
EventCallback = Callable[[Any], Any]
# Join params: a mapping, or a callable returning one (called on every (re)join).
JoinParams = Union[None, Mapping[str, Any], Callable[[], Optional[Mapping[str, Any]]]]
T = TypeVar("T")


def default_reconnect_after(tries: int) -> float:
    """phoenix.js's reconnect schedule: 10, 50, 100, 150, 200, 250, 500 ms, 1 s, 2 s, then
    5 s between attempts."""
    steps = [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0]
    return steps[tries - 1] if 0 < tries <= len(steps) else 5.0


def default_rejoin_after(tries: int) -> float:
    """phoenix.js's rejoin schedule after a channel error: 1 s, 2 s, 5 s, then 10 s."""
    steps = [1.0, 2.0, 5.0]
    return steps[tries - 1] if 0 < tries <= len(steps) else 10.0


@dataclass(frozen=True)
class _Endpoint:
    secure: bool
    host: str
    port: int
    path: str
    query: Tuple[Tuple[str, str], ...]
    url: str


def _parse_url(url: str) -> _Endpoint:
    if not isinstance(url, str) or not url:
        raise InvalidURL(f"server URL must be a non-empty str, got {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidURL(f"invalid server URL {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss", "http", "https"):
        raise InvalidURL(f"invalid server URL {url!r}: the scheme must be ws://, wss://, "
                         "http:// or https://")
    if not parts.hostname:
        raise InvalidURL(f"invalid server URL {url!r}: no host")
    secure = scheme in ("wss", "https")
    path = parts.path.rstrip("/") or "/socket"
    if not path.endswith("/websocket"):
        path += "/websocket"
    query = tuple((k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
                  if k not in ("vsn", "token"))
    return _Endpoint(secure, parts.hostname, port or (443 if secure else 80), path, query, url)


class _Channel:
    """What the client knows about one topic it wants joined."""

    __slots__ = ("topic", "params", "join_ref", "state", "error", "changed", "rejoin_task",
                 "response")

    def __init__(self, topic: str, params: Any) -> None:
        self.topic = topic
        self.params = params  # a dict, or a callable returning one
        self.join_ref: Optional[str] = None
        self.state = "joining"  # joining | joined | errored | closed
        self.error: Optional[Error] = None  # why the channel is over (state closed)
        self.changed: Optional["asyncio.Future[None]"] = None
        self.rejoin_task: Optional["asyncio.Task[None]"] = None
        self.response: Payload = {}

    def notify(self) -> None:
        if self.changed is not None and not self.changed.done():
            self.changed.set_result(None)
        self.changed = None


def _copy_error(exc: Error) -> Error:
    """A fresh instance of exc (one exception object must not be raised in many tasks)."""
    if isinstance(exc, ConnectionClosed):
        return ConnectionClosed(exc.code, exc.reason)
    if isinstance(exc, ChannelError):
        return ChannelError(exc.topic, exc.reason)
    if isinstance(exc, HandshakeError):
        return type(exc)(exc.status, exc.code, exc.message)
    return exc


def _encode_binary_push(join_ref: str, ref: str, topic: str, event: str, data: bytes) -> bytes:
    fields = [s.encode("utf-8") for s in (join_ref, ref, topic, event)]
    if any(len(f) > 255 for f in fields):
        raise ValueError("join_ref, ref, topic and event must be at most 255 bytes for a "
                         "binary push")
    return bytes([0, *(len(f) for f in fields)]) + b"".join(fields) + data


class AsyncClient:
    """An asyncio Phoenix V2 client for quckrt servers.

    Args:
        url: the socket endpoint, e.g. ``ws://127.0.0.1:4000/socket`` (``/websocket`` is
            appended when missing; ``http``/``https`` mean ``ws``/``wss``).
        token: the JWT, sent as the ``token`` query parameter, or a callable (sync or async)
            returning one, called before every connection attempt (so a reconnect after
            4001 "token expired" can use a fresh token).
        params: extra query parameters for the connection.
        heartbeat_interval: seconds between heartbeats (phoenix.js uses 30). A heartbeat
            still unanswered when the next one is due drops the connection (then reconnect).
        timeout: default timeout in seconds for join, push and leave.
        connect_timeout: timeout for one connection attempt (TCP + TLS + upgrade).
        reconnect: reconnect after closes this client did not ask for.
        reconnect_after: ``tries -> seconds`` before reconnect attempt ``tries``
            (default :func:`default_reconnect_after`).
        rejoin_after: ``tries -> seconds`` before rejoining a channel after it errored
            (default :func:`default_rejoin_after`).
        max_message_bytes: largest incoming message accepted (larger: close 1009).
        fragment_bytes: send messages longer than this as several WebSocket fragments
            (None: never fragment).
        ssl: an SSLContext for wss:// (default: the system's default context).
        headers: extra HTTP headers for the upgrade request, e.g. ``{"Origin": ...}``.

    Callbacks registered with :meth:`on`, :meth:`on_open` and :meth:`on_close` run on the
    event loop; a callback may be a coroutine function.

    Raises:
        InvalidURL: at construction, for a URL that cannot be used.
    """

    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        params: Optional[Mapping[str, str]] = None,
        heartbeat_interval: float = 30.0,
        timeout: float = 10.0,
        connect_timeout: float = 10.0,
        reconnect: bool = True,
        reconnect_after: Callable[[int], float] = default_reconnect_after,
        rejoin_after: Callable[[int], float] = default_rejoin_after,
        max_message_bytes: int = 64 << 20,
        fragment_bytes: Optional[int] = None,
        ssl: Optional[_ssl.SSLContext] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._endpoint = _parse_url(url)
        if not (isinstance(token, str) or callable(token)):
            raise TypeError("token must be a str or a callable returning one")
        self._token = token
        self._params = dict(params or {})
        self._heartbeat_interval = heartbeat_interval
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._reconnect = reconnect
        self._reconnect_after = reconnect_after
        self._rejoin_after = rejoin_after
        self._max_message_bytes = max_message_bytes
        self._fragment_bytes = fragment_bytes
        self._ssl = ssl
        self._headers = dict(headers or {})

        self._refs = itertools.count(1)
        self._ws: Optional[_websocket.WebSocket] = None
        self._pending: Dict[str, Tuple[Optional["asyncio.Future[Payload]"], str]] = {}
        self._channels: Dict[str, _Channel] = {}
        self._handlers: Dict[str, Dict[str, List[EventCallback]]] = {}
        self._open_callbacks: List[Callable[[], Any]] = []
        self._close_callbacks: List[Callable[[int, str], Any]] = []
        self._runner: Optional["asyncio.Task[None]"] = None
        self._heartbeat: Optional["asyncio.Task[None]"] = None
        self._background: "set[asyncio.Task[Any]]" = set()
        self._closing = False
        self._final: Optional[Error] = None
        self._done = asyncio.Event()
        self._connected = asyncio.Event()

    # ---- properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL given at construction."""
        return self._endpoint.url

    @property
    def connected(self) -> bool:
        """True while a WebSocket connection is open."""
        return self._ws is not None

    @property
    def closed(self) -> bool:
        """True once the client stopped for good (close(), or reconnecting gave up)."""
        return self._final is not None

    @property
    def close_error(self) -> Optional[Error]:
        """Why the client stopped for good (ConnectionClosed with the code, TokenRefused,
        ...), or None while it runs."""
        return self._final

    def joined(self, topic: str) -> bool:
        """True when ``topic`` is currently joined."""
        ch = self._channels.get(topic)
        return ch is not None and ch.state == "joined"

    @property
    def topics(self) -> List[str]:
        """Topics this client joined (and will rejoin after a reconnect)."""
        return list(self._channels)

    # ---- callbacks ----------------------------------------------------------------------

    def on(self, topic: str, event: str, callback: EventCallback) -> EventCallback:
        """Call ``callback(payload)`` for every ``event`` the server sends on ``topic``
        (broadcasts and pushes; also ``phx_error`` / ``phx_close``). Register before joining
        to miss nothing. Returns the callback (usable with :meth:`off`)."""
        self._handlers.setdefault(topic, {}).setdefault(event, []).append(callback)
        return callback

    def off(self, topic: str, event: Optional[str] = None,
            callback: Optional[EventCallback] = None) -> None:
        """Remove callbacks: all of a topic, all of one event, or one callback."""
        events = self._handlers.get(topic)
        if not events:
            return
        if event is None:
            del self._handlers[topic]
        elif callback is None:
            events.pop(event, None)
        elif callback in events.get(event, []):
            events[event].remove(callback)

    def on_open(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` after every successful (re)connection."""
        self._open_callbacks.append(callback)

    def on_close(self, callback: Callable[[int, str], Any]) -> None:
        """Call ``callback(code, reason)`` whenever a connection ends (1006: dropped without
        a close frame; 1012: server restarting; 4001: token expired; 4002: idle)."""
        self._close_callbacks.append(callback)

    # ---- connection ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection (a no-op when already connected or reconnecting).

        Raises:
            ConnectError: the server cannot be reached.
            TokenRefused: HTTP 401 (``message`` holds the server's reason).
            HandshakeError: another HTTP refusal (``status``, ``code``, ``message``).
            Timeout: no answer within ``connect_timeout``.
        """
        if self._runner is not None and not self._runner.done():
            return
        self._closing = False
        self._final = None
        self._done.clear()
        ws = await self._open_socket()
        self._attach(ws)
        self._runner = asyncio.create_task(self._run(ws), name="quckrt-client")

    async def close(self, timeout: float = 5.0) -> None:
        """Close the connection (code 1000) and stop reconnecting. Pending calls fail with
        ConnectionClosed. Idempotent."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closed", timeout=timeout)
        runner = self._runner
        if runner is not None and not runner.done():
            if ws is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(runner), timeout)
                except (asyncio.TimeoutError, Exception):
                    pass
            if not runner.done():
                runner.cancel()
                try:
                    await runner
                except (asyncio.CancelledError, Exception):
                    pass
        if self._ws is not None:
            self._detach(ConnectionClosed(1000, "client closed"))
        if self._final is None:
            self._finish(ConnectionClosed(1000, "client closed"))
        for task in list(self._background):
            task.cancel()

    async def wait_closed(self) -> Error:
        """Wait until the client stopped for good and return why (see :attr:`close_error`);
        it does not raise. Wrap it in ``asyncio.wait_for`` for a timeout."""
        await self._done.wait()
        assert self._final is not None
        return self._final

    async def __aenter__(self) -> "AsyncClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---- channels -----------------------------------------------------------------------

    async def join(self, topic: str, params: JoinParams = None,
                   timeout: Optional[float] = None) -> Payload:
        """Join ``topic`` and return the server's ok response.

        Joining a topic that is already joined joins it again (the server replaces the old
        channel). The topic is rejoined automatically after reconnects. ``params`` may be a
        callable returning the params: it is called for every (re)join, so
        ``lambda: {"last_seq": last_seen}`` resumes ``chat:X`` where the client left off
        (docs/chat.md "Resume").

        Raises:
            JoinRefused: the server refused; ``reason`` / ``response`` hold its answer.
            Timeout: no reply in time.
            ConnectionClosed: the connection ended (or was never opened).
        """
        timeout = self._timeout if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + timeout
        await self._wait_connected(deadline, f"join {topic}")
        old = self._channels.get(topic)
        if old is not None:
            self._cancel_rejoin(old)
        ch = _Channel(topic, params if callable(params) else dict(params or {}))
        self._channels[topic] = ch
        if old is not None:
            old.error = ChannelError(topic, "rejoined")
            old.notify()
        try:
            return await self._send_join(ch, self._remaining(deadline))
        except BaseException as e:
            if self._channels.get(topic) is ch:
                del self._channels[topic]
            ch.state = "closed"
            ch.error = e if isinstance(e, Error) else ChannelError(topic, "join failed")
            ch.notify()
            if isinstance(e, Timeout) and ch.join_ref is not None:
                self._send_nowait([ch.join_ref, self._next_ref(), topic, "phx_leave", {}])
            raise

    async def push(self, topic: str, event: str, payload: Union[Mapping[str, Any], bytes,
                                                                None] = None,
                   timeout: Optional[float] = None) -> Payload:
        """Push ``event`` to a joined ``topic`` and return the reply's response.

        ``payload`` is a dict (JSON) or bytes (a Phoenix binary push). While the client is
        reconnecting or rejoining, the push waits (within ``timeout``) for the channel to be
        joined again.

        Raises:
            ReplyError: the reply status was not "ok" (``status``, ``reason``, ``response``).
            Timeout: no reply in time.
            NotJoined: the topic is not joined.
            ChannelError: the channel crashed or was closed while waiting.
            ConnectionClosed: the connection ended while waiting for the reply.
        """
        timeout = self._timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ch = await self._ready_channel(topic, deadline, f"push {event} on {topic}")
        assert ch.join_ref is not None
        ref = self._next_ref()
        data: Union[str, bytes]
        if isinstance(payload, (bytes, bytearray, memoryview)):
            data = _encode_binary_push(ch.join_ref, ref, topic, event, bytes(payload))
        else:
            data = json.dumps([ch.join_ref, ref, topic, event, dict(payload or {})],
                              separators=(",", ":"), ensure_ascii=False)
        fut = self._expect(ref, topic)
        await self._send_raw(data, ref)
        reply = await self._await_reply(fut, ref, self._remaining(deadline),
                                        f"push {event} on {topic}")
        status = reply.get("status")
        response = reply.get("response")
        response = response if isinstance(response, dict) else {}
        if status == "ok":
            return response
        raise ReplyError(response, status=str(status), topic=topic, event=event)

    async def leave(self, topic: str, timeout: Optional[float] = None) -> None:
        """Leave ``topic`` (no more rejoins). Returns once the server acknowledged, or at
        once when the topic is not joined or the client is disconnected."""
        ch = self._channels.pop(topic, None)
        if ch is None:
            return
        self._cancel_rejoin(ch)
        ch.state = "closed"
        ch.error = ChannelError(topic, "left")
        ch.notify()
        self._fail_pending(topic, ChannelError(topic, "left"))
        if self._ws is None or ch.join_ref is None:
            return  # the next connection will not rejoin it
        timeout = self._timeout if timeout is None else timeout
        ref = self._next_ref()
        fut = self._expect(ref, topic)
        try:
            await self._send([ch.join_ref, ref, topic, "phx_leave", {}], ref)
            await self._await_reply(fut, ref, timeout, f"leave {topic}")
        except ConnectionClosed:
            pass

    # ---- internals: sending and replies ---------------------------------------------------

    def _next_ref(self) -> str:
        return str(next(self._refs))

    @staticmethod
    def _remaining(deadline: float) -> float:
        return max(0.0, deadline - asyncio.get_running_loop().time())

    def _expect(self, ref: str, topic: str) -> "asyncio.Future[Payload]":
        fut: "asyncio.Future[Payload]" = asyncio.get_running_loop().create_future()
        self._pending[ref] = (fut, topic)
        return fut

    async def _send(self, message: List[Any], ref: Optional[str] = None) -> None:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        await self._send_raw(text, ref)

    async def _send_raw(self, data: Union[str, bytes], ref: Optional[str]) -> None:
        ws = self._ws
        try:
            if ws is None:
                raise ConnectionClosed(1006, "not connected")
            await ws.send(data)
        except ConnectionClosed:
            if ref is not None:
                self._pending.pop(ref, None)
            raise

    def _send_nowait(self, message: List[Any]) -> None:
        async def send() -> None:
            try:
                await self._send(message)
            except ConnectionClosed:
                pass
        self._spawn(send())

    async def _await_reply(self, fut: "asyncio.Future[Payload]", ref: str, timeout: float,
                           what: str) -> Payload:
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise Timeout(f"{what}: no reply within {timeout:g} s") from None
        finally:
            self._pending.pop(ref, None)

    def _fail_pending(self, topic: Optional[str], exc: Error) -> None:
        for ref, (fut, t) in list(self._pending.items()):
            if topic is not None and t != topic:
                continue
            del self._pending[ref]
            if fut is not None and not fut.done():
                fut.set_exception(_copy_error(exc))

    async def _wait_connected(self, deadline: float, what: str) -> None:
        while self._ws is None:
            if self._final is not None:
                raise _copy_error(self._final)
            if self._runner is None:
                raise ConnectionClosed(1006, "not connected: call connect() first")
            try:
                await asyncio.wait_for(asyncio.shield(self._connected.wait()),
                                       self._remaining(deadline))
            except asyncio.TimeoutError:
                raise Timeout(f"{what}: not connected in time (reconnecting)") from None

    async def _ready_channel(self, topic: str, deadline: float, what: str) -> _Channel:
        """The joined channel for topic, waiting for a reconnect/rejoin in progress."""
        loop = asyncio.get_running_loop()
        while True:
            ch = self._channels.get(topic)
            if ch is None:
                raise NotJoined(topic)
            if ch.state == "joined" and self._ws is not None:
                return ch
            if self._final is not None:
                raise _copy_error(self._final)
            if ch.changed is None:
                ch.changed = loop.create_future()
            waiter = ch.changed
            try:
                await asyncio.wait_for(asyncio.shield(waiter), self._remaining(deadline))
            except asyncio.TimeoutError:
                raise Timeout(f"{what}: channel not joined in time "
                              f"(state {ch.state})") from None
            if self._channels.get(topic) is not ch and topic not in self._channels \
                    and ch.error is not None:
                raise _copy_error(ch.error)  # left, refused or closed; a rejoin loops on

    async def _send_join(self, ch: _Channel, timeout: float) -> Payload:
        join_ref = self._next_ref()
        ch.join_ref = join_ref
        ch.state = "joining"
        fut = self._expect(join_ref, ch.topic)
        # Params given as a callable are evaluated on every (re)join, as phoenix.js does:
        # that is how a rejoin of chat:X sends the current last_seq and resumes.
        params = dict(ch.params() or {}) if callable(ch.params) else ch.params
        await self._send([join_ref, join_ref, ch.topic, "phx_join", params], join_ref)
        reply = await self._await_reply(fut, join_ref, timeout, f"join {ch.topic}")
        response = reply.get("response")
        response = response if isinstance(response, dict) else {}
        if reply.get("status") != "ok":
            raise JoinRefused(response, topic=ch.topic)
        if ch.join_ref == join_ref and ch.state != "closed":
            ch.state = "joined"
            ch.response = response
            ch.notify()
        return response

    # ---- internals: connection lifecycle --------------------------------------------------

    async def _resolve_token(self) -> str:
        source = self._token
        token: Any = source() if callable(source) else source
        if inspect.isawaitable(token):
            token = await token
        if not isinstance(token, str):
            raise TypeError("the token callable must return a str")
        return token

    async def _open_socket(self) -> _websocket.WebSocket:
        e = self._endpoint
        token = await self._resolve_token()
        query = list(e.query) + list(self._params.items()) + [("vsn", "2.0.0"),
                                                              ("token", token)]
        resource = e.path + "?" + urllib.parse.urlencode(query)
        return await _websocket.connect(
            e.host, e.port, resource, secure=e.secure, ssl_context=self._ssl,
            headers=self._headers.items(), timeout=self._connect_timeout,
            max_message_bytes=self._max_message_bytes, fragment_bytes=self._fragment_bytes)

    def _attach(self, ws: _websocket.WebSocket) -> None:
        self._ws = ws
        self._connected.set()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(ws), name="quckrt-heartbeat")
        for cb in list(self._open_callbacks):
            self._invoke(cb, (), "on_open callback")
        for ch in list(self._channels.values()):
            self._schedule_rejoin(ch, delay=0.0)

    def _detach(self, closed: ConnectionClosed) -> None:
        self._ws = None
        self._connected.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        self._fail_pending(None, closed)
        for ch in self._channels.values():
            self._cancel_rejoin(ch)
            ch.state = "joining"
            ch.notify()
        for cb in list(self._close_callbacks):
            self._invoke(cb, (closed.code, closed.reason), "on_close callback")

    def _finish(self, reason: Error) -> None:
        if self._final is None:
            self._final = reason
        self._connected.clear()
        self._fail_pending(None, reason if isinstance(reason, ConnectionClosed)
                           else ConnectionClosed(1006, str(reason)))
        for ch in self._channels.values():
            self._cancel_rejoin(ch)
            ch.notify()
        self._done.set()
        self._connected.set()  # wake _wait_connected waiters; they see _final
        self._connected.clear()

    async def _run(self, ws: _websocket.WebSocket) -> None:
        try:
            while True:
                closed = await self._read_loop(ws)
                self._detach(closed)
                if self._closing or not self._reconnect:
                    self._finish(closed)
                    return
                if closed.code == 4001 and not callable(self._token):
                    log.warning("token expired (close 4001) and token is a fixed string; "
                                "not reconnecting")
                    self._finish(closed)
                    return
                reopened = await self._reconnect_loop()
                if reopened is None:
                    return
                ws = reopened
                self._attach(ws)
        except asyncio.CancelledError:
            if self._ws is not None:
                self._ws.abort("client task cancelled")
                self._detach(ConnectionClosed(1006, "client task cancelled"))
            self._finish(ConnectionClosed(1000, "client closed"))
            raise
        except Exception as e:  # a bug here must not leave callers waiting forever
            log.exception("quckrt client failed")
            if self._ws is not None:
                self._ws.abort("client failure")
            self._ws = None
            self._finish(ConnectionClosed(1006, f"client failure: {e}"))

    async def _read_loop(self, ws: _websocket.WebSocket) -> ConnectionClosed:
        while True:
            try:
                message = await ws.recv()
            except ConnectionClosed as closed:
                return closed
            try:
                self._dispatch(message)
            except ProtocolError as e:
                log.warning("ignoring a message: %s", e)

    async def _reconnect_loop(self) -> Optional[_websocket.WebSocket]:
        tries = 0
        while not self._closing:
            tries += 1
            await asyncio.sleep(self._reconnect_after(tries))
            if self._closing:
                break
            try:
                return await self._open_socket()
            except HandshakeError as e:
                fixable = e.status >= 500 or (e.status == 401 and callable(self._token))
                if not fixable:
                    log.warning("reconnect refused, giving up: %s", e)
                    self._finish(e)
                    return None
                log.info("reconnect attempt %d refused: %s", tries, e)
            except (ConnectError, Timeout) as e:
                log.info("reconnect attempt %d failed: %s", tries, e)
            except Exception as e:  # e.g. the token callable failed
                log.warning("reconnect attempt %d failed: %r", tries, e)
        self._finish(ConnectionClosed(1000, "client closed"))
        return None

    async def _heartbeat_loop(self, ws: _websocket.WebSocket) -> None:
        outstanding: Optional[str] = None
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            if outstanding is not None and outstanding in self._pending:
                log.warning("heartbeat unanswered for %g s; reconnecting",
                            self._heartbeat_interval)
                self._pending.pop(outstanding, None)
                ws.abort("heartbeat timeout")
                return
            outstanding = self._next_ref()
            self._pending[outstanding] = (None, "phoenix")
            try:
                await ws.send(json.dumps([None, outstanding, "phoenix", "heartbeat", {}],
                                         separators=(",", ":")))
            except ConnectionClosed:
                return

    # ---- internals: incoming messages -----------------------------------------------------

    def _dispatch(self, message: Union[str, bytes]) -> None:
        if isinstance(message, bytes):
            log.debug("ignoring a binary message of %d bytes", len(message))
            return
        try:
            frame = json.loads(message)
        except ValueError:
            raise ProtocolError("a text message that is not JSON") from None
        if not isinstance(frame, list) or len(frame) != 5:
            raise ProtocolError("a message that is not a V2 [join_ref, ref, topic, event, "
                                "payload] array")
        join_ref, ref, topic, event, payload = frame
        if event == "phx_reply" and ref is not None:
            entry = self._pending.pop(str(ref), None)
            if entry is not None and entry[0] is not None and not entry[0].done():
                entry[0].set_result(payload if isinstance(payload, dict) else {})
            return
        ch = self._channels.get(topic)
        if event == "phx_error":
            if ch is not None and join_ref == ch.join_ref:
                reason = payload.get("reason") if isinstance(payload, dict) else None
                self._channel_errored(ch, str(reason or "error"))
                self._emit(topic, event, payload)
            return
        if event == "phx_close":
            if ch is not None and join_ref == ch.join_ref:
                self._channel_closed(ch)
                self._emit(topic, event, payload)
            return
        if ch is None or (join_ref is not None and join_ref != ch.join_ref):
            return  # not joined (any more), or for an earlier join of the topic
        self._emit(topic, event, payload)

    def _channel_errored(self, ch: _Channel, reason: str) -> None:
        log.warning("channel %s errored (%s); rejoining", ch.topic, reason)
        ch.state = "errored"
        self._fail_pending(ch.topic, ChannelError(ch.topic, reason))
        ch.notify()
        self._schedule_rejoin(ch, delay=None)

    def _channel_closed(self, ch: _Channel) -> None:
        if self._channels.get(ch.topic) is ch:
            del self._channels[ch.topic]
        self._cancel_rejoin(ch)
        ch.state = "closed"
        ch.error = ChannelError(ch.topic, "closed")
        self._fail_pending(ch.topic, ChannelError(ch.topic, "closed"))
        ch.notify()

    def _emit(self, topic: str, event: str, payload: Any) -> None:
        for cb in list(self._handlers.get(topic, {}).get(event, ())):
            self._invoke(cb, (payload,), f"callback for {event} on {topic}")

    def _invoke(self, cb: Callable[..., Any], args: Tuple[Any, ...], what: str) -> None:
        try:
            result = cb(*args)
        except Exception:
            log.exception("%s raised", what)
            return
        if inspect.isawaitable(result):
            async def run() -> None:
                try:
                    await result
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s raised", what)
            self._spawn(run())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- internals: rejoin ----------------------------------------------------------------

    def _cancel_rejoin(self, ch: _Channel) -> None:
        if ch.rejoin_task is not None and not ch.rejoin_task.done():
            ch.rejoin_task.cancel()
        ch.rejoin_task = None

    def _schedule_rejoin(self, ch: _Channel, delay: Optional[float]) -> None:
        self._cancel_rejoin(ch)
        ch.rejoin_task = asyncio.create_task(self._rejoin(ch, delay),
                                             name=f"quckrt-rejoin {ch.topic}")

    async def _rejoin(self, ch: _Channel, first_delay: Optional[float]) -> None:
        tries = 0
        while self._channels.get(ch.topic) is ch and self._ws is not None:
            delay = first_delay if (tries == 0 and first_delay is not None) \
                else self._rejoin_after(max(tries, 1))
            tries += 1
            if delay:
                await asyncio.sleep(delay)
            if self._channels.get(ch.topic) is not ch or self._ws is None:
                return
            try:
                await self._send_join(ch, self._timeout)
                return
            except JoinRefused as e:
                log.warning("rejoin refused, dropping the topic: %s", e)
                if self._channels.get(ch.topic) is ch:
                    del self._channels[ch.topic]
                ch.state = "closed"
                ch.error = e
                ch.notify()
                return
            except ConnectionClosed:
                return  # the reconnect rejoins
            except (Timeout, ChannelError) as e:
                log.info("rejoin of %s failed (%s); retrying", ch.topic, e)


class _LoopThread:
    """A private event loop on a daemon thread, for the blocking Client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stopped = False
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), name="quckrt-client",
                                       daemon=True)
        self.thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            self.stopped = True
            try:
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(
                        asyncio.gather(*pending, return_exceptions=True))
            finally:
                self.loop.close()

    def run(self, coro: Awaitable[T]) -> T:
        if threading.current_thread() is self.thread:
            if inspect.iscoroutine(coro):
                coro.close()
            raise RuntimeError(
                "a blocking quckrt.Client method was called from one of its own callbacks, "
                "which run on the client's thread and would deadlock; use push_nowait() there, "
                "or an AsyncClient")
        return self.submit(coro).result()

    def submit(self, coro: Awaitable[T]) -> "concurrent.futures.Future[T]":
        if self.stopped or self.loop.is_closed():
            if inspect.iscoroutine(coro):
                coro.close()
            raise ConnectionClosed(1000, "client closed")
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        except RuntimeError:  # the loop closed in between
            if inspect.iscoroutine(coro):
                coro.close()
            raise ConnectionClosed(1000, "client closed") from None

    def stop(self) -> None:
        if self.stopped or self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed meanwhile
            return
        if threading.current_thread() is not self.thread:
            self.thread.join(10)


def _shutdown(runner: _LoopThread, client: AsyncClient) -> None:
    """Finalizer of a blocking Client that was not closed."""
    if runner.stopped or runner.loop.is_closed():
        return
    if threading.current_thread() is not runner.thread:
        try:
            runner.submit(client.close(timeout=1.0)).result(3)
        except Exception:
            pass
    runner.stop()


class Client:
    """A blocking Phoenix V2 client for quckrt servers.

    The same client as :class:`AsyncClient` (same arguments, same behaviour: heartbeats,
    reconnect with backoff, rejoin), run on a private event-loop thread, so every method
    blocks until done and may be called from any thread.

    Callbacks registered with :meth:`on`, :meth:`on_open` and :meth:`on_close` run on the
    client's thread: keep them short, and do not call blocking methods of this client from
    them (that raises RuntimeError); use :meth:`push_nowait` or hand the work to another
    thread (e.g. through a ``queue.Queue``).

    Example::

        with quckrt.Client("ws://127.0.0.1:4000/socket", token) as client:
            inbox = queue.Queue()
            client.on("chat:42", "message:new", inbox.put)
            client.join("chat:42")
            client.push("chat:42", "message:send", {"content": "hi"})
            print(inbox.get(timeout=5))

    Args:
        url: the socket endpoint, e.g. ``ws://127.0.0.1:4000/socket``.
        token: the JWT, or a callable returning a fresh one before every connection attempt.
        heartbeat_interval: seconds between heartbeats (default 30).
        timeout: default timeout of join, push and leave, in seconds.
        reconnect: reconnect (with backoff) and rejoin after closes the client did not ask
            for.
        params, connect_timeout, reconnect_after, rejoin_after, max_message_bytes,
        fragment_bytes, ssl, headers: as for :class:`AsyncClient`.

    Raises:
        InvalidURL: at construction, for a URL that cannot be used.
    """

    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        params: Optional[Mapping[str, str]] = None,
        heartbeat_interval: float = 30.0,
        timeout: float = 10.0,
        connect_timeout: float = 10.0,
        reconnect: bool = True,
        reconnect_after: Callable[[int], float] = default_reconnect_after,
        rejoin_after: Callable[[int], float] = default_rejoin_after,
        max_message_bytes: int = 64 << 20,
        fragment_bytes: Optional[int] = None,
        ssl: Optional[_ssl.SSLContext] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        _parse_url(url)  # raise InvalidURL in the caller's thread, before any thread starts
        options = dict(params=params, heartbeat_interval=heartbeat_interval, timeout=timeout,
                       connect_timeout=connect_timeout, reconnect=reconnect,
                       reconnect_after=reconnect_after, rejoin_after=rejoin_after,
                       max_message_bytes=max_message_bytes, fragment_bytes=fragment_bytes,
                       ssl=ssl, headers=headers)
        self._runner = _LoopThread()

        async def make() -> AsyncClient:
            return AsyncClient(url, token, **options)  # type: ignore[arg-type]

        self._client = self._runner.run(make())
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, self._client)

    @property
    def async_client(self) -> AsyncClient:
        """The AsyncClient underneath (use it only from the client's thread)."""
        return self._client

    @property
    def url(self) -> str:
        return self._client.url

    @property
    def connected(self) -> bool:
        """True while a WebSocket connection is open."""
        return self._client.connected

    @property
    def closed(self) -> bool:
        """True once the client stopped for good."""
        return self._client.closed

    @property
    def close_error(self) -> Optional[Error]:
        """Why the client stopped for good (e.g. ConnectionClosed code 4001), or None."""
        return self._client.close_error

    def joined(self, topic: str) -> bool:
        """True when ``topic`` is currently joined."""
        return self._client.joined(topic)

    def connect(self) -> "Client":
        """Open the connection; see :meth:`AsyncClient.connect` for the exceptions."""
        self._runner.run(self._client.connect())
        return self

    def join(self, topic: str, params: JoinParams = None,
             timeout: Optional[float] = None) -> Payload:
        """Join ``topic``; returns the ok response. Raises JoinRefused (with the server's
        ``reason``), Timeout or ConnectionClosed."""
        return self._runner.run(self._client.join(topic, params, timeout))

    def push(self, topic: str, event: str,
             payload: Union[Mapping[str, Any], bytes, None] = None,
             timeout: Optional[float] = None) -> Payload:
        """Push and wait for the reply; returns its response. Raises ReplyError on a non-ok
        reply, Timeout, NotJoined, ChannelError or ConnectionClosed."""
        return self._runner.run(self._client.push(topic, event, payload, timeout))

    def push_nowait(self, topic: str, event: str,
                    payload: Union[Mapping[str, Any], bytes, None] = None,
                    timeout: Optional[float] = None) -> "concurrent.futures.Future[Payload]":
        """Push without waiting; returns a ``concurrent.futures.Future`` for the response.
        Safe from callbacks."""
        return self._runner.submit(self._client.push(topic, event, payload, timeout))

    def leave(self, topic: str, timeout: Optional[float] = None) -> None:
        """Leave ``topic`` (and stop rejoining it)."""
        self._runner.run(self._client.leave(topic, timeout))

    def on(self, topic: str, event: str, callback: EventCallback) -> EventCallback:
        """Call ``callback(payload)`` (on the client's thread) for every ``event`` on
        ``topic``. Returns the callback."""
        self._runner.loop.call_soon_threadsafe(self._client.on, topic, event, callback)
        return callback

    def off(self, topic: str, event: Optional[str] = None,
            callback: Optional[EventCallback] = None) -> None:
        """Remove callbacks (see :meth:`AsyncClient.off`)."""
        self._runner.loop.call_soon_threadsafe(self._client.off, topic, event, callback)

    def on_open(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` after every (re)connection, on the client's thread."""
        self._runner.loop.call_soon_threadsafe(self._client.on_open, callback)

    def on_close(self, callback: Callable[[int, str], Any]) -> None:
        """Call ``callback(code, reason)`` whenever a connection ends, on the client's
        thread."""
        self._runner.loop.call_soon_threadsafe(self._client.on_close, callback)

    def wait_closed(self, timeout: Optional[float] = None) -> Error:
        """Block until the client stopped for good; returns why (ConnectionClosed with its
        code, TokenRefused, ...). Raises Timeout after ``timeout`` seconds."""
        fut = self._runner.submit(self._client.wait_closed())
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise Timeout(f"client still open after {timeout} s") from None

    def close(self) -> None:
        """Close the connection and stop the client's thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> "Client":
        return self.connect()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("connected" if self.connected else "idle")
        return f"<quckrt.Client {self.url} {state}>"
