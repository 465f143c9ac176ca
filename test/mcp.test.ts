// perso/mcp: guard(server, { policy, identity }) inside a TypeScript MCP
// server, driven by the SDK's Client over an in-memory transport whose every
// request carries auth info naming the caller's role. The server's handlers
// record what reaches them: a denied call never does, whichever way the
// handler was registered; every decision is the SDK's on the same request.
//
// seed: PERSO_SEED=<seed>; more: PERSO_MCP_CASES=<n>

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { compile } from '../src/compiler/compile.js'
import { guard, type RequestExtra } from '../src/mcp.js'
import { Perso, type AuditEvent } from '@perso/sdk'
import { guardPolicyArb, policySource } from './support/arbitraries.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const CASES = Number(process.env.PERSO_MCP_CASES ?? 40)

const CRM = {
  version: 'mw-1',
  default_action: 'Deny',
  tools: ['view', 'refund', 'drop'],
  roles: ['agent', 'admin'],
  rules: [
    { tool_name: 'view', roles: ['agent', 'admin'] },
    { tool_name: 'refund', roles: ['agent'], condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500 } } },
    { tool_name: '*', roles: ['admin'] },
  ],
}

async function load(policy: object, audit?: AuditEvent[]): Promise<Perso> {
  const compiled = await compile(JSON.stringify(policy))
  return Perso.load(compiled.wasm!, audit ? { audit: { transport: { emit: (e) => void audit.push(e) } } } : {})
}

/** A client connected in memory to `server`; each request carries auth info naming the role `who()` gives at that moment. */
async function connect(server: { connect: (t: InMemoryTransport) => Promise<void> }, who: () => string | undefined): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  const send = clientSide.send.bind(clientSide)
  clientSide.send = (message, options) => {
    const role = who()
    return send(message, { ...options, ...(role === undefined ? {} : { authInfo: { token: 't', clientId: 'c', scopes: [], extra: { role } } }) })
  }
  await server.connect(serverSide)
  const client = new Client({ name: 'perso-mcp-test', version: '1.0.0' })
  await client.connect(clientSide)
  return client
}

/** The identity a server takes from its transport's auth info (what a real server's auth middleware verified). */
const identity = (extra: RequestExtra) => {
  const role = (extra.authInfo as { extra?: { role?: unknown } } | undefined)?.extra?.role
  if (typeof role !== 'string') throw new Error('no verified caller')
  return { role }
}

const textOf = (result: unknown): string => ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('')
const names = async (client: Client): Promise<string[]> => (await client.listTools()).tools.map((t) => t.name).sort()

describe('guard(server) from perso/mcp', () => {
  it('an McpServer: tools registered before and after guard() are listed and decided by the artifact', async () => {
    const ran: string[] = []
    const server = new McpServer({ name: 's', version: '1' })
    const tool = (name: string) => server.registerTool(name, {}, async () => (ran.push(name), { content: [{ type: 'text', text: `${name} done` }] }))
    tool('view')
    guard(server, { policy: await load(CRM), identity })
    tool('refund')
    tool('drop')
    let role = 'agent'
    const client = await connect(server, () => role)
    expect(await names(client)).toEqual(['refund', 'view'])
    expect(textOf(await client.callTool({ name: 'view', arguments: {} }))).toBe('view done')
    expect(textOf(await client.callTool({ name: 'refund', arguments: { amount: 100 } }))).toBe('refund done')
    const denied = await client.callTool({ name: 'refund', arguments: { amount: 800 } })
    expect(denied.isError).toBe(true)
    expect(textOf(denied)).toBe("perso denied refund: rule matched tool 'refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500")
    expect(denied._meta).toEqual({ 'perso/decision': { decision: 'Deny', reason: expect.stringContaining('condition failed'), policyVersion: 'mw-1', requestId: expect.any(Number) } })
    expect(textOf(await client.callTool({ name: 'drop', arguments: {} }))).toMatch(/^perso denied drop: no rule matched tool 'drop' for role 'agent'/)
    // The same session, another caller: the identity is asked per request.
    role = 'admin'
    expect(await names(client)).toEqual(['drop', 'refund', 'view'])
    expect(textOf(await client.callTool({ name: 'drop', arguments: {} }))).toBe('drop done')
    expect(ran).toEqual(['view', 'refund', 'drop'])
  })

  it('a low-level Server: denial as a JSON-RPC error with the proxy\'s code, message and data', async () => {
    const ran: string[] = []
    const server = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: ['view', 'refund', 'drop'].map((name) => ({ name, inputSchema: { type: 'object' as const } })) }))
    server.setRequestHandler(CallToolRequestSchema, async (r) => (ran.push(r.params.name), { content: [] }))
    guard(server, { policy: await load(CRM), identity, denyAs: 'error' })
    const client = await connect(server, () => 'agent')
    expect(await names(client)).toEqual(['refund', 'view'])
    const error = await client.callTool({ name: 'drop', arguments: {} }).then(
      () => undefined,
      (e: unknown) => e as { code: number; message: string; data: unknown },
    )
    expect(error?.code).toBe(-32003)
    expect(error?.message).toContain("perso denied drop: no rule matched tool 'drop' for role 'agent'; applying default_action")
    expect(error?.data).toMatchObject({ decision: 'Deny', policyVersion: 'mw-1' })
    await client.callTool({ name: 'view', arguments: {} })
    expect(ran).toEqual(['view'])
  })

  it('a caller without an identity sees no tools and is denied every call', async () => {
    const ran: string[] = []
    const server = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'view', inputSchema: { type: 'object' as const } }] }))
    server.setRequestHandler(CallToolRequestSchema, async (r) => (ran.push(r.params.name), { content: [] }))
    // default_action Allow: an empty or made-up role would be allowed; no role is no call.
    const audit: AuditEvent[] = []
    guard(server, { policy: await load({ ...CRM, default_action: 'Allow' }, audit), identity })
    const client = await connect(server, () => undefined)
    expect(await names(client)).toEqual([])
    const denied = await client.callTool({ name: 'view', arguments: {} })
    expect(textOf(denied)).toBe('perso denied view: perso guard: no identity for this request')
    // The guard's own denial is audited like the artifact's (Perso.refuse), with no role.
    expect(audit.map((e) => [e.tool, e.role, e.decision, e.reason])).toEqual([['view', null, 'Deny', 'perso guard: no identity for this request']])
    // An identity whose role is not a string is none either.
    const other = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } })
    other.setRequestHandler(CallToolRequestSchema, async (r) => (ran.push(r.params.name), { content: [] }))
    guard(other, { policy: await load({ ...CRM, default_action: 'Allow' }), identity: () => ({ role: 42 }) as unknown as { role: string } })
    expect((await (await connect(other, () => 'agent')).callTool({ name: 'view', arguments: {} })).isError).toBe(true)
    expect(ran).toEqual([])
  })

  it('handlers replaced after guard(), and a fallback handler, are guarded too', async () => {
    const ran: string[] = []
    const server = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } })
    guard(server, { policy: await load(CRM), identity })
    server.setRequestHandler(CallToolRequestSchema, async (r) => (ran.push(`first ${r.params.name}`), { content: [] }))
    server.removeRequestHandler('tools/call')
    server.setRequestHandler(CallToolRequestSchema, async (r) => (ran.push(`second ${r.params.name}`), { content: [] }))
    const client = await connect(server, () => 'agent')
    expect((await client.callTool({ name: 'drop', arguments: {} })).isError).toBe(true)
    await client.callTool({ name: 'view', arguments: {} })
    server.removeRequestHandler('tools/call')
    server.fallbackRequestHandler = async (request) => (ran.push(`fallback ${(request.params as { name: string }).name}`), { content: [] })
    expect((await client.callTool({ name: 'drop', arguments: {} })).isError).toBe(true)
    await client.callTool({ name: 'view', arguments: {} })
    expect(ran).toEqual(['second view', 'fallback view'])
    // Without any handler the call is the SDK's "method not found", as unguarded.
    server.fallbackRequestHandler = undefined
    await expect(client.callTool({ name: 'view', arguments: {} })).rejects.toMatchObject({ code: -32601 })
  })

  it('shadow mode lists and runs everything, audits each decision with what enforcement would have done', async () => {
    const ran: string[] = []
    const audit: AuditEvent[] = []
    const lines: string[] = []
    const server = new McpServer({ name: 's', version: '1' })
    for (const name of ['view', 'drop']) server.registerTool(name, {}, async () => (ran.push(name), { content: [] }))
    guard(server, { policy: await load(CRM, audit), identity, mode: 'shadow', log: (line) => lines.push(line) })
    const client = await connect(server, () => 'agent')
    expect(await names(client)).toEqual(['drop', 'view'])
    await client.callTool({ name: 'drop', arguments: {} })
    await client.callTool({ name: 'view', arguments: {} })
    expect(ran).toEqual(['drop', 'view'])
    expect(audit.map((e) => [e.tool, e.role, e.decision])).toEqual([['drop', 'agent', 'Deny'], ['view', 'agent', 'Allow']])
    expect(audit.every((e) => typeof e.traceId === 'string' && e.traceId !== '')).toBe(true)
    expect(lines.some((l) => l.startsWith('shadow: would deny drop'))).toBe(true)
  })

  it('refuses what it cannot guard instead of serving it unguarded', () => {
    expect(() => guard({}, { policy: {} as Perso, identity })).toThrow(/takes a Server or an McpServer/)
  })
})

/** Random policies over a few tools, conditions on `n` and `mode`; callers switch role between requests of one session. */
const TOOLS = ['alpha', 'beta', 'gamma', 'delta']
const ROLES = ['r1', 'r2', 'r3']
const caseArb = fc.record({
  policy: guardPolicyArb(TOOLS, ROLES, ['*', 'a*']),
  offered: fc.subarray([...TOOLS, 'zeta'], { minLength: 1 }),
  calls: fc.array(
    fc.record({ role: fc.constantFrom(...ROLES), tool: fc.constantFrom(...TOOLS, 'zeta'), n: fc.integer({ min: -2, max: 12 }), mode: fc.constantFrom('a', 'b', 'c'), force: fc.boolean() }),
    { minLength: 4, maxLength: 12 },
  ),
})

describe(`guard(server) on random policies and callers (seed ${SEED})`, () => {
  it(`${CASES} cases: each decision is the SDK's, an unlisted tool is never allowed, only allowed calls reach the server`, async () => {
    const tally = { calls: 0, allowed: 0, denied: 0 }
    for (const [n, c] of fc.sample(caseArb, { numRuns: CASES, seed: SEED }).entries()) {
      const policy = c.policy
      const where = `seed ${SEED}, case ${n}, offered ${c.offered.join(',')}\n${policySource(policy)}`
      const compiled = await compile(policySource(policy))
      if (compiled.wasm === undefined) continue
      const perso = await Perso.load(compiled.wasm)
      const reference = await Perso.load(compiled.wasm)
      const received: string[] = []
      const server = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } })
      server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: c.offered.map((name) => ({ name, inputSchema: { type: 'object' as const } })) }))
      server.setRequestHandler(CallToolRequestSchema, async (r) => (received.push(JSON.stringify(r.params)), { content: [{ type: 'text', text: 'ran' }] }))
      guard(server, { policy: perso, identity })
      let role = ROLES[0]!
      const client = await connect(server, () => role)
      const expected: string[] = []
      for (const call of c.calls) {
        role = call.role
        const listed = new Set(await names(client))
        const args = { n: call.n, mode: call.mode, ...(call.force ? { force: true } : {}) }
        const result = await client.callTool({ name: call.tool, arguments: args })
        const want = reference.evaluateSync({ tool: call.tool, args, role, agentAttributes: {}, resourceAttributes: {} })
        const allowed = result.isError !== true
        tally.calls++
        tally[allowed ? 'allowed' : 'denied']++
        expect(allowed, `${where}\n${role} ${call.tool} ${JSON.stringify(args)}: the SDK says ${want.reason}`).toBe(want.decision === 'Allow')
        if (!allowed) expect(textOf(result), where).toBe(`perso denied ${call.tool}: ${want.reason}`)
        if (allowed) {
          expected.push(JSON.stringify({ name: call.tool, arguments: args }))
          if (c.offered.includes(call.tool)) expect(listed.has(call.tool), `${where}\n${role} was allowed ${call.tool}, which it is not shown`).toBe(true)
        }
        for (const tool of listed) expect(reference.mayAllow(tool, role), `${where}\n${role} is shown ${tool}`).toBe(true)
      }
      expect(received, where).toEqual(expected)
      await client.close()
    }
    console.log(`perso/mcp property: seed ${SEED}, ${JSON.stringify(tally)}`)
    expect(tally.allowed).toBeGreaterThan(0)
    expect(tally.denied).toBeGreaterThan(0)
  })
})
