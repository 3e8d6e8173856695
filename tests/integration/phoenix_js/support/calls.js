// Helpers for the calls suite (docs/calls.md): a joined `webrtc:{user}` channel with an
// Inbox per server event, recorded from before the join so nothing is missed.
//
//   const a = await webrtc(await ctx.pool.connect(alice), alice)
//   const {callId} = await push(a.channel, "call:initiate", {calleeId: bob})
//   const incoming = await b.inbox["call:incoming"].next()
import {join, listen} from "./phoenix.js"

export const CALL_EVENTS = [
  "call:incoming", "call:answered", "call:rejected", "call:ended", "call:missed",
  "webrtc:offer", "webrtc:answer", "webrtc:ice-candidate", "call:toggle-audio", "call:toggle-video",
]

// webrtc(socket, user): {channel, reply, inbox} for webrtc:<user>.
export async function webrtc(socket, user) {
  const channel = socket.channel(`webrtc:${user}`)
  const inbox = {}
  for (const e of CALL_EVENTS) inbox[e] = listen(channel, e)
  const reply = await join(channel)
  return {channel, reply, inbox}
}

// received(side): every call event this side has received so far, as [event, payload].
export function received(side) {
  const out = []
  for (const [event, box] of Object.entries(side.inbox)) {
    for (const payload of box.items) out.push([event, payload])
  }
  return out
}
