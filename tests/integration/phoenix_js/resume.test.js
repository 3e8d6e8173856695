// Resume on rejoin (docs/chat.md "Resume", issue 8) through the unmodified phoenix.js
// client: the reader's channel params are a function of the last seq it saw, so phoenix.js's
// own reconnect + rejoin resumes. The reader reaches the server through a TCP proxy that
// takes the connection away under it (the peer closes TCP, no close frame) and keeps it
// away while others send; it also goes through conn.terminate() and a SIGKILL of the
// server. Every test collects every seq-bearing event the reader got and checks the seqs
// are exactly the contiguous range, in order.
import assert from "node:assert/strict"
import {after, afterEach, describe, test} from "node:test"

import {Deduper, resumableChannel} from "../../../examples/web/resume.js"
import {createConversation, randomToken, tempDb, uid} from "./support/chat.js"
import {useServer} from "./support/fixture.js"
import {
  Inbox, SocketPool, WAIT_MS, join, joinError, listen, makeSocket, push, trackSocket, waitOpen,
} from "./support/phoenix.js"
import {
  Sender, assertExactRange, resumingChannel, seqLog, startProxy, until, watchable,
} from "./support/resume.js"
import {startServer} from "./support/server.js"

// Replays of a few hundred events under ASan take a while; waits for them get this.
const LONG_MS = 30000

const proxies = []
const readers = []
afterEach(() => {
  for (const s of readers.splice(0)) s.disconnect()
})
after(async () => {
  for (const p of proxies) await p.close()
})

async function proxyTo(server) {
  const p = await startProxy(server.port)
  proxies.push(p)
  return p
}

// readerSocket(proxy, server, sub): a connected phoenix.js Socket through the proxy that
// retries quickly while the proxy is offline (the default backoff climbs to 5 s).
async function readerSocket(proxy, server, sub) {
  const socket = makeSocket(proxy.wsUrl, {
    params: {token: server.token(sub)},
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 300,
  })
  socket.events = trackSocket(socket)
  readers.push(socket)
  socket.connect()
  await waitOpen(socket, `the reader socket for ${sub} to open`)
  return socket
}

async function conversation(server, admin, members) {
  const id = uid("conv")
  await createConversation(server, admin, {id, kind: "group", members})
  return id
}

// chatChannel(socket, conv, params): joined chat:<conv>, with a seq log.
async function chatChannel(socket, conv, params = {presence: false}) {
  const channel = socket.channel(`chat:${conv}`, params)
  const log = seqLog(channel)
  const reply = await join(channel)
  return {channel, log, reply}
}

// sendMany(channel, n, prefix, inFlight): n message:send with up to inFlight outstanding;
// the ok replies sorted by seq.
async function sendMany(channel, n, prefix, inFlight = 8) {
  const out = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      out.push(await push(channel, "message:send", {content: `${prefix} ${i}`, clientMsgId: `${prefix}-${i}`}))
    }
  }
  await Promise.all(Array.from({length: Math.min(inFlight, n)}, worker))
  return out.sort((x, y) => x.seq - y.seq)
}

// assertMessagesAt(log, messages): each sent message is in the log as message:new at its
// seq, with its id and content.
function assertMessagesAt(log, messages) {
  const bySeq = new Map(log.entries.map(e => [e.seq, e]))
  for (const m of messages) {
    const e = bySeq.get(m.seq)
    assert.ok(e, `seq ${m.seq} (${m.content}) missing from the reader's log`)
    assert.equal(e.event, "message:new", `event at seq ${m.seq}`)
    assert.equal(e.payload.id, m.id, `message id at seq ${m.seq}`)
    assert.equal(e.payload.content, m.content, `content at seq ${m.seq}`)
  }
}

// fence(channel): a request/reply round trip through the storage queue on this channel; a
// replay (whose pages also go through that queue, submitted at the join) would be out first.
async function fence(channel) {
  await push(channel, "history", {limit: 1})
}

async function leave(channel) {
  await new Promise((resolve, reject) => {
    channel.leave(WAIT_MS).receive("ok", resolve).receive("timeout", () => reject(new Error("leave timed out")))
  })
}

const ADMIN = randomToken()
const db = tempDb("resume")
after(() => db.remove())

describe("resume on the default server (--replay-page 200)", () => {
  const ctx = useServer({args: ["--storage", db.url, "--admin-token", ADMIN, "--send-rate", "0"]})

  test("connection lost while 200 messages are sent: the automatic rejoin replays all 200 once, in order, then live",
       async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation(ctx.server, ADMIN, [alice, bob])
    const proxy = await proxyTo(ctx.server)
    const bobSocket = await readerSocket(proxy, ctx.server, bob)
    const reader = resumingChannel(bobSocket, `chat:${conv}`)
    assert.deepEqual(await reader.oks.next(), {lastSeq: 0, recovered: true, from_seq: 1, to_seq: 0},
                     "a resume from 0 of an empty conversation: nothing missed")
    const a = await chatChannel(await ctx.pool.connect(alice), conv)

    const before = await sendMany(a.channel, 3, "before", 1)
    await reader.log.untilSeq(3)

    proxy.offline()
    await bobSocket.events.closes.next()
    const missed = await sendMany(a.channel, 200, "missed")
    assert.deepEqual(missed.map(m => m.seq), Array.from({length: 200}, (_, i) => 4 + i))
    assert.equal(reader.log.lastSeen, 3, "nothing reached the reader while it was offline")
    proxy.online()

    const rejoin = await reader.oks.next()
    assert.deepEqual(rejoin, {lastSeq: 203, recovered: true, from_seq: 4, to_seq: 203})
    assert.deepEqual(reader.asked, [0, 3], "the params function ran for the join and the rejoin")
    await reader.log.untilSeq(203, LONG_MS)
    const live = await sendMany(a.channel, 5, "live", 1)
    await reader.log.untilSeq(208)

    assertExactRange(reader.log.seqs(), 1, 208, "reader's seqs")
    assert.ok(reader.log.entries.every(e => e.event === "message:new"))
    assertMessagesAt(reader.log, [...before, ...missed, ...live])
    assert.equal(bobSocket.events.opens.items.length, 2, "one reconnect")
  })

  test("a sender keeps sending through three reconnects: no gap and no duplicate at any seam",
       async t => {
    const alice = uid("alice"), carol = uid("carol"), bob = uid("bob")
    const conv = await conversation(ctx.server, ADMIN, [alice, carol, bob])
    const proxy = await proxyTo(ctx.server)
    const bobSocket = await readerSocket(proxy, ctx.server, bob)
    const reader = resumingChannel(bobSocket, `chat:${conv}`)
    await reader.oks.next()
    const a = await chatChannel(await ctx.pool.connect(alice), conv)
    const c = await chatChannel(await ctx.pool.connect(carol), conv)
    const senders = [new Sender(a.channel, {prefix: "a"}).start(), new Sender(c.channel, {prefix: "c"}).start()]
    const sent = () => senders.reduce((n, s) => n + s.oks.length, 0)
    const waitSent = async n => { for (const s of senders) await s.waitCount(Math.ceil(n / 2), LONG_MS) }
    const rejoined = async what => {
      await bobSocket.events.closes.next()
      const r = await reader.oks.next(() => true, LONG_MS)
      const asked = reader.asked.at(-1)
      assert.equal(r.recovered, true, `${what}: ${JSON.stringify(r)}`)
      assert.equal(r.from_seq, asked + 1, `${what}: from_seq follows the last_seq sent`)
      return r
    }

    await waitSent(60)
    // 1: offline while ~100 more go out, then back.
    proxy.offline()
    await bobSocket.events.closes.next()
    await waitSent(sent() + 100)
    proxy.online()
    const r1 = await reader.oks.next(() => true, LONG_MS)
    assert.equal(r1.recovered, true)
    assert.equal(r1.from_seq, reader.asked.at(-1) + 1)
    assert.ok(r1.to_seq - r1.from_seq >= 90, `the first rejoin had a backlog: ${JSON.stringify(r1)}`)

    // 2: the transport terminated under phoenix.js: immediate reconnect, tiny replay.
    await waitSent(sent() + 40)
    bobSocket.conn.terminate()
    const r2 = await rejoined("terminate")

    // 3: the TCP connection closed by the peer, and accepted again at once.
    await waitSent(sent() + 40)
    proxy.cut()
    const r3 = await rejoined("cut")

    await waitSent(sent() + 60)
    let last = 0
    for (const s of senders) last = Math.max(last, await s.stop())
    await reader.log.untilSeq(last, LONG_MS)

    assertExactRange(reader.log.seqs(), 1, last, "reader's seqs across 3 reconnects")
    assertMessagesAt(reader.log, senders.flatMap(s => s.oks))
    assert.equal(reader.log.entries.length, sent(), "every ok'd message, nothing else")
    assert.equal(bobSocket.events.opens.items.length, 4, "three reconnects")
    t.diagnostic(`rejoins: ${JSON.stringify([r1, r2, r3])}; ${last} events in all`)
  })

  test("without last_seq the join is as before; a bad last_seq is refused", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation(ctx.server, ADMIN, [alice, bob])
    const a = await chatChannel(await ctx.pool.connect(alice), conv)
    await sendMany(a.channel, 3, "m", 1)
    const socket = await ctx.pool.connect(bob)

    for (const bad of [-1, 1.5, "3", true, {}, [2]]) {
      const err = await joinError(socket.channel(`chat:${conv}`, {last_seq: bad}))
      assert.deepEqual(err, {reason: "last_seq must be a non-negative integer"}, `last_seq ${JSON.stringify(bad)}`)
    }
    for (const params of [{}, {last_seq: null}]) {
      const ch = await chatChannel(socket, conv, {presence: false, ...params})
      assert.deepEqual(ch.reply, {lastSeq: 3}, `join with ${JSON.stringify(params)}`)
      await fence(ch.channel)
      assert.deepEqual(ch.log.entries, [], "no replay")
      await leave(ch.channel)
    }
    // the refusals left the connection usable and nothing half-joined
    const ok = await chatChannel(socket, conv, {presence: false, last_seq: 1})
    assert.deepEqual(ok.reply, {lastSeq: 3, recovered: true, from_seq: 2, to_seq: 3})
    await ok.log.untilSeq(3)
    assert.deepEqual(ok.log.seqs(), [2, 3])
  })

  test("store-and-forward + resume with examples/web/resume.js: the app gets each message once, queue entries acked",
       async () => {
    const alice = uid("alice"), bob = uid("bob")
    // X: bob joins user:{bob} and chat:X together (the documented flow; whichever path is
    // first). Y: bob's chat:Y replay is complete before he joins user:{bob}, so every Y
    // queue entry arrives behind the chat stream. Both orders must dedupe.
    const X = await conversation(ctx.server, ADMIN, [alice, bob])
    const Y = await conversation(ctx.server, ADMIN, [alice, bob])
    const aSocket = await ctx.pool.connect(alice)
    const aUser = aSocket.channel(`user:${alice}`)
    const delivered = listen(aUser, "message:delivered")
    await join(aUser)
    const a = {[X]: await chatChannel(aSocket, X), [Y]: await chatChannel(aSocket, Y)}
    // bob's chat joins track presence: his leave, seen by alice, says the server has taken
    // him off chat:X (the queue decision is made against that), so what alice sends next is
    // queued for him.
    const diffs = {[X]: listen(a[X].channel, "presence_diff"), [Y]: listen(a[Y].channel, "presence_diff")}
    const bobLeft = conv => diffs[conv].next(d => Object.keys(d.leaves || {}).includes(bob), LONG_MS)

    // bob's client: what the app got, and what arrived on each path.
    const app = {[X]: [], [Y]: []}
    const raw = {queue: [], chat: {[X]: [], [Y]: []}}
    const acks = []
    const progress = watchable()
    const count = () => app[X].length + app[Y].length
    const waitFor = (pred, what) => until(progress, pred, what, LONG_MS,
      () => `app X ${app[X].length} Y ${app[Y].length}, queue ${raw.queue.length}, chat X ` +
            `${raw.chat[X].length} Y ${raw.chat[Y].length}`)
    // session(saved, yFirst): a new connection; the app's persisted state is `saved`
    // ({conv: {floor, lastSeq}}).
    const session = async (saved, yFirst) => {
      const socket = await ctx.pool.connect(bob)
      const dedup = new Deduper(Object.fromEntries(Object.entries(saved).map(([c, v]) => [c, v.floor])))
      const chat = {}
      const openChat = conv => {
        chat[conv] = resumableChannel(socket, `chat:${conv}`, {
          initialLastSeq: saved[conv].lastSeq,
          onEvent: (event, payload) => {
            raw.chat[conv].push({event, payload})
            if (dedup.fromChat(payload)) app[conv].push({event, payload})
            progress.changed()
          },
          onGap: gap => assert.fail(`unexpected gap ${JSON.stringify(gap)}`),
        })
        return new Promise((resolve, reject) => chat[conv].join.receive("ok", resolve).receive("error", reject))
      }
      const replies = {}
      if (yFirst) {
        replies[Y] = await openChat(Y)
        await waitFor(() => chat[Y].lastSeq() >= replies[Y].lastSeq, "chat:Y replay")
      }
      const user = socket.channel(`user:${bob}`)
      user.on("message:new", m => {
        raw.queue.push(m)
        if (dedup.fromQueue(m)) app[m.conversationId].push({event: "message:new", payload: m})
        acks.push(push(user, "message:ack", {messageId: m.id}))
        progress.changed()
      })
      const userJoined = join(user)
      const pending = [openChat(X).then(r => { replies[X] = r })]
      if (!yFirst) pending.push(openChat(Y).then(r => { replies[Y] = r }))
      await Promise.all([userJoined, ...pending])
      const state = () => Object.fromEntries([X, Y].map(c => [c, {floor: dedup.floor(c), lastSeq: chat[c].lastSeq()}]))
      return {socket, replies, state}
    }

    // session 1: online; live messages in both.
    const s1 = await session({[X]: {floor: 0, lastSeq: 0}, [Y]: {floor: 0, lastSeq: 0}}, false)
    assert.deepEqual(s1.replies[X], {lastSeq: 0, recovered: true, from_seq: 1, to_seq: 0})
    const first = {[X]: await sendMany(a[X].channel, 5, "first", 1), [Y]: await sendMany(a[Y].channel, 3, "first", 1)}
    await waitFor(() => count() >= 8, "8 live messages in the app")
    const saved = s1.state()
    assert.deepEqual(saved, {[X]: {floor: 5, lastSeq: 5}, [Y]: {floor: 3, lastSeq: 3}})
    s1.socket.disconnect()
    await bobLeft(X)
    await bobLeft(Y)
    assert.equal(raw.queue.length, 0, "no queue entries while joined to the chats")

    // offline: messages (queued for bob) in both; in X also an edit of a message bob has,
    // an edit of a missed one, a reaction.
    const offline = {[X]: await sendMany(a[X].channel, 20, "offline", 1), [Y]: await sendMany(a[Y].channel, 10, "offline", 1)}
    await push(a[X].channel, "message:edit", {messageId: first[X][2].id, content: "first 2 edited"})
    await push(a[X].channel, "message:edit", {messageId: offline[X][4].id, content: "offline 4 edited"})
    await push(a[X].channel, "message:reaction:add", {messageId: offline[X][7].id, emoji: "👍"})
    assert.equal(a[X].log.lastSeen, 28)
    assert.equal(a[Y].log.lastSeen, 13)

    // session 2: both paths deliver everything missed.
    const s2 = await session(saved, true)
    assert.deepEqual(s2.replies[X], {lastSeq: 28, recovered: true, from_seq: 6, to_seq: 28})
    assert.deepEqual(s2.replies[Y], {lastSeq: 13, recovered: true, from_seq: 4, to_seq: 13})
    await waitFor(() => raw.queue.length >= 30 && raw.chat[X].length >= 5 + 23 && raw.chat[Y].length >= 3 + 10,
                  "both paths complete")
    const ackReplies = await Promise.all(acks)
    assert.deepEqual(ackReplies, Array(30).fill({deleted: true}), "every queue entry acked once")

    for (const [conv, last] of [[X, 28], [Y, 13]]) {
      const queued = raw.queue.filter(m => m.conversationId === conv)
      assert.deepEqual(queued.map(m => m.id), offline[conv].map(m => m.id), "the queue backlog, in order")
      assertExactRange(raw.chat[conv].map(e => e.payload.seq), 1, last, "the chat stream across both sessions")
      const bySeq = new Map(raw.chat[conv].map(e => [e.payload.seq, e.payload]))
      for (const m of queued) assert.equal(bySeq.get(m.seq).id, m.id, `same id at seq ${m.seq} on both paths`)
      assertExactRange(app[conv].map(e => e.payload.seq).sort((x, y) => x - y), 1, last, "what the app got")
      const newIds = app[conv].filter(e => e.event === "message:new").map(e => e.payload.id)
      assert.deepEqual(newIds.sort(), [...first[conv], ...offline[conv]].map(m => m.id).sort())
    }
    assert.deepEqual(app[X].filter(e => e.event !== "message:new").map(e => [e.event, e.payload.seq]),
                     [["message:edited", 26], ["message:edited", 27], ["message:reaction:added", 28]])
    // Y's queue entries all came behind its replay: the app took none of them
    const yBeforeQueue = app[Y].filter(e => raw.queue.includes(e.payload))
    assert.deepEqual(yBeforeQueue, [], "Y: every queue entry was a duplicate")
    for (let i = 0; i < 30; i++) assert.equal((await delivered.next(() => true, LONG_MS)).userId, bob)
    assert.deepEqual(s2.state(), {[X]: {floor: 28, lastSeq: 28}, [Y]: {floor: 13, lastSeq: 13}})

    // live while joined: once, on chat:X only
    const live = (await sendMany(a[X].channel, 1, "live", 1))[0]
    await waitFor(() => app[X].length >= 29, "the live message in the app")
    assert.equal(app[X].at(-1).payload.id, live.id)
    s2.socket.disconnect()
    await bobLeft(X)

    // the acks emptied the queue: a new session's backlog starts with a new message
    const fresh = (await sendMany(a[X].channel, 1, "fresh", 1))[0]
    const s3 = await ctx.pool.connect(bob)
    const u3 = s3.channel(`user:${bob}`)
    const backlog = listen(u3, "message:new")
    await join(u3)
    assert.equal((await backlog.next()).id, fresh.id, "nothing acked came back")
  })
})

describe("paging (--replay-page 7): edits, deletes and reactions replay too", () => {
  const admin = randomToken()
  const pdb = tempDb("resume-paging")
  after(() => pdb.remove())
  const ctx = useServer({args: ["--storage", pdb.url, "--admin-token", admin, "--send-rate", "0",
                                "--replay-page", "7"]})

  test("~300 missed events of every kind replay in order, exactly once, shaped like the live ones",
       async () => {
    const alice = uid("alice"), bob = uid("bob"), olga = uid("olga")
    const conv = await conversation(ctx.server, admin, [alice, bob, olga])
    const proxy = await proxyTo(ctx.server)
    const bobSocket = await readerSocket(proxy, ctx.server, bob)
    const reader = resumingChannel(bobSocket, `chat:${conv}`)
    await reader.oks.next()
    // olga stays online: her live events are what the replay must look like.
    const o = await chatChannel(await ctx.pool.connect(olga), conv)
    const a = await chatChannel(await ctx.pool.connect(alice), conv)

    const pre = await sendMany(a.channel, 10, "pre", 1)
    await reader.log.untilSeq(10)
    proxy.offline()
    await bobSocket.events.closes.next()

    const act = (event, payload) => push(a.channel, event, payload)
    const msgs = await sendMany(a.channel, 150, "m")
    await act("message:edit", {messageId: pre[0].id, content: "pre 0 edited"})
    await act("message:delete", {messageId: pre[1].id})
    await act("message:reaction:add", {messageId: pre[2].id, emoji: "🎉"})
    for (let k = 0; k < 40; k++) await act("message:edit", {messageId: msgs[3 * k].id, content: `m ${3 * k} edited`})
    for (let k = 0; k < 30; k++) await act("message:delete", {messageId: msgs[3 * k + 1].id})
    for (let k = 0; k < 40; k++) {
      await act("message:reaction:add", {messageId: msgs[3 * k + 2].id, emoji: k % 2 ? "👍" : "❤️"})
    }
    for (let k = 0; k < 15; k++) {
      await act("message:reaction:remove", {messageId: msgs[3 * k + 2].id, emoji: k % 2 ? "👍" : "❤️"})
    }
    // edited, then deleted
    for (let k = 0; k < 5; k++) await act("message:delete", {messageId: msgs[3 * k].id})
    const last = a.log.lastSeen
    assert.equal(last, 10 + 150 + 3 + 40 + 30 + 40 + 15 + 5)
    await o.log.untilSeq(last, LONG_MS)
    assertExactRange(o.log.seqs(), 1, last, "the online member's live stream")

    proxy.online()
    const rejoin = await reader.oks.next(() => true, LONG_MS)
    assert.deepEqual(rejoin, {lastSeq: last, recovered: true, from_seq: 11, to_seq: last})
    await reader.log.untilSeq(last, LONG_MS)
    const tail = (await sendMany(a.channel, 2, "tail", 1))
    await reader.log.untilSeq(tail[1].seq)
    assertExactRange(reader.log.seqs(), 1, tail[1].seq, "reader's seqs")

    // current state of every message, to compare replayed message:new with
    const current = new Map()
    for (let after = 0, more = true; more;) {
      const page = await push(o.channel, "history", {afterSeq: after, limit: 100})
      for (const m of page.messages) current.set(m.id, m)
      more = page.hasMore
      after = page.messages.at(-1)?.seq ?? after
    }
    const live = new Map(o.log.entries.map(e => [e.seq, e]))
    const counts = {}
    for (const e of reader.log.entries.filter(e => e.seq >= 11 && e.seq <= last)) {
      const l = live.get(e.seq)
      assert.equal(e.event, l.event, `event name at seq ${e.seq}`)
      counts[e.event] = (counts[e.event] || 0) + 1
      if (e.event === "message:new") {
        // the message in its current state (edits and deletes folded in, as history has
        // it); reactions are not inside it, they replay as their own events
        assert.equal(e.payload.reactions, undefined, `replayed message:new at seq ${e.seq} carries no reactions`)
        const {reactions: _r, ...now} = current.get(e.payload.id)
        assert.deepEqual(e.payload, now, `replayed message:new at seq ${e.seq} is the current state`)
      } else {
        assert.deepEqual(e.payload, l.payload, `replayed ${e.event} at seq ${e.seq} equals the live one`)
      }
    }
    assert.deepEqual(counts, {"message:new": 150, "message:edited": 41, "message:deleted": 36,
                              "message:reaction:added": 41, "message:reaction:removed": 15})
    assert.equal([...current.values()].filter(m => m.reactions).length, 1 + 40 - 15,
                 "history has the reactions the replay carried as events")
    const editedDeleted = reader.log.entries.find(e => e.event === "message:new" && e.payload.id === msgs[0].id)
    assert.equal(editedDeleted.payload.content, current.get(msgs[0].id).content)
    assert.ok(editedDeleted.payload.deletedAt, "an edited then deleted message replays as its tombstone")
    const edited = reader.log.entries.find(e => e.event === "message:new" && e.payload.id === msgs[30].id)
    assert.equal(edited.payload.content, "m 30 edited")
    assert.ok(edited.payload.editedAt)
  })
})

describe("outside the window (--resume-max-events 10)", () => {
  const admin = randomToken()
  const wdb = tempDb("resume-window")
  after(() => wdb.remove())
  const ctx = useServer({args: ["--storage", wdb.url, "--admin-token", admin, "--send-rate", "0",
                                "--resume-max-events", "10"]})

  test("recovered:false with the available range when last_seq is too old or ahead; the boundary replays",
       async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation(ctx.server, admin, [alice, bob])
    const a = await chatChannel(await ctx.pool.connect(alice), conv)
    const sent = await sendMany(a.channel, 30, "w")
    const socket = await ctx.pool.connect(bob)

    const attempt = async (lastSeq, expected) => {
      const ch = await chatChannel(socket, conv, {presence: false, last_seq: lastSeq})
      assert.deepEqual(ch.reply, expected, `join with last_seq ${lastSeq}`)
      if (expected.recovered && expected.to_seq >= expected.from_seq) await ch.log.untilSeq(expected.to_seq)
      await fence(ch.channel)
      const got = ch.log.seqs()
      await leave(ch.channel)
      return got
    }
    const gap = reason => ({lastSeq: 30, recovered: false, reason, first_seq: 21, last_seq: 30})
    assert.deepEqual(await attempt(19, gap("out_of_window")), [], "nothing replayed")
    assert.deepEqual(await attempt(0, gap("out_of_window")), [])
    assert.deepEqual(await attempt(31, gap("ahead")), [])
    assert.deepEqual(await attempt(1000, gap("ahead")), [])
    assert.deepEqual(await attempt(20, {lastSeq: 30, recovered: true, from_seq: 21, to_seq: 30}),
                     Array.from({length: 10}, (_, i) => 21 + i))
    assert.deepEqual(await attempt(30, {lastSeq: 30, recovered: true, from_seq: 31, to_seq: 30}), [])

    // the example module: onGap gets the range, the app pages history for it; live events
    // flow meanwhile and move lastSeq on.
    const gaps = new Inbox("onGap")
    const events = new Inbox("onEvent")
    const r = resumableChannel(socket, `chat:${conv}`, {
      initialLastSeq: 5,
      params: {presence: false},
      onEvent: (event, payload) => events.put({event, payload}),
      onGap: g => gaps.put(g),
    })
    const g = await gaps.next()
    assert.equal(g.channel, r.channel)
    assert.deepEqual({...g, channel: undefined},
                     {after: 5, reason: "out_of_window", first_seq: 21, last_seq: 30, channel: undefined})
    const paged = []
    for (let after = g.after, more = true; more;) {
      const page = await push(g.channel, "history", {afterSeq: after, limit: 7})
      paged.push(...page.messages)
      more = page.hasMore
      after = page.messages.at(-1)?.seq ?? after
    }
    assert.deepEqual(paged.map(m => m.id), sent.slice(5).map(m => m.id), "history fills the gap")
    assert.equal(events.items.length, 0, "no replay")
    const live = (await sendMany(a.channel, 1, "after-gap", 1))[0]
    const e = await events.next()
    assert.equal(e.payload.id, live.id)
    assert.equal(r.lastSeq(), 31)
  })
})

describe("server SIGKILL and restart on the same storage", () => {
  test("the reader's phoenix.js socket reconnects to the restarted server and resumes: 200 missed once, in order, then live",
       async () => {
    const cdb = tempDb("resume-crash")
    const secret = randomToken()
    const admin = randomToken()
    const args = ["--storage", cdb.url, "--admin-token", admin, "--send-rate", "0"]
    const servers = []
    const pools = []
    try {
      const s1 = await startServer({args, secret})
      servers.push(s1)
      const alice = uid("alice"), bob = uid("bob")
      const conv = await conversation(s1, admin, [alice, bob])
      const proxy = await proxyTo(s1)
      const bobSocket = await readerSocket(proxy, s1, bob)
      const reader = resumingChannel(bobSocket, `chat:${conv}`)
      await reader.oks.next()

      const pool1 = new SocketPool(s1)
      pools.push(pool1)
      const a1 = await chatChannel(await pool1.connect(alice, {opts: {reconnectAfterMs: () => 60000}}), conv)
      const pre = await sendMany(a1.channel, 20, "pre", 1)
      await reader.log.untilSeq(20)
      // kill in the middle of a burst; the reader stays away until told (the proxy refuses
      // it) so that it misses what the restarted server gets.
      const burst = new Sender(a1.channel, {prefix: "burst", timeoutMs: 3000}).start()
      await burst.waitCount(30, LONG_MS)
      proxy.block()
      s1.child.kill("SIGKILL")
      await s1.exited
      burst.stopped = true
      await bobSocket.events.closes.next(() => true, LONG_MS)
      pool1.disconnectAll()
      const seenAtKill = reader.log.lastSeen
      const okBeforeKill = [...pre, ...burst.oks]

      const s2 = await startServer({args, secret})
      servers.push(s2)
      proxy.retarget(s2.port)
      const pool2 = new SocketPool(s2)
      pools.push(pool2)
      const a2 = await chatChannel(await pool2.connect(alice), conv)
      const L1 = a2.reply.lastSeq
      assert.ok(L1 >= Math.max(...okBeforeKill.map(m => m.seq)), `lastSeq ${L1} after restart keeps every ok'd send`)
      const missed = await sendMany(a2.channel, 200, "missed")
      assert.equal(missed[0].seq, L1 + 1)

      proxy.online()
      const rejoin = await reader.oks.next(() => true, LONG_MS)
      assert.equal(reader.asked.at(-1), seenAtKill)
      assert.deepEqual(rejoin, {lastSeq: L1 + 200, recovered: true, from_seq: seenAtKill + 1, to_seq: L1 + 200})
      await reader.log.untilSeq(L1 + 200, LONG_MS)
      const live = await sendMany(a2.channel, 5, "live", 1)
      await reader.log.untilSeq(L1 + 205)

      assertExactRange(reader.log.seqs(), 1, L1 + 205, "reader's seqs across the crash")
      assertMessagesAt(reader.log, [...okBeforeKill, ...missed, ...live])
    } finally {
      for (const p of pools) p.disconnectAll()
      for (const s of servers) {
        if (s === servers[0]) await s.kill()
        else await s.stop()
      }
      cdb.remove()
    }
  })
})

test("Deduper (examples/web/resume.js): duplicate iff seq <= floor or already applied, per conversation", () => {
  const d = new Deduper({c: 5})
  assert.equal(d.fromChat({conversationId: "c", seq: 5}), false)
  assert.equal(d.fromQueue({conversationId: "c", seq: 8}), true, "queue ahead of the chat stream")
  assert.equal(d.fromQueue({conversationId: "c", seq: 8}), false, "redelivered entry")
  assert.equal(d.fromChat({conversationId: "c", seq: 6}), true)
  assert.equal(d.floor("c"), 6)
  assert.equal(d.fromChat({conversationId: "c", seq: 7}), true, "an edit: chat only")
  assert.equal(d.floor("c"), 8, "the floor climbs over what the queue applied")
  assert.equal(d.fromChat({conversationId: "c", seq: 8}), false, "the replay of a queued message")
  assert.equal(d.fromChat({conversationId: "c", seq: 9}), true)
  assert.equal(d.fromQueue({conversationId: "c", seq: 9}), false, "queue behind the chat stream")
  assert.equal(d.fromQueue({conversationId: "other", seq: 9}), true, "conversations are independent")
  // a gap filled from history: messages only, then advance over the edit seqs in it
  assert.equal(d.fromHistory({conversationId: "c", seq: 12}), true)
  assert.equal(d.fromChat({conversationId: "c", seq: 20}), true)
  assert.equal(d.floor("c"), 9)
  d.advance("c", 19)
  assert.equal(d.floor("c"), 20)
  assert.equal(d.fromQueue({conversationId: "c", seq: 12}), false)
})
