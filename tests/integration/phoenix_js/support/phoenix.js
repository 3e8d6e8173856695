// Helpers around the official phoenix.js client (Socket over the `ws` package), turning its
// callbacks into promises that fail the test after a bounded wait.
//
//   const pool = new SocketPool(server)
//   const socket = await pool.connect("alice")
//   const channel = socket.channel("chat:42")
//   const inbox = listen(channel, "message:new")   // record before acting
//   await join(channel)
//   const reply = await push(channel, "message:send", {content: "hi"})
//   const msg = await inbox.next()
import {Socket} from "phoenix"
import WebSocket from "ws"

export const WAIT_MS = 8000

// withTimeout(promise, ms, what): rejects with a message naming `what` after `ms`.
export function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

// A queue of values with promise-based, timed waits. Values that arrive before anyone waits
// are kept, so no event is lost between an action and the wait for its effect.
export class Inbox {
  constructor(name) {
    this.name = name
    this.items = []     // everything ever received, in order
    this.unread = []
    this.waiters = []
  }

  put(value) {
    this.items.push(value)
    const i = this.waiters.findIndex(w => w.pred(value))
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1)
      w.resolve(value)
    } else {
      this.unread.push(value)
    }
  }

  next(pred = () => true, timeoutMs = WAIT_MS) {
    const i = this.unread.findIndex(pred)
    if (i >= 0) return Promise.resolve(this.unread.splice(i, 1)[0])
    return new Promise((resolve, reject) => {
      const w = {pred, resolve: v => { clearTimeout(timer); resolve(v) }}
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(x => x !== w)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${this.name}; received ` +
                         `so far: ${JSON.stringify(this.items).slice(0, 600)}`))
      }, timeoutMs)
      this.waiters.push(w)
    })
  }
}

// listen(channel, event): an Inbox of that event's payloads on this channel.
export function listen(channel, event) {
  const inbox = new Inbox(`"${event}" on ${channel.topic}`)
  channel.on(event, payload => inbox.put(payload))
  return inbox
}

// pushResult(push, timeoutMs): resolves with the "ok" response; rejects with an Error whose
// `status` and `response` say what came back ("error" or "timeout").
export function pushResult(p, what) {
  return new Promise((resolve, reject) => {
    const fail = status => response => {
      const err = new Error(`${what}: got "${status}" ${JSON.stringify(response)}`)
      err.status = status
      err.response = response
      reject(err)
    }
    p.receive("ok", resolve).receive("error", fail("error")).receive("timeout", fail("timeout"))
  })
}

// join(channel): the join's "ok" response, or a rejection with the error/timeout response.
export function join(channel, timeoutMs = WAIT_MS) {
  return pushResult(channel.join(timeoutMs), `join ${channel.topic}`)
}

// joinError(channel): the "error" response of a join that must be refused.
export async function joinError(channel, timeoutMs = WAIT_MS) {
  try {
    const ok = await join(channel, timeoutMs)
    throw new Error(`join ${channel.topic} succeeded (${JSON.stringify(ok)}), expected an error`)
  } catch (e) {
    if (e.status !== "error") throw e
    return e.response
  }
}

export function push(channel, event, payload = {}, timeoutMs = WAIT_MS) {
  return pushResult(channel.push(event, payload, timeoutMs), `push ${event} on ${channel.topic}`)
}

// pushError(channel, event, payload): the "error" response of a push that must fail.
export async function pushError(channel, event, payload = {}, timeoutMs = WAIT_MS) {
  try {
    const ok = await push(channel, event, payload, timeoutMs)
    throw new Error(`push ${event} succeeded (${JSON.stringify(ok)}), expected an error`)
  } catch (e) {
    if (e.status !== "error") throw e
    return e.response
  }
}

// Socket-level events recorded from creation: opens, closes (CloseEvent-like: code, reason)
// and errors.
export function trackSocket(socket) {
  const events = {
    opens: new Inbox("socket open"),
    closes: new Inbox("socket close"),
    errors: new Inbox("socket error"),
  }
  socket.onOpen(() => events.opens.put(Date.now()))
  socket.onClose(e => events.closes.put({code: e.code, reason: e.reason, wasClean: e.wasClean}))
  socket.onError(e => events.errors.put(e))
  return events
}

// waitOpen(socket, what): resolves on the socket's next open; rejects if it closes first or
// after WAIT_MS. Does not consume anything from socket.events.
export function waitOpen(socket, what = "the socket to open", timeoutMs = WAIT_MS) {
  let refs = []
  const opened = new Promise((resolve, reject) => {
    refs = [
      socket.onOpen(() => resolve()),
      socket.onClose(e => reject(new Error(`${what}: closed with code ${e.code} before opening`))),
    ]
  })
  return withTimeout(opened, timeoutMs, what).finally(() => socket.off(refs))
}

// makeSocket(url, opts): a phoenix.js Socket over `ws`. Not connected yet.
export function makeSocket(url, opts = {}) {
  return new Socket(url, {transport: WebSocket, timeout: WAIT_MS, ...opts})
}

// Creates, connects and finally disconnects phoenix.js sockets for one test file.
export class SocketPool {
  constructor(server) {
    this.server = server
    this.sockets = []
  }

  // connect(sub, {authToken, token, opts}): a connected Socket plus its event log at
  // socket.events. `authToken: true` sends the token with the phoenix.js 1.8 authToken option
  // (Sec-WebSocket-Protocol) instead of the `token` param.
  async connect(sub, {authToken = false, token, opts = {}} = {}) {
    token = token || this.server.token(sub)
    const socketOpts = authToken ? {authToken: token, ...opts} : {params: {token}, ...opts}
    const socket = makeSocket(this.server.wsUrl, socketOpts)
    socket.events = trackSocket(socket)
    this.sockets.push(socket)
    socket.connect()
    await waitOpen(socket, `the socket for ${sub} to open`)
    return socket
  }

  disconnectAll() {
    for (const s of this.sockets) s.disconnect()
    this.sockets = []
  }
}
