// A phoenix.js client driven by the Python tests over stdin/stdout, one JSON object a line.
//
//   node phoenix_peer.cjs <phoenix_js_dir> <socket_url> <token> <topic> [event ...]
//
// It loads `phoenix` and `ws` from <phoenix_js_dir>/node_modules (tests/integration/phoenix_js
// after `npm ci`), connects with the token as the `token` param, joins <topic> and prints:
//   {"type":"joined","response":{...}}  |  {"type":"join_error","response":{...}}
//   {"type":"event","event":E,"payload":{...}}       for each listed event E
//   {"type":"reply","id":N,"status":"ok"|"error"|"timeout","response":{...}}
//   {"type":"close","code":C}                        socket closes
// Commands on stdin: {"op":"push","id":N,"event":E,"payload":{...}}, {"op":"quit"}.
"use strict"
const path = require("node:path")
const readline = require("node:readline")
const {createRequire} = require("node:module")

const [dir, url, token, topic, ...events] = process.argv.slice(2)
const load = createRequire(path.join(path.resolve(dir), "package.json"))
const {Socket} = load("phoenix")
const WebSocket = load("ws")

const out = obj => process.stdout.write(JSON.stringify(obj) + "\n")

const socket = new Socket(url, {transport: WebSocket, params: {token}, timeout: 8000})
socket.onClose(e => out({type: "close", code: e.code}))
socket.connect()
const channel = socket.channel(topic, {})
for (const event of events) channel.on(event, payload => out({type: "event", event, payload}))
channel.join()
  .receive("ok", response => out({type: "joined", response}))
  .receive("error", response => out({type: "join_error", response}))
  .receive("timeout", () => out({type: "join_error", response: {reason: "timeout"}}))

const quit = () => socket.disconnect(() => process.exit(0), 1000, "bye")
readline.createInterface({input: process.stdin})
  .on("line", line => {
    const cmd = JSON.parse(line)
    if (cmd.op === "push") {
      const reply = status => response => out({type: "reply", id: cmd.id, status, response})
      channel.push(cmd.event, cmd.payload || {})
        .receive("ok", reply("ok")).receive("error", reply("error"))
        .receive("timeout", reply("timeout"))
    } else if (cmd.op === "quit") {
      quit()
    }
  })
  .on("close", quit)
