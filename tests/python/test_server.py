"""quckrt.Server: embedding, Python channel handlers, GIL and shutdown behaviour."""

import subprocess
import sys
import textwrap
import threading

import pytest

import quckrt
from conftest import WAIT, Inbox, token


class Room(quckrt.Channel):
    """Test channel: echo, shout, failures, deferred replies, stop."""

    sockets = []
    responders = []
    parked = threading.Event()

    def join(self, topic, params, socket):
        if params.get("refuse"):
            raise quckrt.JoinRefused(params["refuse"])
        if params.get("refuse_dict"):
            raise quckrt.JoinRefused({"reason": "full", "max": 3})
        if params.get("crash"):
            raise RuntimeError("join bug")
        self.topic = topic
        Room.sockets.append(socket)
        return {"user": socket.user_id, "topic": socket.topic, "role": socket.claims.get("role")}

    def after_join(self, socket):
        socket.push("welcome", {"topic": socket.topic})

    def handle_in(self, event, payload, socket):
        if event == "echo":
            return payload
        if event == "shout":
            socket.broadcast("shout", payload)
            return None
        if event == "others":
            socket.broadcast_from("from", payload)
            return quckrt.Reply.ok({"sent": True})
        if event == "elsewhere":
            socket.broadcast_to(payload["topic"], "note", {"from": socket.topic})
            return {}
        if event == "refuse":
            raise quckrt.ReplyError("not allowed")
        if event == "boom":
            raise ValueError("handler bug")
        if event == "not_json":
            return {"value": object()}
        if event == "queued":
            return quckrt.Reply.with_status("queued", {"position": 1})
        if event == "later":
            Room.responders.append(socket.responder())
            Room.parked.set()
            return quckrt.Reply.none()
        if event == "bye":
            return quckrt.Reply.stop()
        if event == "bytes":
            return {"size": len(payload), "binary": isinstance(payload, bytes)}
        return super().handle_in(event, payload, socket)


@pytest.fixture(autouse=True)
def reset_room():
    Room.sockets = []
    Room.responders = []
    Room.parked = threading.Event()


@pytest.fixture
def room_server(make_server):
    errors = Inbox()
    server = make_server({"room:*": Room}, on_error=errors.put)
    server.errors = errors
    return server


def test_join_reply_comes_from_the_python_handler(room_server, clients):
    client = clients(room_server.url, token("ann", role="admin"))
    welcome = Inbox()
    client.on("room:1", "welcome", welcome.put)
    assert client.join("room:1") == {"user": "ann", "topic": "room:1", "role": "admin"}
    assert welcome.next() == {"topic": "room:1"}
    assert client.push("room:1", "echo", {"n": [1, 2.5, "x", None, True]}) == \
        {"n": [1, 2.5, "x", None, True]}


def test_join_refused_with_reason(room_server, clients):
    client = clients(room_server.url, token("ann"))
    with pytest.raises(quckrt.JoinRefused) as err:
        client.join("room:1", {"refuse": "members only"})
    assert err.value.reason == "members only"
    assert err.value.topic == "room:1"
    with pytest.raises(quckrt.JoinRefused) as err:
        client.join("room:1", {"refuse_dict": True})
    assert err.value.response == {"reason": "full", "max": 3}
    assert not client.joined("room:1")
    with pytest.raises(quckrt.NotJoined):
        client.push("room:1", "echo", {})


def test_handler_exception_in_handle_in_becomes_an_error_reply(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("room:1", "boom", {})
    assert err.value.status == "error"
    assert err.value.reason == "handler_error"
    reported = room_server.errors.next()
    assert isinstance(reported, ValueError) and str(reported) == "handler bug"
    # The channel, the connection and the server keep working.
    assert client.joined("room:1")
    assert client.push("room:1", "echo", {"still": "here"}) == {"still": "here"}


def test_handler_exception_in_join_refuses_the_join(room_server, clients):
    client = clients(room_server.url, token("ann"))
    with pytest.raises(quckrt.JoinRefused) as err:
        client.join("room:1", {"crash": True})
    assert err.value.reason == "join crashed"
    assert isinstance(room_server.errors.next(), RuntimeError)
    assert client.join("room:1") == {"user": "ann", "topic": "room:1", "role": None}


def test_reply_error_reply_status_and_non_json_reply(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("room:1", "refuse")
    assert err.value.reason == "not allowed"
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("room:1", "queued")
    assert err.value.status == "queued" and err.value.response == {"position": 1}
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("room:1", "not_json")
    assert err.value.reason == "handler_error"
    assert isinstance(room_server.errors.next(), TypeError)
    with pytest.raises(quckrt.ReplyError) as err:
        client.push("room:1", "no such event")
    assert err.value.reason == "unknown event"


def test_broadcast_broadcast_from_and_broadcast_to(room_server, clients):
    a = clients(room_server.url, token("ann"))
    b = clients(room_server.url, token("bob"))
    inbox_a, inbox_b, notes = Inbox(), Inbox(), Inbox()
    for client, inbox in ((a, inbox_a), (b, inbox_b)):
        client.on("room:1", "shout", lambda p, inbox=inbox: inbox.put(("shout", p)))
        client.on("room:1", "from", lambda p, inbox=inbox: inbox.put(("from", p)))
        client.join("room:1")
    b.on("room:2", "note", notes.put)
    b.join("room:2")

    a.push("room:1", "shout", {"text": "hi"})
    assert inbox_a.next() == ("shout", {"text": "hi"})
    assert inbox_b.next() == ("shout", {"text": "hi"})

    a.push("room:1", "others", {"text": "not me"})
    assert inbox_b.next() == ("from", {"text": "not me"})
    # a must not get "from": fence with a round trip, then check.
    a.push("room:1", "echo", {})
    assert [m for m in inbox_a.all if m[0] == "from"] == []

    a.push("room:1", "elsewhere", {"topic": "room:2"})
    assert notes.next() == {"from": "room:1"}


def test_server_broadcast_from_python_threads(room_server, clients):
    client = clients(room_server.url, token("ann"))
    inbox = Inbox()
    client.on("room:all", "notice", inbox.put)
    client.join("room:all")
    threads = [threading.Thread(target=room_server.broadcast,
                                args=("room:all", "notice", {"n": i})) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    got = sorted(inbox.next()["n"] for _ in range(8))
    assert got == list(range(8))
    with pytest.raises(TypeError):
        room_server.broadcast("room:all", "notice", {"bad": {1, 2}})
    with pytest.raises(TypeError):
        room_server.broadcast("room:all", "notice", ["not", "a", "dict"])


def test_responder_answers_from_another_thread(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    future = client.push_nowait("room:1", "later", {})
    # Wait for the handler to have parked its responder, then answer off the loop.
    assert Room.parked.wait(WAIT)
    responder = Room.responders[0]
    t = threading.Thread(target=lambda: responder.ok({"done": True}))
    t.start()
    t.join(WAIT)
    assert future.result(WAIT) == {"done": True}
    assert responder.ok({"twice": True}) is False


def test_unanswered_push_times_out(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    with pytest.raises(quckrt.Timeout):
        client.push("room:1", "later", {}, timeout=0.3)
    with pytest.raises(TimeoutError):  # Timeout is also the builtin TimeoutError
        client.push("room:1", "later", {}, timeout=0.1)


def test_reply_stop_ends_the_channel(room_server, clients):
    client = clients(room_server.url, token("ann"))
    closed = Inbox()
    client.on("room:1", "phx_close", closed.put)
    client.join("room:1")
    assert client.push("room:1", "bye") == {}
    closed.next()
    assert not client.joined("room:1")
    with pytest.raises(quckrt.NotJoined):
        client.push("room:1", "echo", {})


def test_binary_push_reaches_the_handler_as_bytes(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    assert client.push("room:1", "bytes", b"\x00\x01\x02") == {"size": 3, "binary": True}


def test_socket_is_unusable_outside_its_callback(room_server, clients):
    client = clients(room_server.url, token("ann"))
    client.join("room:1")
    socket = Room.sockets[0]
    assert socket.topic == "room:1" and socket.user_id == "ann" and not socket.active
    with pytest.raises(RuntimeError, match="outside its channel callback"):
        socket.push("late", {})


def test_builtin_chat_runs_in_the_embedded_server(server, clients):
    client = clients(server.url, token("ann"))
    inbox = Inbox()
    client.on("chat:7", "message:new", inbox.put)
    client.join("chat:7")
    reply = client.push("chat:7", "message:send", {"content": "hello", "clientMsgId": "c1"})
    message = inbox.next()
    assert message["id"] == reply["id"]
    assert message["senderId"] == "ann" and message["content"] == "hello"


def test_connection_count_and_context_manager(make_server):
    server = make_server(start=False)
    with server:
        assert server.running and server.port > 0
        with quckrt.Client(server.url, token("ann")) as client:
            assert client.connected
            assert server.connection_count == 1
    assert not server.running
    with pytest.raises(quckrt.FailedPreconditionError):
        server.broadcast("room:1", "x", {})


def test_server_restarts_after_stop(make_server, clients):
    server = make_server({"room:*": Room})
    first_port = server.port
    server.stop()
    server.start()
    assert server.running and server.port > 0
    client = clients(server.url, token("ann"))
    assert client.join("room:9")["user"] == "ann"
    assert first_port > 0


def test_channels_must_be_registered_before_start(room_server):
    with pytest.raises(quckrt.FailedPreconditionError):
        room_server.channel("late:*", Room)
    with pytest.raises(TypeError):
        quckrt.Server(jwt_secret="x").channel("x", object())


def test_channel_decorator(make_server, clients):
    server = make_server(start=False)

    @server.channel("deco:*")
    class Deco:
        def join(self, topic, params, socket):
            return {"deco": topic}

    assert Deco.__name__ == "Deco"
    server.start()
    assert clients(server.url, token("ann")).join("deco:1") == {"deco": "deco:1"}


@pytest.mark.parametrize("options, message", [
    ({"jwt_secret": ""}, "secret"),
    ({"jwt_secret": "s", "idle_timeout_ms": 10}, "idle_timeout"),
    ({"jwt_secret": "s", "max_connections": 0}, "max_connections"),
    ({"jwt_secret": "s", "port": 70000}, "port"),
    ({"jwt_secret": "s", "presence_broadcast_ms": 0}, "presence_broadcast_ms"),
])
def test_invalid_options_raise_invalid_argument(options, message):
    with pytest.raises(quckrt.InvalidArgumentError, match=message):
        quckrt.Server(**options)
    with pytest.raises(ValueError):
        quckrt.Server(jwt_secret="s", log_level="loud")


def test_terminate_reasons_reach_the_handler(make_server, clients):
    reasons = Inbox()

    class Tracked(quckrt.Channel):
        def terminate(self, reason):
            reasons.put(reason)

    server = make_server({"t:*": Tracked})
    client = clients(server.url, token("ann"))
    client.join("t:1")
    client.leave("t:1")
    assert reasons.next() == "left"
    client.join("t:1")
    client.join("t:1")  # the same topic again replaces the old channel
    assert reasons.next() == "duplicate_join"
    server.stop()
    assert reasons.next() == "shutdown"


def test_stop_while_a_handler_runs_does_not_deadlock(make_server, clients):
    entered, release = threading.Event(), threading.Event()

    class Slow(quckrt.Channel):
        def handle_in(self, event, payload, socket):
            entered.set()
            release.wait(WAIT)  # holds the loop; re-takes the GIL afterwards
            return {}

    server = make_server({"slow:*": Slow})
    client = clients(server.url, token("ann"))
    client.join("slow:1")
    pending = client.push_nowait("slow:1", "work", {})
    assert entered.wait(WAIT)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    release.set()
    stopper.join(WAIT)
    assert not stopper.is_alive(), "stop() deadlocked against a running handler"
    assert not server.running
    try:
        pending.result(WAIT)
    except quckrt.ConnectionClosed:
        pass


def test_stop_from_inside_a_handler_returns_and_drains(make_server, clients):
    holder = {}

    class Stopper(quckrt.Channel):
        def handle_in(self, event, payload, socket):
            holder["server"].stop()  # on a loop thread: begins the drain, must not wait
            return {"stopping": True}

    server = make_server({"stop:*": Stopper})
    holder["server"] = server
    client = clients(server.url, token("ann"), reconnect=False)
    closes = Inbox()
    client.on_close(lambda code, reason: closes.put(code))
    client.join("stop:1")
    try:
        client.push("stop:1", "now", {})
    except quckrt.ConnectionClosed:
        pass
    assert closes.next() == 1012
    server.stop()  # from the test thread: waits for the drained loops
    assert not server.running


def test_process_exits_cleanly_with_a_running_server_and_client():
    script = textwrap.dedent("""
        import quckrt
        class Echo(quckrt.Channel):
            def handle_in(self, event, payload, socket):
                return payload
        server = quckrt.Server(jwt_secret="s")
        server.channel("echo:*", Echo)
        server.start()
        client = quckrt.Client(server.url, server.issue_token("ann")).connect()
        client.join("echo:1")
        assert client.push("echo:1", "x", {"a": 1}) == {"a": 1}
        print("ok", flush=True)
        # no stop(), no close(): atexit must take both down without hanging
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
