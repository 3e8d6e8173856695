// Helpers for the persisted chat (server started with --storage and --admin-token): a temp
// sqlite file, the HTTP admin API for conversations, and unique ids per test.
//
//   const db = tempDb("chat")               // {dir, file, url: "sqlite:<file>", remove()}
//   await createConversation(server, adminToken, {id, kind: "group", members: ["a", "b"]})
import {randomBytes} from "node:crypto"
import {mkdtempSync, rmSync} from "node:fs"
import os from "node:os"
import path from "node:path"

// tempDb(prefix): a fresh directory under os.tmpdir() holding `<prefix>.sqlite` (not created).
export function tempDb(prefix = "quckrt") {
  const dir = mkdtempSync(path.join(os.tmpdir(), `quckrt-${prefix}-`))
  const file = path.join(dir, `${prefix}.sqlite`)
  return {dir, file, url: `sqlite:${file}`, remove: () => rmSync(dir, {recursive: true, force: true})}
}

export function randomToken() {
  return randomBytes(16).toString("hex")
}

// uid(name): a user or conversation id unique to this run, so tests sharing a server (and a
// database) never see each other's queue entries.
let counter = 0
const runTag = randomBytes(3).toString("hex")
export function uid(name) {
  return `${name}-${runTag}-${++counter}`
}

// adminRequest(server, adminToken, method, urlPath, body): {status, body} (body parsed JSON or
// null).
export async function adminRequest(server, adminToken, method, urlPath, body) {
  const res = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: {
      Authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : {"Content-Type": "application/json"}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(8000),
  })
  const text = await res.text()
  let parsed = null
  try { parsed = JSON.parse(text) } catch { /* left null */ }
  return {status: res.status, body: parsed, text}
}

// createConversation(...): POST /api/conversations, asserting 201.
export async function createConversation(server, adminToken, {id, kind = "group", members}) {
  const r = await adminRequest(server, adminToken, "POST", "/api/conversations", {id, kind, members})
  if (r.status !== 201) {
    throw new Error(`POST /api/conversations ${id}: ${r.status} ${r.text}`)
  }
  return r.body
}
