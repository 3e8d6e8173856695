"""quckrt.Client (blocking): connect errors, channels, heartbeats, expiry, reconnect."""

import threading

import pytest

import quckrt
from conftest import SECRET, WAIT, Inbox, free_port, token


class Echo(quckrt.Channel):
    def handle_in(self, event, payload, socket):
        if event == "shout":
            socket.broadcast("shout", payload)
        return payload


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1:4000/socket",
    "127.0.0.1:4000",
    "ws://",
    "ws://127.0.0.1:99999/socket",
    "",
])
def test_bad_url_raises_invalid_url(url):
    with pytest.raises(quckrt.InvalidURL):
        quckrt.Client(url, "token")
    with pytest.raises(ValueError):
        quckrt.AsyncClient(url, "token")


def test_nothing_listening_raises_connect_error(clients):
    port = free_port()
    with pytest.raises(quckrt.ConnectError) as err:
        clients(f"ws://127.0.0.1:{port}/socket", "token")
    assert f"127.0.0.1:{port}" in str(err.value)
    assert isinstance(err.value, ConnectionError)


def test_refused_token_raises_token_refused_with_the_servers_message(server, clients):
    bad = quckrt.tokens.issue("not-the-secret", "eve")
    with pytest.raises(quckrt.TokenRefused) as err:
        clients(server.url, bad)
    assert err.value.status == 401
    assert err.value.code == "UNAUTHENTICATED"
    assert err.value.message  # the server's reason, e.g. a signature failure
    assert "401" in str(err.value)
    expired = quckrt.tokens.issue(SECRET, "eve", ttl=-60)
    with pytest.raises(quckrt.TokenRefused, match="(?i)expired"):
        clients(server.url, expired)


def test_wrong_path_raises_handshake_error(server, clients):
    with pytest.raises(quckrt.HandshakeError) as err:
        clients(f"ws://127.0.0.1:{server.port}/elsewhere", token("ann"))
    assert err.value.status == 404 and err.value.code == "NOT_FOUND"
    assert not isinstance(err.value, quckrt.TokenRefused)


def test_url_forms(server, clients):
    for url in (server.url, server.url + "/websocket",
                f"http://127.0.0.1:{server.port}/socket?vsn=1.0.0"):
        client = clients(url, token("ann"))
        assert client.connected
        client.close()


def test_calls_before_connect_fail_clearly(server, clients):
    client = clients(server.url, token("ann"), connect=False)
    with pytest.raises(quckrt.ConnectionClosed, match="connect"):
        client.join("chat:1")
    with pytest.raises(quckrt.NotJoined):
        client.push("chat:1", "x", {})


def test_two_clients_see_each_others_messages(server, clients):
    a = clients(server.url, token("ann"))
    b = clients(server.url, token("bob"))
    inbox_a, inbox_b = Inbox(), Inbox()
    a.on("chat:1", "message:new", inbox_a.put)
    b.on("chat:1", "message:new", inbox_b.put)
    a.join("chat:1")
    b.join("chat:1")
    a.push("chat:1", "message:send", {"content": "from ann"})
    b.push("chat:1", "message:send", {"content": "from bob"})
    for inbox in (inbox_a, inbox_b):
        got = {(m["senderId"], m["content"]) for m in (inbox.next(), inbox.next())}
        assert got == {("ann", "from ann"), ("bob", "from bob")}


def test_error_reply_raises_reply_error(server, clients):
    client = clients(server.url, token("ann"))
    client.join("chat:1")
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("chat:1", "message:send", {"content": ""})
    assert err.value.status == "error" and err.value.reason
    assert err.value.topic == "chat:1" and err.value.event == "message:send"


def test_unmatched_topic_is_refused(server, clients):
    client = clients(server.url, token("ann"))
    with pytest.raises(quckrt.JoinRefused) as err:
        client.join("nowhere:1")
    assert err.value.reason == "unmatched topic"


def test_leave_stops_delivery(make_server, clients):
    server = make_server({"echo:*": Echo})
    a = clients(server.url, token("ann"))
    b = clients(server.url, token("bob"))
    inbox = Inbox()
    a.on("echo:1", "shout", inbox.put)
    a.join("echo:1")
    b.join("echo:1")
    b.push("echo:1", "shout", {"n": 1})
    assert inbox.next() == {"n": 1}
    a.leave("echo:1")
    assert not a.joined("echo:1")
    with pytest.raises(quckrt.NotJoined):
        a.push("echo:1", "echo", {})
    b.push("echo:1", "shout", {"n": 2})
    a.join("echo:2")
    a.push("echo:2", "echo", {})  # fence: anything for echo:1 would have arrived by now
    assert inbox.all == [{"n": 1}]


def test_rejoining_a_joined_topic_keeps_it_joined(make_server, clients):
    server = make_server({"echo:*": Echo})
    client = clients(server.url, token("ann"))
    client.join("echo:1")
    client.join("echo:1")
    assert client.joined("echo:1")
    assert client.push("echo:1", "echo", {"ok": 1}) == {"ok": 1}


def test_blocking_calls_from_callbacks_raise_and_push_nowait_works(make_server, clients):
    server = make_server({"echo:*": Echo})
    client = clients(server.url, token("ann"))
    results = Inbox()

    def on_shout(payload):
        try:
            client.push("echo:1", "echo", {})
        except RuntimeError as e:
            results.put(("blocking", str(e)))
        client.push_nowait("echo:1", "echo", {"from": "callback"}).add_done_callback(
            lambda f: results.put(("nowait", f.result())))

    client.on("echo:1", "shout", on_shout)
    client.join("echo:1")
    client.push("echo:1", "shout", {})
    kind, message = results.next(lambda r: r[0] == "blocking")
    assert "callback" in message
    assert results.next(lambda r: r[0] == "nowait") == ("nowait", {"from": "callback"})


def test_callback_exceptions_are_logged_not_fatal(make_server, clients, caplog):
    server = make_server({"echo:*": Echo})
    client = clients(server.url, token("ann"))
    inbox = Inbox()
    client.on("echo:1", "shout", lambda p: 1 / 0)
    client.on("echo:1", "shout", inbox.put)
    client.join("echo:1")
    client.push("echo:1", "shout", {"n": 1})
    assert inbox.next() == {"n": 1}
    assert client.push("echo:1", "echo", {"n": 2}) == {"n": 2}


def test_server_stop_closes_with_1012(make_server, clients):
    server = make_server()
    client = clients(server.url, token("ann"), reconnect=False)
    closes = Inbox()
    client.on_close(lambda code, reason: closes.put(code))
    server.stop()
    assert closes.next() == 1012
    reason = client.wait_closed(WAIT)
    assert isinstance(reason, quckrt.ConnectionClosed) and reason.code == 1012
    with pytest.raises(quckrt.ConnectionClosed):
        client.join("chat:1")


def test_token_expiry_closes_the_connection_with_4001(server, clients):
    client = clients(server.url, token("eve", ttl=2))
    closes = Inbox()
    client.on_close(lambda code, reason: closes.put((code, reason)))
    client.join("chat:1")
    code, reason = closes.next(timeout=WAIT)
    assert code == 4001
    # A fixed token cannot be renewed: the client stops instead of reconnecting.
    final = client.wait_closed(WAIT)
    assert isinstance(final, quckrt.ConnectionClosed) and final.code == 4001
    assert client.closed and client.close_error.code == 4001


def test_token_callable_lets_the_client_come_back_after_expiry(server, clients):
    issued = []

    def fresh_token():
        issued.append(1)
        return token("eve", ttl=2 if len(issued) == 1 else 3600)

    opens, closes = Inbox(), Inbox()
    client = clients(server.url, fresh_token, connect=False,
                     reconnect_after=lambda tries: 0.05)
    client.on_open(lambda: opens.put("open"))
    client.on_close(lambda code, reason: closes.put(code))
    client.connect()
    client.join("chat:1")
    opens.next()
    assert closes.next() == 4001
    opens.next()  # reconnected with the second token
    assert len(issued) == 2
    # The topic was rejoined: a push succeeds (it waits for the rejoin if needed).
    assert client.push("chat:1", "message:send", {"content": "back"})["senderId"] == "eve"


def test_heartbeats_keep_a_connection_alive_past_the_idle_timeout(make_server, clients):
    server = make_server(idle_timeout_ms=1000)
    alive = clients(server.url, token("ann"), heartbeat_interval=0.25)
    quiet = clients(server.url, token("bob"), heartbeat_interval=60, reconnect=False)
    alive_closes, quiet_closes = Inbox(), Inbox()
    alive.on_close(lambda code, reason: alive_closes.put(code))
    quiet.on_close(lambda code, reason: quiet_closes.put(code))
    assert quiet_closes.next() == 4002  # idle: closed by the server within ~2 s
    assert alive.connected and alive_closes.all == []
    alive.join("chat:1")


def test_reconnects_and_rejoins_after_the_server_restarts_on_the_same_port(make_server,
                                                                           clients):
    first = make_server({"echo:*": Echo})
    port = first.port
    client = clients(first.url, token("ann"), reconnect_after=lambda tries: 0.05,
                     timeout=WAIT)
    opens, closes, notices = Inbox(), Inbox(), Inbox()
    client.on_open(lambda: opens.put(1))
    client.on_close(lambda code, reason: closes.put(code))
    client.on("echo:1", "notice", notices.put)
    client.join("echo:1")
    first.stop()
    assert closes.next() == 1012

    second = make_server({"echo:*": Echo}, port=port)
    assert second.port == port
    opens.next()
    # The push waits until the topic is rejoined on the new server.
    assert client.push("echo:1", "echo", {"again": True}) == {"again": True}
    second.broadcast("echo:1", "notice", {"n": 1})
    assert notices.next() == {"n": 1}


def test_close_is_idempotent_and_fails_later_calls(server):
    client = quckrt.Client(server.url, token("ann")).connect()
    client.join("chat:1")
    client.close()
    client.close()
    assert client.closed
    with pytest.raises(quckrt.ConnectionClosed):
        client.push("chat:1", "message:send", {"content": "x"})


def test_client_is_usable_from_many_threads(make_server, clients):
    server = make_server({"echo:*": Echo})
    client = clients(server.url, token("ann"))
    client.join("echo:1")
    results = Inbox()

    def work(i):
        results.put(client.push("echo:1", "echo", {"i": i})["i"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert sorted(results.next() for _ in range(10)) == list(range(10))


def test_help_is_useful():
    doc = quckrt.Client.__doc__ + quckrt.Client.join.__doc__ + quckrt.Client.push.__doc__
    for word in ("blocking", "JoinRefused", "ReplyError", "Timeout", "Callbacks"):
        assert word in doc
