// Connection: upgrade, authentication (token param and phoenix.js 1.8 authToken), refusals
// with HTTP status + JSON body, vsn, paths, heartbeat and ref echo.
// Spec: docs/phoenix-wire-protocol.md §1, §2 and checklist items 1-10, 17.
import assert from "node:assert/strict"
import {createHmac, randomBytes} from "node:crypto"
import {describe, test} from "node:test"

import {rawConnect, tokenQuery, useServer} from "./support/fixture.js"
import {join, listen, makeSocket, push, trackSocket} from "./support/phoenix.js"
import {refusedUpgrade, upgradeResponse} from "./support/raw.js"
import {base64url, nowSeconds, signJwt} from "./support/server.js"

const ctx = useServer()

const BEARER = "base64url.bearer.phx."

// A token for `sub` whose standard base64 has no "/": phoenix.js puts btoa(token) into a
// subprotocol and the WebSocket constructor refuses "/" there (spec §1.2 gotchas).
function authSafeToken(sub, claims = {}) {
  for (let i = 0; i < 100000; i++) {
    const token = ctx.server.token(sub, {...claims, n: i})
    if (!btoa(token).includes("/")) return token
  }
  throw new Error("no token without '/' in its base64 found")
}

function assertJsonError(res, status) {
  assert.equal(res.status, status, `HTTP status (body: ${res.text})`)
  assert.match(String(res.headers["content-type"]), /application\/json/, "content-type")
  assert.ok(res.body && typeof res.body === "object", `JSON body expected, got: ${res.text}`)
  assert.ok(res.body.error && typeof res.body.error === "object", `body.error missing: ${res.text}`)
  assert.equal(typeof res.body.error.code, "string", `body.error.code: ${res.text}`)
  assert.ok(res.body.error.code.length > 0)
  assert.equal(typeof res.body.error.message, "string", `body.error.message: ${res.text}`)
  assert.ok(res.body.error.message.length > 0)
}

describe("connect and authenticate", () => {
  test("phoenix.js connects with the token param and can join", async () => {
    const socket = await ctx.pool.connect("alice")
    assert.equal(socket.isConnected(), true)
    // No subprotocol offered: none selected.
    assert.equal(socket.conn.protocol, "")
    const channel = socket.channel("chat:42")
    assert.deepEqual(await join(channel), {})
  })

  test("no subprotocol offered: the 101 carries no Sec-WebSocket-Protocol", async () => {
    const c = await rawConnect(ctx, "alice")
    assert.equal(c.upgradeHeaders["sec-websocket-protocol"], undefined)
  })

  test("phoenix.js 1.8 authToken: the server selects the `phoenix` subprotocol", async () => {
    const token = authSafeToken("auth-token-user")
    const socket = await ctx.pool.connect("auth-token-user", {authToken: true, token})
    assert.equal(socket.conn.protocol, "phoenix")
    const channel = socket.channel("chat:42")
    const inbox = listen(channel, "message:new")
    await join(channel)
    // The identity is the sub of the token carried in the subprotocol.
    const reply = await push(channel, "message:send", {content: "via authToken", clientMsgId: "a1"})
    assert.equal(reply.clientMsgId, "a1")
    const msg = await inbox.next(m => m.clientMsgId === "a1")
    assert.equal(msg.senderId, "auth-token-user")
  })

  // Raw: the 101 names exactly `phoenix` (never the token entry) and the token decodes in
  // both alphabets, with or without padding (§1.2, checklist 4-5).
  const encodings = [
    ["standard base64, no padding (as phoenix.js sends it)",
     t => Buffer.from(t).toString("base64").replace(/=+$/, "")],
    ["url-safe base64, no padding",
     t => base64url(t)],
  ]
  for (const [name, encode] of encodings) {
    test(`authToken subprotocol, ${name}: 101 with Sec-WebSocket-Protocol exactly \`phoenix\``, async () => {
      const token = authSafeToken("raw-bearer")
      const c = await ctx.raw.connect(ctx.server.socketUrl(),
        {protocols: ["phoenix", BEARER + encode(token)]})
      assert.equal(c.upgradeHeaders["sec-websocket-protocol"], "phoenix")
      const {joinRef} = await c.join("chat:bearer")
      const ref = c.push(joinRef, "chat:bearer", "message:send", {content: "hi"})
      assert.equal((await c.reply(ref)).payload.status, "ok")
      const msg = await c.next(f => f.event === "message:new", "message:new")
      assert.equal(msg.payload.senderId, "raw-bearer", "the token's sub is the identity")
    })
  }

  // `ws` will not send "=" in a subprotocol, so this one goes through node:http.
  test("authToken subprotocol, url-safe base64 with padding: 101 with exactly `phoenix`", async () => {
    const token = ctx.server.token("raw-bearer")
    const padded = Buffer.from(token).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")
    const res = await upgradeResponse(ctx.server.socketUrl(),
      {"Sec-WebSocket-Protocol": `phoenix, ${BEARER}${padded}`})
    assert.equal(res.status, 101)
    assert.equal(res.headers["sec-websocket-protocol"], "phoenix")
  })

  test("subprotocols offered without `phoenix` are refused with 403", async () => {
    const res = await refusedUpgrade(
      ctx.server.socketUrl(tokenQuery(ctx.server.token("alice"))), {protocols: ["chat"]})
    assertJsonError(res, 403)
  })

  test("an auth token subprotocol that is not base64 is refused (400/403), not a crash", async () => {
    const res = await refusedUpgrade(ctx.server.socketUrl(), {protocols: ["phoenix", BEARER + "%%%"]})
    assert.ok([400, 401, 403].includes(res.status), `status ${res.status}: ${res.text}`)
    assertJsonError(res, res.status)
    // The server is still there.
    const c = await rawConnect(ctx, "alice")
    c.send([null, "1", "phoenix", "heartbeat", {}])
    await c.reply("1")
  })
})

describe("tokens refused at the upgrade with 401 and a JSON body", () => {
  const now = nowSeconds()
  const cases = [
    ["missing token", () => null],
    ["malformed token", () => "not-a-jwt"],
    ["three parts of garbage", () => "a.b.c"],
    ["wrong signature", () => signJwt({sub: "eve", exp: now + 3600}, "some-other-secret")],
    ["alg none", () => signJwt({sub: "eve", exp: now + 3600}, "", {alg: "none", typ: "JWT"})],
    ["alg none carrying a valid HS256 signature", () => {
      const input = `${base64url(JSON.stringify({alg: "none", typ: "JWT"}))}.` +
        base64url(JSON.stringify({sub: "eve", exp: now + 3600}))
      return `${input}.${createHmac("sha256", ctx.server.secret).update(input).digest("base64url")}`
    }],
    ["alg HS512 header", () => signJwt({sub: "eve", exp: now + 3600}, ctx.server.secret, {alg: "HS512", typ: "JWT"})],
    ["expired", () => ctx.server.token("eve", {exp: now - 3600})],
    ["nbf in the future", () => ctx.server.token("eve", {nbf: now + 3600})],
    ["no sub", () => ctx.server.token(undefined)],
  ]
  for (const [name, make] of cases) {
    test(name, async () => {
      const token = make()
      const res = await refusedUpgrade(ctx.server.socketUrl(token === null ? "" : tokenQuery(token)))
      assertJsonError(res, 401)
    })
  }

  test("a bad token in the authToken subprotocol is refused with 401", async () => {
    const bad = signJwt({sub: "eve", exp: now + 3600}, "some-other-secret")
    const entry = Buffer.from(bad).toString("base64").replace(/=+$/, "").replace(/\//g, "_")
    const res = await refusedUpgrade(ctx.server.socketUrl(), {protocols: ["phoenix", BEARER + entry]})
    assertJsonError(res, 401)
  })

  test("phoenix.js with a refused token never opens (and keeps retrying)", async () => {
    const socket = makeSocket(ctx.server.wsUrl, {params: {token: "not-a-jwt"}})
    const events = trackSocket(socket)
    socket.connect()
    try {
      const close = await events.closes.next()
      assert.equal(close.code, 1006)
      await events.closes.next() // a second attempt was made: the client retries
      assert.equal(events.opens.items.length, 0)
    } finally {
      socket.disconnect()
    }
  })
})

describe("version and path", () => {
  test("vsn missing is refused with 403", async () => {
    const url = `ws://127.0.0.1:${ctx.server.port}/socket/websocket?${tokenQuery(ctx.server.token("alice"))}`
    assertJsonError(await refusedUpgrade(url), 403)
  })

  for (const vsn of ["1.0.0", "abc", "123.1.1"]) {
    test(`vsn=${vsn} is refused with 403`, async () => {
      const url = `ws://127.0.0.1:${ctx.server.port}/socket/websocket?vsn=${vsn}&` +
        tokenQuery(ctx.server.token("alice"))
      assertJsonError(await refusedUpgrade(url), 403)
    })
  }

  for (const path of ["/nope/websocket", "/socket", "/socket/websocket/extra", "/"]) {
    test(`unknown path ${path} is refused with 404`, async () => {
      const url = `ws://127.0.0.1:${ctx.server.port}${path}?vsn=2.0.0&` +
        tokenQuery(ctx.server.token("alice"))
      assertJsonError(await refusedUpgrade(url), 404)
    })
  }

  test("nested params do not disturb the token (bracket keys)", async () => {
    const url = ctx.server.socketUrl(`${tokenQuery(ctx.server.token("alice"))}&nested%5Ba%5D=1`)
    const c = await ctx.raw.connect(url)
    c.send([null, "1", "phoenix", "heartbeat", {}])
    await c.reply("1")
  })
})

describe("heartbeat and refs", () => {
  test("heartbeat with no channel joined gets the exact reply", async () => {
    const c = await rawConnect(ctx, "alice")
    c.send([null, "1", "phoenix", "heartbeat", {}])
    const frame = await c.reply("1")
    assert.deepEqual(frame.json, [null, "1", "phoenix", "phx_reply", {status: "ok", response: {}}])
  })

  test("a numeric ref is echoed as a number", async () => {
    const c = await rawConnect(ctx, "alice")
    c.send([null, 7, "phoenix", "heartbeat", {}])
    const frame = await c.next(f => f.event === "phx_reply" && f.ref !== undefined &&
                                    String(f.ref) === "7", "the heartbeat reply")
    assert.deepEqual(frame.json, [null, 7, "phoenix", "phx_reply", {status: "ok", response: {}}])
    assert.equal(typeof frame.ref, "number")
  })

  test("numeric join_ref and ref on a join are echoed as numbers", async () => {
    const c = await rawConnect(ctx, "alice")
    c.send([11, 11, "chat:42", "phx_join", {}])
    const frame = await c.next(f => f.event === "phx_reply" && String(f.ref) === "11", "join reply")
    assert.deepEqual(frame.json, [11, 11, "chat:42", "phx_reply", {status: "ok", response: {}}])
  })

  test("a string ref is echoed as the same string", async () => {
    const c = await rawConnect(ctx, "alice")
    const ref = `r-${randomBytes(4).toString("hex")}-é`
    c.send([null, ref, "phoenix", "heartbeat", {}])
    const frame = await c.reply(ref)
    assert.equal(frame.ref, ref)
    assert.equal(frame.joinRef, null)
  })

  test("phoenix.js socket.ping gets an answer", async () => {
    const socket = await ctx.pool.connect("alice")
    const rtt = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no ping answer within 8000 ms")), 8000)
      assert.equal(socket.ping(ms => { clearTimeout(timer); resolve(ms) }), true)
    })
    assert.ok(rtt >= 0)
  })

  test("a message on topic `phoenix` that is not a heartbeat gets \"unmatched topic\"", async () => {
    const c = await rawConnect(ctx, "alice")
    c.send([null, "5", "phoenix", "shout", {}])
    const frame = await c.reply("5")
    assert.deepEqual(frame.json,
      [null, "5", "phoenix", "phx_reply", {status: "error", response: {reason: "unmatched topic"}}])
  })
})

describe("Origin allow-list (--allowed-origins)", () => {
  const octx = useServer({args: ["--allowed-origins", "https://app.example,https://other.example"]})

  test("an allowed Origin connects", async () => {
    const url = octx.server.socketUrl(tokenQuery(octx.server.token("alice")))
    const c = await octx.raw.connect(url, {headers: {Origin: "https://other.example"}})
    c.send([null, "1", "phoenix", "heartbeat", {}])
    await c.reply("1")
  })

  test("a disallowed Origin is refused with 403", async () => {
    const url = octx.server.socketUrl(tokenQuery(octx.server.token("alice")))
    const res = await refusedUpgrade(url, {headers: {Origin: "https://evil.example"}})
    assertJsonError(res, 403)
  })
})

describe("plain HTTP", () => {
  test("GET /health answers 200 with JSON", async () => {
    const res = await fetch(`${ctx.server.url}/health`)
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.equal(body.status, "ok")
  })

  test("an unknown HTTP path answers 404 with a JSON error", async () => {
    const res = await fetch(`${ctx.server.url}/no/such/thing`)
    assert.equal(res.status, 404)
    const body = await res.json()
    assert.equal(typeof body.error?.code, "string")
    assert.equal(typeof body.error?.message, "string")
  })
})
