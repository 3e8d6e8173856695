"""The RFC 6455 client layer (quckrt._websocket) and client behaviour against a scripted
fake server: fragmentation, ping/pong, masking, closing handshake, protocol failures,
heartbeat timeout, phx_error rejoin."""

import asyncio
import json
import os

import pytest

import quckrt
from quckrt import _websocket as ws
from conftest import WAIT


class FakePeer:
    """The server side of one accepted connection, speaking raw frames."""

    def __init__(self, reader, writer, request):
        self.reader, self.writer, self.request = reader, writer, request

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, masked=False):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | rsv | opcode])
        mbit = 0x80 if masked else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([mbit | 127]) + n.to_bytes(8, "big")
        if masked:
            key = os.urandom(4)
            head += key
            payload = ws.mask(payload, key)
        self.writer.write(head + payload)

    def send_text(self, text):
        self.send_frame(ws.OP_TEXT, text.encode())

    async def read_frame(self):
        """(fin, opcode, payload, was_masked) of the next client frame."""
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), WAIT)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        masked = bool(b1 & 0x80)
        key = await self.reader.readexactly(4) if masked else b""
        payload = await self.reader.readexactly(n)
        return bool(b0 & 0x80), b0 & 0x0F, ws.mask(payload, key) if masked else payload, masked

    async def read_message(self):
        """The next client data message (reassembled), answering nothing."""
        data, op = b"", None
        while True:
            fin, opcode, payload, _ = await self.read_frame()
            if opcode >= 8:
                continue
            op = opcode if op is None else op
            data += payload
            if fin:
                return data.decode() if op == ws.OP_TEXT else data


class FakeServer:
    """Accepts connections; `answer` decides the HTTP reply (default: a valid 101)."""

    def __init__(self, answer=None):
        self.answer = answer
        self.peers = asyncio.Queue()
        self.writers = []
        self.clients = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for client in self.clients:
            client.abort()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _accept(self, reader, writer):
        self.writers.append(writer)
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
                   for line in request.split("\r\n")[1:] if ":" in line}
        if self.answer is not None:
            writer.write(self.answer(headers))
            await writer.drain()
            writer.close()
            return
        accept = ws.accept_key(headers["sec-websocket-key"])
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")
                     .encode())
        await self.peers.put(FakePeer(reader, writer, request))

    async def peer(self):
        return await asyncio.wait_for(self.peers.get(), WAIT)

    async def open(self, **options):
        client = await ws.connect("127.0.0.1", self.port, "/socket/websocket?vsn=2.0.0",
                                  timeout=WAIT, **options)
        self.clients.append(client)
        return client, await self.peer()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 4 * WAIT))


def test_accept_key_matches_rfc_example():
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_mask_is_an_involution():
    key = b"\x01\x02\x03\x04"
    data = bytes(range(256)) * 3 + b"xyz"
    assert ws.mask(ws.mask(data, key), key) == data
    assert ws.mask(b"\x00\x00\x00\x00\x00", key) == b"\x01\x02\x03\x04\x01"


def test_fragmented_message_with_interleaved_ping_is_reassembled():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open()
            peer.send_frame(ws.OP_TEXT, b"hel", fin=False)
            peer.send_frame(ws.OP_PING, b"are you there")
            peer.send_frame(ws.OP_CONT, "lo wörld".encode()[:4], fin=False)
            peer.send_frame(ws.OP_CONT, "lo wörld".encode()[4:], fin=True)
            assert await client.recv() == "hello wörld"
            fin, op, payload, masked = await peer.read_frame()
            assert (fin, op, payload, masked) == (True, ws.OP_PONG, b"are you there", True)

    run(main())


def test_binary_with_16_and_64_bit_lengths():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open()
            medium, large = os.urandom(300), os.urandom(70000)
            peer.send_frame(ws.OP_BINARY, medium)
            peer.send_frame(ws.OP_BINARY, large)
            assert await client.recv() == medium
            assert await client.recv() == large

    run(main())


def test_client_frames_are_masked_and_fragmented_when_asked():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open(fragment_bytes=10)
            await client.send("abcdefghijklmnopqrstuvwxyz")
            frames = [await peer.read_frame() for _ in range(3)]
            assert [f[1] for f in frames] == [ws.OP_TEXT, ws.OP_CONT, ws.OP_CONT]
            assert [f[0] for f in frames] == [False, False, True]
            assert all(f[3] for f in frames)
            assert b"".join(f[2] for f in frames) == b"abcdefghijklmnopqrstuvwxyz"
            await client.send(b"\x00\xff")
            assert await peer.read_frame() == (True, ws.OP_BINARY, b"\x00\xff", True)

    run(main())


def test_ping_round_trip():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open()
            reader = asyncio.ensure_future(client.recv())
            pinging = asyncio.ensure_future(client.ping(b"p1"))
            fin, op, payload, _ = await peer.read_frame()
            assert (op, payload) == (ws.OP_PING, b"p1")
            peer.send_frame(ws.OP_PONG, b"p1")
            assert await asyncio.wait_for(pinging, WAIT) >= 0
            reader.cancel()

    run(main())


def test_server_close_is_echoed_and_reported():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open()
            peer.send_frame(ws.OP_CLOSE, (4001).to_bytes(2, "big") + b"token expired")
            with pytest.raises(quckrt.ConnectionClosed) as err:
                await client.recv()
            assert (err.value.code, err.value.reason) == (4001, "token expired")
            fin, op, payload, _ = await peer.read_frame()
            assert op == ws.OP_CLOSE and payload[:2] == (4001).to_bytes(2, "big")
            with pytest.raises(quckrt.ConnectionClosed):
                await client.send("too late")

    run(main())


def test_client_close_handshake():
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open()
            reader = asyncio.ensure_future(client.recv())
            closing = asyncio.ensure_future(client.close(1000, "bye"))
            fin, op, payload, _ = await peer.read_frame()
            assert op == ws.OP_CLOSE and payload == (1000).to_bytes(2, "big") + b"bye"
            peer.send_frame(ws.OP_CLOSE, payload[:2])
            await asyncio.wait_for(closing, WAIT)
            with pytest.raises(quckrt.ConnectionClosed) as err:
                await reader
            assert err.value.code == 1000

    run(main())


@pytest.mark.parametrize("frames, code", [
    ([(ws.OP_TEXT, b"x", True, 0, True)], 1002),             # masked server frame
    ([(ws.OP_TEXT, b"x", True, 0x40, False)], 1002),         # RSV1 without an extension
    ([(ws.OP_CONT, b"x", True, 0, False)], 1002),            # continuation out of nowhere
    ([(0x3, b"x", True, 0, False)], 1002),                   # reserved opcode
    ([(ws.OP_PING, b"x" * 126, True, 0, False)], 1002),      # control frame too long
    ([(ws.OP_TEXT, b"\xff\xfe", True, 0, False)], 1007),     # invalid UTF-8
    ([(ws.OP_BINARY, b"x" * 2000, True, 0, False)], 1009),   # over max_message_bytes
])
def test_protocol_violations_fail_the_connection_with_the_right_code(frames, code):
    async def main():
        async with FakeServer() as fake:
            client, peer = await fake.open(max_message_bytes=1000)
            for opcode, payload, fin, rsv, masked in frames:
                peer.send_frame(opcode, payload, fin=fin, rsv=rsv, masked=masked)
            with pytest.raises(quckrt.ConnectionClosed) as err:
                await client.recv()
            assert err.value.code == code
            fin, op, payload, _ = await peer.read_frame()
            assert op == ws.OP_CLOSE and int.from_bytes(payload[:2], "big") == code

    run(main())


def test_refusal_body_becomes_token_refused():
    body = json.dumps({"error": {"code": "UNAUTHENTICATED", "message": "token expired"}})

    def answer(headers):
        return (f"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}").encode()

    async def main():
        async with FakeServer(answer) as fake:
            with pytest.raises(quckrt.TokenRefused) as err:
                await ws.connect("127.0.0.1", fake.port, "/", timeout=WAIT)
            assert (err.value.status, err.value.code, err.value.message) == \
                (401, "UNAUTHENTICATED", "token expired")

    run(main())


@pytest.mark.parametrize("answer", [
    lambda h: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
    lambda h: b"SSH-2.0-OpenSSH\r\n\r\n",
    lambda h: b"",
])
def test_invalid_upgrade_answers_raise_connect_error(answer):
    async def main():
        async with FakeServer(answer) as fake:
            with pytest.raises(quckrt.ConnectError):
                await ws.connect("127.0.0.1", fake.port, "/", timeout=WAIT)

    run(main())


def phoenix_reply(frame, status="ok", response=None):
    join_ref, ref, topic, _, _ = frame
    return json.dumps([join_ref, ref, topic, "phx_reply",
                       {"status": status, "response": response or {}}])


def test_unanswered_heartbeat_drops_the_connection_and_reconnects():
    async def main():
        async with FakeServer() as fake:
            client = quckrt.AsyncClient(f"ws://127.0.0.1:{fake.port}/socket", "t",
                                        heartbeat_interval=0.1,
                                        reconnect_after=lambda tries: 0.01)
            closes = asyncio.Queue()
            client.on_close(lambda code, reason: closes.put_nowait((code, reason)))
            await client.connect()
            first = await fake.peer()
            frame = json.loads(await first.read_message())
            assert frame[2:4] == ["phoenix", "heartbeat"]  # never answered
            code, reason = await asyncio.wait_for(closes.get(), WAIT)
            assert code == 1006 and "heartbeat" in reason
            second = await fake.peer()  # the client came back on its own
            frame = json.loads(await second.read_message())
            assert frame[3] == "heartbeat"
            second.send_text(phoenix_reply(frame))
            await client.close(timeout=0.5)

    run(main())


def test_phx_error_makes_the_client_rejoin():
    async def main():
        async with FakeServer() as fake:
            client = quckrt.AsyncClient(f"ws://127.0.0.1:{fake.port}/socket", "t",
                                        rejoin_after=lambda tries: 0.01)
            errors = asyncio.Queue()
            client.on("room:1", "phx_error", errors.put_nowait)
            await client.connect()
            peer = await fake.peer()
            joining = asyncio.ensure_future(client.join("room:1", {"a": 1}))
            join = json.loads(await peer.read_message())
            assert join[2:] == ["room:1", "phx_join", {"a": 1}]
            peer.send_text(phoenix_reply(join, response={"n": 1}))
            assert await joining == {"n": 1}

            pushing = asyncio.ensure_future(client.push("room:1", "work", {}))
            push = json.loads(await peer.read_message())
            peer.send_text(json.dumps([join[0], None, "room:1", "phx_error",
                                       {"reason": "channel_crash"}]))
            assert await asyncio.wait_for(errors.get(), WAIT) == {"reason": "channel_crash"}
            with pytest.raises(quckrt.ChannelError) as err:
                await pushing
            assert err.value.reason == "channel_crash" and push[3] == "work"

            rejoin = json.loads(await peer.read_message())
            assert rejoin[2:] == ["room:1", "phx_join", {"a": 1}] and rejoin[0] != join[0]
            peer.send_text(phoenix_reply(rejoin))
            pushing = asyncio.ensure_future(client.push("room:1", "again", {}))
            push = json.loads(await peer.read_message())
            assert push[0] == rejoin[0]
            peer.send_text(phoenix_reply(push, response={"fine": True}))
            assert await pushing == {"fine": True}
            await client.close(timeout=0.5)

    run(main())
