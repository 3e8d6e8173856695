"""quckrt.AsyncClient: the asyncio flavour against an embedded server."""

import asyncio

import pytest

import quckrt
from conftest import WAIT, token


class Room(quckrt.Channel):
    def join(self, topic, params, socket):
        if topic == "room:secret":
            raise quckrt.JoinRefused("unauthorized")
        return {"hello": socket.user_id}

    def handle_in(self, event, payload, socket):
        if event == "shout":
            socket.broadcast("shout", {**payload, "from": socket.user_id})
            return {}
        if event == "boom":
            raise RuntimeError("bug")
        if event == "silent":
            return quckrt.Reply.none()
        return payload


@pytest.fixture
def room_server(make_server):
    return make_server({"room:*": Room})


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 4 * WAIT))


def test_async_client_join_push_on_and_errors(room_server):
    async def main():
        async with quckrt.AsyncClient(room_server.url, token("ann")) as a, \
                quckrt.AsyncClient(room_server.url, token("bob")) as b:
            shouts_a, shouts_b = asyncio.Queue(), asyncio.Queue()

            async def coroutine_callback(payload):  # coroutine callbacks are awaited
                await shouts_b.put(payload)

            a.on("room:1", "shout", shouts_a.put_nowait)
            b.on("room:1", "shout", coroutine_callback)
            assert await a.join("room:1") == {"hello": "ann"}
            assert await b.join("room:1") == {"hello": "bob"}

            await a.push("room:1", "shout", {"text": "hi"})
            await b.push("room:1", "shout", {"text": "yo"})
            for q in (shouts_a, shouts_b):
                got = {(m["from"], m["text"]) for m in
                       [await asyncio.wait_for(q.get(), WAIT) for _ in range(2)]}
                assert got == {("ann", "hi"), ("bob", "yo")}

            assert await a.push("room:1", "echo", {"x": [1, 2]}) == {"x": [1, 2]}
            with pytest.raises(quckrt.JoinRefused) as err:
                await a.join("room:secret")
            assert err.value.reason == "unauthorized"
            with pytest.raises(quckrt.ReplyError) as err:
                await a.push("room:1", "boom", {})
            assert err.value.reason == "handler_error"
            with pytest.raises(quckrt.Timeout):
                await a.push("room:1", "silent", {}, timeout=0.2)
            await a.leave("room:1")
            with pytest.raises(quckrt.NotJoined):
                await a.push("room:1", "echo", {})
        assert a.closed and b.closed

    run(main())


def test_async_token_expiry_reports_4001(server):
    async def main():
        client = quckrt.AsyncClient(server.url, token("eve", ttl=2))
        await client.connect()
        await client.join("chat:1")
        final = await asyncio.wait_for(client.wait_closed(), WAIT)
        assert isinstance(final, quckrt.ConnectionClosed) and final.code == 4001
        with pytest.raises(quckrt.ConnectionClosed):
            await client.push("chat:1", "message:send", {"content": "late"})
        await client.close()

    run(main())


def test_async_connect_errors(server):
    async def main():
        with pytest.raises(quckrt.TokenRefused):
            await quckrt.AsyncClient(server.url, "not-a-jwt").connect()
        with pytest.raises(quckrt.HandshakeError) as err:
            await quckrt.AsyncClient(server.url.replace("/socket", "/x"),
                                     token("ann")).connect()
        assert err.value.status == 404

    run(main())


def test_async_token_callable_may_be_a_coroutine(server):
    async def main():
        async def fetch_token():
            await asyncio.sleep(0)
            return token("ann")

        async with quckrt.AsyncClient(server.url, fetch_token) as client:
            await client.join("chat:1")
            reply = await client.push("chat:1", "message:send", {"content": "hi"})
            assert reply["senderId"] == "ann"

    run(main())


def test_many_concurrent_pushes(room_server):
    async def main():
        async with quckrt.AsyncClient(room_server.url, token("ann")) as client:
            await client.join("room:1")
            replies = await asyncio.gather(
                *(client.push("room:1", "echo", {"i": i}) for i in range(200)))
            assert [r["i"] for r in replies] == list(range(200))

    run(main())


def test_large_messages_fragmented_both_ways(make_server):
    server = make_server({"room:*": Room}, max_frame_bytes=4 << 20, max_queued_bytes=8 << 20)

    async def main():
        async with quckrt.AsyncClient(server.url, token("ann"),
                                      fragment_bytes=16 * 1024) as client:
            await client.join("room:1")
            blob = "x" * (1 << 20)
            assert (await client.push("room:1", "echo", {"blob": blob}))["blob"] == blob

    run(main())
