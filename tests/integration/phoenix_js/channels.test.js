// Channels: join, unmatched topics, stale join_refs, leave, duplicate join, the channel limit
// and unknown events. Spec: docs/phoenix-wire-protocol.md §4 and checklist items 23-34.
import assert from "node:assert/strict"
import {describe, test} from "node:test"

import {rawConnect, useServer} from "./support/fixture.js"
import {join, joinError, listen, push, pushError} from "./support/phoenix.js"

// chat:* tracks presence: presence_state / presence_diff / user:online|offline frames are
// interleaved with the protocol frames these tests look at.
const isPresenceFrame = (f) => f.event.startsWith("presence_") || f.event.startsWith("user:")

const UNMATCHED = {status: "error", response: {reason: "unmatched topic"}}

describe("channels (default limits)", () => {
  const ctx = useServer()

  test("phoenix.js joins chat:42 with an ok reply", async () => {
    const socket = await ctx.pool.connect("alice")
    const channel = socket.channel("chat:42")
    assert.deepEqual(await join(channel), {})
    assert.equal(channel.state, "joined")
  })

  test("raw join of chat:42: reply ok echoing join_ref and ref", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef, frame} = await c.join("chat:42")
    assert.deepEqual(frame.json, [joinRef, joinRef, "chat:42", "phx_reply", {status: "ok", response: {}}])
  })

  test("join of an unrouted topic: error \"unmatched topic\" with a null join_ref", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef, frame} = await c.join("nope:1")
    assert.deepEqual(frame.json, [null, joinRef, "nope:1", "phx_reply", UNMATCHED])
  })

  test("phoenix.js join of an unrouted topic is refused with \"unmatched topic\"", async () => {
    const socket = await ctx.pool.connect("alice")
    const channel = socket.channel("nope:1")
    assert.deepEqual(await joinError(channel), {reason: "unmatched topic"})
    channel.leave() // stop the client's rejoin loop
  })

  test("push to a topic that is not joined: \"unmatched topic\" with a null join_ref", async () => {
    const c = await rawConnect(ctx, "alice")
    // Before any join at all.
    const ref1 = c.push("1", "chat:7", "message:send", {content: "x"})
    assert.deepEqual((await c.reply(ref1)).json, [null, ref1, "chat:7", "phx_reply", UNMATCHED])
    // With another topic joined.
    const {joinRef} = await c.join("chat:42")
    const ref2 = c.push(joinRef, "chat:7", "message:send", {content: "x"})
    assert.deepEqual((await c.reply(ref2)).json, [null, ref2, "chat:7", "phx_reply", UNMATCHED])
  })

  test("push with a stale join_ref gets no reply and has no effect; null join_ref is accepted", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef} = await c.join("chat:43")
    const stale = c.push("999", "chat:43", "message:send", {content: "stale", clientMsgId: "s1"})
    await c.sync()
    assert.deepEqual(c.pending(f => f.ref === stale), [], "no reply to the stale push")
    assert.deepEqual(c.pending(f => f.event === "message:new"), [], "the stale push had no effect")
    // Backwards compatibility (spec §4.3): a null join_ref on a joined topic is accepted.
    const ref = c.push(null, "chat:43", "message:send", {content: "null jr", clientMsgId: "n1"})
    const reply = await c.reply(ref)
    assert.equal(reply.payload.status, "ok", JSON.stringify(reply.json))
    const msg = await c.next(f => f.event === "message:new", "message:new")
    assert.equal(msg.payload.clientMsgId, "n1")
    assert.ok(joinRef)
  })

  test("leave: reply ok, then phx_close with the same join_ref; the topic is then unjoined", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef} = await c.join("chat:44")
    const ref = c.push(joinRef, "chat:44", "phx_leave", {})
    const reply = await c.reply(ref)
    assert.deepEqual(reply.json, [joinRef, ref, "chat:44", "phx_reply", {status: "ok", response: {}}])
    const close = await c.next(f => f.event === "phx_close", "phx_close")
    assert.deepEqual(close.json, [joinRef, joinRef, "chat:44", "phx_close", {}])
    const after = c.push(joinRef, "chat:44", "message:send", {content: "x"})
    assert.deepEqual((await c.reply(after)).json, [null, after, "chat:44", "phx_reply", UNMATCHED])
    // Unsubscribed: another member's message no longer reaches this connection.
    const other = await rawConnect(ctx, "bob")
    const bobJoin = await other.join("chat:44")
    const sent = other.push(bobJoin.joinRef, "chat:44", "message:send", {content: "gone?"})
    await other.reply(sent)
    await other.next(f => f.event === "message:new", "bob's own message:new")
    await c.sync()
    assert.deepEqual(c.pending(f => f.event === "message:new"), [], "no delivery after leave")
  })

  test("leave of a topic that is not joined: reply ok and no phx_close", async () => {
    const c = await rawConnect(ctx, "alice")
    const ref = c.push("77", "chat:45", "phx_leave", {})
    const reply = await c.reply(ref)
    assert.equal(reply.payload.status, "ok")
    assert.deepEqual(reply.payload.response, {})
    await c.sync()
    assert.deepEqual(c.pending(f => f.event === "phx_close"), [])
  })

  test("leave with a stale join_ref is ignored (no reply, still joined)", async () => {
    const c = await rawConnect(ctx, "alice")
    const {joinRef} = await c.join("chat:46")
    const ref = c.push("999", "chat:46", "phx_leave", {})
    await c.sync()
    assert.deepEqual(c.pending(f => f.ref === ref || f.event === "phx_close"), [])
    const ok = c.push(joinRef, "chat:46", "typing:start", {})
    assert.equal((await c.reply(ok)).payload.status, "ok", "the channel is still joined")
  })

  test("duplicate join on one connection: new reply ok, then phx_close for the old join_ref", async () => {
    const c = await rawConnect(ctx, "alice")
    const first = await c.join("chat:47")
    const secondRef = c.nextRef()
    c.send([secondRef, secondRef, "chat:47", "phx_join", {}])
    // Order on the wire: the new join's reply first, then the old join's phx_close (§4.7).
    const next2 = [await c.next(f => f.topic === "chat:47" && !isPresenceFrame(f), "reply to the second join"),
                   await c.next(f => f.topic === "chat:47" && !isPresenceFrame(f), "phx_close of the first join")]
    assert.deepEqual(next2.map(f => f.json), [
      [secondRef, secondRef, "chat:47", "phx_reply", {status: "ok", response: {}}],
      [first.joinRef, first.joinRef, "chat:47", "phx_close", {}],
    ])
    // The old join_ref is stale now; the new one works; exactly one channel remains.
    const stale = c.push(first.joinRef, "chat:47", "message:send", {content: "old"})
    const ref = c.push(secondRef, "chat:47", "message:send", {content: "new", clientMsgId: "d1"})
    assert.equal((await c.reply(ref)).payload.status, "ok")
    await c.next(f => f.event === "message:new", "message:new")
    await c.sync()
    assert.deepEqual(c.pending(f => f.ref === stale), [], "no reply to a push on the replaced join")
    assert.deepEqual(c.pending(f => f.event === "message:new"), [],
      "the broadcast reached the connection once: one channel remains")
  })

  test("phoenix.js: a second Channel object on the same topic replaces the first and ends joined", async () => {
    const socket = await ctx.pool.connect("alice")
    const first = socket.channel("chat:dup")
    let firstClosed = false
    first.onClose(() => { firstClosed = true })
    await join(first)
    const second = socket.channel("chat:dup")
    const messages = listen(second, "message:new")
    await join(second)
    assert.equal(firstClosed, true, "the client left the old channel")
    assert.equal(second.state, "joined")
    await push(second, "message:send", {content: "on the new channel", clientMsgId: "dup1"})
    assert.equal((await messages.next()).clientMsgId, "dup1")
  })

  test("join, leave, join sent back to back are handled in order", async () => {
    const c = await rawConnect(ctx, "alice")
    const jr1 = c.nextRef()
    const leaveRef = c.nextRef()
    const jr2 = c.nextRef()
    c.send([jr1, jr1, "chat:seq", "phx_join", {}])
    c.send([jr1, leaveRef, "chat:seq", "phx_leave", {}])
    c.send([jr2, jr2, "chat:seq", "phx_join", {}])
    const frames = []
    for (let i = 0; i < 4; i++) {
      frames.push((await c.next(f => f.topic === "chat:seq" && !isPresenceFrame(f), `frame ${i + 1}`)).json)
    }
    assert.deepEqual(frames, [
      [jr1, jr1, "chat:seq", "phx_reply", {status: "ok", response: {}}],
      [jr1, leaveRef, "chat:seq", "phx_reply", {status: "ok", response: {}}],
      [jr1, jr1, "chat:seq", "phx_close", {}],
      [jr2, jr2, "chat:seq", "phx_reply", {status: "ok", response: {}}],
    ])
  })

  test("the 101st join with the default limit gets \"too many channels joined\"", async () => {
    const c = await rawConnect(ctx, "alice")
    const refs = []
    for (let i = 1; i <= 101; i++) {
      const jr = c.nextRef()
      refs.push(jr)
      c.send([jr, jr, `chat:limit${i}`, "phx_join", {}])
    }
    for (let i = 0; i < 100; i++) {
      const f = await c.reply(refs[i])
      assert.equal(f.payload.status, "ok", `join #${i + 1}: ${f.text}`)
    }
    const last = await c.reply(refs[100])
    assert.equal(last.payload.status, "error", last.text)
    assert.deepEqual(last.payload.response, {reason: "too many channels joined"})
  })

  test("unknown event on chat: error reply {reason: \"unknown event\"}", async () => {
    const socket = await ctx.pool.connect("alice")
    const channel = socket.channel("chat:48")
    await join(channel)
    assert.deepEqual(await pushError(channel, "no:such:event", {}), {reason: "unknown event"})
    // Still joined and usable.
    assert.equal(channel.state, "joined")
    const inbox = listen(channel, "message:new")
    await push(channel, "message:send", {content: "still here"})
    await inbox.next()
  })
})

describe("channels (--max-channels 3)", () => {
  const ctx = useServer({args: ["--max-channels", "3"]})

  test("the 4th join is refused; after a leave a join succeeds again", async () => {
    const socket = await ctx.pool.connect("alice")
    const channels = []
    for (let i = 1; i <= 3; i++) {
      const ch = socket.channel(`chat:${i}`)
      await join(ch)
      channels.push(ch)
    }
    const fourth = socket.channel("chat:4")
    assert.deepEqual(await joinError(fourth), {reason: "too many channels joined"})
    fourth.leave()

    const c = await rawConnect(ctx, "bob")
    const joins = []
    for (let i = 1; i <= 3; i++) joins.push(await c.join(`chat:${i}`))
    const refused = await c.join("chat:4")
    assert.equal(refused.frame.payload.status, "error")
    assert.deepEqual(refused.frame.payload.response, {reason: "too many channels joined"})
    const leaveRef = c.push(joins[0].joinRef, "chat:1", "phx_leave", {})
    await c.reply(leaveRef)
    const again = await c.join("chat:4")
    assert.equal(again.frame.payload.status, "ok", again.frame.text)
  })
})
