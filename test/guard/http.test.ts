// perso guard --listen: the Streamable HTTP gateway with real tokens, signed
// by keys made here (RS256 and EdDSA) and a JWKS served over HTTP, in front
// of an HTTP MCP server that records every request it receives. Each bad
// token is refused with the right status and reaches nothing; the upstream
// never sees the client's Authorization; a session is its subject's; a
// reload keeps the last good policy and a stricter one denies from the next
// call on. Everything listens on 127.0.0.1.

import { type ChildProcess, spawnSync } from 'node:child_process'
import { createServer, request, type Server } from 'node:http'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { createHmac } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { PERSO, root, start, temp, textOf } from './support.js'

const ISSUER = 'https://idp.test'
const AUDIENCE = 'https://gateway.test/mcp'
const TOOLS = ['view', 'refund', 'drop']

const POLICY = {
  version: 'http-1',
  default_action: 'Deny',
  tools: TOOLS,
  roles: ['agent', 'admin'],
  rules: [
    { tool_name: 'view', roles: ['agent', 'admin'] },
    { tool_name: 'refund', roles: ['agent'], condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500 } } },
    { tool_name: '*', roles: ['admin'] },
  ],
}

const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGTERM')
})

let rsa: Awaited<ReturnType<typeof generateKeyPair>>
let ed: Awaited<ReturnType<typeof generateKeyPair>>
let rsaPublic: JWK
let jwksServer: Server
let jwksUrl: string
let upstreamUrl: string
let record: string
let gatewayUrl: string
let gateway: Awaited<ReturnType<typeof start>>
let policyPath: string

interface TokenOptions {
  sub?: string
  role?: unknown
  iss?: string
  aud?: string
  exp?: number
  nbf?: number
  kid?: string
  key?: 'rsa' | 'ed'
}

async function token(o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const key = o.key === 'ed' ? ed : rsa
  const jwt = new SignJWT({ role: o.role ?? 'agent', team: 'emea' })
    .setProtectedHeader({ alg: o.key === 'ed' ? 'EdDSA' : 'RS256', kid: o.kid ?? (o.key === 'ed' ? 'ed-1' : 'rsa-1') })
    .setSubject(o.sub ?? 'alice')
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(o.exp ?? now + 600)
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf)
  return jwt.sign(key.privateKey)
}

const b64 = (value: object | Buffer): string => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url')

/** The upstream's record: one entry per HTTP request it received. */
const received = (): { http: string; authorization: string | null; key: string | null; rpc: string | null; tool: string | null }[] =>
  existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []

const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

async function client(bearer: string): Promise<Client> {
  const c = new Client({ name: 'http-test', version: '1.0.0' })
  await c.connect(new StreamableHTTPClientTransport(new URL(gatewayUrl), { requestInit: { headers: { authorization: `Bearer ${bearer}` } } }))
  return c
}

beforeAll(async () => {
  rsa = await generateKeyPair('RS256')
  ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
  rsaPublic = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }
  const jwks = { keys: [rsaPublic, { ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }] }
  jwksServer = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)))
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', () => resolve()))
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`

  const dir = temp('http-')
  record = join(dir, 'upstream.jsonl')
  const upstream = await start([join(root, 'test/guard/recording-http-server.mjs')], /listening (\d+)/, { PERSO_TEST_TOOLS: JSON.stringify(TOOLS), PERSO_TEST_RECORD: record })
  children.push(upstream.child)
  upstreamUrl = `http://127.0.0.1:${upstream.match[1]}/mcp`

  policyPath = join(dir, 'policy.json')
  writeFileSync(policyPath, JSON.stringify(POLICY))
  gateway = await start(
    [PERSO, 'guard', policyPath, '--listen', '127.0.0.1:0', '--jwks', jwksUrl, '--issuer', ISSUER, '--audience', AUDIENCE, '--upstream', upstreamUrl, '--upstream-header', 'x-upstream-key: $UPSTREAM_KEY', '--max-body', '65536', '--allow-origin', 'https://app.test'],
    /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/,
    { UPSTREAM_KEY: 'guard-secret' },
  )
  children.push(gateway.child)
  gatewayUrl = gateway.match[1]!
}, 60_000)

afterAll(() => new Promise<void>((resolve) => (jwksServer ? jwksServer.close(() => resolve()) : resolve())))

describe('perso guard --listen: who may call', () => {
  it('refuses every bad token with the right status, and none of them reaches the upstream', async () => {
    const before = received().length
    const now = Math.floor(Date.now() / 1000)
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' })
    const payload = b64({ sub: 'mallory', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now + 600 })
    // HS256 "signed" with the RSA public key as the secret: the classic key-confusion attack.
    const hs256 = `${header}.${payload}.${createHmac('sha256', JSON.stringify(rsaPublic)).update(`${header}.${payload}`).digest('base64url')}`
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`
    const cases: [string, string | undefined, number, RegExp][] = [
      ['missing token', undefined, 401, /no bearer token/],
      ['wrong issuer', await token({ iss: 'https://evil.test' }), 401, /`iss` claim/],
      ['wrong audience', await token({ aud: 'https://other.test' }), 401, /`aud` claim/],
      ['expired', await token({ exp: now - 3600 }), 401, /expired/],
      ['not yet valid', await token({ nbf: now + 3600 }), 401, /`nbf` claim/],
      ['alg none', none, 401, /algorithm|not a well-formed/],
      ['HS256 with the public key', hs256, 401, /algorithm/],
      ['unknown kid', await token({ kid: 'nobody' }), 401, /no key/],
      ['no role the policy knows', await token({ role: ['intern'] }), 403, /no role/],
    ]
    for (const [name, bearer, status, message] of cases) {
      const res = await post(INITIALIZE, bearer === undefined ? {} : { authorization: `Bearer ${bearer}` })
      expect(res.status, name).toBe(status)
      expect(((await res.json()) as { error: string }).error, name).toMatch(message)
      if (status === 401) expect(res.headers.get('www-authenticate'), name).toMatch(/^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/)
    }
    expect(received().length).toBe(before)
    // The resource metadata (RFC 9728) names this gateway and its issuer.
    const metadata = await (await fetch(gatewayUrl.replace(/\/mcp$/, '/.well-known/oauth-protected-resource/mcp'))).json()
    expect(metadata).toEqual({ resource: gatewayUrl, authorization_servers: [ISSUER], bearer_methods_supported: ['header'] })
  })

  it('RS256 and EdDSA callers get their role\'s tools and decisions; the upstream never sees their Authorization', async () => {
    const agent = await client(await token({ sub: 'alice', role: 'agent' }))
    expect((await agent.listTools()).tools.map((t) => t.name).sort()).toEqual(['refund', 'view'])
    expect(textOf(await agent.callTool({ name: 'refund', arguments: { amount: 100 } }))).toBe('called refund')
    expect(textOf(await agent.callTool({ name: 'refund', arguments: { amount: 900 } }))).toMatch(/^perso denied refund: .*condition failed: Arguments\.amount = 900 is not Lte 500/)
    expect(textOf(await agent.callTool({ name: 'drop', arguments: {} }))).toMatch(/^perso denied drop/)
    // A list claim picks the first role the policy declares that it holds.
    const admin = await client(await token({ sub: 'bob', role: ['intern', 'admin'], key: 'ed' }))
    expect((await admin.listTools()).tools.map((t) => t.name).sort()).toEqual(['drop', 'refund', 'view'])
    expect(textOf(await admin.callTool({ name: 'drop', arguments: {} }))).toBe('called drop')
    await agent.close()
    await admin.close()
    const calls = received().filter((r) => r.rpc === 'tools/call').map((r) => r.tool)
    expect(calls).toEqual(['refund', 'drop'])
    expect(received().length).toBeGreaterThan(4)
    expect(received().every((r) => r.authorization === null && r.key === 'guard-secret')).toBe(true)
  })

  it("a session is its subject's: another subject's valid token on it is refused", async () => {
    const alice = await token({ sub: 'alice' })
    const init = await post(INITIALIZE, { authorization: `Bearer ${alice}` })
    expect(init.status).toBe(200)
    const session = init.headers.get('mcp-session-id')!
    await init.text()
    const before = received().length
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }
    const res = await post(list, { authorization: `Bearer ${await token({ sub: 'mallory', role: 'admin' })}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' })
    expect(res.status).toBe(403)
    expect(received().length).toBe(before)
    // An unknown session is 404 (the client starts a new one), and nothing reaches the upstream.
    const unknown = await post(list, { authorization: `Bearer ${alice}`, 'mcp-session-id': 'no-such-session' })
    expect(unknown.status).toBe(404)
    expect(received().length).toBe(before)
  })

  it('refuses a body over --max-body with 413 before parsing, and a browser origin it does not allow', async () => {
    const bearer = `Bearer ${await token()}`
    const before = received().length
    const big = await post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"${'x'.repeat(70_000)}"}}`, { authorization: bearer })
    expect(big.status).toBe(413)
    const evil = await post(INITIALIZE, { authorization: bearer, origin: 'https://evil.test' })
    expect(evil.status).toBe(403)
    const allowed = await post(INITIALIZE, { authorization: bearer, origin: 'https://app.test' })
    expect(allowed.status).toBe(200)
    await allowed.text()
    expect(received().filter((r) => r.rpc === 'initialize').length).toBe(received().slice(0, before).filter((r) => r.rpc === 'initialize').length + 1)
  })
})

describe('perso guard --listen: health', () => {
  it('/healthz answers 200 with the policy, the sessions and the upstream it reached', async () => {
    const res = await fetch(gatewayUrl.replace(/\/mcp$/, '/healthz'))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { status: string; policy: string; sessions: number; upstream: { ok: boolean; status?: number } }
    expect(body).toMatchObject({ status: 'ok', policy: 'http-1', upstream: { ok: true } })
    expect(typeof body.sessions).toBe('number')
    // The probe is a HEAD: any HTTP status says the upstream is there.
    expect(typeof body.upstream.status).toBe('number')
  })
})

describe('perso guard --listen: DNS rebinding', () => {
  /** A raw request with the Host and Origin a browser would send for a page at `site`. */
  function asSite(site: string, bearer: string): Promise<number> {
    const url = new URL(gatewayUrl)
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: url.port, path: url.pathname, method: 'POST', headers: { host: site, origin: `http://${site}`, authorization: bearer, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end(JSON.stringify(INITIALIZE))
    })
  }

  it('refuses a request that names another host, and takes its own loopback origin', async () => {
    const bearer = `Bearer ${await token()}`
    const before = received().length
    expect(await asSite('evil.example.com', bearer)).toBe(403)
    expect(received().length).toBe(before)
    expect(await asSite(new URL(gatewayUrl).host, bearer)).toBe(200)
  })
})

describe('perso guard --listen: reload', () => {
  it('a broken policy keeps the last good one in force; a stricter one denies from the next call on and says tools/list_changed', async () => {
    const agent = await client(await token({ sub: 'carol', role: 'agent' }))
    let changed = 0
    agent.fallbackNotificationHandler = async (n) => {
      if (n.method === 'notifications/tools/list_changed') changed++
    }
    expect((await agent.listTools()).tools.map((t) => t.name).sort()).toEqual(['refund', 'view'])
    const reloaded = async (line: RegExp): Promise<void> => {
      const seen = gateway.output().match(new RegExp(line.source, 'g'))?.length ?? 0
      gateway.child.kill('SIGHUP')
      for (let i = 0; i < 100 && (gateway.output().match(new RegExp(line.source, 'g'))?.length ?? 0) === seen; i++) await new Promise((r) => setTimeout(r, 50))
      expect(gateway.output().match(new RegExp(line.source, 'g'))?.length ?? 0).toBe(seen + 1)
    }

    writeFileSync(policyPath, '{ "version": "http-2", "default_action": ')
    await reloaded(/reload failed; policy http-1 stays in force/)
    expect(textOf(await agent.callTool({ name: 'view', arguments: {} }))).toBe('called view')

    writeFileSync(policyPath, JSON.stringify({ ...POLICY, version: 'http-3', rules: POLICY.rules.filter((r) => r.tool_name !== 'view') }))
    await reloaded(/reloaded: policy http-3 \(was http-1\)/)
    const denied = await agent.callTool({ name: 'view', arguments: {} })
    expect(textOf(denied)).toBe("perso denied view: no rule matched tool 'view' for role 'agent'; applying default_action")
    expect((denied._meta as { 'perso/decision': { policyVersion: string } })['perso/decision'].policyVersion).toBe('http-3')
    for (let i = 0; i < 50 && changed === 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(changed).toBe(1)
    expect((await agent.listTools()).tools.map((t) => t.name)).toEqual(['refund'])
    await agent.close()
    writeFileSync(policyPath, JSON.stringify(POLICY))
    await reloaded(/reloaded: policy http-1 \(was http-3\)/)
  })
})

describe('perso guard --listen: start-up', () => {
  it('refuses --auth none beyond loopback unless told, and JWT auth without its issuer', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [PERSO, 'guard', policyPath, ...args], { encoding: 'utf8', timeout: 20_000 })
    const open = run(['--listen', '0.0.0.0:0', '--auth', 'none', '--role', 'agent', '--upstream', upstreamUrl])
    expect(open.status).toBe(64)
    expect(open.stderr).toMatch(/--auth none on 0\.0\.0\.0 would let anyone/)
    const noIssuer = run(['--listen', '127.0.0.1:0', '--jwks', jwksUrl, '--audience', AUDIENCE, '--upstream', upstreamUrl])
    expect(noIssuer.status).toBe(64)
    expect(noIssuer.stderr).toMatch(/needs --jwks, --issuer and --audience/)
    const badUrl = run(['--listen', '127.0.0.1:0', '--auth', 'none', '--role', 'agent', '--upstream', 'not a url'])
    expect(badUrl.status).toBe(64)
    expect(badUrl.stderr).toMatch(/--upstream `not a url` is not a URL/)
    const hmac = run(['--listen', '127.0.0.1:0', '--jwks', jwksUrl, '--issuer', ISSUER, '--audience', AUDIENCE, '--alg', 'HS256', '--upstream', upstreamUrl])
    expect(hmac.status).toBe(64)
    expect(hmac.stderr).toMatch(/--alg HS256 is not allowed/)
  })
})
