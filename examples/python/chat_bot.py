#!/usr/bin/env python3
"""A chat bot: joins a conversation on a running quckrt server and answers messages.

    # a server, e.g. scripts/quickstart (or examples/python/embed_server.py --chat)
    python examples/python/chat_bot.py --url ws://127.0.0.1:4000/socket \\
        --secret "$(cat data/dev-jwt-secret)" --conversation 42

Then, from any client in `chat:42` (phoenix.js, quckrt.Client, ...), send `message:send`
with content "ping", "time", "help" or anything else. The bot answers with its own
`message:send`, so every member sees the answer as `message:new`. It ignores its own
messages, reconnects when the server restarts, and exits on Ctrl-C.

Options: --token JWT (instead of --secret; the token's `sub` is then the bot's name only if
it matches --name), --name (default "bot"), --once (exit after the first answer: handy in
scripts and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import signal
import sys

import quckrt


def answer(text: str) -> str:
    """The bot's whole brain."""
    words = text.strip().lower()
    if words == "ping":
        return "pong"
    if words == "time":
        return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if words == "help":
        return "I answer ping, time and help; anything else I repeat."
    return f"you said: {text}"


async def run(args: argparse.Namespace) -> int:
    def mint() -> str:  # called for every (re)connection: always a fresh token
        return quckrt.tokens.issue(args.secret, args.name, ttl=3600)

    token_source = args.token or mint
    topic = f"chat:{args.conversation}"
    done = asyncio.Event()
    answered = 0

    async with quckrt.AsyncClient(args.url, token_source) as client:

        async def on_message(message: dict) -> None:
            nonlocal answered
            if message.get("senderId") == args.name:
                return  # our own answer coming back
            reply = answer(str(message.get("content", "")))
            await client.push(topic, "message:send",
                              {"content": reply, "clientMsgId": f"re:{message.get('id')}"})
            answered += 1
            print(f"answered {message.get('senderId')}: {reply}", flush=True)
            if args.once:
                done.set()

        client.on(topic, "message:new", on_message)
        client.on_close(lambda code, reason: print(f"connection closed ({code}); "
                                                   "reconnecting", flush=True))
        await client.join(topic)
        print(f"{args.name} joined {topic}; waiting for messages (Ctrl-C to quit)",
              flush=True)

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        closed = asyncio.ensure_future(client.wait_closed())
        finished = asyncio.ensure_future(done.wait())
        await asyncio.wait({closed, finished}, return_when=asyncio.FIRST_COMPLETED)
        if closed.done():
            print(f"stopped: {closed.result()}", file=sys.stderr)
            return 1
        closed.cancel()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:4000/socket")
    auth = parser.add_mutually_exclusive_group(required=True)
    auth.add_argument("--secret", help="the server's JWT secret (the bot mints its tokens)")
    auth.add_argument("--token", help="a ready-made JWT")
    parser.add_argument("--conversation", default="42")
    parser.add_argument("--name", default="bot", help="user id of the bot (token sub)")
    parser.add_argument("--once", action="store_true", help="exit after the first answer")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except quckrt.Error as e:
        print(f"chat_bot: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
