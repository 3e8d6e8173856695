"""Reading presence from Python: the embedded server's view of who is online."""
import threading
from typing import Any, Callable, Dict

import pytest

import quckrt

WAIT = 10.0


def test_presence_lists_every_device_and_follows_leaves(
        server: quckrt.Server, clients: Callable[..., quckrt.Client]) -> None:
    alice_web = clients(server.url, server.issue_token("alice"))
    alice_phone = clients(server.url, server.issue_token("alice"))
    bob = clients(server.url, server.issue_token("bob"))

    left = threading.Event()

    def on_diff(payload: Dict[str, Any]) -> None:
        if "alice" in payload.get("leaves", {}):
            left.set()

    bob.on("chat:p", "presence_diff", on_diff)
    bob.join("chat:p")
    alice_web.join("chat:p")
    alice_phone.join("chat:p")

    listed = server.presence_list("chat:p")
    assert sorted(listed) == ["alice", "bob"]
    refs = [m["phx_ref"] for m in listed["alice"]["metas"]]
    assert len(refs) == 2 and len(set(refs)) == 2

    user = server.presence_user("alice")
    assert user["online"] is True
    assert user["last_seen_ms"] is None
    assert [m["topic"] for m in user["metas"]] == ["chat:p", "chat:p"]
    assert server.is_online("alice") and server.is_online("bob")
    assert server.online_users() == (["alice", "bob"], 2)
    assert server.online_users(offset=1, limit=1) == (["bob"], 2)

    # The phone goes: alice stays online with one meta.
    alice_phone.close()
    assert left.wait(WAIT), "bob never saw alice's phone leave"
    assert len(server.presence_list("chat:p")["alice"]["metas"]) == 1
    assert server.is_online("alice")

    left.clear()
    alice_web.close()
    assert left.wait(WAIT), "bob never saw alice's last device leave"
    assert not server.is_online("alice")
    gone = server.presence_user("alice")
    assert gone["online"] is False and gone["metas"] == []
    assert isinstance(gone["last_seen_ms"], int) and gone["last_seen_ms"] > 0
    assert server.presence_list("nobody:here") == {}


def test_presence_reads_need_a_running_server() -> None:
    server = quckrt.Server(jwt_secret="s")
    with pytest.raises(quckrt.FailedPreconditionError):
        server.presence_list("chat:1")

