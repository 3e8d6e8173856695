"""The embedded server with storage: the binary's persistence options from Python."""
import json
import urllib.request
from typing import Callable

import pytest

import quckrt

WAIT = 10.0


def test_server_with_storage_persists_and_enforces_membership(
        clients: Callable[..., quckrt.Client]) -> None:
    with quckrt.Server(jwt_secret="s", storage="sqlite::memory:", admin_token="adm",
                       send_rate=0) as server:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/conversations",
            data=json.dumps({"id": "c1", "members": ["alice"]}).encode(),
            headers={"Authorization": "Bearer adm"}, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=WAIT) as response:
            assert response.status == 201

        alice = clients(server.url, server.issue_token("alice"))
        alice.join("chat:c1", {"presence": False})
        sent = alice.push("chat:c1", "message:send", {"content": "kept", "clientMsgId": "k1"})
        assert sent["seq"] == 1
        again = alice.push("chat:c1", "message:send", {"content": "kept", "clientMsgId": "k1"})
        assert again["id"] == sent["id"]

        mallory = clients(server.url, server.issue_token("mallory"))
        with pytest.raises(quckrt.JoinRefused) as refused:
            mallory.join("chat:c1")
        assert "not a member" in str(refused.value)
