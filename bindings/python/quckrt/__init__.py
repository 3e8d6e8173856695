"""quckrt: embed the quckrt realtime server in Python, and talk to any quckrt server.

quckrt speaks Phoenix Channels V2 over WebSocket, so the official phoenix.js client works
against it unmodified.

* :class:`Server` runs the C++ engine in-process on background loop threads; register
  Python channel handlers with :meth:`Server.channel` and broadcast from anywhere.
* :class:`Client` (blocking) and :class:`AsyncClient` (asyncio) speak the same wire, using
  the standard library only: join, push with reply, event callbacks, leave, heartbeats,
  reconnect with backoff and rejoin.
* :mod:`quckrt.tokens` issues and verifies the HS256 JWTs the server accepts.

Exceptions live in :mod:`quckrt.errors` and are re-exported here (``quckrt.JoinRefused``,
``quckrt.Timeout``, ...).

Example::

    import quckrt

    with quckrt.Server(jwt_secret="dev-secret") as server:       # port 0: a free port
        token = server.issue_token("alice")
        with quckrt.Client(server.url, token) as client:
            client.join("chat:42")
            print(client.push("chat:42", "message:send", {"content": "hi"}))
"""

from . import errors, tokens
from .client import AsyncClient, Client, default_reconnect_after, default_rejoin_after
from .errors import (
    AlreadyExistsError,
    ChannelError,
    ConnectError,
    ConnectionClosed,
    Error,
    FailedPreconditionError,
    HandshakeError,
    InternalError,
    InvalidArgumentError,
    InvalidToken,
    InvalidURL,
    JoinRefused,
    NotFoundError,
    NotJoined,
    PermissionDeniedError,
    ProtocolError,
    ReplyError,
    ResourceExhaustedError,
    Timeout,
    TokenRefused,
    UnauthenticatedError,
    UnavailableError,
)
from .server import Channel, Reply, Responder, Server, Socket

__version__ = "0.1.0"

__all__ = [
    "Server",
    "Channel",
    "Reply",
    "Socket",
    "Responder",
    "Client",
    "AsyncClient",
    "default_reconnect_after",
    "default_rejoin_after",
    "tokens",
    "errors",
    "Error",
    "InvalidURL",
    "ConnectError",
    "HandshakeError",
    "TokenRefused",
    "ConnectionClosed",
    "ProtocolError",
    "Timeout",
    "JoinRefused",
    "ReplyError",
    "ChannelError",
    "NotJoined",
    "InvalidToken",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "UnavailableError",
    "InternalError",
]
