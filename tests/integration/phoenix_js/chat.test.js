// The built-in chat channel (design.md §3): message:send replies and message:new fan-out,
// server-assigned senderId, validation errors, typing via broadcast_from.
import assert from "node:assert/strict"
import {describe, test} from "node:test"

import {useServer} from "./support/fixture.js"
import {join, listen, push, pushError} from "./support/phoenix.js"

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

const ctx = useServer()

// Two users joined to chat:42, each with inboxes for message:new and typing.
async function twoMembers(topic = "chat:42") {
  const members = {}
  for (const sub of ["alice", "bob"]) {
    const socket = await ctx.pool.connect(sub)
    const channel = socket.channel(topic)
    const messages = listen(channel, "message:new")
    const typing = listen(channel, "typing")
    await join(channel)
    members[sub] = {socket, channel, messages, typing}
  }
  return members
}

// A ping round trip on this socket: a fence after which anything the server queued for it
// before has arrived.
function ping(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no ping answer within 8000 ms")), 8000)
    if (!socket.ping(() => { clearTimeout(timer); resolve() })) reject(new Error("not connected"))
  })
}

describe("message:send", () => {
  test("reply ok with id and clientMsgId; every member, sender included, gets message:new", async () => {
    const {alice, bob} = await twoMembers()
    const before = Date.now()
    const reply = await push(alice.channel, "message:send", {
      content: "hello bob", clientMsgId: "c-1", senderId: "mallory", conversationId: "666",
    })
    assert.equal(typeof reply.id, "string", JSON.stringify(reply))
    assert.ok(reply.id.length > 0)
    assert.equal(reply.clientMsgId, "c-1")

    for (const [who, m] of [["alice", alice], ["bob", bob]]) {
      const msg = await m.messages.next(x => x.clientMsgId === "c-1")
      assert.equal(msg.id, reply.id, `${who}: id`)
      assert.equal(msg.conversationId, "42", `${who}: conversationId`)
      assert.equal(msg.senderId, "alice", `${who}: senderId is the token's sub, not the payload's`)
      assert.equal(msg.content, "hello bob")
      assert.equal(msg.type, "text")
      assert.equal(msg.clientMsgId, "c-1")
      assert.match(msg.createdAt, ISO_8601, `${who}: createdAt is ISO 8601`)
      const t = Date.parse(msg.createdAt)
      assert.ok(Math.abs(t - before) < 60000, `createdAt ${msg.createdAt} is near now`)
    }
  })

  test("ids are distinct per message and messages arrive in send order", async () => {
    const {alice, bob} = await twoMembers("chat:order")
    const replies = []
    for (let i = 0; i < 5; i++) {
      replies.push(push(alice.channel, "message:send", {content: `m${i}`, clientMsgId: `o${i}`}))
    }
    const ids = (await Promise.all(replies)).map(r => r.id)
    assert.equal(new Set(ids).size, 5)
    const got = []
    for (let i = 0; i < 5; i++) got.push((await bob.messages.next()).content)
    assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4"])
  })

  test("validation errors are error replies and the connection stays usable", async () => {
    const {alice, bob} = await twoMembers("chat:validate")
    const missing = await pushError(alice.channel, "message:send", {clientMsgId: "v1"})
    assert.equal(typeof missing.reason, "string", JSON.stringify(missing))

    const empty = await pushError(alice.channel, "message:send", {content: ""})
    assert.equal(typeof empty.reason, "string", JSON.stringify(empty))

    const notString = await pushError(alice.channel, "message:send", {content: 42})
    assert.equal(typeof notString.reason, "string", JSON.stringify(notString))

    const tooBig = await pushError(alice.channel, "message:send",
      {content: "x".repeat(16 * 1024 + 1), clientMsgId: "v2"})
    assert.equal(typeof tooBig.reason, "string", JSON.stringify(tooBig))

    // 16 KiB exactly is not over the limit. Multi-byte content counts bytes, not characters.
    const atLimit = await push(alice.channel, "message:send",
      {content: "y".repeat(16 * 1024), clientMsgId: "v3"})
    assert.equal(atLimit.clientMsgId, "v3")
    const multibyte = await pushError(alice.channel, "message:send",
      {content: "é".repeat(8 * 1024 + 1), clientMsgId: "v4"})
    assert.equal(typeof multibyte.reason, "string", JSON.stringify(multibyte))

    // Nothing invalid was broadcast; the valid one was; the socket is still connected.
    const first = await bob.messages.next()
    assert.equal(first.clientMsgId, "v3")
    const ok = await push(alice.channel, "message:send", {content: "after errors", clientMsgId: "v5"})
    assert.equal(ok.clientMsgId, "v5")
    assert.equal((await bob.messages.next()).clientMsgId, "v5")
    assert.equal(alice.socket.isConnected(), true)
    assert.equal(alice.channel.state, "joined")
  })
})

describe("typing", () => {
  test("typing:start reaches the other members, not the sender", async () => {
    const {alice, bob} = await twoMembers("chat:typing")
    await push(alice.channel, "typing:start", {})
    assert.deepEqual(await bob.typing.next(),
      {conversationId: "typing", userId: "alice", isTyping: true})
    await ping(alice.socket)
    assert.deepEqual(alice.typing.items, [], "the sender does not get its own typing event")

    await push(alice.channel, "typing:stop", {})
    assert.deepEqual(await bob.typing.next(),
      {conversationId: "typing", userId: "alice", isTyping: false})
    await ping(alice.socket)
    assert.deepEqual(alice.typing.items, [])
  })
})
