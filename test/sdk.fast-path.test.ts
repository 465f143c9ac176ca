// Property test: the SDK's fast path (only the read fields, encoded into module
// memory) decides exactly like its text path (whole JSON texts) and like the raw
// ABI, on random policies and requests, hostile values spliced in included.
// Reproduce a failure with the seed and path fast-check prints; scale with PERSO_FUZZ_RUNS.

import fc from 'fast-check'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Policy } from '../src/compiler/policy.js'
import { type Metadata, readMetadata } from '../packages/sdk/src/metadata.js'
import { readRequest, type EvaluateRequest, type RequestView } from '../packages/sdk/src/request.js'
import { policyArb, policySource, requestArb, type Request } from './support/arbitraries.js'
import { withPersoSection } from './support/wasm-sections.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)

/** fixtures/crm.json compiled; the compiler is loaded by the tests that run (they need the built template). */
async function crmWasm(): Promise<Uint8Array<ArrayBuffer>> {
  const { readFileSync } = await import('node:fs')
  const { compile } = await import('../src/compiler/compile.js')
  return (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm!
}

/** The artifact's own metadata (it has one: it was compiled here). */
function readMetadataOf(module: WebAssembly.Module): Metadata {
  const metadata = readMetadata(module)
  if (metadata instanceof Error) throw metadata
  return metadata
}
const POLICIES = Number(process.env.PERSO_FUZZ_RUNS ?? 60)
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The host-side view of a raw request: JS values as a host would hold them; undefined when the bytes are not JSON. */
function asHostRequest(request: Request): EvaluateRequest | undefined {
  try {
    const tool = strict.decode(request.tool)
    const args: unknown = JSON.parse(strict.decode(request.args))
    const context: unknown = JSON.parse(strict.decode(request.context))
    if (typeof context !== 'object' || context === null || Array.isArray(context)) return { tool, args, role: undefined as unknown as string }
    const { role, agent_attrs, resource_attrs } = context as Record<string, unknown>
    return { tool, args, role: role as string, agentAttributes: agent_attrs, resourceAttributes: resource_attrs }
  } catch {
    return undefined // not UTF-8, not JSON, or too deep for JSON.parse: no host holds such a value
  }
}

const cyclic = (): unknown => {
  const a: Record<string, unknown> = { x: 1 }
  a.self = { back: a }
  return a
}
const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)])

/** Values the engine cannot read, and odd but readable ones the two paths must still agree on. */
const HOSTILE: (() => unknown)[] = [
  () => 10n, () => NaN, () => Infinity, () => -Infinity, () => 'a\ud800', () => '\udc00', () => () => 1,
  () => Symbol('s'), () => new Date(0), () => new Map(), cyclic, () => deep(200), () => [undefined], () => [1, , 3],
  () => Object.create({ inherited: 1 }) as unknown, () => ({ 'k\ud800': 1 }),
  // Readable: the paths must agree on them.
  () => -0, () => undefined, () => Object.assign(Object.create(null) as object, { amount: 1 }), () => deep(126),
  () => JSON.parse('{"__proto__": 5, "amount": 3}') as unknown, () => ({ toJSON: 'not a function' }), () => 2 ** 60,
]

interface Splice {
  part: 'args' | 'agentAttributes' | 'resourceAttributes'
  key: string
  nested: boolean
  make: number
}

const spliceArb: fc.Arbitrary<Splice | undefined> = fc.option(
  fc.record({
    part: fc.constantFrom('args' as const, 'agentAttributes' as const, 'resourceAttributes' as const),
    key: fc.constantFrom('amount', 'user_id', 'owner_id', 'path', 'x', '__proto__', 'toString'),
    nested: fc.boolean(),
    make: fc.nat(HOSTILE.length - 1),
  }),
  { nil: undefined, freq: 3 },
)

function splice(request: EvaluateRequest, s: Splice | undefined): EvaluateRequest {
  if (s === undefined) return request
  const value = HOSTILE[s.make]!()
  const holder = request[s.part]
  const target: Record<string, unknown> =
    typeof holder === 'object' && holder !== null && !Array.isArray(holder) ? (holder as Record<string, unknown>) : {}
  Object.defineProperty(target, s.key, { value: s.nested ? { inner: [value] } : value, enumerable: true, writable: true, configurable: true })
  return { ...request, [s.part]: target }
}

const casesArb = policyArb.chain((policy) =>
  fc.record({
    policy: fc.constant(policy),
    requests: fc.array(fc.tuple(requestArb(policy), spliceArb), { minLength: 1, maxLength: 30, size: 'max' }),
  }),
)

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path against its text path and the raw ABI', () => {
  it(`decides alike on ${POLICIES} random policies × up to 30 requests`, async () => {
    const { compile } = await import('../src/compiler/compile.js')
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const { RawArtifact } = await import('../packages/sdk/src/abi.js')
    const { decisionOf } = await import('../packages/sdk/src/fast-path.js')
    let compared = 0
    let refusedBySdk = 0
    await fc.assert(
      fc.asyncProperty(casesArb, async ({ policy, requests }: { policy: Policy; requests: [Request, Splice | undefined][] }) => {
        const source = policySource(policy)
        const compiled = await compile(source)
        if (compiled.wasm === undefined) throw new Error(`policy did not compile:\n${source}`)
        const module = new WebAssembly.Module(compiled.wasm)
        const fast = await Perso.load(module)
        const text = await Perso.load(module, { fastPath: false })
        const raw = RawArtifact.loadSync(module)
        const seen: [EvaluateRequest, unknown][] = []
        for (const [bytes, s] of requests) {
          const parsed = asHostRequest(bytes)
          if (parsed === undefined) continue
          const request = splice(parsed, s)
          const got = fast.evaluateSync(request)
          seen.push([request, got])
          const where = `\npolicy: ${source}\nrequest: ${String(bytes)}\nsplice: ${JSON.stringify(s)}`
          expect(text.evaluateSync(request), `fast and text paths differ${where}`).toEqual(got)
          if (got.decision === 'Allow') compared++
          // The raw ABI on the request's own bytes: the same decision (reasons may spell numbers differently).
          // When the artifact refuses those bytes, the host's JSON.parse may have dropped the offending part
          // (a duplicate key's earlier value, a context key the request has no place for), so the SDK only has
          // to deny when the values it holds are unreadable; the splices and the texts below check that.
          if (s === undefined) {
            const rawAnswer = raw.evaluate(bytes.tool, bytes.args, bytes.context)
            if (!('error' in rawAnswer)) expect(got.decision, `SDK and raw ABI on the original bytes differ${where}`).toBe(rawAnswer.decision)
          }
          if (got.reason.startsWith('request: ')) {
            refusedBySdk++
            expect(got.decision).toBe('Deny')
            continue
          }
          // The raw ABI on the JSON texts the text path sends: the same decision and reason, byte for byte.
          const context = JSON.stringify({ role: request.role, agent_attrs: request.agentAttributes, resource_attrs: request.resourceAttributes })
          const viaText = decisionOf(JSON.parse(raw.evaluateStrings(request.tool, JSON.stringify(request.args ?? {}), context)) as Record<string, unknown>)
          expect(got, `SDK and raw ABI on JSON text differ${where}`).toEqual(viaText)
        }
        // Again, backwards and then forwards, interleaved: answers the fast path recognises
        // from earlier calls (per entry, per default) must still be the ones it gave first.
        const replay = [...seen].reverse().flatMap((pair, i) => [pair, seen[i]!])
        for (const [request, first] of replay) {
          expect(fast.evaluateSync(request), `a repeated request decides otherwise\npolicy: ${source}`).toEqual(first)
        }
      }),
      { numRuns: POLICIES },
    )
    // The generators must reach both outcomes, or the property says little.
    expect(compared).toBeGreaterThan(20)
    expect(refusedBySdk).toBeGreaterThan(5)
  }, 60_000)
})

// Field names that a JS object inherits or treats specially: the random policies
// rarely read them, so a fixed policy does, against arbitrary JSON values.
const ODD_FIELDS = ['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf', 'amount', '0', 'length']
const oddPolicy: Policy = {
  version: 'odd',
  default_action: 'Deny',
  tools: ['t'],
  roles: ['r'],
  rules: [
    {
      tool_name: 't',
      roles: ['r'],
      condition: {
        Any: ODD_FIELDS.flatMap((field) => [
          { FieldEquals: { source_a: 'Arguments' as const, field_a: field, source_b: 'AgentAttributes' as const, field_b: field } },
          { All: [{ FieldPresent: { source: 'ResourceAttributes' as const, field } }, { NumericCheck: { source: 'Arguments' as const, field, op: 'Gte' as const, value: 0 } }] },
        ]),
      },
    },
  ],
}

const oddObjectArb = fc.oneof(
  // fc.dictionary defines keys as own members, `__proto__` included, as JSON.parse does.
  fc.dictionary(
    fc.constantFrom(...ODD_FIELDS),
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(1, 0, -0, 'a', true, [1], { x: 1 }, null) }, fc.jsonValue({ maxDepth: 2 })),
    { maxKeys: 4 },
  ),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constant(undefined),
)

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path on inherited and special field names', () => {
  it('decides like the text path and the raw ABI', async () => {
    const { compile } = await import('../src/compiler/compile.js')
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const { RawArtifact } = await import('../packages/sdk/src/abi.js')
    const { decisionOf } = await import('../packages/sdk/src/fast-path.js')
    const compiled = await compile(policySource(oddPolicy))
    const module = new WebAssembly.Module(compiled.wasm!)
    const fast = await Perso.load(module)
    const text = await Perso.load(module, { fastPath: false })
    const raw = RawArtifact.loadSync(module)
    let allowed = 0
    fc.assert(
      fc.property(oddObjectArb, oddObjectArb, oddObjectArb, fc.boolean(), spliceArb, (args, agentArb, resourceAttributes, same, s) => {
        // Independent draws rarely make an argument equal an attribute, so half the
        // requests give the agent the arguments' own object, which reaches Allow often.
        const agentAttributes = same ? args : agentArb
        const request = splice({ tool: 't', role: 'r', args, agentAttributes, resourceAttributes }, s)
        const got = fast.evaluateSync(request)
        expect(text.evaluateSync(request)).toEqual(got)
        if (got.decision === 'Allow') allowed++
        if (got.reason.startsWith('request: ')) return
        const context = JSON.stringify({ role: 'r', agent_attrs: request.agentAttributes, resource_attrs: request.resourceAttributes })
        const viaText = decisionOf(JSON.parse(raw.evaluateStrings('t', JSON.stringify(request.args ?? {}), context)) as Record<string, unknown>)
        expect(got).toEqual(viaText)
      }),
      { numRuns: 3000 },
    )
    expect(allowed).toBeGreaterThan(100)
  })
})

// Entries whose answers have the same length (tools `aa` and `bb`, reasons that
// differ only in a digit), so a cache keyed by length alone would mix them up.
const twinPolicy: Policy = {
  version: 'twins',
  default_action: 'Allow',
  tools: ['aa', 'bb', 'c"c'],
  roles: ['r', 's'],
  rules: [
    { tool_name: 'aa', roles: ['r'], condition: { NumericCheck: { source: 'Arguments', field: 'n', op: 'Lte', value: 5 } } },
    { tool_name: 'bb', roles: ['r'], condition: { NumericCheck: { source: 'Arguments', field: 'n', op: 'Lte', value: 5 } } },
    { tool_name: 'c"c', roles: ['r'], condition: { StringCheck: { source: 'AgentAttributes', field: 'k', op: 'In', value: ['x\ny', 'é'] } } },
  ],
}

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path on answers of equal length', () => {
  it('never hands one entry’s or one request’s answer to another', async () => {
    const { compile } = await import('../src/compiler/compile.js')
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const module = new WebAssembly.Module((await compile(policySource(twinPolicy))).wasm!)
    const fast = await Perso.load(module)
    const text = await Perso.load(module, { fastPath: false })
    // The raw ABI host recognises repeated response texts too; a plain host decodes every one.
    const { RawArtifact } = await import('../packages/sdk/src/abi.js')
    const { Host } = await import('./support/host.js')
    const raw = RawArtifact.loadSync(module)
    const plain = new Host(new WebAssembly.Instance(module, {}).exports as unknown as ConstructorParameters<typeof Host>[0])
    const requestArb = fc.record({
      tool: fc.constantFrom('aa', 'bb', 'c"c', 'dd', 'ee'),
      role: fc.constantFrom('r', 's', 't'),
      args: fc.record({ n: fc.constantFrom(1, 2, 7, 8, 9, 17, 18, -0, 1.5, 'x', null) }),
      agentAttributes: fc.record({ k: fc.constantFrom('x\ny', 'é', 'x\nz', 'ê', 'a"', 3) }),
    })
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 20, maxLength: 200 }), (requests) => {
        for (const request of requests) {
          expect(fast.evaluateSync(request)).toEqual(text.evaluateSync(request))
          const context = JSON.stringify({ role: request.role, agent_attrs: request.agentAttributes })
          const args = JSON.stringify(request.args)
          expect(raw.evaluateStrings(request.tool, args, context)).toBe(plain.evaluateText(request.tool, args, context))
        }
      }),
      { numRuns: 100 },
    )
  })
})

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path: the fixed sentences come from the text path', () => {
  async function fastPath(textPath: (view: RequestView) => { decision: 'Allow' | 'Deny'; reason: string }) {
    const { FastPath, hasValuesExport } = await import('../packages/sdk/src/fast-path.js')
    const module = new WebAssembly.Module(await crmWasm())
    const exports = new WebAssembly.Instance(module, {}).exports as unknown as Parameters<typeof hasValuesExport>[0]
    if (!hasValuesExport(exports)) throw new Error('the artifact has no evaluate_values')
    return { fast: new FastPath(exports, textPath), module }
  }

  const refund = (amount: number): EvaluateRequest => ({ tool: 'process_refund', role: 'agent', args: { amount } })
  const viewOf = (request: EvaluateRequest): RequestView => readRequest(request, request.tool).view

  it('learns each entry’s reads from the artifact, never asks the text path, and answers the artifact’s bytes', async () => {
    const { Perso } = await import('../packages/sdk/src/perso.js')
    let asked = 0
    const { fast, module } = await fastPath(() => {
      asked++
      return { decision: 'Deny', reason: 'the text path' }
    })
    const text = await Perso.load(module, { fastPath: false })
    for (let amount = 0; amount < 1000; amount += 7) expect(fast.decide(viewOf(refund(amount)))).toEqual(text.evaluateSync(refund(amount)))
    expect(asked).toBe(0)
  })

  it('a perso section that lies changes no decision: the fast path never reads it', async () => {
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const { metadataSection } = await import('../packages/sdk/src/metadata.js')
    const { module } = await fastPath(() => ({ decision: 'Deny', reason: 'unused' }))
    const text = await Perso.load(module, { fastPath: false })
    const metadata = readMetadataOf(module)
    const refundEntry = metadata.entries.findIndex(([t, r]) => metadata.tools[t] === 'process_refund' && metadata.roles[r] === 'agent')
    const condition = metadata.entries[refundEntry]![3]!
    const lies: [string, (m: Metadata) => void][] = [
      ['no entries at all', (m) => void m.entries.splice(0)],
      ['the entry without its condition', (m) => void (m.entries[refundEntry]![3] = null)],
      ['another field', (m) => void (m.conditions[condition]!.reads[0]!.field = 'amount_cents')],
      ['another source', (m) => void (m.conditions[condition]!.reads[0]!.source = 'AgentAttributes')],
      ['a read more', (m) => void m.conditions[condition]!.reads.push({ source: 'Arguments', field: 'note' })],
    ]
    const bytes = await crmWasm()
    for (const [lie, tamper] of lies) {
      const told = structuredClone(metadata)
      tamper(told)
      const liar = await Perso.load(withPersoSection(bytes, metadataSection(told)))
      // The section is read as it is (it is what perso.metadata shows)...
      expect(liar.metadata.entries, lie).toEqual(told.entries)
      // ...and decides nothing.
      for (const amount of [100, 500, 501, 800]) expect(liar.evaluateSync(refund(amount)), lie).toEqual(text.evaluateSync(refund(amount)))
    }
  })
})

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path: answers the caller owns', () => {
  it('a decision the caller changes does not change the next one (entries, failed conditions and defaults)', async () => {
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const perso = await Perso.load(await crmWasm())
    const requests: EvaluateRequest[] = [
      { tool: 'view_customer', role: 'agent' },
      { tool: 'process_refund', role: 'agent', args: { amount: 800 } },
      { tool: 'drop_database', role: 'admin' },
    ]
    for (const request of requests) {
      const first = perso.evaluateSync(request)
      const want = { ...first }
      first.reason = 'changed by the caller'
      for (let i = 0; i < 3; i++) {
        const got = perso.evaluateSync(request)
        expect(got).toEqual(want)
        got.decision = got.decision === 'Allow' ? 'Deny' : 'Allow'
        got.reason = 'changed by the caller'
      }
    }
  })
})

describe.skipIf(!existsSync(TEMPLATE))('SDK fast path: the plans it keeps', () => {
  it('past 4,096 (tool, role) pairs the plans are cleared and learnt again; every decision stays the text path’s', async () => {
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const module = new WebAssembly.Module(await crmWasm())
    const fast = await Perso.load(module)
    const text = await Perso.load(module, { fastPath: false })
    // Known pairs, one tool under several roles in turn, between 5,000 pairs without an entry.
    const known: EvaluateRequest[] = [
      { tool: 'process_refund', role: 'agent', args: { amount: 800 } },
      { tool: 'process_refund', role: 'manager', args: { amount: 800 } },
      { tool: 'process_refund', role: 'agent', args: { amount: 120 } },
      { tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: 'm' }, resourceAttributes: { owner_id: 'm' } },
    ]
    for (let i = 0; i < 5000; i++) {
      const unknown: EvaluateRequest = { tool: `tool_${i}`, role: i % 2 === 0 ? 'agent' : `role_${i}` }
      expect(fast.evaluateSync(unknown)).toEqual(text.evaluateSync(unknown))
      const request = known[i % known.length]!
      expect(fast.evaluateSync(request), `call ${i}`).toEqual(text.evaluateSync(request))
    }
  })
})
