// Resume for a phoenix.js client of quckrt's persisted chat (docs/chat.md "Resume").
// ES module, no dependencies besides the phoenix.js Socket you pass in.
//
//   import {resumableChannel, Deduper} from "./resume.js"
//   const dedup = new Deduper(savedFloors)          // {conversationId: seq} from the device
//   const user = socket.channel(`user:${me}`)
//   user.on("message:new", m => {
//     if (dedup.fromQueue(m)) app.apply("message:new", m)
//     user.push("message:ack", {messageId: m.id})  // always: the queue only empties on acks
//   })
//   user.join()
//   const chat = resumableChannel(socket, `chat:${id}`, {
//     initialLastSeq: savedLastSeq,
//     onEvent: (event, payload) => { if (dedup.fromChat(payload)) app.apply(event, payload) },
//     onGap: gap => pageHistory(gap),                // see below
//   })

// Every event that takes a seq of the conversation's one gap-free sequence.
export const SEQ_EVENTS = ["message:new", "message:edited", "message:deleted",
                           "message:reaction:added", "message:reaction:removed"]

// resumableChannel(socket, topic, {onEvent, onGap, initialLastSeq, params}): joins `topic`
// and keeps it resumed across reconnects. Returns {channel, join, lastSeq()}; persist
// lastSeq() wherever the app persists what it applied.
//
// The params are a function because phoenix.js evaluates them again on every rejoin
// (after a reconnect, or a phx_error): the rejoin then carries the position reached so far
// and the server replays exactly what came after it, before any live event.
//
// recovered:false (last_seq older than the server's window, or ahead of it): nothing is
// replayed and live events flow at once. We don't page `history` here because the app
// has to merge those pages with live events and with its store anyway; onGap gets
// {after, reason, first_seq, last_seq, channel} and the app pages
// `history {afterSeq: after}` (messages there are in their current state, so edits and
// reactions inside the gap need no events of their own). lastSeq keeps following the
// live events, so a later reconnect does not ask for the gap again: it is onGap's to fill.
export function resumableChannel(socket, topic,
                                 {onEvent, onGap = () => {}, initialLastSeq = 0, params = {}} = {}) {
  let lastSeq = initialLastSeq
  let asked = lastSeq
  const channel = socket.channel(topic, () => {
    asked = lastSeq
    return {...params, last_seq: lastSeq}
  })
  for (const event of SEQ_EVENTS) {
    channel.on(event, payload => {
      // max, not assignment: a resume point must never move back.
      if (payload.seq > lastSeq) lastSeq = payload.seq
      onEvent(event, payload)
    })
  }
  // The join push is reused for every rejoin, so this runs on each of them.
  const join = channel.join().receive("ok", reply => {
    if (reply.recovered === false) {
      onGap({after: asked, reason: reply.reason, first_seq: reply.first_seq,
             last_seq: reply.last_seq, channel})
    }
  })
  return {channel, join, lastSeq: () => lastSeq}
}

// Deduper: hands each sequenced event of a conversation to the app once, whichever path
// brought it: the chat:X stream (replay + live) or the user:{me} store-and-forward queue,
// which carry the same message with the same seq.
//
// Per conversation: a floor (every seq <= floor was applied) and the seqs above it that
// were applied (queue entries that arrived ahead of the chat stream, or history pages).
// A seq is a duplicate iff it is <= floor or in the set. The floor climbs over the set
// as the chat stream, which is gap-free, fills the holes, so the set stays small.
// Edit/reaction seqs only come on chat:X: if a gap left by recovered:false was filled
// from `history` instead, call advance(conversationId, last_seq) afterwards.
export class Deduper {
  constructor(floors = {}) {
    this.floors = new Map(Object.entries(floors))
    this.above = new Map()   // conversationId -> Set of applied seqs > floor
  }

  // fromChat(payload) / fromQueue(message) / fromHistory(message): true if it is new
  // (apply it), false for a duplicate. Ack queue entries either way.
  fromChat(payload) { return this.#take(payload.conversationId, payload.seq) }
  fromQueue(message) { return this.#take(message.conversationId, message.seq) }
  fromHistory(message) { return this.#take(message.conversationId, message.seq) }

  floor(conversationId) { return this.floors.get(conversationId) ?? 0 }

  // advance(conversationId, seq): everything up to seq is applied (a filled gap, or the
  // persisted position at startup).
  advance(conversationId, seq) {
    if (seq > this.floor(conversationId)) this.floors.set(conversationId, seq)
    this.#compact(conversationId)
  }

  #take(conversationId, seq) {
    const above = this.#set(conversationId)
    if (seq <= this.floor(conversationId) || above.has(seq)) return false
    above.add(seq)
    this.#compact(conversationId)
    return true
  }

  #compact(conversationId) {
    const above = this.#set(conversationId)
    let floor = this.floor(conversationId)
    while (above.has(floor + 1)) above.delete(++floor)
    for (const s of above) if (s <= floor) above.delete(s)
    this.floors.set(conversationId, floor)
  }

  #set(conversationId) {
    if (!this.above.has(conversationId)) this.above.set(conversationId, new Set())
    return this.above.get(conversationId)
  }
}
