// useServer(opts): one quckrt-server for the enclosing file or describe block, plus pools of
// phoenix.js sockets and raw clients that are closed after every test.
//
//   const ctx = useServer({args: ["--max-channels", "3"]})
//   test("...", async () => { const s = await ctx.pool.connect("alice") ... })
import {after, afterEach, before} from "node:test"

import {SocketPool} from "./phoenix.js"
import {RawPool} from "./raw.js"
import {startServer} from "./server.js"

//
// perTestCleanup: false leaves the pools open between tests (for concurrent tests that
// manage their own clients).
export function useServer({perTestCleanup = true, ...opts} = {}) {
  const ctx = {server: null, pool: null, raw: null}
  before(async () => {
    ctx.server = await startServer(opts)
    ctx.pool = new SocketPool(ctx.server)
    ctx.raw = new RawPool()
  })
  afterEach(() => {
    if (!perTestCleanup) return
    ctx.pool?.disconnectAll()
    ctx.raw?.closeAll()
  })
  after(async () => {
    ctx.pool?.disconnectAll()
    ctx.raw?.closeAll()
    if (ctx.server) await ctx.server.stop()
  })
  return ctx
}

// tokenQuery(token): the query string part carrying a token.
export function tokenQuery(token) {
  return `token=${encodeURIComponent(token)}`
}

// rawConnect(ctx, sub): a raw client authenticated as `sub` with the `token` param.
export function rawConnect(ctx, sub, claims) {
  return ctx.raw.connect(ctx.server.socketUrl(tokenQuery(ctx.server.token(sub, claims))))
}
