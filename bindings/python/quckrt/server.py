"""The embedded quckrt server: run the realtime engine inside a Python process.

Example::

    import quckrt

    class Room(quckrt.Channel):
        def join(self, topic, params, socket):
            if topic == "room:secret":
                raise quckrt.JoinRefused("unauthorized")
            return {"welcome": socket.user_id}

        def handle_in(self, event, payload, socket):
            if event == "shout":
                socket.broadcast("shout", payload)
                return {}                        # reply ok {}
            raise quckrt.ReplyError("unknown event")

    with quckrt.Server(port=4000, jwt_secret="dev-secret") as server:
        server.channel("room:*", Room)          # before start(); `with` starts it
        ...

Handlers run on the server's loop threads, one callback at a time per connection, with the
GIL held; everything else (accepting, parsing, fan-out, writes) runs in C++ without the GIL.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import threading
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from . import _quckrt
from . import tokens as _tokens
from .errors import JoinRefused, ReplyError, _from_status

__all__ = ["Server", "Channel", "Reply", "Socket", "Responder"]

Socket = _quckrt.Socket
Responder = _quckrt.Responder

log = logging.getLogger("quckrt")

Payload = Dict[str, Any]
H = TypeVar("H")


class Reply:
    """What ``handle_in`` returns when a plain dict (= ``Reply.ok(dict)``) is not enough.

    ``Reply.ok(response)``         reply status "ok" (the same as returning the dict)
    ``Reply.error(reason)``        reply status "error" with ``{"reason": reason}`` (or a dict)
    ``Reply.with_status(s, r)``    any other status, e.g. ``"queued"``
    ``Reply.none()``               no reply now: answer later with ``socket.responder()``
    ``Reply.stop()``               reply ok, then end the channel (the client gets phx_close)
    """

    def __init__(self, kind: str, status: str, response: Payload) -> None:
        self.kind = kind
        self.status = status
        self.response = response

    @classmethod
    def ok(cls, response: Optional[Mapping[str, Any]] = None) -> "Reply":
        return cls("reply", "ok", dict(response or {}))

    @classmethod
    def error(cls, reason: Union[str, Mapping[str, Any]]) -> "Reply":
        if isinstance(reason, str):
            return cls("reply", "error", {"reason": reason})
        return cls("reply", "error", dict(reason))

    @classmethod
    def with_status(cls, status: str, response: Optional[Mapping[str, Any]] = None) -> "Reply":
        return cls("reply", status, dict(response or {}))

    @classmethod
    def none(cls) -> "Reply":
        return cls("none", "", {})

    @classmethod
    def stop(cls) -> "Reply":
        return cls("stop", "ok", {})

    def __repr__(self) -> str:
        if self.kind != "reply":
            return f"Reply.{self.kind}()"
        return f"Reply.with_status({self.status!r}, {self.response!r})"


HandleInResult = Union[None, Mapping[str, Any], Reply]


class Channel:
    """Optional base class for channel handlers (any class with these methods works).

    One handler object is created per successful join of a matching topic on one
    connection and lives until the client leaves, disconnects, joins the topic again, or
    ``handle_in`` returns ``Reply.stop()``. Its methods run on a server loop thread; they
    must not block (keep a ``socket.responder()`` for slow work).

    Errors: raise ``quckrt.JoinRefused(reason)`` in ``join`` to refuse (the client gets
    ``{"reason": reason}``) and ``quckrt.ReplyError(reason)`` in ``handle_in`` for an error
    reply. Any other exception is logged (logger ``quckrt``, with traceback), passed to the
    server's ``on_error``, and answered for the client: ``join`` → error
    ``{"reason": "join crashed"}``; ``handle_in`` → error ``{"reason": "handler_error"}``,
    the channel stays joined. The server and the connection keep running.
    """

    def join(self, topic: str, params: Payload, socket: "Socket") -> Optional[Payload]:
        """Authorize the join. Return the ok response (a dict, or None for ``{}``)."""
        return None

    def after_join(self, socket: "Socket") -> None:
        """Called after the ok reply went out: push initial state here."""

    def handle_in(self, event: str, payload: Any, socket: "Socket") -> HandleInResult:
        """Answer a client push. ``payload`` is a dict (bytes for a binary push).

        Return a dict (reply ok with it), None (reply ok ``{}``) or a :class:`Reply`.
        """
        raise ReplyError("unknown event")

    def terminate(self, reason: str) -> None:
        """The channel ended: ``"left"``, ``"duplicate_join"``, ``"closed"``, ``"stopped"``
        or ``"shutdown"``."""


class _ErrorSink:
    """Reports handler failures: log with traceback, then the user's on_error."""

    __slots__ = ("on_error",)

    def __init__(self, on_error: Optional[Callable[[BaseException], Any]]) -> None:
        self.on_error = on_error

    def report(self, where: str, exc: BaseException) -> None:
        log.error("%s raised %s", where, type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
        self.call(exc)

    def status(self, code: str, message: str) -> None:
        self.call(_from_status(code, message))

    def call(self, exc: BaseException) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(exc)
        except Exception:
            log.exception("quckrt.Server on_error callback raised")


class _Adapter:
    """Glue between one C++ channel and one Python handler object. Called by the extension
    with the GIL held; its methods never raise and return plain tuples."""

    __slots__ = ("_factory", "_errors", "_handler", "_where")

    def __init__(self, factory: Callable[[], Any], errors: _ErrorSink) -> None:
        self._factory = factory
        self._errors = errors
        self._handler: Any = None
        self._where = "channel"

    def report(self, where: str, exc: BaseException) -> None:
        self._errors.report(f"{where} on {self._where}", exc)

    def join(self, topic: str, params: Any, socket: Socket) -> Tuple[bool, Payload]:
        self._where = topic
        try:
            self._handler = self._factory()
            result = self._handler.join(topic, params, socket)
            if inspect.isawaitable(result):
                raise TypeError("join returned an awaitable; handlers must be synchronous")
        except JoinRefused as e:
            return False, e.response
        except Exception as e:
            self.report("join", e)
            return False, {"reason": "join crashed"}
        if result is None:
            return True, {}
        if isinstance(result, Mapping):
            return True, dict(result)
        self.report("join", TypeError(f"join must return a dict or None, not "
                                      f"{type(result).__name__}"))
        return False, {"reason": "join crashed"}

    def after_join(self, socket: Socket) -> None:
        fn = getattr(self._handler, "after_join", None)
        if fn is None:
            return
        try:
            fn(socket)
        except Exception as e:
            self.report("after_join", e)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Tuple[str, str, Any]:
        fn = getattr(self._handler, "handle_in", None)
        if fn is None:
            return "reply", "error", {"reason": "unknown event"}
        try:
            result = fn(event, payload, socket)
            if inspect.isawaitable(result):
                if hasattr(result, "close"):
                    result.close()
                raise TypeError("handle_in returned an awaitable; handlers run on the server "
                                "loop and must be synchronous (use socket.responder() and "
                                "Reply.none() for slow work)")
        except ReplyError as e:
            return "reply", e.status, e.response
        except Exception as e:
            self.report(f"handle_in {event!r}", e)
            return "reply", "error", {"reason": "handler_error"}
        if result is None:
            return "reply", "ok", {}
        if isinstance(result, Reply):
            return result.kind, result.status, result.response
        if isinstance(result, Mapping):
            return "reply", "ok", dict(result)
        self.report(f"handle_in {event!r}",
                    TypeError(f"handle_in must return a dict, None or quckrt.Reply, not "
                              f"{type(result).__name__}"))
        return "reply", "error", {"reason": "handler_error"}

    def terminate(self, reason: str, socket: Socket) -> None:
        fn = getattr(self._handler, "terminate", None)
        if fn is None:
            return
        try:
            fn(reason)
        except Exception as e:
            self.report("terminate", e)


_live_servers: "weakref.WeakSet[Server]" = weakref.WeakSet()


@atexit.register
def _stop_all_servers() -> None:
    # Loop threads need the GIL to finish Python callbacks; they cannot get it once the
    # interpreter is finalizing, so every server is stopped while it still can.
    for server in list(_live_servers):
        try:
            server.stop()
        except Exception:
            log.exception("stopping a quckrt.Server at exit failed")


class Server:
    """An embedded quckrt server (Phoenix Channels V2 over WebSocket).

    Clients connect to ``ws://HOST:PORT/socket/websocket?vsn=2.0.0&token=JWT`` (phoenix.js:
    ``new Socket(server.url, {params: {token}})``; Python: ``quckrt.Client(server.url,
    token)``). Tokens are HS256 JWTs signed with ``jwt_secret`` (see :mod:`quckrt.tokens`
    and :meth:`issue_token`).

    Options are those of ``quckrt-server`` (flag names with ``_``):

    Args:
        host: address to listen on.
        port: port to listen on; 0 picks a free one (read it back from :attr:`port`).
        jwt_secret: HS256 secret that signs client tokens (required).
        loops: event-loop threads; 0 = one per core.
        max_connections: connections before new upgrades get 503 SERVER_FULL.
        max_channels: channels one connection may join.
        max_frame_bytes: largest incoming message; larger closes with 1009.
        max_queued_bytes: output buffered per connection before it is closed as too slow.
        rx_buffer_bytes: receive buffer per connection.
        idle_timeout_ms: close a connection that sends nothing for this long (code 4002).
        drain_timeout_ms: on stop(), how long clients get to take their close frames.
        presence_broadcast_ms: window over which presence changes of a topic merge into one
            ``presence_diff``.
        admin_token: bearer token for the HTTP API (``/api/...``); empty: user JWTs may
            only read.
        allowed_origins: Origin values allowed to connect; empty = any.
        socket_path: mount point; clients connect to ``socket_path + "/websocket"``.
        builtin_chat: serve the built-in ``chat:*`` channel (message:send, typing).
        storage: chat persistence, ``"sqlite:PATH"`` (``"sqlite::memory:"`` for a throwaway
            database); empty: ``chat:*`` only relays. With storage, ``chat:{id}`` needs
            membership (HTTP admin API with ``admin_token``) and ``user:{id}`` delivers
            store-and-forward entries (docs/chat.md).
        queue_ttl_s: how long store-and-forward entries wait for their recipient.
        send_rate: message:send per user per second (burst 3x); 0 = unlimited.
        resume_max_events, resume_max_age_s: the window a rejoin of ``chat:{id}`` with
            ``{"last_seq": N}`` replays from (events, seconds; 0 s = no age limit).
        replay_page: events per page of such a replay (1..500).
        builtin_calls: serve ``webrtc:{user_id}`` (1:1 calls, docs/calls.md).
        call_ring_timeout_s: an unanswered call becomes ``call:missed`` after this.
        call_grace_s: how long a party that lost its connection has to come back.
        stun_server_url, turn_server_url, turn_username, turn_credential: the ICE servers
            handed to clients (comma-separated URL lists; the credential is never logged).
        builtin_huddles: serve ``huddle:lobby`` and ``huddle:{id}`` (docs/huddles.md).
        huddle_max_participants: users in one huddle; the next join is refused.
        huddle_grace_s: how long a huddle participant whose connection dropped keeps their
            place (shown ``connected: false``) before leaving; 0 = leaves at once.
        log_level: the C++ library's log level (trace, debug, info, warn, error, off). It is
            process-wide and applied on start().
        on_error: called with an exception for every failure off the caller's path: a
            handler that raised (the exception itself) or a library error (a
            :class:`quckrt.Error` subclass). Runs on a loop thread; must not block.

    Raises:
        quckrt.InvalidArgumentError: an option is out of range or the secret is missing.

    Threads: ``channel()`` before ``start()``; ``broadcast``, ``stop``, ``port``,
    ``connection_count`` from any thread. ``stop()`` waits for the loops with the GIL
    released; called from a handler it only begins the drain.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        jwt_secret: Optional[str] = None,
        *,
        loops: int = 1,
        max_connections: int = 10000,
        max_channels: int = 100,
        max_frame_bytes: int = 1 << 20,
        max_queued_bytes: int = 4 << 20,
        rx_buffer_bytes: int = 1024,
        idle_timeout_ms: int = 60000,
        drain_timeout_ms: int = 5000,
        presence_broadcast_ms: int = 50,
        admin_token: str = "",
        allowed_origins: Iterable[str] = (),
        socket_path: str = "/socket",
        builtin_chat: bool = True,
        storage: str = "",
        queue_ttl_s: int = 7 * 24 * 3600,
        send_rate: float = 10,
        resume_max_events: int = 10000,
        resume_max_age_s: int = 7 * 24 * 3600,
        replay_page: int = 200,
        builtin_calls: bool = True,
        call_ring_timeout_s: float = 60,
        call_grace_s: float = 10,
        stun_server_url: str = "",
        turn_server_url: str = "",
        turn_username: str = "",
        turn_credential: str = "",
        builtin_huddles: bool = True,
        huddle_max_participants: int = 50,
        huddle_grace_s: float = 10,
        log_level: str = "warn",
        on_error: Optional[Callable[[BaseException], Any]] = None,
    ) -> None:
        self._host = host
        self._secret = jwt_secret or ""
        self._socket_path = socket_path
        self._errors = _ErrorSink(on_error)
        self._stopped = threading.Event()
        self._stopped.set()
        self._native = _quckrt._Server(
            host=host,
            port=port,
            jwt_secret=self._secret,
            loops=loops,
            max_connections=max_connections,
            max_channels_per_socket=max_channels,
            max_frame_bytes=max_frame_bytes,
            max_queued_bytes=max_queued_bytes,
            rx_buffer_bytes=rx_buffer_bytes,
            idle_timeout_ms=idle_timeout_ms,
            drain_timeout_ms=drain_timeout_ms,
            presence_broadcast_ms=presence_broadcast_ms,
            admin_token=admin_token,
            allowed_origins=list(allowed_origins),
            socket_path=socket_path,
            builtin_chat=builtin_chat,
            storage=storage,
            queue_ttl_s=queue_ttl_s,
            send_rate=send_rate,
            resume_max_events=resume_max_events,
            resume_max_age_s=resume_max_age_s,
            replay_page=replay_page,
            builtin_calls=builtin_calls,
            call_ring_timeout_s=call_ring_timeout_s,
            call_grace_s=call_grace_s,
            stun_server_url=stun_server_url,
            turn_server_url=turn_server_url,
            turn_username=turn_username,
            turn_credential=turn_credential,
            builtin_huddles=builtin_huddles,
            huddle_max_participants=huddle_max_participants,
            huddle_grace_s=huddle_grace_s,
            log_level=log_level,
            on_error=self._errors.status,
        )
        _live_servers.add(self)

    # ---- setup --------------------------------------------------------------------------

    def channel(self, pattern: str, handler: Optional[Callable[[], Any]] = None) -> Any:
        """Route joins of topics matching ``pattern`` to new ``handler()`` objects.

        ``pattern`` is an exact topic (``"lobby"``) or a prefix ending in ``*``
        (``"room:*"``); the first matching registration wins, and built-in channels come
        after. ``handler`` is a class (or any factory) whose objects have
        ``join(topic, params, socket)`` and ``handle_in(event, payload, socket)``, and
        optionally ``after_join(socket)`` and ``terminate(reason)`` (see
        :class:`Channel`). Call before :meth:`start`. Usable as a decorator::

            @server.channel("room:*")
            class Room(quckrt.Channel): ...
        """
        if handler is None:
            def register(h: H) -> H:
                self.channel(pattern, h)  # type: ignore[arg-type]
                return h
            return register
        if not callable(handler):
            raise TypeError("handler must be a class or a factory that returns a handler "
                            "object (one object per join)")
        self._native.add_channel(pattern, functools.partial(_Adapter, handler, self._errors))
        return handler

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> "Server":
        """Bind and start the loops; returns once listening.

        Raises:
            quckrt.UnavailableError: the address cannot be bound (e.g. port in use).
            quckrt.FailedPreconditionError: already running.
        """
        self._native.start()
        self._stopped.clear()
        return self

    def stop(self) -> None:
        """Close every connection with code 1012 (clients reconnect), flush queued output for
        up to ``drain_timeout_ms``, end the loops. Idempotent. The server can be started
        again afterwards (with a fresh state)."""
        self._native.stop()
        self._stopped.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until :meth:`stop` (from another thread or a signal handler); returns False
        on timeout."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> "Server":
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- running server -----------------------------------------------------------------

    def broadcast(self, topic: str, event: str,
                  payload: Optional[Mapping[str, Any]] = None) -> None:
        """Send ``event`` with ``payload`` (a dict) to every subscriber of ``topic``. The
        payload is encoded once; any thread.

        Raises:
            quckrt.FailedPreconditionError: the server is not running.
            TypeError: the payload is not a dict of JSON values.
        """
        self._native.broadcast(topic, event, payload)

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return bool(self._native.running)

    @property
    def port(self) -> int:
        """The bound port (the configured one before start; the last one after stop)."""
        return int(self._native.port)

    @property
    def host(self) -> str:
        return self._host

    @property
    def connection_count(self) -> int:
        """WebSocket connections currently open."""
        return int(self._native.connection_count)

    def presence_list(self, topic: str) -> Dict[str, Any]:
        """Who is present in ``topic``: ``{user_id: {"metas": [{"phx_ref": ..., ...}]}}``,
        exactly what a joining phoenix.js client gets as ``presence_state``.

        Raises:
            quckrt.FailedPreconditionError: the server is not running.
        """
        return dict(self._native.presence_list(topic))

    def presence_user(self, user_id: str) -> Dict[str, Any]:
        """One user across every topic: ``{"user_id", "online", "metas": [{"topic", ...}],
        "last_seen_ms"}`` (``last_seen_ms`` is None while online or if never seen)."""
        return dict(self._native.presence_user(user_id))

    def is_online(self, user_id: str) -> bool:
        """Whether the user has at least one presence entry on this server."""
        return bool(self._native.presence_is_online(user_id))

    def online_users(self, offset: int = 0, limit: int = 100) -> Tuple[List[str], int]:
        """One page of online user ids, sorted, and the total number online."""
        users, total = self._native.presence_online_users(offset, limit)
        return list(users), int(total)

    @property
    def url(self) -> str:
        """The endpoint for clients, e.g. ``ws://127.0.0.1:4000/socket`` (phoenix.js and
        quckrt.Client append ``/websocket``)."""
        host = self._host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}{self._socket_path}"

    def issue_token(self, sub: str, ttl: Optional[float] = 3600, **claims: Any) -> str:
        """A token for user ``sub`` signed with this server's secret
        (:func:`quckrt.tokens.issue`)."""
        return _tokens.issue(self._secret, sub, ttl=ttl, **claims)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<quckrt.Server {self.url} {state}>"

