// Broadcast semantics: broadcast reaches every subscriber including the sender, as
// [null,null,topic,event,payload]; broadcast_from (typing) skips only the sending channel, so
// the same user on another connection still receives it; topics are isolated.
// Spec: docs/phoenix-wire-protocol.md §6 and checklist items 42-43.
import assert from "node:assert/strict"
import {describe, test} from "node:test"

import {rawConnect, useServer} from "./support/fixture.js"
import {join, listen, push} from "./support/phoenix.js"

const ctx = useServer()

async function member(sub, topic) {
  const socket = await ctx.pool.connect(sub)
  const channel = socket.channel(topic)
  const messages = listen(channel, "message:new")
  const typing = listen(channel, "typing")
  await join(channel)
  return {sub, socket, channel, messages, typing}
}

function ping(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no ping answer within 8000 ms")), 8000)
    if (!socket.ping(() => { clearTimeout(timer); resolve() })) reject(new Error("not connected"))
  })
}

describe("broadcast", () => {
  test("three clients: a message reaches all of them, the sender included, exactly once", async () => {
    const all = [await member("alice", "chat:b1"), await member("bob", "chat:b1"),
                 await member("carol", "chat:b1")]
    const reply = await push(all[0].channel, "message:send", {content: "to all", clientMsgId: "b1"})
    for (const m of all) {
      const msg = await m.messages.next()
      assert.equal(msg.id, reply.id, `${m.sub} got the message`)
      assert.equal(msg.senderId, "alice")
    }
    // Each of the three sends one; each member sees all three, in each sender's order.
    await Promise.all(all.map(m => push(m.channel, "message:send",
      {content: `from ${m.sub}`, clientMsgId: `x-${m.sub}`})))
    for (const m of all) {
      const got = []
      for (let i = 0; i < 3; i++) got.push((await m.messages.next()).clientMsgId)
      assert.deepEqual(got.sort(), ["x-alice", "x-bob", "x-carol"], `${m.sub}`)
    }
    for (const m of all) await ping(m.socket)
    for (const m of all) assert.equal(m.messages.unread.length, 0, `${m.sub} got no duplicate`)
  })

  test("on the wire a broadcast is [null, null, topic, event, payload]", async () => {
    const sender = await member("alice", "chat:b2")
    const c = await rawConnect(ctx, "raw-watcher")
    await c.join("chat:b2")
    await push(sender.channel, "message:send", {content: "wire", clientMsgId: "w1"})
    const f = await c.next(x => x.event === "message:new", "message:new on the raw client")
    assert.equal(f.json.length, 5)
    assert.equal(f.joinRef, null)
    assert.equal(f.ref, null)
    assert.equal(f.topic, "chat:b2")
    assert.equal(f.payload.clientMsgId, "w1")
  })

  test("topics are isolated: chat:b3 traffic does not reach chat:b4", async () => {
    const a = await member("alice", "chat:b3")
    const b = await member("bob", "chat:b4")
    await push(a.channel, "message:send", {content: "only b3", clientMsgId: "iso"})
    await a.messages.next()
    await push(a.channel, "typing:start", {})
    await ping(b.socket)
    assert.deepEqual(b.messages.items, [])
    assert.deepEqual(b.typing.items, [])
  })
})

describe("broadcast_from", () => {
  test("typing skips only the sending channel: the same user's second connection receives it", async () => {
    const alice1 = await member("alice", "chat:bf")
    const alice2 = await member("alice", "chat:bf")
    const bob = await member("bob", "chat:bf")
    await push(alice1.channel, "typing:start", {})
    const expected = {conversationId: "bf", userId: "alice", isTyping: true}
    assert.deepEqual(await alice2.typing.next(), expected, "alice's other connection")
    assert.deepEqual(await bob.typing.next(), expected, "bob")
    await ping(alice1.socket)
    assert.deepEqual(alice1.typing.items, [], "the sending channel does not get it")
  })

  test("a raw client sees typing as a fastlane broadcast with null refs", async () => {
    const sender = await member("alice", "chat:bf2")
    const c = await rawConnect(ctx, "alice")
    await c.join("chat:bf2")
    await push(sender.channel, "typing:start", {})
    const f = await c.next(x => x.event === "typing", "typing")
    assert.deepEqual(f.json, [null, null, "chat:bf2", "typing",
      {conversationId: "bf2", userId: "alice", isTyping: true}])
  })
})
