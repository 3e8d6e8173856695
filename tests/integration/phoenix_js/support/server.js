// Starts the real quckrt-server binary as a child process for one test file (or one test).
//
//   const server = await startServer({args: ["--max-channels", "3"]})
//   server.wsUrl          // ws://127.0.0.1:PORT/socket  (phoenix.js endpoint)
//   server.token("alice") // an HS256 JWT signed with this run's secret
//   await server.stop()   // SIGTERM, wait, assert exit code 0
//
// Every started process is remembered; an `exit` hook SIGKILLs any that are still running,
// so a failing or crashing test never leaves a server behind.
import {spawn} from "node:child_process"
import {createHmac, randomBytes} from "node:crypto"
import {existsSync} from "node:fs"
import path from "node:path"
import {fileURLToPath} from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const DEFAULT_BINARY = path.resolve(here, "../../../../build/dev/server/quckrt-server")
const LISTENING = /quckrt-server listening on http:\/\/127\.0\.0\.1:(\d+)/

// Timeouts are generous because the suite also runs against an ASan build.
export const START_TIMEOUT_MS = 15000
export const STOP_TIMEOUT_MS = 15000

const running = new Set()
function killAll() {
  for (const child of running) {
    try { child.kill("SIGKILL") } catch { /* already gone */ }
  }
}
process.on("exit", killAll)
// The test runner (or ctest on a timeout) may end this process with a signal; take the
// servers down with it.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAll()
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1))
  })
}

export function serverBinary() {
  return process.env.QUCKRT_SERVER || DEFAULT_BINARY
}

export function base64url(input) {
  return Buffer.from(input).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000)
}

// signJwt(payload, secret, header): a compact JWS. `header` defaults to HS256; with
// alg "none" no signature is computed (the third part is empty).
export function signJwt(payload, secret, header = {alg: "HS256", typ: "JWT"}) {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`
  if (header.alg === "none") return `${input}.`
  const sig = createHmac("sha256", secret).update(input).digest("base64url")
  return `${input}.${sig}`
}

class ServerProcess {
  constructor(child, args, secret) {
    this.child = child
    this.args = args
    this.secret = secret
    this.port = 0
    this.stdout = ""
    this.stderrText = ""
    this.exitInfo = null
    this.exited = new Promise(resolve => {
      child.once("exit", (code, signal) => {
        running.delete(child)
        this.exitInfo = {code, signal}
        resolve(this.exitInfo)
      })
    })
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", d => { this.stdout += d })
    child.stderr.on("data", d => { this.stderrText += d })
  }

  get url() { return `http://127.0.0.1:${this.port}` }
  get wsUrl() { return `ws://127.0.0.1:${this.port}/socket` }
  // The full WebSocket URL raw clients use; `query` is appended after vsn.
  socketUrl(query = "") {
    return `ws://127.0.0.1:${this.port}/socket/websocket?vsn=2.0.0${query ? "&" + query : ""}`
  }

  // token(sub, claims): HS256 JWT for `sub`, valid for one hour unless `claims` overrides
  // exp (a claim set to undefined is left out).
  token(sub, claims = {}) {
    const now = nowSeconds()
    const payload = {sub, iat: now, exp: now + 3600, ...claims}
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k]
    return signJwt(payload, this.secret)
  }

  stderr() { return this.stderrText }

  diagnostics() {
    const tail = this.stderrText.split("\n").slice(-40).join("\n")
    return `server ${serverBinary()} ${this.args.join(" ")}\n--- stderr (tail) ---\n${tail}`
  }

  get running() { return this.exitInfo === null }

  // stop(): SIGTERM, wait for the process, and assert that it exited with code 0.
  async stop({timeoutMs = STOP_TIMEOUT_MS} = {}) {
    if (this.running) this.child.kill("SIGTERM")
    const info = await waitExit(this, timeoutMs)
    if (info.code !== 0) {
      throw new Error(`quckrt-server exited with code ${info.code} signal ${info.signal} ` +
                      `(expected 0 after SIGTERM)\n${this.diagnostics()}`)
    }
    return info
  }

  // kill(): SIGKILL without any assertion (cleanup of a server a failed test left running).
  async kill() {
    if (this.running) this.child.kill("SIGKILL")
    await this.exited
  }
}

async function waitExit(server, timeoutMs) {
  let timer
  const timeout = new Promise(resolve => { timer = setTimeout(resolve, timeoutMs, null) })
  const info = await Promise.race([server.exited, timeout])
  clearTimeout(timer)
  if (info) return info
  server.child.kill("SIGKILL")
  await server.exited
  throw new Error(`quckrt-server did not exit within ${timeoutMs} ms of SIGTERM; killed\n` +
                  server.diagnostics())
}

// startServer({args, port, secret}): spawn the binary and resolve once it prints its
// listening line. Rejects (and kills the child) on early exit or after START_TIMEOUT_MS.
export async function startServer({args = [], port = 0, secret} = {}) {
  const binary = serverBinary()
  if (!existsSync(binary)) {
    throw new Error(`quckrt-server binary not found at ${binary} (set QUCKRT_SERVER)`)
  }
  secret = secret || randomBytes(24).toString("hex")
  const argv = ["--host", "127.0.0.1", "--port", String(port), "--jwt-secret", secret,
                "--loops", "1", ...args]
  const child = spawn(binary, argv, {stdio: ["ignore", "pipe", "pipe"]})
  running.add(child)
  const server = new ServerProcess(child, argv.map(a => (a === secret ? "<secret>" : a)), secret)

  let timer
  try {
    await new Promise((resolve, reject) => {
      const onData = () => {
        const m = LISTENING.exec(server.stdout)
        if (m) {
          server.port = Number(m[1])
          child.stdout.off("data", onData)
          resolve()
        }
      }
      child.stdout.on("data", onData)
      child.once("error", reject)
      server.exited.then(info => reject(new Error(
        `quckrt-server exited before listening (code ${info.code}, signal ${info.signal})\n` +
        server.diagnostics())))
      timer = setTimeout(() => reject(new Error(
        `quckrt-server did not print its listening line within ${START_TIMEOUT_MS} ms\n` +
        server.diagnostics())), START_TIMEOUT_MS)
    })
  } catch (e) {
    clearTimeout(timer)
    await server.kill()
    throw e
  }
  clearTimeout(timer)
  return server
}
