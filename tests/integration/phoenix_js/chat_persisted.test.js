// Persisted chat and store-and-forward (docs/chat.md) through the real phoenix.js client:
// a server with --storage sqlite:<temp file> and --admin-token, conversations created over
// the HTTP admin API.
import assert from "node:assert/strict"
import {after, describe, test} from "node:test"

import {createConversation, randomToken, tempDb, uid} from "./support/chat.js"
import {useServer} from "./support/fixture.js"
import {join, joinError, listen, push, pushError, SocketPool, WAIT_MS} from "./support/phoenix.js"
import {startServer} from "./support/server.js"

const ADMIN = randomToken()
const db = tempDb("chat")
// --send-rate 0: the tests send faster than the default 10/s per user.
const ctx = useServer({args: ["--storage", db.url, "--admin-token", ADMIN, "--send-rate", "0"]})
after(() => db.remove())

// conversation(members): a fresh group conversation with these members; its id.
async function conversation(members, kind = "group") {
  const id = uid("conv")
  await createConversation(ctx.server, ADMIN, {id, kind, members})
  return id
}

// chatChannel(socket, convId, events): joined chat:<convId> plus an Inbox per event.
async function chatChannel(socket, convId, events = ["message:new"]) {
  const channel = socket.channel(`chat:${convId}`, {presence: false})
  const inboxes = {}
  for (const e of events) inboxes[e] = listen(channel, e)
  const reply = await join(channel)
  return {channel, inboxes, reply}
}

// userChannel(socket, user): joined user:<user> with inboxes for message:new and
// message:delivered (recorded before the join, so the backlog is never missed).
async function userChannel(socket, user) {
  const channel = socket.channel(`user:${user}`)
  const inboxes = {
    new: listen(channel, "message:new"),
    delivered: listen(channel, "message:delivered"),
  }
  const reply = await join(channel)
  return {channel, inboxes, reply}
}

describe("two members chat", () => {
  test("send, edit, delete, reactions and read receipts", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob], "direct")
    const events = ["message:new", "message:edited", "message:deleted", "message:reaction:added",
                    "message:reaction:removed", "message:read"]
    const a = await chatChannel(await ctx.pool.connect(alice), conv, events)
    const b = await chatChannel(await ctx.pool.connect(bob), conv, events)
    assert.equal(a.reply.lastSeq, 0)

    // send
    const m1 = await push(a.channel, "message:send", {content: "hello", clientMsgId: "c-1"})
    assert.equal(typeof m1.id, "string")
    assert.ok(m1.id.length > 0)
    assert.equal(m1.seq, 1)
    assert.equal(m1.clientMsgId, "c-1")
    assert.equal(m1.senderId, alice)
    assert.equal(m1.conversationId, conv)
    assert.equal(m1.content, "hello")
    for (const side of [a, b]) {
      const got = await side.inboxes["message:new"].next()
      assert.equal(got.id, m1.id)
      assert.equal(got.seq, m1.seq)
      assert.equal(got.content, "hello")
    }
    const m2 = await push(a.channel, "message:send", {content: "second", clientMsgId: "c-2"})
    assert.ok(m2.seq > m1.seq)
    assert.equal((await b.inboxes["message:new"].next()).id, m2.id)
    assert.equal((await a.inboxes["message:new"].next()).id, m2.id)

    // read receipts: bob reads up to m1 (m2 unread), then everything
    const r1 = await push(b.channel, "message:read", {seq: m1.seq})
    assert.deepEqual(r1, {lastReadSeq: m1.seq, unread: 1})
    const read1 = await a.inboxes["message:read"].next()
    assert.deepEqual(read1, {conversationId: conv, userId: bob, lastReadSeq: m1.seq})
    const r2 = await push(b.channel, "message:read", {seq: m2.seq})
    assert.deepEqual(r2, {lastReadSeq: m2.seq, unread: 0})
    assert.equal((await a.inboxes["message:read"].next()).lastReadSeq, m2.seq)

    // edit by the author
    const edited = await push(a.channel, "message:edit", {messageId: m1.id, content: "hello!"})
    assert.equal(edited.id, m1.id)
    assert.equal(edited.content, "hello!")
    for (const side of [a, b]) {
      const e = await side.inboxes["message:edited"].next()
      assert.equal(e.messageId, m1.id)
      assert.equal(e.conversationId, conv)
      assert.equal(e.userId, alice)
      assert.equal(e.content, "hello!")
      assert.equal(typeof e.seq, "number")
      assert.ok(e.editedAt !== undefined && e.editedAt !== null)
    }
    // edit / delete by someone else: error replies
    const notAuthor = await pushError(b.channel, "message:edit", {messageId: m1.id, content: "mine"})
    assert.equal(notAuthor.reason, "forbidden")
    const notAuthorDel = await pushError(b.channel, "message:delete", {messageId: m1.id})
    assert.equal(notAuthorDel.reason, "forbidden")

    // reactions (bob on alice's message)
    const withReaction = await push(b.channel, "message:reaction:add", {messageId: m1.id, emoji: "👍"})
    assert.equal(withReaction.id, m1.id)
    for (const side of [a, b]) {
      const e = await side.inboxes["message:reaction:added"].next()
      assert.equal(e.messageId, m1.id)
      assert.equal(e.conversationId, conv)
      assert.equal(e.userId, bob)
      assert.equal(e.emoji, "👍")
    }
    await push(b.channel, "message:reaction:remove", {messageId: m1.id, emoji: "👍"})
    for (const side of [a, b]) {
      const e = await side.inboxes["message:reaction:removed"].next()
      assert.equal(e.messageId, m1.id)
      assert.equal(e.userId, bob)
      assert.equal(e.emoji, "👍")
    }

    // delete by the author
    const tomb = await push(a.channel, "message:delete", {messageId: m2.id})
    assert.equal(tomb.id, m2.id)
    for (const side of [a, b]) {
      const e = await side.inboxes["message:deleted"].next()
      assert.equal(e.messageId, m2.id)
      assert.equal(e.conversationId, conv)
      assert.equal(e.userId, alice)
      assert.equal(typeof e.seq, "number")
    }

    // history reflects the edit and the deletion
    const h = await push(b.channel, "history", {})
    const byId = Object.fromEntries(h.messages.map(m => [m.id, m]))
    assert.equal(byId[m1.id]?.content, "hello!")
    assert.ok(byId[m1.id].editedAt, "edited message has editedAt in history")
    if (byId[m2.id]) assert.ok(byId[m2.id].deletedAt, "deleted message is a tombstone in history")
  })

  test("history pages with limit and beforeSeq, ascending, with hasMore", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const a = await chatChannel(await ctx.pool.connect(alice), conv)
    const sent = []
    for (let i = 1; i <= 7; i++) sent.push(await push(a.channel, "message:send", {content: `m${i}`}))
    assert.deepEqual(sent.map(m => m.seq), [1, 2, 3, 4, 5, 6, 7])

    const b = await chatChannel(await ctx.pool.connect(bob), conv)
    assert.equal(b.reply.lastSeq, 7)
    const p1 = await push(b.channel, "history", {limit: 3})
    assert.deepEqual(p1.messages.map(m => m.content), ["m5", "m6", "m7"])
    assert.equal(p1.hasMore, true)
    const p2 = await push(b.channel, "history", {beforeSeq: p1.messages[0].seq, limit: 3})
    assert.deepEqual(p2.messages.map(m => m.content), ["m2", "m3", "m4"])
    assert.equal(p2.hasMore, true)
    const p3 = await push(b.channel, "history", {beforeSeq: p2.messages[0].seq, limit: 3})
    assert.deepEqual(p3.messages.map(m => m.content), ["m1"])
    assert.equal(p3.hasMore, false)
    assert.deepEqual(p3.messages[0].id, sent[0].id)
    // afterSeq: the other direction
    const fwd = await push(b.channel, "history", {afterSeq: 5, limit: 10})
    assert.deepEqual(fwd.messages.map(m => m.seq), [6, 7])
    assert.equal(fwd.hasMore, false)
  })
})

describe("membership", () => {
  test("a non-member's join of chat:X is refused", async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol")
    const conv = await conversation([alice, bob])
    const s = await ctx.pool.connect(carol)
    const err = await joinError(s.channel(`chat:${conv}`))
    assert.deepEqual(err, {reason: "not a member"})
    // the connection is still usable: a member on another socket is unaffected, carol can
    // join her own user topic
    await join(s.channel(`user:${carol}`))
  })

  test("joining someone else's user:<id> is refused", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const s = await ctx.pool.connect(alice)
    const err = await joinError(s.channel(`user:${bob}`))
    assert.equal(typeof err.reason, "string")
    await join(s.channel(`user:${alice}`))
  })
})

test("a resend with the same clientMsgId produces one message", async () => {
  const alice = uid("alice"), bob = uid("bob")
  const conv = await conversation([alice, bob])
  const a = await chatChannel(await ctx.pool.connect(alice), conv)
  const b = await chatChannel(await ctx.pool.connect(bob), conv)
  const first = await push(a.channel, "message:send", {content: "once", clientMsgId: "dup-1"})
  const again = await push(a.channel, "message:send", {content: "once", clientMsgId: "dup-1"})
  assert.equal(again.id, first.id)
  assert.equal(again.seq, first.seq)
  // a fence: the next distinct message must be bob's second message:new
  const next = await push(a.channel, "message:send", {content: "next", clientMsgId: "dup-2"})
  assert.notEqual(next.id, first.id)
  assert.equal((await b.inboxes["message:new"].next()).id, first.id)
  assert.equal((await b.inboxes["message:new"].next()).id, next.id)
  assert.deepEqual(b.inboxes["message:new"].items.map(m => m.id), [first.id, next.id])
  const h = await push(b.channel, "history", {})
  assert.deepEqual(h.messages.map(m => m.id), [first.id, next.id])
})

describe("store-and-forward", () => {
  test("an offline member gets the backlog in order, acks it, and gets nothing twice", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const aSocket = await ctx.pool.connect(alice)
    const aUser = await userChannel(aSocket, alice)
    const a = await chatChannel(aSocket, conv)
    const sent = []
    for (let i = 1; i <= 5; i++) {
      sent.push(await push(a.channel, "message:send", {content: `offline ${i}`, clientMsgId: `o-${i}`}))
    }

    // bob connects later
    const bSocket = await ctx.pool.connect(bob)
    const bUser = await userChannel(bSocket, bob)
    const got = []
    for (let i = 0; i < 5; i++) got.push(await bUser.inboxes.new.next())
    assert.deepEqual(got.map(m => m.id), sent.map(m => m.id))
    assert.deepEqual(got.map(m => m.content), sent.map(m => m.content))
    for (const m of got) {
      const r = await push(bUser.channel, "message:ack", {messageId: m.id})
      assert.deepEqual(r, {deleted: true})
    }
    const delivered = []
    for (let i = 0; i < 5; i++) delivered.push(await aUser.inboxes.delivered.next())
    assert.deepEqual(delivered.map(d => d.messageId).sort(), sent.map(m => m.id).sort())
    for (const d of delivered) {
      assert.equal(d.userId, bob)
      assert.equal(d.conversationId, conv)
      assert.equal(d.seq, sent.find(m => m.id === d.messageId).seq)
    }
    bSocket.disconnect()

    // reconnect: nothing from before; the first message:new is one sent after the join
    const bSocket2 = await ctx.pool.connect(bob)
    const bUser2 = await userChannel(bSocket2, bob)
    const fresh = await push(a.channel, "message:send", {content: "after reconnect", clientMsgId: "o-6"})
    const first = await bUser2.inboxes.new.next()
    assert.equal(first.id, fresh.id, `first message:new after reconnect: ${JSON.stringify(first)}`)
    // a repeated ack is harmless
    assert.deepEqual(await push(bUser2.channel, "message:ack", {messageId: sent[0].id}), {deleted: false})
  })

  test("an unacked entry is redelivered after a reconnect", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const aSocket = await ctx.pool.connect(alice)
    const aUser = await userChannel(aSocket, alice)
    const a = await chatChannel(aSocket, conv)
    const sent = []
    for (let i = 1; i <= 3; i++) sent.push(await push(a.channel, "message:send", {content: `u${i}`}))

    const bSocket = await ctx.pool.connect(bob)
    const bUser = await userChannel(bSocket, bob)
    const got = []
    for (let i = 0; i < 3; i++) got.push(await bUser.inboxes.new.next())
    assert.deepEqual(got.map(m => m.id), sent.map(m => m.id))
    // ack only the first
    assert.deepEqual(await push(bUser.channel, "message:ack", {messageId: sent[0].id}), {deleted: true})
    assert.equal((await aUser.inboxes.delivered.next()).messageId, sent[0].id)
    bSocket.disconnect()

    const bSocket2 = await ctx.pool.connect(bob)
    const bUser2 = await userChannel(bSocket2, bob)
    const again = [await bUser2.inboxes.new.next(), await bUser2.inboxes.new.next()]
    assert.deepEqual(again.map(m => m.id), [sent[1].id, sent[2].id])
    // fence: the next one is a new message, not a third copy of anything
    const fresh = await push(a.channel, "message:send", {content: "u4"})
    assert.equal((await bUser2.inboxes.new.next()).id, fresh.id)
    assert.equal(bUser2.inboxes.new.items.length, 3)
  })
})

describe("crash", () => {
  test("SIGKILL in the middle of a send burst: every ok'd message is in history and bob's queue",
       async t => {
    const crashDb = tempDb("crash")
    const secret = randomToken()
    const admin = randomToken()
    const args = ["--storage", crashDb.url, "--admin-token", admin, "--send-rate", "0"]
    const servers = []
    const pools = []
    try {
      const s1 = await startServer({args, secret})
      servers.push(s1)
      const alice = uid("alice"), bob = uid("bob")
      const conv = uid("conv")
      await createConversation(s1, admin, {id: conv, kind: "direct", members: [alice, bob]})

      const pool1 = new SocketPool(s1)
      pools.push(pool1)
      const aSocket = await pool1.connect(alice, {opts: {reconnectAfterMs: () => 60000}})
      const a = await chatChannel(aSocket, conv)

      const TOTAL = 300, IN_FLIGHT = 8, KILL_AFTER = 100
      const ok = new Map()   // id -> message (ok replies)
      let nextIndex = 0
      let killed = false
      const worker = async () => {
        while (!killed && nextIndex < TOTAL) {
          const i = nextIndex++
          try {
            const m = await push(a.channel, "message:send", {content: `burst ${i}`, clientMsgId: `b-${i}`}, 3000)
            ok.set(m.id, m)
            if (ok.size >= KILL_AFTER && !killed) {
              killed = true
              s1.child.kill("SIGKILL")
            }
          } catch {
            return   // the server is gone
          }
        }
      }
      const closed = aSocket.events.closes.next(() => true, 15000)
      const workers = Array.from({length: IN_FLIGHT}, worker)
      await s1.exited
      assert.equal(s1.exitInfo.signal, "SIGKILL")
      // Replies already in the TCP buffer are read before the close event.
      await closed
      aSocket.disconnect()
      const okIds = [...ok.keys()]
      assert.ok(killed, "the server was killed during the burst")
      assert.ok(okIds.length >= KILL_AFTER && okIds.length < TOTAL,
                `killed mid-burst: ${okIds.length} ok of ${TOTAL}`)
      // Workers end on their pushes' timeouts; don't wait for them.
      workers.forEach(w => w.catch(() => {}))

      // restart on the same file
      const s2 = await startServer({args, secret})
      servers.push(s2)
      const pool2 = new SocketPool(s2)
      pools.push(pool2)

      const a2 = await chatChannel(await pool2.connect(alice), conv)
      assert.ok(a2.reply.lastSeq >= okIds.length, `lastSeq ${a2.reply.lastSeq} after restart`)
      const history = []
      let page = await push(a2.channel, "history", {limit: 100})
      history.unshift(...page.messages)
      while (page.hasMore) {
        page = await push(a2.channel, "history", {beforeSeq: page.messages[0].seq, limit: 100})
        history.unshift(...page.messages)
      }
      const seqs = history.map(m => m.seq)
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "history ascending across pages")
      const inHistory = new Map(history.map(m => [m.id, m]))
      const missingHistory = okIds.filter(id => !inHistory.has(id))
      assert.deepEqual(missingHistory, [], `ok'd messages missing from history (${history.length} in history)`)
      for (const id of okIds) {
        assert.equal(inHistory.get(id).content, ok.get(id).content)
        assert.equal(inHistory.get(id).seq, ok.get(id).seq)
      }

      // bob was offline the whole time: everything ok'd is in his queue
      const bUser = await userChannel(await pool2.connect(bob), bob)
      const received = new Map()
      const missing = new Set(okIds)
      while (missing.size > 0) {
        let m
        try {
          m = await bUser.inboxes.new.next(() => true, WAIT_MS)
        } catch (e) {
          throw new Error(`bob's queue lacks ${missing.size} of ${okIds.length} ok'd messages ` +
                          `(received ${received.size}): ${[...missing].slice(0, 5).join(", ")}`, {cause: e})
        }
        assert.ok(!received.has(m.id), `message ${m.id} delivered twice in one backlog`)
        received.set(m.id, m)
        missing.delete(m.id)
      }
      t.diagnostic(`${okIds.length} ok of ${TOTAL} before SIGKILL; lastSeq after restart ` +
                   `${a2.reply.lastSeq}; history ${history.length}; bob's backlog ${received.size}`)
      const got = bUser.inboxes.new.items.map(m => m.seq)
      assert.deepEqual(got, [...got].sort((x, y) => x - y), "backlog in seq order")
    } finally {
      for (const p of pools) p.disconnectAll()
      for (const s of servers) {
        if (s === servers[0]) await s.kill()
        else await s.stop()
      }
      crashDb.remove()
    }
  })
})
