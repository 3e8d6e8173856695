// Huddles (docs/huddles.md) through the real phoenix.js client: huddle:create on
// huddle:lobby, the huddle:{id} channel (screen-share lock, raise hand, chat, invites,
// presence), the participant cap, removal when empty, and the HTTP API. One server with
// storage (membership enforced) and a cap of 3; one without storage (no membership, bare
// user:{id} inbox for invites, a 1 s empty timeout).
import assert from "node:assert/strict"
import {after, afterEach, describe, test} from "node:test"

import {adminRequest, createConversation, randomToken, tempDb, uid} from "./support/chat.js"
import {rawConnect, useServer} from "./support/fixture.js"
import {Inbox, WAIT_MS, join, joinError, listen, makeSocket, push, pushError, trackSocket,
        waitOpen} from "./support/phoenix.js"
import {watchPresence} from "./support/presence.js"
import {startProxy} from "./support/resume.js"

const ADMIN = randomToken()
const MAX = 3
const db = tempDb("huddles")
const ctx = useServer({args: ["--storage", db.url, "--admin-token", ADMIN,
                              "--huddle-max-participants", String(MAX)]})
after(() => db.remove())

const HUDDLE_EVENTS = ["huddle:participant:joined", "huddle:participant:left",
                       "huddle:participant:updated", "huddle:message:new"]

async function conversation(members) {
  const id = uid("conv")
  await createConversation(ctx.server, ADMIN, {id, kind: "group", members})
  return id
}

// create(socket, conv): huddle:create on huddle:lobby; the reply.
async function create(socket, conv) {
  const lobby = socket.channel("huddle:lobby")
  await join(lobby)
  return push(lobby, "huddle:create", {conversationId: conv})
}

// enter(socket, huddleId, params): joined huddle:<id> with an Inbox per huddle event.
async function enter(socket, huddleId, params = {}) {
  const channel = socket.channel(`huddle:${huddleId}`, params)
  const inbox = {}
  for (const e of HUDDLE_EVENTS) inbox[e] = listen(channel, e)
  const reply = await join(channel)
  return {channel, inbox, reply}
}

// chatWatch(socket, conv): chat:<conv> joined, with inboxes for huddle:started / :ended.
async function chatWatch(socket, conv) {
  const channel = socket.channel(`chat:${conv}`, {presence: false})
  const started = listen(channel, "huddle:started")
  const ended = listen(channel, "huddle:ended")
  await join(channel)
  return {channel, started, ended}
}

const byUser = user => p => p.userId === user

describe("creating and joining", () => {
  test("huddle:create starts one huddle per conversation, announced on chat:<id>", async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol")
    const conv = await conversation([alice, bob])
    const sa = await ctx.pool.connect(alice)
    const watch = await chatWatch(sa, conv)

    const made = await create(sa, conv)
    assert.equal(made.created, true)
    assert.equal(made.conversationId, conv)
    assert.equal(made.createdBy, alice)
    assert.equal(made.topic, `huddle:${made.id}`)
    assert.deepEqual(made.participants, [])
    assert.equal(made.screenSharer, null)
    assert.equal(made.maxParticipants, MAX)
    const started = await watch.started.next()
    assert.deepEqual(started, {huddleId: made.id, conversationId: conv, createdBy: alice,
                               createdAt: made.createdAt, topic: made.topic})

    // a second create answers the same huddle
    const again = await create(await ctx.pool.connect(bob), conv)
    assert.equal(again.created, false)
    assert.equal(again.id, made.id)

    // a non-member can neither create nor join
    const sc = await ctx.pool.connect(carol)
    const lobby = sc.channel("huddle:lobby")
    await join(lobby)
    assert.deepEqual(await pushError(lobby, "huddle:create", {conversationId: conv}),
                     {reason: "not a member"})
    assert.equal((await pushError(lobby, "huddle:create", {})).reason, "invalid payload")
    assert.deepEqual(await joinError(sc.channel(`huddle:${made.id}`)), {reason: "not a member"})
    assert.deepEqual(await joinError(sc.channel("huddle:no-such-huddle")), {reason: "not found"})

    // the join reply is the huddle with its participants
    const a = await enter(sa, made.id, {video: true})
    assert.equal(a.reply.id, made.id)
    assert.deepEqual(a.reply.participants.map(p => [p.userId, p.audio, p.video, p.screen,
                                                    p.handRaised, p.devices]),
                     [[alice, true, true, false, false, 1]])
    const self = await a.inbox["huddle:participant:joined"].next()
    assert.equal(self.userId, alice)
    assert.equal(self.participantCount, 1)
  })
})

describe("inside a huddle", () => {
  test("screen-share lock, toggles, raise hand, chat and presence", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const sa = await ctx.pool.connect(alice)
    const sb = await ctx.pool.connect(bob)
    const {id} = await create(sa, conv)
    const a = await enter(sa, id)
    const presence = watchPresence(sb.channel(`huddle:${id}`))
    const b = {channel: presence.channel, inbox: {}}
    for (const e of HUDDLE_EVENTS) b.inbox[e] = listen(b.channel, e)
    b.reply = await join(b.channel)
    assert.deepEqual(b.reply.participants.map(p => p.userId), [alice, bob])
    assert.equal((await a.inbox["huddle:participant:joined"].next(byUser(bob))).participantCount, 2)
    await presence.until(s => s[alice]?.refs.length === 1 && s[bob]?.refs.length === 1,
                         "alice and bob in the huddle's presence")

    // alice shares her screen; bob's share is refused while hers runs
    const on = await push(a.channel, "huddle:toggle-screen", {enabled: true})
    assert.equal(on.screen, true)
    assert.equal(on.screenSharer, alice)
    for (const side of [a, b]) {
      const u = await side.inbox["huddle:participant:updated"].next()
      assert.deepEqual([u.huddleId, u.userId, u.screen, u.screenSharer], [id, alice, true, alice])
    }
    assert.deepEqual(await pushError(b.channel, "huddle:toggle-screen", {}),
                     {reason: "screen share in use", sharerId: alice})
    // she stops (a toggle without `enabled` flips); now bob may share
    const off = await push(a.channel, "huddle:toggle-screen", {})
    assert.deepEqual([off.screen, off.screenSharer], [false, null])
    assert.equal((await b.inbox["huddle:participant:updated"].next()).screenSharer, null)
    assert.equal((await push(b.channel, "huddle:toggle-screen", {enabled: true})).screenSharer, bob)
    assert.deepEqual(await pushError(a.channel, "huddle:toggle-screen", {enabled: true}),
                     {reason: "screen share in use", sharerId: bob})

    // audio, video and raised hand
    assert.equal((await push(b.channel, "huddle:toggle-audio", {})).audio, false)
    assert.equal((await push(b.channel, "huddle:toggle-video", {enabled: true})).video, true)
    const hand = await push(b.channel, "huddle:raise-hand", {})
    assert.equal(hand.handRaised, true)
    const seen = await a.inbox["huddle:participant:updated"].next(u => u.handRaised === true)
    assert.deepEqual([seen.userId, seen.audio, seen.video, seen.screen], [bob, false, true, true])
    assert.equal((await push(b.channel, "huddle:raise-hand", {raised: false})).handRaised, false)
    assert.equal((await pushError(b.channel, "huddle:raise-hand", {raised: "yes"})).reason,
                 "invalid payload")

    // chat
    const sent = await push(a.channel, "huddle:message", {content: "can you see my slides?"})
    assert.equal(typeof sent.id, "string")
    for (const side of [a, b]) {
      const m = await side.inbox["huddle:message:new"].next()
      assert.deepEqual([m.id, m.huddleId, m.userId, m.content], [sent.id, id, alice,
                                                                 "can you see my slides?"])
      assert.equal(typeof m.sentAt, "number")
    }
    assert.equal((await pushError(a.channel, "huddle:message", {content: ""})).reason,
                 "invalid payload")

    // the sharer leaves: the lock frees, and alice may share
    await push(b.channel, "huddle:leave", {})
    const left = await a.inbox["huddle:participant:left"].next()
    assert.deepEqual(left, {huddleId: id, userId: bob, participantCount: 1, screenSharer: null,
                            reason: "left"})
    assert.equal((await push(a.channel, "huddle:toggle-screen", {enabled: true})).screenSharer, alice)
    const state = await push(a.channel, "huddle:state", {})
    assert.deepEqual(state.participants.map(p => p.userId), [alice])
  })

  test("huddle:invite pushes an invite to each member's user:<id>", async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol"), dave = uid("dave")
    const conv = await conversation([alice, bob, carol])
    const sa = await ctx.pool.connect(alice)
    const {id} = await create(sa, conv)
    const a = await enter(sa, id)
    await enter(await ctx.pool.connect(bob), id)
    const userChannel = (await ctx.pool.connect(carol)).channel(`user:${carol}`)
    const invites = listen(userChannel, "huddle:invite")
    await join(userChannel)

    const r = await push(a.channel, "huddle:invite", {userIds: [carol, dave, bob]})
    assert.deepEqual(r, {huddleId: id, invited: [carol],
                         skipped: [{userId: bob, reason: "already in the huddle"},
                                   {userId: dave, reason: "not a member"}]})
    const inv = await invites.next()
    assert.equal(inv.huddleId, id)
    assert.equal(inv.conversationId, conv)
    assert.equal(inv.topic, `huddle:${id}`)
    assert.equal(inv.invitedBy, alice)
    assert.equal(typeof inv.invitedAt, "number")
    assert.equal((await pushError(a.channel, "huddle:invite", {userIds: []})).reason,
                 "invalid payload")

    // the admin invites over HTTP
    const http = await adminRequest(ctx.server, ADMIN, "POST", `/api/huddles/${id}/invite`,
                                    {userIds: [carol]})
    assert.equal(http.status, 200)
    assert.deepEqual(http.body.invited, [carol])
    assert.equal((await invites.next()).invitedBy, null)
    // a member who is not in the huddle may not invite
    const carolToken = ctx.server.token(carol)
    const refused = await adminRequest(ctx.server, carolToken, "POST", `/api/huddles/${id}/invite`,
                                       {userIds: [bob]})
    assert.equal(refused.status, 403)
    assert.equal(refused.body.error.code, "FORBIDDEN")
  })

  test(`the participant cap (${MAX}) refuses the next user, not a second device`, async () => {
    const users = [uid("u1"), uid("u2"), uid("u3"), uid("u4")]
    const conv = await conversation(users)
    const sockets = []
    for (const u of users) sockets.push(await ctx.pool.connect(u))
    const {id} = await create(sockets[0], conv)
    const inside = []
    for (let i = 0; i < MAX; i++) inside.push(await enter(sockets[i], id))
    assert.deepEqual(await joinError(sockets[3].channel(`huddle:${id}`)),
                     {reason: "huddle full", max: MAX})
    // the first user's second device is the same participant
    const second = await enter(await ctx.pool.connect(users[0]), id)
    assert.equal(second.reply.participants.length, MAX)
    assert.equal(second.reply.participants.find(byUser(users[0])).devices, 2)
    // one leaves; the fourth gets in
    inside[1].channel.leave()
    await inside[0].inbox["huddle:participant:left"].next(byUser(users[1]))
    const fourth = await enter(sockets[3], id)
    assert.equal(fourth.reply.participants.length, MAX)
  })
})

describe("removal", () => {
  test("the huddle ends when the last participant leaves", async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const sa = await ctx.pool.connect(alice)
    const watch = await chatWatch(sa, conv)
    const {id} = await create(sa, conv)
    const a = await enter(sa, id)
    const sb = await ctx.pool.connect(bob)
    const b = await enter(sb, id)
    assert.equal((await adminRequest(ctx.server, ADMIN, "GET", `/api/huddles/${id}`)).status, 200)

    // bob leaves (phx_leave). A dropped connection would keep him for the reconnect grace
    // instead: see "reconnect grace" below.
    b.channel.leave()
    assert.equal((await a.inbox["huddle:participant:left"].next(byUser(bob))).reason, "left")
    await a.channel.leave()
    const ended = await watch.ended.next()
    assert.deepEqual(ended, {huddleId: id, conversationId: conv, reason: "empty"})
    const gone = await adminRequest(ctx.server, ADMIN, "GET", `/api/huddles/${id}`)
    assert.equal(gone.status, 404)
    assert.equal(gone.body.error.code, "NOT_FOUND")
    await assert.rejects(enter(sa, id), e => e.response?.reason === "not found")

    // the conversation may start a new one
    const next = await create(sa, conv)
    assert.equal(next.created, true)
    assert.notEqual(next.id, id)
  })
})

describe("HTTP API", () => {
  test("POST /api/huddles, GET /api/huddles/:id and their refusals", async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol")
    const conv = await conversation([alice, bob])
    const made = await adminRequest(ctx.server, ADMIN, "POST", "/api/huddles",
                                    {conversationId: conv, createdBy: alice})
    assert.equal(made.status, 201)
    assert.equal(made.body.created, true)
    assert.equal(made.body.createdBy, alice)
    const id = made.body.id
    // a member's token: the same huddle (200)
    const bobToken = ctx.server.token(bob)
    const again = await adminRequest(ctx.server, bobToken, "POST", "/api/huddles", {conversationId: conv})
    assert.equal(again.status, 200)
    assert.equal(again.body.id, id)
    assert.equal(again.body.created, false)

    await enter(await ctx.pool.connect(bob), id, {audio: false})
    const got = await adminRequest(ctx.server, bobToken, "GET", `/api/huddles/${id}`)
    assert.equal(got.status, 200)
    assert.equal(got.body.id, id)
    assert.equal(got.body.conversationId, conv)
    assert.equal(got.body.createdBy, alice)
    assert.equal(typeof got.body.createdAt, "number")
    assert.equal(got.body.screenSharer, null)
    assert.deepEqual(got.body.participants.map(p => [p.userId, p.audio, p.video, p.screen, p.handRaised]),
                     [[bob, false, false, false, false]])

    const carolToken = ctx.server.token(carol)
    const cases = [
      [carolToken, "GET", `/api/huddles/${id}`, undefined, 403],
      [carolToken, "POST", "/api/huddles", {conversationId: conv}, 403],
      [bobToken, "POST", "/api/huddles", {conversationId: conv, createdBy: alice}, 403],
      [ADMIN, "POST", "/api/huddles", {conversationId: conv}, 400],          // no createdBy
      [ADMIN, "POST", "/api/huddles", {conversationId: uid("nope"), createdBy: alice}, 404],
      [ADMIN, "GET", "/api/huddles/no-such-huddle", undefined, 404],
      [ADMIN, "POST", `/api/huddles/${id}/invite`, {userIds: "bob"}, 400],
      ["not-a-token", "GET", `/api/huddles/${id}`, undefined, 401],
    ]
    for (const [token, method, path, body, status] of cases) {
      const r = await adminRequest(ctx.server, token, method, path, body)
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`)
      assert.equal(typeof r.body.error.code, "string")
    }
  })
})

describe("without storage", () => {
  const bare = useServer({args: ["--huddle-empty-timeout-s", "1"]})

  test("any user creates and joins; invites reach a bare user:<id>; unjoined huddles expire",
       async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = uid("conv")
    const sa = await bare.pool.connect(alice)
    const sb = await bare.pool.connect(bob)
    const watch = await chatWatch(sb, conv)
    const made = await create(sa, conv)
    assert.equal(made.created, true)
    const a = await enter(sa, made.id)
    const inbox = sb.channel(`user:${bob}`)
    const invites = listen(inbox, "huddle:invite")
    await join(inbox)
    assert.deepEqual(await joinError(sa.channel(`user:${bob}`)), {reason: "forbidden"})
    assert.deepEqual((await push(a.channel, "huddle:invite", {userIds: [bob]})).invited, [bob])
    assert.equal((await invites.next()).huddleId, made.id)
    await enter(sb, made.id)

    // a huddle nobody joins ends after the empty timeout
    const other = uid("conv")
    const w2 = await chatWatch(sb, other)
    const lonely = await create(sb, other)
    const ended = await w2.ended.next(() => true, 10000)
    assert.deepEqual(ended, {huddleId: lonely.id, conversationId: other, reason: "expired"})
    // the joined one is still there
    assert.equal((await push(a.channel, "huddle:state", {})).participants.length, 2)
    assert.equal(watch.ended.items.length, 0)
  })
})

describe("reconnect grace", () => {
  // Sockets through a TCP proxy that cuts them: phoenix.js sees its transport die (no close
  // frame), reconnects by itself (every 50 ms while refused) and rejoins its channels.
  const proxies = []
  const cutSockets = []
  afterEach(() => { for (const s of cutSockets.splice(0)) s.disconnect() })
  after(async () => { for (const p of proxies) await p.close() })

  async function proxiedSocket(sub) {
    const proxy = await startProxy(ctx.server.port)
    proxies.push(proxy)
    const socket = makeSocket(proxy.wsUrl, {params: {token: ctx.server.token(sub)},
                                            reconnectAfterMs: () => 50})
    socket.events = trackSocket(socket)
    cutSockets.push(socket)
    socket.connect()
    await waitOpen(socket, `the proxied socket for ${sub} to open`)
    return {socket, proxy}
  }

  // enterTracked(socket, huddleId): like enter(), but every answer of the join push (the
  // join, then each phoenix.js rejoin) lands in `joins` as {status, response}.
  function enterTracked(socket, huddleId) {
    const channel = socket.channel(`huddle:${huddleId}`)
    const inbox = {}
    for (const e of HUDDLE_EVENTS) inbox[e] = listen(channel, e)
    const joins = new Inbox(`joins of huddle:${huddleId}`)
    channel.join(WAIT_MS)
      .receive("ok", response => joins.put({status: "ok", response}))
      .receive("error", response => joins.put({status: "error", response}))
    return {channel, inbox, joins}
  }

  // participantOverHttp(id, user): the participant as GET /api/huddles/:id shows it now.
  async function participantOverHttp(id, user) {
    const r = await adminRequest(ctx.server, ADMIN, "GET", `/api/huddles/${id}`)
    assert.equal(r.status, 200, `GET /api/huddles/${id}: ${r.text}`)
    return r.body.participants.find(byUser(user))
  }

  // untilDisconnected(id, user): re-reads the huddle (one request after the other, no
  // timer) until the server has seen `user`'s connection close.
  async function untilDisconnected(id, user) {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const p = await participantOverHttp(id, user)
      assert.ok(p, `${user} is still a participant while reconnecting`)
      if (p.connected === false) return p
      if (Date.now() > deadline) assert.fail(`the server never saw ${user} disconnect`)
    }
  }

  test("a user alone in a huddle loses the connection: phoenix.js rejoins the same huddle, state kept",
       async () => {
    const alice = uid("alice")
    const conv = await conversation([alice])
    const {socket, proxy} = await proxiedSocket(alice)
    const watch = await chatWatch(await ctx.pool.connect(alice), conv)
    const {id} = await create(socket, conv)
    const a = enterTracked(socket, id)
    const first = await a.joins.next()
    assert.equal(first.status, "ok")
    const joinedAt = first.response.participants[0].joinedAt
    assert.equal((await push(a.channel, "huddle:raise-hand", {raised: true})).handRaised, true)
    assert.equal((await push(a.channel, "huddle:toggle-audio", {enabled: false})).audio, false)

    proxy.offline()
    await socket.events.closes.next()
    // the server keeps her, reconnecting, with her state
    const away = await untilDisconnected(id, alice)
    assert.deepEqual([away.devices, away.handRaised, away.audio], [0, true, false])
    proxy.online()

    const rejoin = await a.joins.next()
    assert.deepEqual(rejoin.status, "ok", `rejoin: ${JSON.stringify(rejoin.response)}`)
    assert.equal(rejoin.response.id, id)
    assert.deepEqual(rejoin.response.participants.map(p => [p.userId, p.connected, p.handRaised,
                                                            p.audio, p.joinedAt, p.devices]),
                     [[alice, true, true, false, joinedAt, 1]])
    assert.equal(socket.events.opens.items.length, 2, "one reconnect")
    // everything after the rejoin reaches her; before that, nobody left, joined or ended
    assert.equal((await push(a.channel, "huddle:raise-hand", {raised: false})).handRaised, false)
    await a.inbox["huddle:participant:updated"].next(u => u.handRaised === false)
    assert.equal(a.inbox["huddle:participant:joined"].items.length, 1, "only her first join")
    assert.equal(a.inbox["huddle:participant:left"].items.length, 0)
    assert.equal(watch.ended.items.length, 0)
  })

  test("the others see connected:false, then connected:true, never left/joined; the screen frees at once",
       async () => {
    const alice = uid("alice"), bob = uid("bob")
    const conv = await conversation([alice, bob])
    const {socket, proxy} = await proxiedSocket(alice)
    const {id} = await create(socket, conv)
    const a = enterTracked(socket, id)
    assert.equal((await a.joins.next()).status, "ok")
    const b = await enter(await ctx.pool.connect(bob), id)
    await push(a.channel, "huddle:raise-hand", {raised: true})
    assert.equal((await push(a.channel, "huddle:toggle-screen", {enabled: true})).screenSharer, alice)
    await b.inbox["huddle:participant:updated"].next(u => u.screen === true)

    proxy.offline()
    const away = await b.inbox["huddle:participant:updated"].next(u => u.connected === false)
    assert.deepEqual(away, {userId: alice, audio: true, video: false, screen: false, handRaised: true,
                            joinedAt: away.joinedAt, devices: 0, connected: false, huddleId: id,
                            screenSharer: null})
    // her place and state stay; her screen share does not: bob may share
    const state = await push(b.channel, "huddle:state", {})
    assert.deepEqual(state.participants.map(p => [p.userId, p.connected]), [[alice, false], [bob, true]])
    assert.equal((await push(b.channel, "huddle:toggle-screen", {enabled: true})).screenSharer, bob)
    await push(b.channel, "huddle:toggle-screen", {enabled: false})
    proxy.online()

    assert.equal((await a.joins.next()).status, "ok")
    const back = await b.inbox["huddle:participant:updated"].next(u => u.connected === true)
    assert.deepEqual([back.userId, back.handRaised, back.devices, back.joinedAt],
                     [alice, true, 1, away.joinedAt])
    // a barrier: her message comes after anything her reconnect caused
    await push(a.channel, "huddle:message", {content: "back"})
    await b.inbox["huddle:message:new"].next(m => m.content === "back")
    assert.equal(b.inbox["huddle:participant:left"].items.length, 0, "no left flap")
    assert.equal(b.inbox["huddle:participant:joined"].items.filter(byUser(alice)).length, 0,
                 "no joined flap")
  })
})

describe("duplicate join", () => {
  test("a second phx_join of the same huddle on the same socket restores the user, alone or not",
       async () => {
    // phoenix.js sends a new phx_join on the same socket when its first join timed out; the
    // server replaces the old channel. For a user alone in the huddle that must not end it.
    const alice = uid("alice")
    const conv = await conversation([alice])
    const sa = await ctx.pool.connect(alice)
    const watch = await chatWatch(sa, conv)
    const {id} = await create(sa, conv)
    const raw = await rawConnect(ctx, alice)
    const topic = `huddle:${id}`
    raw.send(["1", "1", topic, "phx_join", {}])
    assert.equal((await raw.reply("1")).payload.status, "ok")
    raw.send(["1", "2", topic, "huddle:raise-hand", {raised: true}])
    assert.equal((await raw.reply("2")).payload.response.handRaised, true)

    raw.send(["3", "3", topic, "phx_join", {}])
    const again = await raw.reply("3", "the second join's reply")
    assert.equal(again.payload.status, "ok", JSON.stringify(again.payload))
    assert.deepEqual(again.payload.response.participants.map(p => [p.userId, p.connected,
                                                                   p.handRaised, p.devices]),
                     [[alice, true, true, 1]])
    // a barrier on chat:<conv>: a message after the rejoin; nothing ended before it
    raw.send(["3", "4", topic, "huddle:message", {content: "still here"}])
    assert.equal((await raw.reply("4")).payload.status, "ok")
    const r = await adminRequest(ctx.server, ADMIN, "GET", `/api/huddles/${id}`)
    assert.equal(r.status, 200, r.text)
    assert.equal(watch.ended.items.length, 0)
    assert.equal(raw.inbox.filter(f => f.event === "huddle:participant:left").length, 0)
  })
})

describe("reconnect grace running out (--huddle-grace-s 1, no storage)", () => {
  const short = useServer({args: ["--huddle-grace-s", "1"]})

  test("a participant who does not come back leaves after the grace; the last one ends the huddle",
       async () => {
    const alice = uid("alice"), bob = uid("bob"), carol = uid("carol")
    const conv = uid("conv")
    const watch = await chatWatch(await short.pool.connect(carol), conv)
    const sa = await short.pool.connect(alice)
    const {id} = await create(sa, conv)
    const a = await enter(sa, id)
    const sb = await short.pool.connect(bob)
    const b = await enter(sb, id)
    await push(b.channel, "huddle:raise-hand", {raised: true})

    sb.disconnect()  // gone for good: phoenix.js does not reconnect after disconnect()
    const away = await a.inbox["huddle:participant:updated"].next(u => u.userId === bob &&
                                                                       u.connected === false)
    assert.equal(away.handRaised, true)
    const left = await a.inbox["huddle:participant:left"].next(byUser(bob))
    assert.deepEqual(left, {huddleId: id, userId: bob, participantCount: 1, screenSharer: null,
                            reason: "disconnected"})

    // coming back after the grace is a fresh join, with fresh state
    const b2 = await enter(await short.pool.connect(bob), id)
    assert.deepEqual(b2.reply.participants.map(p => [p.userId, p.handRaised]),
                     [[alice, false], [bob, false]])
    const rejoined = await a.inbox["huddle:participant:joined"].next(byUser(bob))
    assert.equal(rejoined.participantCount, 2)
    // an explicit leave is immediate, grace or not
    b2.channel.leave()
    assert.equal((await a.inbox["huddle:participant:left"].next(byUser(bob))).reason, "left")

    // the last participant's connection drops: the huddle waits out her grace, then ends
    sa.disconnect()
    const ended = await watch.ended.next()
    assert.deepEqual(ended, {huddleId: id, conversationId: conv, reason: "empty"})
    await assert.rejects(enter(await short.pool.connect(alice), id),
                         e => e.response?.reason === "not found")
  })
})
