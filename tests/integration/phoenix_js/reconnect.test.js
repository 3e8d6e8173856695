// Reconnect: phoenix.js 1.8.16 reconnects after any close it did not start and rejoins its
// channels with new join_refs (spec §1.4, §4.8, checklist 13). Cases: server shutdown
// (SIGTERM → 1012, exit 0, a new server on the same port), the client's transport closed or
// terminated under it, and a token expiring while connected (4001) with a fresh token from
// a params function on the reconnect.
import assert from "node:assert/strict"
import {after, afterEach, describe, test} from "node:test"

import {Inbox, SocketPool, WAIT_MS, listen, push} from "./support/phoenix.js"
import {nowSeconds, startServer} from "./support/server.js"

// joinTracked(channel): joins once; every "ok" of that join push (the first join and each
// rejoin) lands in the returned Inbox as {joinRef, response}.
function joinTracked(channel) {
  const oks = new Inbox(`join ok of ${channel.topic}`)
  const errors = new Inbox(`join error of ${channel.topic}`)
  channel.join(WAIT_MS)
    .receive("ok", response => oks.put({joinRef: channel.joinRef(), response}))
    .receive("error", response => errors.put(response))
  return {oks, errors}
}

// Two members of one chat topic, with their join trackers and message inboxes.
async function members(pool, topic, subs) {
  const out = {}
  for (const sub of subs) {
    const socket = await pool.connect(sub)
    const channel = socket.channel(topic)
    const messages = listen(channel, "message:new")
    const joins = joinTracked(channel)
    await joins.oks.next()
    out[sub] = {socket, channel, messages, joins}
  }
  return out
}

async function assertMessagesFlow(from, to, clientMsgId) {
  const reply = await push(from.channel, "message:send", {content: "after reconnect", clientMsgId})
  assert.equal(reply.clientMsgId, clientMsgId)
  const msg = await to.messages.next(m => m.clientMsgId === clientMsgId)
  assert.equal(msg.content, "after reconnect")
}

const servers = []
after(async () => {
  for (const s of servers) if (s.running) await s.kill()
})

describe("server shutdown and restart", () => {
  let pool
  afterEach(() => pool?.disconnectAll())

  test("SIGTERM: clients get 1012, the process exits 0; phoenix.js reconnects to the new server and rejoins", async () => {
    const first = await startServer()
    servers.push(first)
    pool = new SocketPool(first)
    const {alice, bob} = await members(pool, "chat:restart", ["alice", "bob"])
    const firstRefs = [alice.channel.joinRef(), bob.channel.joinRef()]

    await first.stop() // SIGTERM; asserts exit code 0
    for (const m of [alice, bob]) {
      const close = await m.socket.events.closes.next()
      assert.equal(close.code, 1012, `close code on shutdown (reason "${close.reason}")`)
    }

    // Same port and secret: the clients' URL and tokens stay valid.
    const second = await startServer({port: first.port, secret: first.secret})
    servers.push(second)
    try {
      for (const m of [alice, bob]) {
        const rejoin = await m.joins.oks.next()
        assert.deepEqual(rejoin.response, {})
      }
      assert.notDeepEqual([alice.channel.joinRef(), bob.channel.joinRef()], firstRefs,
        "rejoins carry new join_refs")
      assert.equal(alice.socket.events.opens.items.length, 2)
      await assertMessagesFlow(alice, bob, "after-restart")
    } finally {
      pool.disconnectAll()
      await second.stop()
    }
  })
})

describe("client transport lost", () => {
  let server
  let pool
  afterEach(() => pool?.disconnectAll())
  after(async () => { if (server) await server.stop() })

  for (const [name, cut] of [
    ["closed (socket.conn.close())", conn => conn.close()],
    ["closed with code 4000", conn => conn.close(4000, "test")],
    ["terminated (no close handshake)", conn => conn.terminate()],
  ]) {
    test(`transport ${name}: phoenix.js reconnects, rejoins and messages flow again`, async () => {
      if (!server) {
        server = await startServer()
        servers.push(server)
      }
      pool = new SocketPool(server)
      const {alice, bob} = await members(pool, "chat:cut", ["alice", "bob"])
      const oldRef = alice.channel.joinRef()
      cut(alice.socket.conn)
      await alice.socket.events.closes.next()
      // The rejoin "ok" implies the socket reopened.
      const rejoin = await alice.joins.oks.next()
      assert.equal(alice.socket.events.opens.items.length, 2, "one reconnect")
      assert.notEqual(rejoin.joinRef, oldRef, "the rejoin has a new join_ref")
      assert.equal(alice.channel.state, "joined")
      await assertMessagesFlow(alice, bob, `to-bob-${name}`)
      await assertMessagesFlow(bob, alice, `to-alice-${name}`)
      assert.equal(bob.socket.events.opens.items.length, 1, "bob was not disturbed")
    })
  }
})

describe("token expiry while connected", () => {
  let server
  let pool
  after(async () => {
    pool?.disconnectAll()
    if (server) await server.stop()
  })

  test("4001 close, then phoenix.js reconnects with a fresh token (params function) and rejoins", async () => {
    server = await startServer()
    servers.push(server)
    pool = new SocketPool(server)
    const tokens = [server.token("alice", {exp: nowSeconds() + 2})]
    const connects = []
    const socket = await pool.connect("alice", {
      opts: {
        params: () => {
          const token = tokens.shift() || server.token("alice")
          connects.push(token)
          return {token}
        },
      },
    })
    const channel = socket.channel("chat:expiry")
    const messages = listen(channel, "message:new")
    const joins = joinTracked(channel)
    await joins.oks.next()

    const close = await socket.events.closes.next(() => true, 7000)
    assert.equal(close.code, 4001, `close reason "${close.reason}"`)
    await joins.oks.next()
    assert.equal(connects.length, 2, "the params function ran again for the reconnect")
    await push(channel, "message:send", {content: "fresh", clientMsgId: "fresh-1"})
    await messages.next(m => m.clientMsgId === "fresh-1")
  })
})
