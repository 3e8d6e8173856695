// A raw WebSocket client (the `ws` package, not phoenix.js) for what phoenix.js cannot
// express: arbitrary frames, exact refs, close codes, refused upgrades.
//
//   const c = await RawClient.connect(server.socketUrl("token=" + tok))
//   const joinRef = c.nextRef()
//   c.send([joinRef, joinRef, "chat:42", "phx_join", {}])
//   const reply = await c.next(f => f.ref === joinRef)
//   const {code} = await c.closed()
import {randomBytes} from "node:crypto"
import http from "node:http"

import WebSocket from "ws"

export const WAIT_MS = 8000

// The outcome of a refused upgrade: {status, headers, text, body (parsed JSON or null)}.
// Resolves only if the server answered with an HTTP status instead of 101.
export function refusedUpgrade(url, {protocols, headers, timeoutMs = WAIT_MS} = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, {headers})
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`no HTTP response to the upgrade of ${url} within ${timeoutMs} ms`))
    }, timeoutMs)
    ws.on("unexpected-response", (req, res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", d => { text += d })
      res.on("end", () => {
        clearTimeout(timer)
        let body = null
        try { body = JSON.parse(text) } catch { /* left null: the test asserts on it */ }
        resolve({status: res.statusCode, headers: res.headers, text, body})
        req.destroy()
      })
    })
    ws.on("open", () => {
      clearTimeout(timer)
      ws.terminate()
      reject(new Error(`upgrade of ${url} was accepted (101), expected a refusal`))
    })
    ws.on("error", err => {
      // 'unexpected-response' handled: ws emits no error then. Anything else is a failure.
      clearTimeout(timer)
      reject(err)
    })
  })
}

function describe(frame) {
  if (frame.isBinary) return `<binary ${frame.data.length} bytes>`
  return frame.text.length > 300 ? frame.text.slice(0, 300) + "…" : frame.text
}

export class RawClient {
  constructor(ws) {
    this.ws = ws
    this.inbox = []     // frames not yet taken by next()
    this.waiters = []   // {pred, resolve}
    this.ref = 0
    this.closeInfo = null
    this.closedPromise = new Promise(resolve => {
      ws.on("close", (code, reason) => {
        this.closeInfo = {code, reason: reason.toString("utf8")}
        resolve(this.closeInfo)
        for (const w of this.waiters) w.onClose(this.closeInfo)
      })
    })
    ws.on("error", () => { /* surfaced through close */ })
    ws.on("message", (data, isBinary) => {
      const frame = {isBinary, data}
      if (!isBinary) {
        frame.text = data.toString("utf8")
        try { frame.json = JSON.parse(frame.text) } catch { frame.json = undefined }
        if (Array.isArray(frame.json)) {
          const [joinRef, ref, topic, event, payload] = frame.json
          Object.assign(frame, {joinRef, ref, topic, event, payload})
        }
      }
      const i = this.waiters.findIndex(w => w.pred(frame))
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1)
        w.resolve(frame)
      } else {
        this.inbox.push(frame)
      }
    })
  }

  // connect(url, {protocols, headers}): resolves once open; rejects with the HTTP status on
  // a refused upgrade.
  static connect(url, {protocols, headers, timeoutMs = WAIT_MS} = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, {headers})
      const client = new RawClient(ws)
      const timer = setTimeout(() => {
        ws.terminate()
        reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`))
      }, timeoutMs)
      ws.once("upgrade", res => { client.upgradeHeaders = res.headers })
      ws.once("open", () => { clearTimeout(timer); resolve(client) })
      ws.once("unexpected-response", (req, res) => {
        clearTimeout(timer)
        let text = ""
        res.setEncoding("utf8")
        res.on("data", d => { text += d })
        res.on("end", () => {
          req.destroy()
          reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${text}`))
        })
      })
      ws.once("error", err => { clearTimeout(timer); reject(err) })
    })
  }

  get protocol() { return this.ws.protocol }

  nextRef() { return String(++this.ref) }

  // send(value): a text frame; arrays/objects are JSON-encoded, strings sent verbatim.
  send(value) {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value))
  }

  sendBinary(bytes) {
    this.ws.send(Buffer.from(bytes), {binary: true})
  }

  // next(pred, what, timeoutMs): the first frame (already received or still to come) that
  // matches; rejects on timeout or if the connection closes first.
  next(pred = () => true, what = "a frame", timeoutMs = WAIT_MS) {
    const i = this.inbox.findIndex(pred)
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0])
    return new Promise((resolve, reject) => {
      const seen = () => this.inbox.map(describe).join("\n  ") || "(none)"
      const w = {
        pred,
        resolve: frame => { clearTimeout(timer); resolve(frame) },
        onClose: info => {
          clearTimeout(timer)
          this.waiters = this.waiters.filter(x => x !== w)
          reject(new Error(`connection closed (${info.code} ${info.reason}) while waiting for ` +
                           `${what}; unmatched frames:\n  ${seen()}`))
        },
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(x => x !== w)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unmatched ` +
                         `frames:\n  ${seen()}`))
      }, timeoutMs)
      if (this.closeInfo) return w.onClose(this.closeInfo)
      this.waiters.push(w)
    })
  }

  // reply(ref): the phx_reply to `ref`.
  reply(ref, what) {
    return this.next(f => f.event === "phx_reply" && f.ref === ref, what || `the reply to ref ${ref}`)
  }

  // join(topic, payload): sends phx_join, returns {joinRef, frame}.
  async join(topic, payload = {}) {
    const joinRef = this.nextRef()
    this.send([joinRef, joinRef, topic, "phx_join", payload])
    const frame = await this.reply(joinRef, `the join reply for ${topic}`)
    return {joinRef, frame}
  }

  // push(joinRef, topic, event, payload): sends a push, returns its ref (no waiting).
  push(joinRef, topic, event, payload = {}) {
    const ref = this.nextRef()
    this.send([joinRef, ref, topic, event, payload])
    return ref
  }

  // sync(): a heartbeat round trip. The server handles a connection's frames in order, so
  // once its reply is here, every reply to earlier frames is here too: a fence for "no reply
  // was sent" assertions, without sleeping.
  async sync() {
    const ref = `sync-${this.nextRef()}`
    this.send([null, ref, "phoenix", "heartbeat", {}])
    await this.reply(ref, "the heartbeat reply used as a fence")
  }

  // taken(pred): frames received but not consumed by next() that match.
  pending(pred = () => true) { return this.inbox.filter(pred) }

  // closed(timeoutMs): {code, reason} of the close; rejects on timeout.
  closed(timeoutMs = WAIT_MS) {
    if (this.closeInfo) return Promise.resolve(this.closeInfo)
    let timer
    return Promise.race([
      this.closedPromise.finally(() => clearTimeout(timer)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(
          `connection not closed within ${timeoutMs} ms; frames: ` +
          (this.inbox.map(describe).join(" | ") || "(none)"))), timeoutMs)
      }),
    ])
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate()
    }
  }
}

// A registry so after() hooks can close every raw client a test opened.
export class RawPool {
  constructor() { this.clients = [] }
  async connect(url, opts) {
    const c = await RawClient.connect(url, opts)
    this.clients.push(c)
    return c
  }
  closeAll() {
    for (const c of this.clients) c.close()
    this.clients = []
  }
}

// upgradeResponse(url, headers): sends a WebSocket upgrade request with exactly these extra
// headers through node:http (for header values `ws` refuses to send, e.g. a subprotocol with
// "=") and resolves {status, headers} of the answer, 101 or not. The socket is then dropped.
export function upgradeResponse(url, headers = {}, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const req = http.request(url.replace(/^ws:/, "http:"), {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no answer to the upgrade of ${url} within ${timeoutMs} ms`))
    }, timeoutMs)
    req.on("upgrade", (res, socket) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({status: res.statusCode, headers: res.headers})
    })
    req.on("response", res => {
      clearTimeout(timer)
      res.resume()
      resolve({status: res.statusCode, headers: res.headers})
    })
    req.on("error", err => { clearTimeout(timer); reject(err) })
    req.end()
  })
}
