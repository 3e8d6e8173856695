#!/usr/bin/env python3
"""Embed a quckrt server in a Python program, with a custom channel written in Python.

    python examples/python/embed_server.py --port 4000 --secret dev-secret

It prints the WebSocket URL and a token for user "demo", then serves until Ctrl-C or
SIGTERM (which drain connections with close code 1012, so clients reconnect).

`room:*` topics (the Python channel below):
  join         refused for "room:private" unless the token has claim `vip: true`;
               the reply says how many members the room has
  "say"        {text} -> broadcast "said" {from, text} to every member; reply {}
  "whisper"    {text} -> broadcast_from: everyone but the sender
  "members"    -> reply {members: [...user ids...]}
  "slow"       -> answered after 0.5 s from a worker thread through a Responder
A background thread broadcasts "tick" {n} to `room:lobby` every --tick seconds (0: never).
With --chat the built-in `chat:*` channel is served as well (for examples/python/chat_bot.py).

Connect with phoenix.js: new Socket(URL, {params: {token}}), or with Python:
    quckrt.Client(URL, token).connect().join("room:lobby")
"""

from __future__ import annotations

import argparse
import collections
import signal
import threading
from typing import Any, Dict

import quckrt

# Shared state of this process. Handlers run on the server's loop threads, so guard it.
members: Dict[str, "collections.Counter[str]"] = collections.defaultdict(collections.Counter)
members_lock = threading.Lock()


class Room(quckrt.Channel):
    """One object per joined topic per connection."""

    def join(self, topic: str, params: Dict[str, Any], socket: quckrt.Socket) -> Dict[str, Any]:
        if topic == "room:private" and not socket.claims.get("vip"):
            raise quckrt.JoinRefused("vip only")
        self.topic, self.user = topic, socket.user_id
        with members_lock:
            members[topic][self.user] += 1
            count = len(members[topic])
        return {"room": topic, "members": count}

    def after_join(self, socket: quckrt.Socket) -> None:
        socket.broadcast_from("joined", {"user": socket.user_id})

    def handle_in(self, event: str, payload: Any, socket: quckrt.Socket) -> Any:
        if event == "say":
            socket.broadcast("said", {"from": socket.user_id, "text": str(payload.get("text"))})
            return {}
        if event == "whisper":
            socket.broadcast_from("said", {"from": socket.user_id, "text": payload.get("text")})
            return {}
        if event == "members":
            with members_lock:
                return {"members": sorted(members[self.topic])}
        if event == "slow":
            responder = socket.responder()  # answer later, from another thread
            threading.Timer(0.5, responder.ok, args=({"slow": "done"},)).start()
            return quckrt.Reply.none()
        raise quckrt.ReplyError("unknown event")

    def terminate(self, reason: str) -> None:
        with members_lock:
            room = members[self.topic]
            room[self.user] -= 1
            if room[self.user] <= 0:
                del room[self.user]


def ticker(server: quckrt.Server, every: float, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(every):
        n += 1
        server.broadcast("room:lobby", "tick", {"n": n})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000, help="0 picks a free port")
    parser.add_argument("--secret", default="dev-secret", help="JWT secret")
    parser.add_argument("--tick", type=float, default=10.0)
    parser.add_argument("--chat", action="store_true", help="serve the built-in chat:* too")
    args = parser.parse_args()

    def report(exc: BaseException) -> None:
        print(f"handler error: {exc!r}", flush=True)

    server = quckrt.Server(args.host, args.port, jwt_secret=args.secret, loops=1,
                           builtin_chat=args.chat, on_error=report)
    server.channel("room:*", Room)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    signal.signal(signal.SIGINT, lambda *_: server.stop())

    stop_ticker = threading.Event()
    if args.tick > 0:
        threading.Thread(target=ticker, args=(server, args.tick, stop_ticker),
                         daemon=True).start()
    print(f"listening on {server.url}", flush=True)
    print(f"token for user 'demo': {server.issue_token('demo')}", flush=True)
    server.wait()  # until SIGINT/SIGTERM calls stop()
    stop_ticker.set()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
