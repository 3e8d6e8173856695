"""Resume from Python: join params as a callable are re-evaluated on every (re)join, so a
client rejoining chat:X with last_seq gets exactly what it missed (docs/chat.md "Resume")."""
import json
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List

import quckrt

from conftest import WAIT, Inbox, token


def create_conversation(server: quckrt.Server, conv: str, members: List[str]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/conversations",
        data=json.dumps({"id": conv, "members": members}).encode(),
        headers={"Authorization": "Bearer adm"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=WAIT) as response:
        assert response.status == 201


class Reader:
    """A chat:X reader that remembers the last seq it saw and records every seq once."""

    def __init__(self, client: quckrt.Client, topic: str) -> None:
        self.last_seq = 0
        self.seqs: List[int] = []
        self.events = Inbox()
        self.topic = topic
        client.on(topic, "message:new", self._on)

    def _on(self, message: Dict[str, Any]) -> None:
        self.last_seq = message["seq"]
        self.seqs.append(message["seq"])
        self.events.put(message["seq"])

    def params(self) -> Dict[str, Any]:
        return {"last_seq": self.last_seq, "presence": False}

    def wait_for(self, seq: int) -> None:
        self.events.next(lambda s: s == seq)


def test_a_rejoin_with_callable_params_replays_what_was_missed(
        make_server: Callable[..., quckrt.Server],
        clients: Callable[..., quckrt.Client]) -> None:
    server = make_server(storage="sqlite::memory:", admin_token="adm", send_rate=0,
                         replay_page=2)
    create_conversation(server, "c1", ["alice", "bob"])
    alice = clients(server.url, token("alice"))
    alice.join("chat:c1", {"presence": False})
    bob = clients(server.url, token("bob"))
    reader = Reader(bob, "chat:c1")

    assert bob.join("chat:c1", reader.params)["recovered"] is True
    for i in range(3):
        alice.push("chat:c1", "message:send", {"content": f"m{i}"})
    reader.wait_for(3)

    bob.leave("chat:c1")
    for i in range(4):
        alice.push("chat:c1", "message:send", {"content": f"missed{i}"})
    reply = bob.join("chat:c1", reader.params)
    assert reply["recovered"] is True
    assert (reply["from_seq"], reply["to_seq"]) == (4, 7)
    reader.wait_for(7)
    assert reader.seqs == [1, 2, 3, 4, 5, 6, 7]


def test_resume_survives_a_server_restart_on_the_same_database(
        make_server: Callable[..., quckrt.Server],
        clients: Callable[..., quckrt.Client], tmp_path: Path) -> None:
    db = f"sqlite:{tmp_path / 'chat.sqlite'}"
    first = make_server(storage=db, admin_token="adm", send_rate=0)
    port = first.port
    create_conversation(first, "c1", ["alice", "bob"])
    bob = clients(first.url, token("bob"), reconnect_after=lambda tries: 0.05)
    reader = Reader(bob, "chat:c1")
    closes = Inbox()
    bob.on_close(lambda code, reason: closes.put(code))
    bob.join("chat:c1", reader.params)
    with clients(first.url, token("alice")) as alice:
        alice.join("chat:c1", {"presence": False})
        for i in range(3):
            alice.push("chat:c1", "message:send", {"content": f"m{i}"})
    reader.wait_for(3)

    first.stop()
    assert closes.next() == 1012
    second = make_server(storage=db, admin_token="adm", send_rate=0, port=port)
    # Bob's client reconnects and rejoins by itself, with the last_seq its callable gives,
    # whether these sends land before (replayed) or after (live) that rejoin.
    with clients(second.url, token("alice")) as alice:
        alice.join("chat:c1", {"presence": False})
        for i in range(5):
            assert alice.push("chat:c1", "message:send", {"content": f"n{i}"})["seq"] == 4 + i
    reader.wait_for(8)
    assert reader.seqs == list(range(1, 9)), "exactly once, in order, across the restart"
