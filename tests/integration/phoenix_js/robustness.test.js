// Robustness: malformed text and binary frames, frame size limit, connection limit, token
// expiry while connected, idle timeout. Spec: docs/phoenix-wire-protocol.md §1.3, §2, §3 and
// checklist items 11, 14-16, 18-19; close codes from include/quckrt/server.hpp.
import assert from "node:assert/strict"
import {describe, test} from "node:test"

import {rawConnect, tokenQuery, useServer} from "./support/fixture.js"
import {SocketPool, join, push, withTimeout} from "./support/phoenix.js"
import {RawPool, refusedUpgrade} from "./support/raw.js"
import {nowSeconds} from "./support/server.js"

// Another connection still gets a heartbeat answer: the server survived.
async function assertServing(ctx) {
  const c = await rawConnect(ctx, "probe")
  c.send([null, "alive", "phoenix", "heartbeat", {}])
  await c.reply("alive")
  c.close()
}

async function expectClose(c, code, what) {
  const info = await c.closed()
  assert.equal(info.code, code, `${what}: close code (reason "${info.reason}")`)
  return info
}

describe("malformed frames", () => {
  const ctx = useServer()

  const badText = [
    ["text that is not JSON", "this is not json"],
    ["truncated JSON", '[null,"1","phoenix","heartbeat",{}'],
    ["a JSON object, not an array", '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}'],
    ["a JSON string", '"hello"'],
    ["an array of 4 elements", '[null,"1","phoenix","heartbeat"]'],
    ["an empty array", "[]"],
    ["a payload that is an array", '[null,"1","phoenix","heartbeat",[]]'],
    ["a payload that is a string", '[null,"1","phoenix","heartbeat","x"]'],
    ["a payload that is null", '[null,"1","phoenix","heartbeat",null]'],
    ["a topic that is not a string", '[null,"1",5,"heartbeat",{}]'],
    ["invalid UTF-8 in a text frame", Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])],
  ]
  for (const [name, frame] of badText) {
    test(`${name} → close 1007, server keeps serving`, async () => {
      const c = await rawConnect(ctx, "alice")
      // A Buffer with binary:false goes out as a text frame as is (ws does not validate it).
      if (Buffer.isBuffer(frame)) c.ws.send(frame, {binary: false})
      else c.send(frame)
      await expectClose(c, 1007, name)
      await assertServing(ctx)
    })
  }

  test("a 6-element array is accepted, the extra element ignored", async () => {
    const c = await rawConnect(ctx, "alice")
    c.send([null, "6", "phoenix", "heartbeat", {}, "extra"])
    const f = await c.reply("6")
    assert.deepEqual(f.json, [null, "6", "phoenix", "phx_reply", {status: "ok", response: {}}])
  })

  const badBinary = [
    ["kind 1 (reply) from the client", [1, 1, 1, 6, 2, 0x31, 0x32, ...Buffer.from("chat:1ok")]],
    ["kind 2 (broadcast) from the client", [2, 6, 3, ...Buffer.from("chat:1new")]],
    ["kind 7", [7, 0, 0, 0, 0]],
    ["a truncated header (3 bytes)", [0, 1, 1]],
    ["a single byte", [0]],
    ["field lengths beyond the frame", [0, 1, 1, 200, 3, 0x31, 0x32, ...Buffer.from("chat:1")]],
  ]
  for (const [name, bytes] of badBinary) {
    test(`binary: ${name} → close 1002, server keeps serving`, async () => {
      const c = await rawConnect(ctx, "alice")
      c.sendBinary(bytes)
      await expectClose(c, 1002, name)
      await assertServing(ctx)
    })
  }

  test("binary: a well-formed kind 0 push is decoded and answered by ref", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef} = await c.join("chat:bin")
    const ref = c.nextRef()
    const topic = Buffer.from("chat:bin")
    const event = Buffer.from("message:send")
    const header = [0, joinRef.length, ref.length, topic.length, event.length]
    c.sendBinary(Buffer.concat([Buffer.from(header), Buffer.from(joinRef), Buffer.from(ref),
                                topic, event, Buffer.from([1, 2, 3])]))
    const reply = await c.next(f => f.ref === ref || (f.isBinary && f.data[0] === 1),
                               "the reply to the binary push")
    assert.ok(c.isOpen, "the connection stays open")
    assert.ok(reply)
    await c.sync()
  })
})

describe("frame size limit (--max-frame-bytes 4096)", () => {
  const ctx = useServer({args: ["--max-frame-bytes", "4096"]})

  test("a frame just under the limit is processed", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef} = await c.join("chat:size")
    const frame = JSON.stringify([joinRef, "9", "chat:size", "message:send", {content: ""}])
    const pad = 4096 - frame.length - 8
    const ref = c.push(joinRef, "chat:size", "message:send", {content: "z".repeat(pad)})
    assert.equal((await c.reply(ref)).payload.status, "ok")
  })

  test("a frame larger than the limit → close 1009", async () => {
    const c = await rawConnect(ctx, "alice")
    await c.join("chat:size")
    c.push("1", "chat:size", "message:send", {content: "z".repeat(5000)})
    await expectClose(c, 1009, "oversized frame")
    await assertServing(ctx)
  })

  test("a fragmented message larger than the limit → close 1009", async () => {
    const c = await rawConnect(ctx, "alice")
    const text = JSON.stringify([null, "1", "phoenix", "heartbeat", {pad: "p".repeat(6000)}])
    const third = Math.ceil(text.length / 3)
    c.ws.send(text.slice(0, third), {fin: false})
    c.ws.send(text.slice(third, 2 * third), {fin: false})
    c.ws.send(text.slice(2 * third), {fin: true})
    await expectClose(c, 1009, "oversized fragmented message")
    await assertServing(ctx)
  })

  test("a fragmented message under the limit is reassembled", async () => {
    const c = await rawConnect(ctx, "alice")
    const text = JSON.stringify([null, "frag", "phoenix", "heartbeat", {pad: "p".repeat(2000)}])
    c.ws.send(text.slice(0, 1000), {fin: false})
    c.ws.send(text.slice(1000), {fin: true})
    await c.reply("frag")
  })
})

describe("connection limit (--max-connections 2)", () => {
  const ctx = useServer({args: ["--max-connections", "2"]})

  test("the third upgrade is refused with 503 SERVER_FULL; a freed slot is reusable", async () => {
    const a = await rawConnect(ctx, "alice")
    await rawConnect(ctx, "bob")
    const res = await refusedUpgrade(ctx.server.socketUrl(tokenQuery(ctx.server.token("carol"))))
    assert.equal(res.status, 503, res.text)
    assert.equal(res.body?.error?.code, "SERVER_FULL", res.text)
    assert.equal(typeof res.body.error.message, "string")

    // Close one; the server releases its slot once it has seen the close. Wait for that on
    // /health (bounded), then connect again.
    a.ws.close(1000)
    await a.closed()
    await withTimeout((async () => {
      for (;;) {
        const health = await (await fetch(`${ctx.server.url}/health`)).json()
        if (health.connections <= 1) return
        await new Promise(r => setImmediate(r))
      }
    })(), 5000, "/health to report the closed connection as gone")
    const again = await rawConnect(ctx, "carol")
    again.send([null, "1", "phoenix", "heartbeat", {}])
    await again.reply("1")
  })
})

// The three time-based cases run concurrently to keep the suite short, so each test owns its
// clients and closes them itself (the shared afterEach cleanup would cut the others).
describe("timed closes (--idle-timeout-ms 1500)", {concurrency: true}, () => {
  const ctx = useServer({args: ["--idle-timeout-ms", "1500"], perTestCleanup: false})

  function own(t) {
    const pool = new SocketPool(ctx.server)
    const raw = new RawPool()
    t.after(() => { pool.disconnectAll(); raw.closeAll() })
    return {pool, raw}
  }

  test("a token that expires while connected → close 4001", async t => {
    const {raw} = own(t)
    const token = ctx.server.token("alice", {exp: nowSeconds() + 2})
    const c = await raw.connect(ctx.server.socketUrl(tokenQuery(token)))
    // Keep it from going idle so only the expiry can close it.
    const keepAlive = setInterval(() => c.isOpen && c.send([null, "ka", "phoenix", "heartbeat", {}]), 400)
    try {
      const info = await c.closed(7000)
      assert.equal(info.code, 4001, `close reason "${info.reason}"`)
    } finally {
      clearInterval(keepAlive)
    }
  })

  test("a connection that sends nothing for longer than the idle timeout → close 4002", async t => {
    const {raw} = own(t)
    const c = await raw.connect(ctx.server.socketUrl(tokenQuery(ctx.server.token("bob"))))
    const started = Date.now()
    const info = await c.closed(6000)
    assert.equal(info.code, 4002, `close reason "${info.reason}"`)
    assert.ok(Date.now() - started >= 1400, `closed after ${Date.now() - started} ms, before the timeout`)
  })

  test("phoenix.js heartbeats keep a connection alive past the idle timeout", async t => {
    const {pool} = own(t)
    const socket = await pool.connect("carol", {opts: {heartbeatIntervalMs: 400}})
    const channel = socket.channel("chat:idle")
    await join(channel)
    // Stay connected for twice the idle timeout: heartbeats count as traffic.
    await new Promise(r => setTimeout(r, 3200))
    assert.deepEqual(socket.events.closes.items, [], "the socket was never closed")
    assert.equal(socket.events.opens.items.length, 1, "no reconnect happened")
    await push(channel, "typing:start", {})
  })
})
