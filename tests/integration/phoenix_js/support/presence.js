// Helpers around the real phoenix.js `Presence` (1.8.16): a Presence per channel whose
// callbacks are recorded, and a wait on "after some onSync, the list satisfies a predicate".
//
//   const watch = watchPresence(channel)          // before channel.join()
//   await join(channel)
//   await watch.until(list => list.alice?.refs.length === 2, "alice on two tabs")
//   watch.leaves  // [{key, current, left}] copies taken when onLeave fired
//
// `list` handed to predicates (and returned by watch.snapshot()) is a null-prototype object
// {key: {refs: [phx_ref...] (client order), metas: [...]}}, built from Presence.list(), so
// keys such as "__proto__" are ordinary entries.
import {Presence} from "phoenix"

import {WAIT_MS} from "./phoenix.js"

// copy(value): a deep copy through JSON (undefined stays undefined). JSON.parse creates own
// properties, so a "__proto__" key survives the copy.
export function copy(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}

// keysOf(obj): own keys, including "__proto__" (Object.keys would too; this is explicit).
export function keysOf(obj) {
  return Object.getOwnPropertyNames(obj)
}

export function watchPresence(channel, opts) {
  const w = {
    channel,
    presence: null,
    joins: [],    // onJoin: {key, current, joined}
    leaves: [],   // onLeave: {key, current, left}
    syncs: 0,
    states: [],   // raw presence_state payloads: {joinRef, payload} (copied before Presence sees them)
    diffs: [],    // raw presence_diff payloads (copied)
  }
  // Registered before the Presence so the copies are taken before syncState mutates the
  // payload's inner objects.
  channel.on("presence_state", (payload, _ref, joinRef) => w.states.push({joinRef, payload: copy(payload)}))
  channel.on("presence_diff", payload => w.diffs.push(copy(payload)))
  const presence = new Presence(channel, opts)
  w.presence = presence
  const waiters = new Set()
  presence.onJoin((key, current, joined) => w.joins.push({key, current: copy(current), joined: copy(joined)}))
  presence.onLeave((key, current, left) => w.leaves.push({key, current: copy(current), left: copy(left)}))
  presence.onSync(() => {
    w.syncs++
    for (const waiter of [...waiters]) waiter.check()
  })

  w.snapshot = () => {
    const out = Object.create(null)
    presence.list((key, p) => {
      out[key] = {refs: p.metas.map(m => m.phx_ref), metas: copy(p.metas)}
    })
    return out
  }
  // describe(): "key:[ref,ref] key2:[ref]" for failure messages.
  w.describe = () => {
    const s = w.snapshot()
    return keysOf(s).map(k => `${k}:[${s[k].refs.join(",")}]`).join(" ") || "(empty)"
  }

  // until(pred, what, timeoutMs): resolves with the snapshot once pred(snapshot) holds, checked
  // now and after every onSync; rejects after timeoutMs with the last list seen.
  w.until = (pred, what = "a presence list", timeoutMs = WAIT_MS) => new Promise((resolve, reject) => {
    const waiter = {
      check() {
        const s = w.snapshot()
        let ok = false
        try { ok = pred(s) } catch { ok = false }
        if (!ok) return
        waiters.delete(waiter)
        clearTimeout(timer)
        resolve(s)
      },
    }
    const timer = setTimeout(() => {
      waiters.delete(waiter)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${channel.topic}; ` +
                       `list: ${w.describe()}; syncs: ${w.syncs}`))
    }, timeoutMs)
    waiters.add(waiter)
    waiter.check()
  })
  return w
}

// shape(snapshot): {key: number of metas}, sorted by key (for comparisons across clients).
// Keys are defined as own properties, so "__proto__" is a key, not the prototype.
export function shape(snapshot) {
  const out = {}
  for (const k of keysOf(snapshot).sort()) {
    Object.defineProperty(out, k, {value: snapshot[k].refs.length, enumerable: true})
  }
  return out
}

// refsOf(snapshot): {key: sorted refs}, sorted by key; equal across clients once converged.
export function refsOf(snapshot) {
  const out = {}
  for (const k of keysOf(snapshot).sort()) {
    Object.defineProperty(out, k, {value: [...snapshot[k].refs].sort(), enumerable: true})
  }
  return out
}

// hasShape(expected): a predicate for until(): exactly these keys with these meta counts.
export function hasShape(expected) {
  return s => {
    const keys = keysOf(s)
    const want = keysOf(expected)
    return keys.length === want.length && want.every(k => s[k] && s[k].refs.length === expected[k])
  }
}
