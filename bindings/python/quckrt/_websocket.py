"""The client side of RFC 6455 (WebSocket) over asyncio streams, standard library only.

Covers what a Phoenix client needs: the opening handshake (with ``Sec-WebSocket-Accept``
check), masked client frames, optional fragmentation of outgoing messages, reassembly of
fragmented incoming messages (bounded), ping/pong, and the closing handshake. No extensions
(permessage-deflate) are negotiated, so any reserved bit set by the server is an error.

One task must keep calling :meth:`WebSocket.recv` while the socket is open: it answers pings,
resolves pongs and completes the closing handshake.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import ssl as _ssl
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .errors import ConnectError, ConnectionClosed, HandshakeError, Timeout, TokenRefused

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_HEAD_BYTES = 64 * 1024
_MAX_REFUSAL_BODY = 64 * 1024


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def mask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the 4-byte masking ``key`` (RFC 6455 §5.3), in one big-int pass."""
    n = len(data)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little")


def encode_frame(opcode: int, payload: bytes, fin: bool = True,
                 key: Optional[bytes] = None) -> bytes:
    """One masked client frame."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4) if key is None else key
    return head + key + mask(payload, key)


def _valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) \
        or 3000 <= code <= 4999


class _Failure(Exception):
    """Internal: the peer broke the protocol; fail the connection with this close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WebSocket:
    """An open client WebSocket. Create it with :func:`connect`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 max_message_bytes: int, fragment_bytes: Optional[int],
                 subprotocol: Optional[str] = None) -> None:
        self._reader = reader
        self._writer = writer
        self._max = max_message_bytes
        self._fragment = fragment_bytes
        self.subprotocol = subprotocol
        self._close_sent = False
        self._closed: Optional[ConnectionClosed] = None
        self._done = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self._pings: List[Tuple[bytes, "asyncio.Future[None]"]] = []

    # ---- state ------------------------------------------------------------------------------

    @property
    def closed(self) -> Optional[ConnectionClosed]:
        """None while open; afterwards the close code and reason."""
        return self._closed

    async def wait_closed(self) -> ConnectionClosed:
        await self._done.wait()
        assert self._closed is not None
        return self._closed

    def _finish(self, code: int, reason: str) -> ConnectionClosed:
        if self._closed is None:
            self._closed = ConnectionClosed(code, reason)
            for _, fut in self._pings:
                if not fut.done():
                    fut.set_exception(ConnectionClosed(code, reason))
            self._pings.clear()
            self._done.set()
        try:
            self._writer.close()
        except Exception:  # pragma: no cover - transport already gone
            pass
        return self._closed

    def abort(self, reason: str = "connection aborted") -> None:
        """Drop the TCP connection without a closing handshake (close code 1006 locally)."""
        transport = self._writer.transport
        if transport is not None:
            transport.abort()
        self._finish(1006, reason)

    # ---- receiving --------------------------------------------------------------------------

    async def recv(self) -> Union[str, bytes]:
        """The next complete message: ``str`` for text, ``bytes`` for binary.

        Raises:
            ConnectionClosed: the connection ended (by either side, or by a protocol error,
                in which case the code is the one this client sent: 1002, 1007 or 1009).
        """
        if self._closed is not None:
            raise ConnectionClosed(self._closed.code, self._closed.reason)
        try:
            return await self._recv_message()
        except ConnectionClosed:
            raise
        except _Failure as f:
            await self._fail(f.code, f.reason)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.abort("connection lost")
        assert self._closed is not None
        raise ConnectionClosed(self._closed.code, self._closed.reason)

    async def _recv_message(self) -> Union[str, bytes]:
        buf: Optional[bytearray] = None
        opcode = OP_TEXT
        while True:
            fin, op, payload = await self._read_frame()
            if op >= 0x8:
                await self._control(op, payload)
                continue
            if op == OP_CONT:
                if buf is None:
                    raise _Failure(1002, "continuation frame without a message")
            elif op in (OP_TEXT, OP_BINARY):
                if buf is not None:
                    raise _Failure(1002, "new message before the fragmented one ended")
                buf = bytearray()
                opcode = op
            else:
                raise _Failure(1002, f"unknown opcode {op}")
            if len(buf) + len(payload) > self._max:
                raise _Failure(1009, "message too big")
            buf += payload
            if fin:
                if opcode == OP_BINARY:
                    return bytes(buf)
                try:
                    return buf.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Failure(1007, "text message is not valid UTF-8") from None

    async def _read_frame(self) -> Tuple[bool, int, bytes]:
        b0, b1 = await self._reader.readexactly(2)
        if b0 & 0x70:
            raise _Failure(1002, "reserved bits set without a negotiated extension")
        fin, op = bool(b0 & 0x80), b0 & 0x0F
        if b1 & 0x80:
            raise _Failure(1002, "server frames must not be masked")
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self._reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self._reader.readexactly(8), "big")
            if n >> 63:
                raise _Failure(1002, "invalid frame length")
        if op >= 0x8 and (n > 125 or not fin):
            raise _Failure(1002, "control frames must be unfragmented and at most 125 bytes")
        if n > self._max:
            raise _Failure(1009, "message too big")
        payload = await self._reader.readexactly(n) if n else b""
        return fin, op, payload

    async def _control(self, op: int, payload: bytes) -> None:
        if op == OP_PING:
            if not self._close_sent:
                await self._write(encode_frame(OP_PONG, payload))
        elif op == OP_PONG:
            for i, (data, fut) in enumerate(self._pings):
                if data == payload:
                    del self._pings[i]
                    if not fut.done():
                        fut.set_result(None)
                    break
        elif op == OP_CLOSE:
            code, reason = 1005, ""
            if len(payload) == 1:
                raise _Failure(1002, "close frame with a 1-byte payload")
            if len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
                if not _valid_close_code(code):
                    raise _Failure(1002, f"invalid close code {code}")
                try:
                    reason = payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise _Failure(1007, "close reason is not valid UTF-8") from None
            if not self._close_sent:
                # Echo the code, as RFC 6455 §5.5.1 suggests; the server then closes TCP.
                self._close_sent = True
                echo = code.to_bytes(2, "big") if code != 1005 else b""
                try:
                    await self._write(encode_frame(OP_CLOSE, echo))
                except ConnectionClosed:
                    pass
            closed = self._finish(code, reason)
            raise ConnectionClosed(closed.code, closed.reason)
        else:
            raise _Failure(1002, f"unknown control opcode {op}")

    async def _fail(self, code: int, reason: str) -> None:
        if not self._close_sent and self._closed is None:
            self._close_sent = True
            data = code.to_bytes(2, "big") + reason.encode("utf-8")[:120]
            try:
                await asyncio.wait_for(self._write(encode_frame(OP_CLOSE, data)), 1.0)
            except (asyncio.TimeoutError, ConnectionClosed, OSError):
                pass
        self._finish(code, reason)

    # ---- sending ----------------------------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if self._closed is not None:
            raise ConnectionClosed(self._closed.code, self._closed.reason)
        try:
            self._writer.write(data)
            async with self._drain_lock:
                await self._writer.drain()
        except (ConnectionError, OSError):
            self.abort("connection lost")
            raise ConnectionClosed(1006, "connection lost") from None

    async def send(self, message: Union[str, bytes]) -> None:
        """Send one message (``str`` as text, ``bytes`` as binary), fragmented when it is
        longer than ``fragment_bytes``. Raises ConnectionClosed once closing began."""
        if self._close_sent and self._closed is None:
            raise ConnectionClosed(1000, "closing")
        if isinstance(message, str):
            opcode, payload = OP_TEXT, message.encode("utf-8")
        else:
            opcode, payload = OP_BINARY, bytes(message)
        size = self._fragment
        if not size or len(payload) <= size:
            frames = encode_frame(opcode, payload)
        else:
            parts = [payload[i:i + size] for i in range(0, len(payload), size)]
            frames = b"".join(
                encode_frame(opcode if i == 0 else OP_CONT, part, fin=(i == len(parts) - 1))
                for i, part in enumerate(parts))
        # One write() per message: frames of two messages never interleave.
        await self._write(frames)

    async def ping(self, data: bytes = b"", timeout: float = 10.0) -> float:
        """Send a ping and wait for its pong; returns the round trip in seconds."""
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()
        data = data or os.urandom(4)
        self._pings.append((data, fut))
        start = loop.time()
        await self._write(encode_frame(OP_PING, data))
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise Timeout(f"no pong within {timeout} s") from None
        return loop.time() - start

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> None:
        """Start the closing handshake and wait (up to ``timeout``) for it to finish; the
        task calling recv() completes it. The TCP connection is dropped afterwards either way.
        """
        if self._closed is not None:
            return
        if not self._close_sent:
            self._close_sent = True
            data = code.to_bytes(2, "big") + reason.encode("utf-8")[:123]
            try:
                await self._write(encode_frame(OP_CLOSE, data))
            except ConnectionClosed:
                return
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except asyncio.TimeoutError:
            self.abort("close handshake timed out")


# ---- opening handshake ------------------------------------------------------------------------


def _refusal(status: int, reason_phrase: str, body: bytes) -> HandshakeError:
    code: Optional[str] = None
    message = reason_phrase or "upgrade refused"
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        if isinstance(err.get("message"), str):
            message = err["message"]
    elif text:
        message = text[:300]
    cls = TokenRefused if status == 401 else HandshakeError
    return cls(status, code, message)


async def _read_body(reader: asyncio.StreamReader, headers: Dict[str, str]) -> bytes:
    length = headers.get("content-length")
    try:
        if length is not None and length.strip().isdigit():
            return await reader.readexactly(min(int(length), _MAX_REFUSAL_BODY))
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while len(body) < _MAX_REFUSAL_BODY:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                body += await reader.readexactly(size)
                await reader.readline()
            return bytes(body)
        return await reader.read(_MAX_REFUSAL_BODY)
    except (asyncio.IncompleteReadError, ValueError, OSError):
        return b""


async def connect(
    host: str,
    port: int,
    resource: str,
    *,
    secure: bool = False,
    ssl_context: Optional[_ssl.SSLContext] = None,
    headers: Iterable[Tuple[str, str]] = (),
    timeout: float = 10.0,
    max_message_bytes: int = 64 << 20,
    fragment_bytes: Optional[int] = None,
) -> WebSocket:
    """Open a WebSocket to ``host:port`` for ``resource`` (path and query).

    Raises:
        ConnectError: TCP/TLS failure or an answer that is not a valid upgrade.
        HandshakeError / TokenRefused: the server answered with an HTTP error status; its
            JSON body ``{"error": {"code", "message"}}`` fills ``code`` and ``message``.
        Timeout: no complete answer within ``timeout`` seconds.
    """
    ctx = None
    if secure:
        ctx = ssl_context or _ssl.create_default_context()
    where = f"{host}:{port}"
    try:
        return await asyncio.wait_for(
            _connect(host, port, resource, ctx, list(headers), max_message_bytes,
                     fragment_bytes), timeout)
    except asyncio.TimeoutError as e:
        if isinstance(e, Timeout):
            raise
        raise Timeout(f"connecting to {where} timed out after {timeout} s") from None
    except _ssl.SSLError as e:
        raise ConnectError(f"TLS handshake with {where} failed: {e}") from e
    except OSError as e:
        if isinstance(e, ConnectError):
            raise
        detail = e.strerror or str(e) or type(e).__name__
        raise ConnectError(f"cannot connect to {where}: {detail}") from e


async def _connect(host: str, port: int, resource: str, ctx: Optional[_ssl.SSLContext],
                   headers: List[Tuple[str, str]], max_message_bytes: int,
                   fragment_bytes: Optional[int]) -> WebSocket:
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=host if ctx else None, limit=_MAX_HEAD_BYTES)
    ok = False
    try:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        host_header = f"[{host}]" if ":" in host else host
        default_port = 443 if ctx else 80
        if port != default_port:
            host_header += f":{port}"
        lines = [
            f"GET {resource} HTTP/1.1",
            f"Host: {host_header}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            raise ConnectError(f"{host}:{port} closed the connection during the WebSocket "
                               "handshake") from None
        except asyncio.LimitOverrunError:
            raise ConnectError(f"{host}:{port} sent an oversized HTTP response head") from None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ConnectError(f"{host}:{port} did not answer with HTTP: {status_line[:80]!r}")
        status = int(parts[1])
        fields: Dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                fields[name] = (fields[name] + ", " if name in fields else "") + value.strip()
        if status != 101:
            body = await _read_body(reader, fields)
            raise _refusal(status, parts[2] if len(parts) > 2 else "", body)
        if fields.get("upgrade", "").lower() != "websocket" or "upgrade" not in [
                t.strip().lower() for t in fields.get("connection", "").split(",")]:
            raise ConnectError("invalid WebSocket handshake: missing Upgrade/Connection")
        if fields.get("sec-websocket-accept") != accept_key(key):
            raise ConnectError("invalid WebSocket handshake: wrong Sec-WebSocket-Accept")
        if fields.get("sec-websocket-extensions"):
            raise ConnectError("server negotiated an extension this client did not offer")
        ws = WebSocket(reader, writer, max_message_bytes=max_message_bytes,
                       fragment_bytes=fragment_bytes,
                       subprotocol=fields.get("sec-websocket-protocol"))
        ok = True
        return ws
    finally:
        if not ok:
            writer.close()
