"""Python clients and the official phoenix.js client (under Node) in the same topic."""

import quckrt
from conftest import Inbox, token


def test_two_python_clients_and_phoenix_js_see_each_others_messages(server, clients,
                                                                     node_peers):
    topic = "chat:interop"
    a = clients(server.url, token("py-ann"))
    b = clients(server.url, token("py-bob"))
    inbox_a, inbox_b = Inbox(), Inbox()
    a.on(topic, "message:new", inbox_a.put)
    b.on(topic, "message:new", inbox_b.put)
    a.join(topic)
    b.join(topic)
    js = node_peers(server.url, token("js-cat"), topic, ["message:new"])
    js.expect("joined")

    a.push(topic, "message:send", {"content": "hello from ann"})
    b.push(topic, "message:send", {"content": "hello from bob"})
    reply = js.push("message:send", {"content": "hello from phoenix.js"})
    assert reply["status"] == "ok" and reply["response"]["senderId"] == "js-cat"

    expected = {("py-ann", "hello from ann"), ("py-bob", "hello from bob"),
                ("js-cat", "hello from phoenix.js")}
    for inbox in (inbox_a, inbox_b):
        got = {(m["senderId"], m["content"]) for m in (inbox.next() for _ in range(3))}
        assert got == expected
    got_js = set()
    for _ in range(3):
        m = js.expect("event", event="message:new")["payload"]
        got_js.add((m["senderId"], m["content"]))
    assert got_js == expected


def test_phoenix_js_reaches_a_python_channel_handler(make_server, clients, node_peers):
    class Room(quckrt.Channel):
        def join(self, topic, params, socket):
            if topic == "room:vip":
                raise quckrt.JoinRefused("vip only")
            return {"welcome": socket.user_id}

        def handle_in(self, event, payload, socket):
            socket.broadcast("said", {"who": socket.user_id, **payload})
            return {"ok": True}

    server = make_server({"room:*": Room}, builtin_chat=False)
    py = clients(server.url, token("py"))
    said = Inbox()
    py.on("room:1", "said", said.put)
    py.join("room:1")

    js = node_peers(server.url, token("js"), "room:1", ["said"])
    assert js.expect("joined")["response"] == {"welcome": "js"}
    assert js.push("say", {"text": "hi"})["response"] == {"ok": True}
    assert said.next() == {"who": "js", "text": "hi"}
    py.push("room:1", "say", {"text": "hey"})
    assert js.expect("event", event="said", payload={"who": "py", "text": "hey"})

    refused = node_peers(server.url, token("js2"), "room:vip", [])
    assert refused.expect("join_error")["response"] == {"reason": "vip only"}
