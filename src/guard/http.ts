// `perso guard <policy> --listen HOST:PORT`: the guard as a Streamable HTTP
// gateway (docs/guard.md "Over HTTP"). Every request is authenticated
// (auth.ts) before anything else reads it; each MCP session belongs to the
// subject that opened it and has an upstream of its own, carried by one relay
// (relay.ts). The policy can be replaced while sessions run: a reload loads
// and checks the new one, then swaps it whole, and a policy that fails to
// load leaves the last good one in force. A client whose SSE stream drops
// may resume it (events.ts); an upstream that fails is the session's alone.

import { randomUUID } from 'node:crypto'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { Perso } from '@perso/sdk'
import { type Authenticate, type Caller, Unauthorized } from './auth.js'
import { type DenyAs, GuardCore, type Identity, type Mode, type Pin, type PolicyRef, type Tally } from './core.js'
import { SessionEvents } from './events.js'
import { type Relay, relay } from './relay.js'
import { type Upstream, type UpstreamHealth, requestIds } from './upstream.js'

export interface GatewayOptions {
  host: string
  port: number
  /** The MCP endpoint's path (`/mcp`). */
  path: string
  /** Origins a browser may call from; a request with any other `Origin` is refused (DNS rebinding). */
  allowOrigins: readonly string[]
  authenticate: Authenticate
  /** With JWT auth: the issuer, named in the Protected Resource Metadata (RFC 9728). */
  authorizationServer?: string
  /** This gateway's public URL, as clients reach it (behind a TLS terminator, not what it binds). */
  publicUrl?: string
  /** A fresh upstream for a new session. */
  upstream: () => Upstream
  /** Whether an upstream can be had now, for /healthz. */
  probe: () => Promise<UpstreamHealth>
  maxSessions: number
  idleTimeoutMs: number
  maxBody: number
  policy: PolicyRef
  mode: Mode
  denyAs: DenyAs
  pin?: Pin
  log: (line: string) => void
  /** Loads the policy again (a reload); throws when it cannot. */
  load: () => Promise<Perso>
}

interface Session {
  id: string
  subject: string
  downstream: StreamableHTTPServerTransport
  upstream: Upstream
  core: GuardCore
  relay: Relay
  /** What its client's SSE streams were sent, for a client that resumes one. */
  events: SessionEvents
  /** The caller of the latest request: whose visible tools a reload compares. */
  identity: Identity
  lastSeen: number
  closed: boolean
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1'])

/** The host name of a Host header (`127.0.0.1:8080` → `127.0.0.1`, `[::1]:80` → `::1`). */
const hostName = (host: string): string => (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')).toLowerCase()

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/** The body of `req`, at most `limit` bytes: undefined (and 413 answered) past it, before any of it is parsed. */
async function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) {
    json(res, 413, { error: `request body over ${limit} bytes` }, { connection: 'close' })
    req.resume()
    return undefined
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      json(res, 413, { error: `request body over ${limit} bytes` }, { connection: 'close' })
      req.destroy()
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/**
 * The requests in a POST that are given up if its stream drops: a stream
 * opens with an id to resume from (the SDK's priming event) only for
 * protocol 2025-11-25 on, so an older client that drops it is taken to be
 * gone. Initialize is never cancelled.
 */
function unresumable(body: unknown, protocolVersion: string | string[] | undefined): (string | number)[] {
  const messages = (Array.isArray(body) ? body : [body]) as ({ method?: unknown; params?: { protocolVersion?: unknown } } | null)[]
  const initialize = messages.find((m) => m?.method === 'initialize')
  const version = initialize !== undefined ? initialize?.params?.protocolVersion : protocolVersion
  if (typeof version === 'string' && version >= '2025-11-25') return []
  return requestIds(messages, 'initialize')
}

export class Gateway {
  private readonly sessions = new Map<string, Session>()
  private readonly tally: Tally = new Map()
  private readonly counters = { reloads: 0, reloadFailures: 0, unauthorized: 0, sessionsOpened: 0 }
  private server: Server | undefined
  private sweeper: NodeJS.Timeout | undefined
  /** Reloads run one at a time, in the order asked. */
  private reloading: Promise<boolean> = Promise.resolve(true)
  /** The upstream probe under way: health checks asked meanwhile share it, so /healthz cannot flood the upstream. */
  private probing: Promise<UpstreamHealth> | undefined

  constructor(private readonly options: GatewayOptions) {}

  /** Listens; the address it bound. */
  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.options.log(`request failed: ${e instanceof Error ? e.message : String(e)}`)
        if (!res.headersSent) json(res, 500, { error: 'perso guard: internal error' })
        else res.end()
      })
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => resolve())
    })
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.options.idleTimeoutMs, 30_000))
    this.sweeper.unref()
    return server.address() as AddressInfo
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    await Promise.allSettled([...this.sessions.values()].map((s) => this.end(s)))
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server?.closeAllConnections()
  }

  private get resourceMetadataUrl(): string {
    return `${this.publicUrl}/.well-known/oauth-protected-resource${this.options.path}`
  }

  private get publicUrl(): string {
    if (this.options.publicUrl !== undefined) return this.options.publicUrl.replace(/\/$/, '')
    const address = this.server?.address() as AddressInfo | null
    return `http://${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${address?.port ?? this.options.port}`
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway')
    if (url.pathname === '/healthz' && req.method === 'GET') return await this.health(res)
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource') && req.method === 'GET' && this.options.authorizationServer !== undefined) {
      return json(res, 200, {
        resource: `${this.publicUrl}${this.options.path}`,
        authorization_servers: [this.options.authorizationServer],
        bearer_methods_supported: ['header'],
      })
    }
    if (url.pathname !== this.options.path) return json(res, 404, { error: 'not found' })

    // DNS rebinding: on loopback, a request must name a loopback host (a page whose own name
    // resolves to 127.0.0.1 sends that name), and a browser page may call only from this
    // gateway's own origin or an allowed one.
    const host = req.headers.host ?? ''
    const loopback = LOOPBACK_HOSTS.has(this.options.host)
    if (loopback && this.options.publicUrl === undefined && !LOOPBACK_HOSTS.has(hostName(host))) return json(res, 403, { error: `host ${host} is not this gateway` })
    const origin = req.headers.origin
    const own = loopback && LOOPBACK_HOSTS.has(hostName(host)) && origin === `http://${host}`
    if (origin !== undefined && !own && !this.options.allowOrigins.includes(origin)) return json(res, 403, { error: `origin ${origin} is not allowed` })

    let caller: Caller
    try {
      caller = await this.options.authenticate(req.headers.authorization)
    } catch (e) {
      if (!(e instanceof Unauthorized)) throw e
      this.counters.unauthorized++
      const challenge =
        this.options.authorizationServer === undefined
          ? 'Bearer'
          : `Bearer resource_metadata="${this.resourceMetadataUrl}"${req.headers.authorization === undefined ? '' : `, error="invalid_token", error_description="${e.message.replace(/"/g, "'")}"`}`
      req.resume()
      return json(res, e.status, { error: e.message }, e.status === 401 ? { 'www-authenticate': challenge } : {})
    }

    const body = req.method === 'POST' ? await readBody(req, res, this.options.maxBody) : undefined
    if (req.method === 'POST' && body === undefined) return
    let parsed: unknown
    if (body !== undefined) {
      try {
        parsed = JSON.parse(body.toString('utf8'))
      } catch (e) {
        return json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: `perso guard: not JSON: ${e instanceof Error ? e.message : String(e)}` } })
      }
    }

    const sessionId = req.headers['mcp-session-id']
    let session: Session | undefined
    if (typeof sessionId === 'string') {
      session = this.sessions.get(sessionId)
      if (session === undefined) return json(res, 404, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'perso guard: no such session (it ended, or never began)' } })
      // A session is its opener's: another subject's token does not ride it.
      if (session.subject !== caller.subject) return json(res, 403, { error: 'this session belongs to another subject' })
    } else {
      if (req.method !== 'POST') return json(res, 400, { error: 'no Mcp-Session-Id: a session begins with a POST of initialize' })
      if (this.sessions.size >= this.options.maxSessions) return json(res, 503, { error: `the gateway holds its limit of ${this.options.maxSessions} sessions` }, { 'retry-after': '5' })
      try {
        session = await this.open(caller)
      } catch (e) {
        // A child that cannot be started (its command gone, no resources): the gateway is fine, the upstream is not.
        const why = e instanceof Error ? e.message : String(e)
        this.options.log(`could not start the upstream for a new session: ${why}`)
        return json(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: `perso guard: could not start the upstream server: ${why}` } })
      }
    }
    session.identity = caller.identity
    session.lastSeen = Date.now()
    // What the SDK hands the relay with each message: the verified caller. The client's token goes no further.
    ;(req as IncomingMessage & { auth?: unknown }).auth = { token: caller.token, clientId: caller.subject, scopes: [], extra: { identity: caller.identity } }
    const current = session
    const abandoned = unresumable(parsed, req.headers['mcp-protocol-version'])
    if (abandoned.length > 0) {
      res.once('close', () => {
        if (!res.writableFinished && !current.closed) current.relay.cancel('perso guard: the client went away and cannot resume this stream', abandoned)
      })
    }
    await session.downstream.handleRequest(req, res, parsed)
    // A first request that did not initialize a session leaves none behind (nor its upstream).
    if (session.id === undefined) await this.end(session)
  }

  /** A new session for `caller`: its upstream started, its relay set; it is known by its id once the transport gives it one. */
  private async open(caller: Caller): Promise<Session> {
    const upstream = this.options.upstream()
    const core = new GuardCore({
      policy: this.options.policy,
      mode: this.options.mode,
      denyAs: this.options.denyAs,
      log: this.options.log,
      tally: this.tally,
      ...(this.options.pin ? { pin: this.options.pin } : {}),
    })
    const session = { subject: caller.subject, upstream, core, events: new SessionEvents(), identity: caller.identity, lastSeen: Date.now(), closed: false } as Session
    session.downstream = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session.id = id
        this.sessions.set(id, session)
        this.counters.sessionsOpened++
      },
      onsessionclosed: () => void this.end(session),
      eventStore: session.events,
    })
    session.relay = relay(core, session.downstream, upstream.transport, {
      identity: (extra) => (extra?.authInfo?.extra as { identity?: Identity } | undefined)?.identity,
      log: this.options.log,
      onDownstreamClose: () => void this.end(session),
      onDownstreamError: () => {},
      onUpstreamClose: () => {
        if (session.closed) return
        this.options.log(`session ${session.id ?? '(new)'}: the upstream ended (${upstream.exitStatus()}); the session ends`)
        // The calls in flight are answered before the session's streams close.
        void session.relay.failPending('perso guard: the upstream server went away before answering').then(() => this.end(session))
      },
    })
    await upstream.transport.start()
    await session.downstream.start()
    return session
  }

  private async end(session: Session): Promise<void> {
    if (session.closed) return
    session.closed = true
    if (session.id !== undefined) this.sessions.delete(session.id)
    // Work still in flight upstream is for nobody now: the upstream is told, then stopped.
    session.relay.cancel('perso guard: the session ended')
    await Promise.allSettled([session.upstream.transport.close(), session.downstream.close()])
    session.events.clear()
  }

  /** Ends sessions idle past the timeout: their upstreams stop. */
  private sweep(): void {
    const now = Date.now()
    for (const session of this.sessions.values()) if (now - session.lastSeen > this.options.idleTimeoutMs) void this.end(session)
  }

  /**
   * Loads the policy again and, when it loads and answers, swaps it in whole;
   * each session whose visible tools changed is told (tools/list_changed). A
   * policy that fails leaves the last good one in force. True when swapped.
   */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      let next: Perso
      try {
        next = await this.options.load()
        // A self-check: it answers a decision (any), and the question the lists ask.
        next.evaluateSync({ tool: 'perso-guard-self-check', role: 'perso-guard-self-check' })
        next.mayAllow('perso-guard-self-check', 'perso-guard-self-check')
      } catch (e) {
        this.counters.reloadFailures++
        this.options.log(`reload failed; policy ${this.options.policy.current.policyVersion} stays in force: ${e instanceof Error ? e.message : String(e)}`)
        return false
      }
      const previous = this.options.policy.current
      const before = new Map([...this.sessions.values()].map((s) => [s, this.visible(previous, s)]))
      this.options.policy.current = next
      this.counters.reloads++
      this.options.log(`reloaded: policy ${next.policyVersion} (was ${previous.policyVersion})`)
      for (const [session, tools] of before) {
        if (tools !== this.visible(next, session)) session.relay.notify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })
      }
      return true
    })
    return this.reloading
  }

  /** Which of the tools its upstream last listed `session`'s caller is shown under `perso`, as one string to compare. */
  private visible(perso: Perso, session: Session): string {
    const listed = session.relay.lastListed() as { tools?: unknown } | undefined
    const tools = Array.isArray(listed?.tools) ? (listed.tools as unknown[]) : []
    return session.core.shown(tools, session.identity.role, perso).map((shown) => (shown ? '1' : '0')).join('')
  }

  /** 200 when a new session could have its upstream now, else 503; either way, the policy in force and the sessions. */
  private async health(res: ServerResponse): Promise<void> {
    this.probing ??= this.options.probe().finally(() => (this.probing = undefined))
    const upstream = await this.probing
    const body = { status: upstream.ok ? 'ok' : 'unavailable', policy: this.options.policy.current.policyVersion, sessions: this.sessions.size, upstream }
    json(res, upstream.ok ? 200 : 503, body)
  }

  /** Counters in Prometheus text format (`--metrics`). */
  metrics(): string {
    const lines = [
      '# HELP perso_guard_decisions_total Tool calls decided, by tool and outcome (denied: would be denied in shadow mode).',
      '# TYPE perso_guard_decisions_total counter',
    ]
    const label = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    for (const [tool, c] of [...this.tally].sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`perso_guard_decisions_total{tool="${label(tool)}",outcome="allowed"} ${c.allowed}`)
      lines.push(`perso_guard_decisions_total{tool="${label(tool)}",outcome="denied"} ${c.denied}`)
    }
    lines.push('# TYPE perso_guard_sessions gauge', `perso_guard_sessions ${this.sessions.size}`)
    lines.push('# TYPE perso_guard_sessions_opened_total counter', `perso_guard_sessions_opened_total ${this.counters.sessionsOpened}`)
    lines.push('# TYPE perso_guard_unauthorized_total counter', `perso_guard_unauthorized_total ${this.counters.unauthorized}`)
    lines.push('# TYPE perso_guard_reloads_total counter', `perso_guard_reloads_total ${this.counters.reloads}`)
    lines.push('# TYPE perso_guard_reload_failures_total counter', `perso_guard_reload_failures_total ${this.counters.reloadFailures}`)
    lines.push('# TYPE perso_guard_policy_info gauge', `perso_guard_policy_info{version="${label(this.options.policy.current.policyVersion)}"} 1`)
    return lines.join('\n') + '\n'
  }
}
