"""The scripts in examples/python run as documented."""

import signal
import subprocess
import sys
import threading

import pytest

import quckrt
from conftest import REPO, SECRET, WAIT, Inbox, token

EXAMPLES = REPO / "examples" / "python"


class Script:
    """A Python example as a child process, stdout lines in an Inbox."""

    def __init__(self, name, *args):
        self.proc = subprocess.Popen([sys.executable, str(EXAMPLES / name), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines = Inbox()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, prefix):
        return self.lines.next(lambda l: l.startswith(prefix))[len(prefix):]

    def finish(self, sig=None):
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for pipe in (self.proc.stdout, self.proc.stderr):
                pipe.close()
        return code


@pytest.fixture
def scripts():
    made = []

    def start(name, *args):
        script = Script(name, *args)
        made.append(script)
        return script

    yield start
    for script in made:
        if script.proc.poll() is None:
            script.finish(signal.SIGKILL)


def test_embed_server_example(scripts, clients):
    script = scripts("embed_server.py", "--port", "0", "--secret", SECRET, "--tick", "0.2")
    url = script.line("listening on ")
    demo_token = script.line("token for user 'demo': ")
    assert quckrt.tokens.verify(SECRET, demo_token)["sub"] == "demo"

    client = clients(url, demo_token)
    ticks, said = Inbox(), Inbox()
    client.on("room:lobby", "tick", ticks.put)
    client.on("room:lobby", "said", said.put)
    assert client.join("room:lobby") == {"room": "room:lobby", "members": 1}
    assert ticks.next()["n"] >= 1
    client.push("room:lobby", "say", {"text": "hello"})
    assert said.next() == {"from": "demo", "text": "hello"}
    assert client.push("room:lobby", "members") == {"members": ["demo"]}
    assert client.push("room:lobby", "slow") == {"slow": "done"}
    with pytest.raises(quckrt.JoinRefused, match="vip only"):
        client.join("room:private")
    vip = clients(url, token("vera", vip=True))
    assert vip.join("room:private")["room"] == "room:private"

    assert script.finish(signal.SIGTERM) == 0
    assert "stopped" in script.lines.all


def test_chat_bot_example_answers_in_the_conversation(server, clients, scripts):
    bot = scripts("chat_bot.py", "--url", server.url, "--secret", SECRET,
                  "--conversation", "5", "--once")
    bot.line("bot joined chat:5")
    human = clients(server.url, token("hugo"))
    inbox = Inbox()
    human.on("chat:5", "message:new", inbox.put)
    human.join("chat:5")
    human.push("chat:5", "message:send", {"content": "ping"})
    answer = inbox.next(lambda m: m["senderId"] == "bot")
    assert answer["content"] == "pong"
    assert bot.finish() == 0
