// Helpers for the resume tests (docs/chat.md "Resume"): a TCP proxy that takes a client's
// connection away under it, a log of every seq-bearing event a channel received, a
// continuous sender, and event-driven waits.
//
//   const proxy = await startProxy(server.port)   // proxy.wsUrl for phoenix.js
//   proxy.offline()          // cut every connection, refuse new ones (phoenix.js retries)
//   proxy.online()           // accept again: phoenix.js reconnects and rejoins by itself
//   const log = seqLog(channel)   // log.entries [{event, payload, seq}], log.lastSeen
//   await until(log, () => log.lastSeen >= 200, "reader at 200")
import assert from "node:assert/strict"
import net from "node:net"

import {Inbox, WAIT_MS, push} from "./phoenix.js"

export const SEQ_EVENTS = ["message:new", "message:edited", "message:deleted",
                           "message:reaction:added", "message:reaction:removed"]

// Something whose changes can be waited for: until(obj, pred) re-checks pred on each
// obj.changed() call.
class Observable {
  constructor() { this.watchers = new Set() }
  changed() { for (const w of [...this.watchers]) w() }
}

// watchable(): an Observable to call changed() on from test code.
export function watchable() { return new Observable() }

// until(observable, pred, what, timeoutMs): resolves once pred() holds (checked now and
// after every change); rejects after timeoutMs with `what` and describe() in the message.
export function until(obs, pred, what, timeoutMs = WAIT_MS, describe = () => "") {
  if (pred()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pred()) return
      obs.watchers.delete(check)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      obs.watchers.delete(check)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${describe()}`))
    }, timeoutMs)
    obs.watchers.add(check)
  })
}

// seqLog(channel): every seq-bearing event of the channel in arrival order. lastSeen is the
// highest seq seen (what a client resumes from).
export function seqLog(channel, lastSeen = 0) {
  const log = new Observable()
  log.entries = []
  log.lastSeen = lastSeen
  log.seqs = () => log.entries.map(e => e.seq)
  log.describe = () => {
    const s = log.seqs()
    return `${s.length} events, lastSeen ${log.lastSeen}, last seqs ${JSON.stringify(s.slice(-12))}`
  }
  log.untilSeq = (seq, timeoutMs = WAIT_MS) =>
    until(log, () => log.lastSeen >= seq, `${channel.topic} to reach seq ${seq}`, timeoutMs, log.describe)
  for (const event of SEQ_EVENTS) {
    channel.on(event, payload => {
      log.entries.push({event, payload, seq: payload.seq})
      if (payload.seq > log.lastSeen) log.lastSeen = payload.seq
      log.changed()
    })
  }
  return log
}

// resumingChannel(socket, topic): a channel whose params are a function of its own log, the
// way an unmodified phoenix.js client resumes; every params evaluation is recorded in
// `asked` and every join "ok"/"error" in the `oks`/`errors` Inboxes (the join push is reused
// for every rejoin). Joined once (not awaited).
export function resumingChannel(socket, topic, {initialLastSeq = 0, extra = {presence: false}} = {}) {
  let log
  const asked = []
  const channel = socket.channel(topic, () => {
    const params = {...extra, last_seq: log.lastSeen}
    asked.push(params.last_seq)
    return params
  })
  log = seqLog(channel, initialLastSeq)
  const oks = new Inbox(`join ok of ${topic}`)
  const errors = new Inbox(`join error of ${topic}`)
  channel.join(WAIT_MS)
    .receive("ok", r => oks.put(r))
    .receive("error", r => errors.put(r))
  return {channel, log, asked, oks, errors}
}

// assertExactRange(seqs, from, to, what): seqs is exactly from, from+1, ..., to (each once,
// in order). On failure names the first gap, duplicate or misorder.
export function assertExactRange(seqs, from, to, what) {
  for (let i = 0; i < seqs.length; i++) {
    const want = from + i
    if (seqs[i] !== want) {
      const dup = seqs.indexOf(seqs[i]) !== i
      const kind = dup ? "duplicate" : seqs[i] > want ? "gap" : "misorder"
      assert.fail(`${what}: ${kind} at index ${i}: expected seq ${want}, got ${seqs[i]} ` +
                  `(around: ${JSON.stringify(seqs.slice(Math.max(0, i - 5), i + 6))})`)
    }
  }
  assert.equal(seqs.length, to - from + 1,
               `${what}: ${seqs.length} events, expected ${from}..${to} (${to - from + 1})`)
}

// Sender: `inFlight` concurrent message:send loops on `channel` until stop(). oks holds the
// ok replies (the messages); waitCount(n) waits for n of them.
export class Sender extends Observable {
  // timeoutMs: of each push (a sender cut off by a server kill leaves its pushes to time out).
  constructor(channel, {inFlight = 4, prefix = "live", timeoutMs = WAIT_MS} = {}) {
    super()
    this.timeoutMs = timeoutMs
    this.channel = channel
    this.inFlight = inFlight
    this.prefix = prefix
    this.oks = []
    this.errors = []
    this.stopped = false
    this.next = 0
    this.workers = []
  }

  start() {
    for (let w = 0; w < this.inFlight; w++) this.workers.push(this.#work())
    return this
  }

  async #work() {
    while (!this.stopped) {
      const i = this.next++
      try {
        this.oks.push(await push(this.channel, "message:send",
                                 {content: `${this.prefix} ${i}`, clientMsgId: `${this.prefix}-${i}`},
                                 this.timeoutMs))
      } catch (e) {
        this.errors.push(e)
        this.stopped = true
      }
      this.changed()
    }
  }

  waitCount(n, timeoutMs = WAIT_MS) {
    return until(this, () => this.oks.length >= n || this.errors.length > 0,
                 `${n} ok sends`, timeoutMs, () => `${this.oks.length} so far`)
      .then(() => assert.deepEqual(this.errors.map(String), [], "sender errors"))
  }

  async stop() {
    this.stopped = true
    await Promise.all(this.workers)
    assert.deepEqual(this.errors.map(String), [], "sender errors")
    return Math.max(0, ...this.oks.map(m => m.seq))
  }
}

// startProxy(targetPort): a TCP proxy on 127.0.0.1. offline() cuts every connection (the
// client sees its peer close the TCP connection, no WebSocket close frame) and refuses new
// ones until online(); cut() only cuts; retarget(port) points new connections at another
// server (a restarted one).
export async function startProxy(targetPort) {
  const pairs = new Set()
  let blocked = false
  const server = net.createServer(client => {
    if (blocked) {
      client.destroy()
      return
    }
    const upstream = net.connect(proxy.target, "127.0.0.1")
    const pair = {client, upstream}
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", resolve)
  })
  const proxy = {
    target: targetPort,
    port: server.address().port,
    get wsUrl() { return `ws://127.0.0.1:${this.port}/socket` },
    get connections() { return pairs.size },
    cut() {
      for (const {client, upstream} of [...pairs]) {
        client.destroy()
        upstream.destroy()
      }
      pairs.clear()
    },
    offline() {
      blocked = true
      this.cut()
    },
    block() { blocked = true },
    online() { blocked = false },
    retarget(port) { this.target = port },
    close() {
      this.offline()
      return new Promise(resolve => server.close(() => resolve()))
    },
  }
  return proxy
}
