"""Exceptions raised by quckrt.

Every exception derives from :class:`Error`. Several also derive from the matching built-in
exception (``ValueError``, ``TimeoutError``, ``ConnectionError``) so generic handlers work.

Client side (``quckrt.Client`` / ``quckrt.AsyncClient``)::

    Error
    +-- InvalidURL (ValueError)          the URL is not ws://, wss://, http:// or https://
    +-- ConnectError (ConnectionError)   no connection: refused, unreachable, TLS, bad reply
    |   +-- HandshakeError               the server answered the upgrade with an HTTP error
    |       +-- TokenRefused             ... 401: the token is missing, invalid or expired
    +-- ConnectionClosed (ConnectionError)  the connection ended (close code and reason)
    +-- ProtocolError                    the peer broke RFC 6455 or the Phoenix V2 framing
    +-- Timeout (TimeoutError)           no reply in time
    +-- JoinRefused                      the server refused a join (``reason``, ``response``)
    +-- ReplyError                       a push got a non-"ok" reply (``status``, ``response``)
    +-- ChannelError                     the channel crashed or was closed by the server
    +-- NotJoined                        push/leave on a topic this client has not joined

Server side (``quckrt.Server`` handlers): raise :class:`JoinRefused` in ``join`` to refuse
with a reason, :class:`ReplyError` in ``handle_in`` to answer with an error reply.

Tokens: :class:`InvalidToken` (ValueError).

Failures of the C++ library map its status codes to: InvalidArgumentError (ValueError),
NotFoundError, AlreadyExistsError, PermissionDeniedError, UnauthenticatedError,
ResourceExhaustedError, FailedPreconditionError (RuntimeError), UnavailableError (OSError),
InternalError.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

__all__ = [
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


class Error(Exception):
    """Base class of every quckrt exception."""


# ---- client ---------------------------------------------------------------------------------


class InvalidURL(Error, ValueError):
    """The server URL cannot be used (scheme, host or port)."""


class ConnectError(Error, ConnectionError):
    """A connection could not be established (TCP, TLS, or an invalid upgrade answer)."""


class HandshakeError(ConnectError):
    """The server refused the WebSocket upgrade with an HTTP status.

    Attributes:
        status: the HTTP status (e.g. 403, 404, 503).
        code: the server's error code from its JSON body (e.g. ``"SERVER_FULL"``), or None.
        message: the server's error message from its JSON body, or the raw body.
    """

    def __init__(self, status: int, code: Optional[str], message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        label = f"{status} {code}" if code else str(status)
        super().__init__(f"server refused the connection: HTTP {label}: {message}")


class TokenRefused(HandshakeError):
    """The server refused the token (HTTP 401): missing, malformed, wrong key, or expired."""


class ConnectionClosed(Error, ConnectionError):
    """The WebSocket connection ended.

    Attributes:
        code: the close code (1000 normal, 1006 dropped without a close frame, 1012 server
            restarting, 4001 token expired, 4002 idle timeout, ...).
        reason: the close reason text (may be empty).
    """

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        text = f"connection closed with code {code}"
        if reason:
            text += f" ({reason})"
        super().__init__(text)


class ProtocolError(Error):
    """The peer violated RFC 6455 or sent something that is not a Phoenix V2 message."""


class Timeout(Error, TimeoutError):
    """No answer arrived in time (connect, join, push, leave)."""


def _response_of(reason_or_response: Union[str, Mapping[str, Any], None]) -> Dict[str, Any]:
    if reason_or_response is None:
        return {}
    if isinstance(reason_or_response, str):
        return {"reason": reason_or_response}
    if isinstance(reason_or_response, Mapping):
        return dict(reason_or_response)
    raise TypeError("expected a reason (str) or a response (dict)")


class JoinRefused(Error):
    """A join was refused.

    Client side, raised by ``join`` with the server's answer. Server side, raise it from a
    handler's ``join`` to refuse: ``raise JoinRefused("unauthorized")`` answers
    ``{"reason": "unauthorized"}``; ``raise JoinRefused({"reason": "full", "max": 10})``
    answers that dict.

    Attributes:
        reason: ``response["reason"]`` when it is a string, else None.
        response: the whole error response (a dict).
        topic: the topic (client side), or None.
    """

    def __init__(
        self,
        reason: Union[str, Mapping[str, Any], None] = "unauthorized",
        *,
        topic: Optional[str] = None,
    ) -> None:
        self.response = _response_of(reason)
        r = self.response.get("reason")
        self.reason: Optional[str] = r if isinstance(r, str) else None
        self.topic = topic
        where = f"join {topic} refused" if topic else "join refused"
        super().__init__(f"{where}: {self.reason if self.reason is not None else self.response}")


class ReplyError(Error):
    """A push was answered with a status other than "ok".

    Client side, raised by ``push`` with the server's answer. Server side, raise it from
    ``handle_in`` to answer with an error: ``raise ReplyError("content missing")`` replies
    ``status "error"`` with ``{"reason": "content missing"}``.

    Attributes:
        status: the reply status (usually ``"error"``).
        response: the reply's response dict.
        reason: ``response["reason"]`` when it is a string, else None.
        topic, event: what was pushed (client side), or None.
    """

    def __init__(
        self,
        reason: Union[str, Mapping[str, Any], None] = None,
        *,
        status: str = "error",
        topic: Optional[str] = None,
        event: Optional[str] = None,
    ) -> None:
        self.response = _response_of(reason)
        self.status = status
        r = self.response.get("reason")
        self.reason: Optional[str] = r if isinstance(r, str) else None
        self.topic = topic
        self.event = event
        where = f"push {event} on {topic}" if topic else "reply"
        detail = self.reason if self.reason is not None else self.response
        super().__init__(f"{where}: {status}: {detail}")


class ChannelError(Error):
    """The server ended the channel while this call waited (``reason``: ``"channel_crash"``
    for a crashed handler, ``"closed"`` for phx_close, ``"left"`` after leave)."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"channel {topic}: {reason}")


class NotJoined(Error):
    """The topic is not joined on this client (join it first)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(f"topic {topic!r} is not joined on this client")


# ---- tokens -----------------------------------------------------------------------------------


class InvalidToken(Error, ValueError):
    """A token failed verification; the message names the failed check."""


# ---- C++ library status codes -------------------------------------------------------------------


class InvalidArgumentError(Error, ValueError):
    """The input is wrong; the same call will fail again."""

    code = "invalid_argument"


class NotFoundError(Error):
    code = "not_found"


class AlreadyExistsError(Error):
    code = "already_exists"


class PermissionDeniedError(Error):
    code = "permission_denied"


class UnauthenticatedError(Error):
    code = "unauthenticated"


class ResourceExhaustedError(Error):
    code = "resource_exhausted"


class FailedPreconditionError(Error, RuntimeError):
    """The system is not in a state for this call (e.g. the server is not running)."""

    code = "failed_precondition"


class UnavailableError(Error, OSError):
    """A transient failure, e.g. the address is already in use."""

    code = "unavailable"


class InternalError(Error):
    code = "internal"


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        UnauthenticatedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        UnavailableError,
        InternalError,
    )
}


def _from_status(code: str, message: str) -> Error:
    """The exception for a C++ Status (used by the extension)."""
    cls = _BY_CODE.get(code, InternalError)
    exc = cls(message)
    exc.code = code
    return exc
