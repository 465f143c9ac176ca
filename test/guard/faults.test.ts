// perso guard --listen when things go wrong: an upstream that dies mid-call
// (a child: the session ends; over HTTP: the session reconnects once the
// server is back), a slow upstream next to a quick one, a client that goes
// away mid-call, a client that resumes a dropped SSE stream, and /healthz
// saying whether an upstream can be had. Everything listens on 127.0.0.1
// (port 0); waits are bounded polls, never timing assertions.

import { type ChildProcess, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { PERSO, RECORDING, alive, root, start, temp, textOf } from './support.js'

const TOOLS = ['view', 'slow', 'crash', 'pid', 'change_tools', 'drop']
const POLICY = {
  version: 'faults-1',
  default_action: 'Deny',
  tools: TOOLS,
  roles: ['agent'],
  rules: TOOLS.filter((t) => t !== 'drop').map((tool_name) => ({ tool_name, roles: ['agent'] })),
}
const HTTP_SERVER = join(root, 'test/guard/recording-http-server.mjs')

const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGTERM')
})

const dir = temp('faults-')
const policyPath = join(dir, 'policy.json')
writeFileSync(policyPath, JSON.stringify(POLICY))
/** What the child upstreams recorded: each call, and each call cancelled. */
const record = join(dir, 'children.jsonl')
const recorded = (): { name: string; cancelled?: boolean; pid?: number }[] =>
  existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []
const ENV = { PERSO_TEST_TOOLS: JSON.stringify(TOOLS), PERSO_TEST_FAULTS: '1', PERSO_TEST_RECORD: record }

type Started = Awaited<ReturnType<typeof start>>

/** A gateway with --auth none in front of `upstream` (a URL, or a command after --). */
async function gateway(upstream: string[], extra: string[] = []): Promise<Started & { url: string }> {
  const started = await start([PERSO, 'guard', policyPath, '--listen', '127.0.0.1:0', '--auth', 'none', '--role', 'agent', ...extra, ...upstream], /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/, ENV)
  children.push(started.child)
  return { ...started, url: started.match[1]! }
}

/** The upstream HTTP server, on `port` (0: any). */
async function httpServer(port = 0): Promise<{ child: ChildProcess; url: string }> {
  const started = await start([HTTP_SERVER], /listening (\d+)/, { ...ENV, PERSO_TEST_PORT: String(port), PERSO_TEST_RECORD: join(dir, 'http.jsonl') })
  children.push(started.child)
  return { child: started.child, url: `http://127.0.0.1:${started.match[1]}/mcp` }
}

async function client(url: string): Promise<Client & { notified: string[] }> {
  const c = Object.assign(new Client({ name: 'faults-test', version: '1.0.0' }), { notified: [] as string[] })
  c.fallbackNotificationHandler = async (n) => void c.notified.push(n.method)
  await c.connect(new StreamableHTTPClientTransport(new URL(url)))
  return c
}

/** Polls `done` every 50 ms, at most `tries` times; whether it came true. */
async function until(done: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, 50))
  return done()
}

const health = async (url: string): Promise<{ status: number; body: { status: string; policy: string; sessions: number; upstream: { ok: boolean; error?: string } } }> => {
  const res = await fetch(url.replace(/\/mcp$/, '/healthz'))
  return { status: res.status, body: (await res.json()) as never }
}

/** A raw MCP client over fetch, to drop and resume streams as a flaky network would. */
function raw(url: string, protocolVersion: string) {
  let session: string | undefined
  const headers = (more: Record<string, string> = {}): Record<string, string> => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': protocolVersion,
    ...(session ? { 'mcp-session-id': session } : {}),
    ...more,
  })
  return {
    get session() {
      return session
    },
    headers,
    async post(body: unknown, signal?: AbortSignal): Promise<Response> {
      const res = await fetch(url, { method: 'POST', headers: headers(), body: JSON.stringify(body), ...(signal ? { signal } : {}) })
      session ??= res.headers.get('mcp-session-id') ?? undefined
      return res
    },
    async open(): Promise<void> {
      const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }
      expect((await this.post(init)).status).toBe(200)
      expect((await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202)
    },
  }
}

/** The events of an SSE response as they come: id (if any) and parsed data (if any). */
async function* events(res: Response): AsyncGenerator<{ id?: string; data?: { id?: unknown; method?: string; result?: unknown; error?: { message: string } } }> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const lines = buffer.slice(0, end).split('\n')
      buffer = buffer.slice(end + 2)
      const id = lines.find((l) => l.startsWith('id:'))?.slice(3).trim()
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')
      yield { ...(id ? { id } : {}), ...(data ? { data: JSON.parse(data) } : {}) }
    }
  }
}

/** The first event of `res` that `match`es, reading no further. */
async function first(res: Response, match: (e: Awaited<ReturnType<ReturnType<typeof events>['next']>>['value']) => boolean) {
  for await (const event of events(res)) if (match(event)) return event
  throw new Error('the stream ended first')
}

let child: Started & { url: string }
let viaHttp: Started & { url: string }
let upstream: { child: ChildProcess; url: string }

beforeAll(async () => {
  upstream = await httpServer()
  ;[child, viaHttp] = await Promise.all([gateway(['--', process.execPath, RECORDING]), gateway(['--upstream', upstream.url])])
}, 60_000)

describe('perso guard --listen: an upstream that dies mid-call', () => {
  it('a child: the call gets an error, the session ends (404 after), other sessions go on, nothing unhandled', async () => {
    const doomed = await client(child.url)
    const other = await client(child.url)
    await expect(doomed.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(/perso guard: the upstream server went away before answering/)
    await expect(doomed.listTools()).rejects.toMatchObject({ code: 404 })
    expect(textOf(await other.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    const fresh = await client(child.url)
    expect(textOf(await fresh.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    // The gateway logged the end and went on: no crash, no unhandled rejection, no stack.
    expect(child.output()).toMatch(/the upstream ended \(signal SIGKILL\); the session ends/)
    expect(child.child.exitCode).toBeNull()
    expect(child.output()).not.toMatch(/Unhandled|\n\s+at .+:\d+:\d+/)
    await Promise.all([other.close(), fresh.close()])
  })

  it('over HTTP: the call gets an error, /healthz says 503 while the server is down, and the same session goes on once it is back', async () => {
    const c = await client(viaHttp.url)
    expect((await c.listTools()).tools.map((t) => t.name)).not.toContain('drop')
    const port = new URL(upstream.url).port
    // Killed once its answer stream is open: the stream breaks.
    await expect(c.callTool({ name: 'crash', arguments: { ms: 300 } })).rejects.toThrow(/perso guard: the upstream server went away before answering \(the stream of request \d+ broke/)

    const down = await health(viaHttp.url)
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'unavailable', policy: 'faults-1', upstream: { ok: false, error: 'the upstream cannot be reached: ECONNREFUSED' } })
    await expect(c.callTool({ name: 'view', arguments: {} })).rejects.toThrow(/perso guard: could not reach the upstream server/)

    upstream = await httpServer(Number(port))
    expect((await health(viaHttp.url)).status).toBe(200)
    // The server forgot the session (404): the gateway opens a new one with the client's initialize, and says the tools may have changed.
    expect(textOf(await c.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    expect(await until(() => c.notified.includes('notifications/tools/list_changed'))).toBe(true)
    // The new upstream session is decided like the old: a denied tool stays denied.
    expect(textOf(await c.callTool({ name: 'drop', arguments: {} }))).toMatch(/^perso denied drop/)
    expect(textOf(await c.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    expect(viaHttp.output()).toMatch(/the upstream session was lost; a new one is open/)
    expect(viaHttp.child.exitCode).toBeNull()
    expect(viaHttp.output()).not.toMatch(/Unhandled|\n\s+at .+:\d+:\d+/)
    await c.close()
  })

  it('over HTTP under --pin: after a new upstream session, a call is denied until the tools are listed again', async () => {
    const server = await httpServer()
    const lock = join(dir, 'tools.lock.json')
    const scan = spawnSync(process.execPath, [PERSO, 'scan', '-o', lock, '--url', server.url], { encoding: 'utf8', timeout: 20_000 })
    expect(scan.status, scan.stderr).toBe(0)
    const pinned = await gateway(['--pin', lock, '--upstream', server.url])
    const c = await client(pinned.url)
    await c.listTools()
    expect(textOf(await c.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    server.child.kill('SIGKILL')
    await new Promise((r) => server.child.once('exit', r))
    await httpServer(Number(new URL(server.url).port))
    // The new session's tools are unchecked against the lock until listed: fail closed.
    expect(textOf(await c.callTool({ name: 'view', arguments: {} }))).toMatch(/^perso denied view: perso guard: `view` has not been listed since the upstream started or changed its tools/)
    await c.listTools()
    expect(textOf(await c.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    await c.close()
  })
})

describe('perso guard --listen: a slow upstream', () => {
  it.each([
    ['a child per session', () => child.url],
    ['one HTTP server', () => viaHttp.url],
  ])('holds up only its own session (%s)', async (_, url) => {
    const [a, b] = await Promise.all([client(url()), client(url())])
    const order: string[] = []
    const slow = a.callTool({ name: 'slow', arguments: { ms: 1500 } }).then((r) => {
      order.push('A')
      return r
    })
    for (let i = 0; i < 5; i++) expect(textOf(await b.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    order.push('B')
    expect(textOf(await slow)).toBe('called slow')
    expect(order).toEqual(['B', 'A'])
    await Promise.all([a.close(), b.close()])
  })
})

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })

/** The child upstream's pid, asked through `c`'s session. */
async function pidOf(c: ReturnType<typeof raw>, id: number): Promise<number> {
  const answer = await first(await c.post(call(id, 'pid')), (e) => e.data?.id === id)
  return Number(textOf(answer.data!.result))
}

describe('perso guard --listen: a client that goes away', () => {
  it('mid-call, on a stream it cannot resume: the call is cancelled upstream at once, and the idle session stops its child', async () => {
    const idle = await gateway(['--idle-timeout', '2', '--', process.execPath, RECORDING])
    const c = raw(idle.url, '2025-06-18')
    await c.open()
    const pid = await pidOf(c, 1)
    expect(alive(pid)).toBe(true)
    const abort = new AbortController()
    expect((await c.post(call(2, 'slow', { ms: 30_000 }), abort.signal)).status).toBe(200)
    expect(await until(() => recorded().some((r) => r.name === 'slow' && (r as { arguments?: { ms?: number } }).arguments?.ms === 30_000))).toBe(true)
    abort.abort()
    // notifications/cancelled reached the child, for this reason: the answer could go nowhere.
    expect(await until(() => recorded().some((r) => r.cancelled === true && r.pid === pid))).toBe(true)
    expect(recorded().find((r) => r.cancelled === true && r.pid === pid)).toMatchObject({ reason: 'perso guard: the client went away and cannot resume this stream' })
    // Idle past --idle-timeout, the session ends, and its child with it.
    expect(await until(() => !alive(pid))).toBe(true)
    expect((await c.post(call(3, 'view'))).status).toBe(404)
    expect(idle.output()).not.toMatch(/Unhandled|\n\s+at .+:\d+:\d+/)
  })

  it('ending its session (DELETE) mid-call cancels the call upstream and stops the child', async () => {
    const c = raw(child.url, '2025-11-25')
    await c.open()
    const pid = await pidOf(c, 1)
    const abort = new AbortController()
    const pending = await c.post(call(2, 'slow', { ms: 30_000 }), abort.signal)
    expect(pending.status).toBe(200)
    const ended = await fetch(child.url, { method: 'DELETE', headers: c.headers() })
    expect(ended.status).toBe(200)
    expect(await until(() => recorded().some((r) => r.cancelled === true && r.pid === pid))).toBe(true)
    expect(recorded().find((r) => r.cancelled === true && r.pid === pid)).toMatchObject({ reason: 'perso guard: the session ended' })
    expect(await until(() => !alive(pid))).toBe(true)
    abort.abort()
  })
})

/**
 * A GET with `Last-Event-ID`, as a client resumes: 409 while the gateway has
 * not yet seen the old stream go, so asked again a little later (bounded).
 */
async function resume(c: ReturnType<typeof raw>, lastEventId: string): Promise<Response> {
  for (let i = 0; ; i++) {
    const res = await fetch(child.url, { headers: c.headers({ accept: 'text/event-stream', 'last-event-id': lastEventId }) })
    if (res.status !== 409 || i === 40) return res
    await res.text()
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('perso guard --listen: resuming a dropped stream (Last-Event-ID)', () => {
  it("a call's answer, when its POST stream dropped before it came", async () => {
    const c = raw(child.url, '2025-11-25')
    await c.open()
    const abort = new AbortController()
    const res = await c.post(call(7, 'slow', { ms: 1000 }), abort.signal)
    // The priming event: an id to resume from, and nothing else.
    const priming = await first(res, (e) => e.id !== undefined)
    expect(priming.data).toBeUndefined()
    abort.abort()
    const resumed = await resume(c, priming.id!)
    expect(resumed.status).toBe(200)
    const answer = await first(resumed, (e) => e.data?.id === 7)
    expect(textOf(answer.data!.result)).toBe('called slow')
    expect(answer.id).toMatch(/\/\d+$/)
    await fetch(child.url, { method: 'DELETE', headers: c.headers() })
  })

  it('a notification sent on the GET stream while the client was away; never another session\'s', async () => {
    const c = raw(child.url, '2025-11-25')
    await c.open()
    const away = new AbortController()
    const stream = await fetch(child.url, { headers: c.headers({ accept: 'text/event-stream' }), signal: away.signal })
    expect(stream.status).toBe(200)
    // The upstream changes its tools: notifications/tools/list_changed comes on the GET stream, with an id.
    await first(await c.post(call(1, 'change_tools')), (e) => e.data?.id === 1)
    const seen = await first(stream, (e) => e.data?.method === 'notifications/tools/list_changed')
    expect(seen.id).toBeDefined()
    away.abort()
    // Away: it changes them again, and the notification waits in the session's store.
    await first(await c.post(call(2, 'change_tools')), (e) => e.data?.id === 2)
    const resumed = await resume(c, seen.id!)
    expect(resumed.status).toBe(200)
    const missed = await first(resumed, (e) => e.data?.method === 'notifications/tools/list_changed')
    expect(missed.id).not.toBe(seen.id)
    // Another session cannot replay this one's events: its store does not hold them.
    const other = raw(child.url, '2025-11-25')
    await other.open()
    const foreign = await fetch(child.url, { headers: other.headers({ accept: 'text/event-stream', 'last-event-id': seen.id! }) })
    expect(foreign.status).toBe(400)
    await foreign.text()
    for (const s of [c, other]) await fetch(child.url, { method: 'DELETE', headers: s.headers() })
  })
})

describe('perso guard --listen: /healthz with a command upstream', () => {
  it('200 when the command resolves to an executable file, 503 when it does not (and a new session 502)', async () => {
    const ok = await health(child.url)
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ status: 'ok', policy: 'faults-1', upstream: { ok: true } })
    const missing = await gateway(['--', 'perso-test-no-such-command'])
    const down = await health(missing.url)
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'unavailable', policy: 'faults-1', sessions: 0, upstream: { ok: false, error: 'the upstream command is not an executable file on PATH' } })
    // A session asked for anyway is refused as a bad gateway, saying why, and the gateway goes on.
    const init = await raw(missing.url, '2025-06-18').post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
    expect(init.status).toBe(502)
    expect(((await init.json()) as { error: { message: string } }).error.message).toMatch(/^perso guard: could not start the upstream server: spawn perso-test-no-such-command ENOENT/)
    expect((await health(missing.url)).status).toBe(503)
  })
})
