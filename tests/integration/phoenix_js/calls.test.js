// 1:1 calls on `webrtc:{user_id}` (docs/calls.md) through the real phoenix.js client: a full
// call with signaling relayed byte for byte, reject, busy, a third user refused, the HTTP
// calls API, history with storage; and, on a server with a 1 s ring timeout and grace,
// missed calls and a dropped party.
import assert from "node:assert/strict"
import {after, describe, test} from "node:test"

import {adminRequest, randomToken, tempDb, uid} from "./support/chat.js"
import {received, webrtc} from "./support/calls.js"
import {useServer} from "./support/fixture.js"
import {joinError, push, pushError} from "./support/phoenix.js"

const ADMIN = randomToken()
const TURN_CREDENTIAL = `turn-secret-${randomToken()}`
const STUN = "stun:stun.example.org:3478"
const TURN = "turn:turn.example.org:3478?transport=udp"
const ICE_SERVERS = [
  {urls: [STUN]},
  {urls: [TURN], username: "quck", credential: TURN_CREDENTIAL},
]

// An SDP and an ICE candidate with everything JSON can make awkward: CRLF, quotes,
// backslashes, non-ASCII, an emoji (a surrogate pair), "</script>", nested values, numbers.
const SDP = {
  type: "offer",
  sdp: "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
       "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS \"quoted\" \\back\\slash\r\n" +
       "a=x-note:héllo wörld ✓ 😀 </script>\u0001\r\n",
}
const CANDIDATE = {
  candidate: "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 " +
             "rport 0 generation 0 ufrag EsAw network-cost 999",
  sdpMid: "0",
  sdpMLineIndex: 0,
  usernameFragment: "EsAw",
  extra: {nested: [1, 2.5, -3e-7, true, null, "ü"]},
}

const json = v => JSON.stringify(v)

describe("calls (default ring timeout, storage)", () => {
  const db = tempDb("calls")
  const ctx = useServer({args: [
    "--storage", db.url, "--admin-token", ADMIN,
    "--stun-server-url", STUN, "--turn-server-url", TURN,
    "--turn-username", "quck", "--turn-credential", TURN_CREDENTIAL,
  ]})
  after(() => db.remove())

  async function connect(user) {
    return webrtc(await ctx.pool.connect(user), user)
  }

  test("join webrtc:{own id} gets the ICE servers; another user's topic is forbidden", async () => {
    const alice = uid("alice")
    const socket = await ctx.pool.connect(alice)
    const a = await webrtc(socket, alice)
    assert.deepEqual(a.reply, {iceServers: ICE_SERVERS, call: null})
    assert.deepEqual(await joinError(socket.channel(`webrtc:${uid("bob")}`)), {reason: "forbidden"})
    assert.ok(!ctx.server.stderr().includes(TURN_CREDENTIAL), "the TURN credential was logged")
  })

  test("a full call: ring every device, answer, offer/answer/ICE relayed byte for byte, toggle, end", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await connect(alice)
    const b1 = await connect(bob)
    const b2 = await connect(bob)  // bob's second device

    const started = await push(a.channel, "call:initiate", {calleeId: bob, media: "video"})
    assert.equal(started.state, "ringing")
    assert.equal(started.callerId, alice)
    assert.equal(started.calleeId, bob)
    const callId = started.callId
    assert.equal(typeof callId, "string")
    for (const device of [b1, b2]) {
      const incoming = await device.inbox["call:incoming"].next()
      assert.equal(incoming.callId, callId)
      assert.equal(incoming.callerId, alice)
      assert.equal(incoming.media, "video")
      assert.deepEqual(incoming.iceServers, ICE_SERVERS)
    }

    const answered = await push(b1.channel, "call:answer", {callId})
    assert.equal(answered.state, "active")
    assert.equal((await a.inbox["call:answered"].next()).callId, callId)
    const stop = await b2.inbox["call:answered"].next()  // the other device stops ringing
    assert.deepEqual([stop.callId, stop.calleeId], [callId, bob])

    // offer: alice -> bob, byte for byte, with callId and the authenticated sender
    await push(a.channel, "webrtc:offer", {callId, sdp: SDP, from: "mallory"})
    const offer = await b1.inbox["webrtc:offer"].next()
    assert.equal(json(offer.sdp), json(SDP))
    assert.equal(offer.from, alice)
    assert.equal(offer.callId, callId)
    // answer: bob -> alice
    const answerSdp = {...SDP, type: "answer"}
    await push(b1.channel, "webrtc:answer", {callId, sdp: answerSdp})
    const answer = await a.inbox["webrtc:answer"].next()
    assert.equal(json(answer.sdp), json(answerSdp))
    assert.equal(answer.from, bob)
    // ICE both ways, and the end-of-candidates null
    await push(a.channel, "webrtc:ice-candidate", {callId, candidate: CANDIDATE})
    const c1 = await b1.inbox["webrtc:ice-candidate"].next()
    assert.equal(json(c1.candidate), json(CANDIDATE))
    assert.equal(c1.from, alice)
    await push(b1.channel, "webrtc:ice-candidate", {callId, candidate: null})
    const c2 = await a.inbox["webrtc:ice-candidate"].next()
    assert.equal(c2.candidate, null)
    assert.equal(c2.from, bob)
    // nothing signaling-related came back to its own sender
    assert.equal(a.inbox["webrtc:offer"].items.length, 0)
    assert.equal(b1.inbox["webrtc:answer"].items.length, 0)

    // media state
    await push(b1.channel, "call:toggle-video", {callId, enabled: false})
    assert.deepEqual(await a.inbox["call:toggle-video"].next(), {callId, enabled: false, from: bob})
    await push(a.channel, "call:toggle-audio", {callId, enabled: false})
    assert.deepEqual(await b1.inbox["call:toggle-audio"].next(), {callId, enabled: false, from: alice})

    // the participants API sees the call and the media state
    const view = await adminRequest(ctx.server, ADMIN, "GET", `/api/calls/${callId}/participants`)
    assert.equal(view.status, 200, view.text)
    assert.equal(view.body.callId, callId)
    assert.equal(view.body.state, "active")
    assert.deepEqual(view.body.participants.map(p => [p.userId, p.role, p.joined, p.audio, p.video]),
                     [[alice, "caller", true, false, true], [bob, "callee", true, true, false]])

    // end: everyone hears it, with the duration
    const ended = await push(a.channel, "call:end", {callId})
    assert.equal(ended.outcome, "completed")
    assert.equal(typeof ended.duration, "number")
    for (const side of [a, b1, b2]) {
      const e = await side.inbox["call:ended"].next()
      assert.deepEqual([e.callId, e.endedBy, e.reason], [callId, alice, "ended"])
      assert.ok(e.durationMs >= 0)
    }
    assert.deepEqual(await pushError(a.channel, "webrtc:offer", {callId, sdp: SDP}), {reason: "not found"})

    // history (storage): newest first, seen from each side
    const mine = await push(a.channel, "call:history", {limit: 5})
    assert.equal(mine.calls[0].callId, callId)
    assert.equal(mine.calls[0].outcome, "completed")
    assert.equal(mine.calls[0].direction, "outgoing")
    assert.equal(mine.calls[0].media, "video")
    assert.ok(mine.calls[0].endedAt >= mine.calls[0].answeredAt)
    const theirs = await push(b2.channel, "call:history", {})
    assert.equal(theirs.calls[0].direction, "incoming")
  })

  test("reject: the caller and the callee's devices get call:rejected; history says rejected", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await connect(alice)
    const b = await connect(bob)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    await b.inbox["call:incoming"].next()
    assert.deepEqual(await pushError(a.channel, "call:answer", {callId}), {reason: "not the callee"})
    assert.deepEqual(await push(b.channel, "call:reject", {callId}), {callId, outcome: "rejected"})
    assert.deepEqual(await a.inbox["call:rejected"].next(), {callId, rejectedBy: bob})
    assert.deepEqual(await b.inbox["call:rejected"].next(), {callId, rejectedBy: bob})
    assert.deepEqual(await pushError(b.channel, "call:answer", {callId}), {reason: "not found"})
    const history = await push(b.channel, "call:history", {limit: 1})
    assert.deepEqual([history.calls[0].callId, history.calls[0].outcome], [callId, "rejected"])
    // both are free again
    const again = await push(a.channel, "call:initiate", {calleeId: bob})
    await push(a.channel, "call:end", {callId: again.callId})
  })

  test("busy: a callee already in a call refuses with busy, and does not ring", async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol")
    const a = await connect(alice)
    const b = await connect(bob)
    const c = await connect(carol)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    await push(b.channel, "call:answer", {callId})

    for (const target of [bob, alice]) {
      const busy = await pushError(c.channel, "call:initiate", {calleeId: target})
      assert.equal(busy.reason, "busy")
      assert.equal(typeof busy.callId, "string")
    }
    assert.equal((await pushError(a.channel, "call:initiate", {calleeId: carol})).reason,
                 "already in a call")
    // fence: an event alice sends bob now arrives after anything carol's attempt caused
    await push(a.channel, "call:toggle-audio", {callId, enabled: true})
    await b.inbox["call:toggle-audio"].next()
    assert.deepEqual(b.inbox["call:incoming"].items.map(x => x.callerId), [alice])  // not carol
    assert.equal(a.inbox["call:incoming"].items.length, 0)

    const history = await push(c.channel, "call:history", {})
    assert.deepEqual(history.calls.map(x => x.outcome), ["busy", "busy"])
    await push(b.channel, "call:end", {callId})
  })

  test("a third user cannot inject signaling, join a party's topic, or read the call", async () => {
    const alice = uid("alice"), bob = uid("bob"), mallory = uid("mallory")
    const a = await connect(alice)
    const b = await connect(bob)
    const mSocket = await ctx.pool.connect(mallory)
    const m = await webrtc(mSocket, mallory)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    await push(b.channel, "call:answer", {callId})
    await a.inbox["call:answered"].next()

    const attempts = [
      ["webrtc:offer", {callId, sdp: SDP}],
      ["webrtc:answer", {callId, sdp: SDP}],
      ["webrtc:ice-candidate", {callId, candidate: CANDIDATE}],
      ["call:toggle-audio", {callId, enabled: false}],
      ["call:toggle-video", {callId, enabled: false}],
      ["call:answer", {callId}],
      ["call:reject", {callId}],
      ["call:end", {callId}],
    ]
    for (const [event, payload] of attempts) {
      assert.deepEqual(await pushError(m.channel, event, payload), {reason: "not a party"}, event)
    }
    assert.deepEqual(await joinError(mSocket.channel(`webrtc:${alice}`)), {reason: "forbidden"})
    const view = await adminRequest(ctx.server, ctx.server.token(mallory), "GET",
                                     `/api/calls/${callId}/participants`)
    assert.equal(view.status, 403, view.text)
    assert.equal(view.body.error.code, "FORBIDDEN")

    // fence: real signaling from each party arrives, and it is the first of its kind
    await push(b.channel, "webrtc:ice-candidate", {callId, candidate: CANDIDATE})
    await push(a.channel, "webrtc:ice-candidate", {callId, candidate: CANDIDATE})
    assert.equal((await a.inbox["webrtc:ice-candidate"].next()).from, bob)
    assert.equal((await b.inbox["webrtc:ice-candidate"].next()).from, alice)
    const strays = [...received(a), ...received(b)]
      .filter(([event]) => event !== "call:answered" && event !== "call:incoming" &&
                           event !== "webrtc:ice-candidate")
    assert.deepEqual(strays, [])
    assert.equal(a.inbox["webrtc:ice-candidate"].items.length, 1)
    assert.equal(b.inbox["webrtc:ice-candidate"].items.length, 1)
    await push(a.channel, "call:end", {callId})
  })

  test("HTTP: participants and invite (re-ring); 1:1 only; errors", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await connect(alice)
    const b = await connect(bob)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    await b.inbox["call:incoming"].next()

    const asAlice = ctx.server.token(alice)
    const view = await adminRequest(ctx.server, asAlice, "GET", `/api/calls/${callId}/participants`)
    assert.equal(view.status, 200, view.text)
    assert.equal(view.body.state, "ringing")
    assert.deepEqual(view.body.participants.map(p => [p.userId, p.role, p.joined]),
                     [[alice, "caller", true], [bob, "callee", false]])

    const invite = await adminRequest(ctx.server, asAlice, "POST", `/api/calls/${callId}/invite`, {userId: bob})
    assert.equal(invite.status, 200, invite.text)
    assert.deepEqual(invite.body, {callId, invited: bob, state: "ringing"})
    assert.equal((await b.inbox["call:incoming"].next()).callId, callId)  // rings again
    const admin = await adminRequest(ctx.server, ADMIN, "POST", `/api/calls/${callId}/invite`, {})
    assert.equal(admin.status, 200, admin.text)
    await b.inbox["call:incoming"].next()

    const third = await adminRequest(ctx.server, ADMIN, "POST", `/api/calls/${callId}/invite`,
                                     {userId: uid("carol")})
    assert.equal(third.status, 409, third.text)
    assert.equal(third.body.error.code, "CONFLICT")
    const bad = await adminRequest(ctx.server, ADMIN, "POST", `/api/calls/${callId}/invite`, {userId: 5})
    assert.equal(bad.status, 400, bad.text)
    const nobody = await adminRequest(ctx.server, "not-a-token", "GET", `/api/calls/${callId}/participants`)
    assert.equal(nobody.status, 401, nobody.text)
    const unknown = await adminRequest(ctx.server, ADMIN, "GET", "/api/calls/no-such-call/participants")
    assert.equal(unknown.status, 404, unknown.text)
    assert.equal(unknown.body.error.code, "NOT_FOUND")

    await push(b.channel, "call:answer", {callId})
    const active = await adminRequest(ctx.server, ADMIN, "POST", `/api/calls/${callId}/invite`, {})
    assert.equal(active.status, 409, active.text)
    await push(b.channel, "call:end", {callId})
    const gone = await adminRequest(ctx.server, ADMIN, "GET", `/api/calls/${callId}/participants`)
    assert.equal(gone.status, 404, gone.text)
  })

  test("a device that reconnects during the grace period is still in the call", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await connect(alice)
    const bSocket = await ctx.pool.connect(bob)
    const b = await webrtc(bSocket, bob)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    await push(b.channel, "call:answer", {callId})
    bSocket.disconnect()
    const again = await connect(bob)  // well within the 10 s default grace
    assert.equal(again.reply.call.callId, callId)
    assert.equal(again.reply.call.state, "active")
    await push(again.channel, "webrtc:offer", {callId, sdp: SDP})
    assert.equal((await a.inbox["webrtc:offer"].next()).from, bob)
    await push(again.channel, "call:end", {callId})
    assert.equal((await a.inbox["call:ended"].next()).reason, "ended")
  })
})

describe("calls (1 s ring timeout, no storage)", () => {
  const ctx = useServer({args: ["--call-ring-timeout-s", "1", "--admin-token", ADMIN]})

  async function connect(user) {
    return webrtc(await ctx.pool.connect(user), user)
  }

  test("an unanswered call is missed on both sides", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await connect(alice)
    const b = await connect(bob)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob, media: "audio"})
    await b.inbox["call:incoming"].next()
    for (const side of [a, b]) {
      const missed = await side.inbox["call:missed"].next()
      assert.deepEqual([missed.callId, missed.callerId, missed.calleeId, missed.media],
                       [callId, alice, bob, "audio"])
    }
    assert.deepEqual(await pushError(b.channel, "call:answer", {callId}), {reason: "not found"})
    const invite = await adminRequest(ctx.server, ADMIN, "POST", `/api/calls/${callId}/invite`, {})
    assert.equal(invite.status, 404, invite.text)
    assert.deepEqual(await pushError(a.channel, "call:history", {}), {reason: "storage not configured"})
  })
})

describe("calls (1 s grace)", () => {
  const ctx = useServer({args: ["--call-grace-s", "1"]})

  test("a device joining while a call rings is rung; a party gone past the grace ends the call", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const a = await webrtc(await ctx.pool.connect(alice), alice)
    const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
    const bSocket = await ctx.pool.connect(bob)
    const b = await webrtc(bSocket, bob)  // bob was offline when it started ringing
    assert.equal((await b.inbox["call:incoming"].next()).callId, callId)
    await push(b.channel, "call:answer", {callId})
    await a.inbox["call:answered"].next()
    bSocket.disconnect()
    const ended = await a.inbox["call:ended"].next()
    assert.deepEqual([ended.callId, ended.reason, ended.endedBy], [callId, "disconnected", bob])
    assert.equal(ended.duration, Math.floor(ended.durationMs / 1000))
  })
})
