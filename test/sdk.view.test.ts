// One view of each request (issue 12): the SDK reads a request once into its
// JSON view — own, enumerable, string-keyed data properties, no `toJSON`,
// nothing inherited, each getter read once — and every path decides on that
// view: the fast path, the text path, and the raw `evaluate` given the view's
// JSON texts answer alike, however the host's objects are built.
//
// seed: PERSO_SEED=<seed> npx vitest run test/sdk.view.test.ts

import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Policy } from '../src/compiler/policy.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { Perso } from '../packages/sdk/src/perso.js'
import type { EvaluateRequest } from '../packages/sdk/src/request.js'
import { FIELD_POOL, policyArb, policySource } from './support/arbitraries.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const RUNS = Number(process.env.PERSO_FUZZ_RUNS ?? 40)

const encoder = new TextEncoder()
const crm = readFileSync(new URL('../fixtures/crm.json', import.meta.url))

/**
 * The JSON view of a host value, written here apart from the SDK: own
 * enumerable string keys (Object.keys), values as they read now, members whose
 * value is undefined absent, no toJSON. Undefined for what the view cannot hold.
 */
function viewText(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean') return String(value)
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined
  if (typeof value === 'string') return value.isWellFormed() ? JSON.stringify(value) : undefined
  if (typeof value !== 'object') return undefined
  if (Array.isArray(value)) {
    const items = Array.from({ length: value.length }, (_, i) => (Object.hasOwn(value, i) ? viewText(value[i]) : undefined))
    return items.every((x) => x !== undefined) ? `[${items.join(',')}]` : undefined
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return undefined
  const members: string[] = []
  for (const key of Object.keys(value)) {
    const member: unknown = (value as Record<string, unknown>)[key]
    if (member === undefined) continue
    const text = viewText(member)
    if (text === undefined || !key.isWellFormed()) return undefined
    members.push(`${JSON.stringify(key)}:${text}`)
  }
  return `{${members.join(',')}}`
}

/** The raw `evaluate`'s answer on a request's JSON view, as a decision; undefined when the view cannot hold it. */
function onTheView(raw: RawArtifact, r: EvaluateRequest): { decision: string; reason: string } | undefined {
  const args = r.args === undefined ? '{}' : viewText(r.args)
  const agent = r.agentAttributes === undefined ? '' : viewText(r.agentAttributes)
  const resource = r.resourceAttributes === undefined ? '' : viewText(r.resourceAttributes)
  if (args === undefined || agent === undefined || resource === undefined) return undefined
  const context = `{"role":${JSON.stringify(r.role)}${agent === '' ? '' : `,"agent_attrs":${agent}`}${resource === '' ? '' : `,"resource_attrs":${resource}`}}`
  const answer = JSON.parse(raw.evaluateBytes(encoder.encode(r.tool), encoder.encode(args), encoder.encode(context))) as Record<string, string>
  return answer.error !== undefined ? { decision: 'Deny', reason: answer.error } : { decision: answer.decision!, reason: answer.reason! }
}

/** Runs `body` with `Object.prototype[key]` set (enumerable or not), and takes it away again whatever happens. */
function polluted<T>(key: string, value: unknown, enumerable: boolean, body: () => T): T {
  Object.defineProperty(Object.prototype, key, { value, enumerable, configurable: true, writable: true })
  try {
    return body()
  } finally {
    delete (Object.prototype as Record<string, unknown>)[key]
  }
}

describe('the reproducers of issue 12', async () => {
  const wasm = (await compile(crm)).wasm!
  const raw = RawArtifact.loadSync(wasm)
  const paths = { fast: await Perso.load(wasm), text: await Perso.load(wasm, { fastPath: false }) }

  it('a non-enumerable amount is absent on every path, before and after a warm-up call', async () => {
    const fresh = await Perso.load(wasm)
    const request = (): EvaluateRequest => {
      const args = { order_id: 'O-1' }
      Object.defineProperty(args, 'amount', { value: 100, enumerable: false })
      return { tool: 'process_refund', role: 'agent', args }
    }
    const want = { decision: 'Deny', reason: "rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount is missing" }
    expect(onTheView(raw, request())).toEqual(want)
    expect(fresh.evaluateSync(request())).toEqual(want)
    // An ordinary call first, then the same request again.
    expect(paths.fast.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 100 } }).decision).toBe('Allow')
    for (const sdk of [paths.fast, paths.text, fresh]) expect(sdk.evaluateSync(request())).toEqual(want)
  })

  it('a polluted Object.prototype.toJSON grants nothing, on a fresh SDK or a warm one', async () => {
    const fresh = await Perso.load(wasm)
    const request: EvaluateRequest = { tool: 'process_refund', role: 'agent', args: { amount: 9000 } }
    const want = { decision: 'Deny', reason: "rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 9000 is not Lte 500" }
    for (const enumerable of [false, true]) {
      polluted('toJSON', () => ({ amount: 1 }), enumerable, () => {
        for (const sdk of [fresh, paths.fast, paths.text]) expect(sdk.evaluateSync(request)).toEqual(want)
      })
    }
  })

  it('the tool name and the trace id are read once, like every getter', async () => {
    const sdk = await Perso.load(wasm, { audit: { transport: { emit: () => undefined } } })
    const reads = { tool: 0, traceId: 0, role: 0 }
    const request = {
      get tool(): string {
        return reads.tool++ === 0 ? 'view_customer' : 'drop_database'
      },
      get role(): string {
        return reads.role++ === 0 ? 'agent' : 'nobody'
      },
      get traceId(): string {
        reads.traceId++
        return 't-1'
      },
    }
    expect(sdk.evaluateSync(request).decision).toBe('Allow')
    expect(reads).toEqual({ tool: 1, traceId: 1, role: 1 })
  })

  it('a walk is its own: an SDK called from inside another request’s getter does not reset that request’s size (no module-level state)', async () => {
    const [outer, inner] = [await Perso.load(wasm), await Perso.load(wasm)]
    // Past the 64 MiB bound as JSON text (a string unit counts as 6 bytes escaped)...
    const big = 'x'.repeat(11_500_000)
    const args = {
      note: big,
      // ...and, read after it, a getter that asks another SDK instance a small question.
      get amount(): number {
        inner.evaluateSync({ tool: 'view_customer', role: 'agent' })
        return 1
      },
    }
    expect(outer.evaluateSync({ tool: 'process_refund', role: 'agent', args })).toEqual({
      decision: 'Deny',
      reason: 'request: too large (over 64 MiB as JSON text)',
    })
  })

  it('a getter is read once, whatever reads the request (the decision, the audit event, its hash)', async () => {
    const events: unknown[] = []
    for (const hashArgs of [false, true]) {
      const sdk = await Perso.load(wasm, { audit: { transport: { emit: (e) => void events.push(e) }, hashArgs } })
      let reads = 0
      const args = {
        get amount(): number {
          reads++
          return reads === 1 ? 100 : 9000 // a second read would see another request
        },
      }
      expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args }).decision).toBe('Allow')
      expect(reads).toBe(1)
      const event = events.at(-1) as { args: unknown }
      if (!hashArgs) expect(JSON.stringify(event.args)).toBe('{"amount":100}')
    }
  })
})

describe('the warm fast path keeps only what the entry reads, and checks everything', async () => {
  const wasm = (await compile(crm)).wasm!

  it('after a warm-up call, every getter is read once, read or not by the entry, and the first read decides', async () => {
    const sdk = await Perso.load(wasm)
    expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 1 } }).decision).toBe('Allow')
    const reads = { amount: 0, note: 0, user: 0 }
    const args = {
      get amount(): number {
        return ++reads.amount === 1 ? 100 : 9000
      },
      get note(): string {
        reads.note++
        return 'a note'
      },
    }
    const agentAttributes = {
      get user_id(): string {
        reads.user++
        return 'agt-1'
      },
    }
    expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args, agentAttributes }).decision).toBe('Allow')
    expect(reads).toEqual({ amount: 1, note: 1, user: 1 })
  })

  it('a member the entry does not read still makes the request unreadable, warm or not', async () => {
    const sdk = await Perso.load(wasm)
    for (let i = 0; i < 3; i++) {
      // Warm (from the second pass on): the pair's plan is confirmed, and its walk keeps only `amount`.
      expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 1 } }).decision).toBe('Allow')
      expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 1, note: { deep: [1, 2n] } } })).toEqual({
        decision: 'Deny',
        reason: 'request: args.note.deep[1] is a BigInt',
      })
      expect(sdk.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 1 }, resourceAttributes: { region: 'x\uD800' } })).toEqual({
        decision: 'Deny',
        reason: 'request: resourceAttributes.region is a string with a lone surrogate',
      })
    }
  })

  it('an object the entry reads is kept whole, as the text path sends it', async () => {
    const policy = JSON.stringify({
      version: 'v', default_action: 'Deny', tools: ['t'], roles: ['r'],
      rules: [{ tool_name: 't', roles: ['r'], condition: { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'ResourceAttributes', field_b: 'b' } } }],
    })
    const artifact = (await compile(policy)).wasm!
    const fast = await Perso.load(artifact)
    const text = await Perso.load(artifact, { fastPath: false })
    const requests = [
      { a: { x: [1, { y: 'z' }] }, b: { x: [1, { y: 'z' }] } },
      { a: { x: [1, { y: 'z' }] }, b: { x: [1, { y: 'w' }] } },
      { a: { __proto__: 1, x: 2 }, b: JSON.parse('{"__proto__":1,"x":2}') },
    ]
    for (let pass = 0; pass < 2; pass++) {
      for (const { a, b } of requests) {
        const request = { tool: 't', role: 'r', args: { a }, resourceAttributes: { b } }
        expect(fast.evaluateSync(request)).toEqual(text.evaluateSync(request))
      }
    }
  })
})

/** A host request with hostile shapes spliced into its objects: what the JSON view keeps is decided, nothing else. */
type Shape = 'non-enumerable' | 'getter' | 'symbol' | 'inherited' | 'toJSON' | 'plain'
const SHAPES: Shape[] = ['non-enumerable', 'getter', 'symbol', 'inherited', 'toJSON', 'plain']

interface Case {
  policy: Policy
  requests: { tool: string; role: string; args: Record<string, unknown>; agent: Record<string, unknown>; resource: Record<string, unknown>; shapes: [Shape, 'args' | 'agent' | 'resource', string, unknown][] }[]
}

const jsonValue = fc.oneof(fc.integer({ min: -1000, max: 3000 }), fc.constantFrom('a', 'b', '/etc', 'production', 'mgr-001'), fc.boolean(), fc.constant(null))
const fieldArb = fc.constantFrom(...FIELD_POOL)

const caseArb: fc.Arbitrary<Case> = policyArb.chain((policy) => {
  const tools = [...new Set([...policy.tools, ...policy.rules.map((r) => r.tool_name.replaceAll('*', ''))])]
  const roles = policy.roles.length > 0 ? policy.roles : ['r']
  const objectArb = fc.dictionary(fieldArb, jsonValue, { maxKeys: 4 })
  const request = fc.record({
    tool: fc.constantFrom(...(tools.length > 0 ? tools : ['t'])),
    role: fc.constantFrom(...roles),
    args: objectArb,
    agent: objectArb,
    resource: objectArb,
    shapes: fc.array(fc.tuple(fc.constantFrom(...SHAPES), fc.constantFrom('args' as const, 'agent' as const, 'resource' as const), fieldArb, jsonValue), { maxLength: 3 }),
  })
  return fc.record({ policy: fc.constant(policy), requests: fc.array(request, { minLength: 1, maxLength: 12 }) })
})

/** Splices the shapes into fresh copies of the request's objects; pollution of the prototype is the caller's (`inherited`, `toJSON`). */
function hostRequest(r: Case['requests'][number]): EvaluateRequest {
  const objects = { args: { ...r.args }, agent: { ...r.agent }, resource: { ...r.resource } }
  for (const [shape, where, field, value] of r.shapes) {
    const target = objects[where] as Record<string | symbol, unknown>
    if (shape === 'non-enumerable') Object.defineProperty(target, field, { value, enumerable: false, configurable: true })
    else if (shape === 'getter') Object.defineProperty(target, field, { get: () => value, enumerable: true, configurable: true })
    else if (shape === 'symbol') target[Symbol(field)] = value
    else if (shape === 'plain') target[field] = value
  }
  return { tool: r.tool, role: r.role, args: objects.args, agentAttributes: objects.agent, resourceAttributes: objects.resource }
}

describe(`every path decides on the JSON view (seed ${SEED})`, () => {
  it(`${RUNS} random policies with non-enumerable, getter, symbol, inherited and toJSON members spliced in`, { timeout: 60_000 }, async () => {
    console.log(`sdk.view seed ${SEED}`)
    const tally = { requests: 0, allow: 0, deny: 0, polluted: 0 }
    const cases = fc.sample(caseArb, { numRuns: RUNS, seed: SEED })
    for (const [n, c] of cases.entries()) {
      const compiled = await compile(policySource(c.policy))
      if (compiled.wasm === undefined) continue
      const raw = RawArtifact.loadSync(compiled.wasm)
      const fast = await Perso.load(compiled.wasm)
      const text = await Perso.load(compiled.wasm, { fastPath: false })
      for (const r of c.requests) {
        const pollution = r.shapes.find(([shape]) => shape === 'inherited' || shape === 'toJSON')
        const check = (): void => {
          const request = hostRequest(r)
          const want = onTheView(raw, request)
          if (want === undefined) throw new Error(`case ${n}: the test's own view refused ${JSON.stringify(r)}`)
          const where = `seed ${SEED}, case ${n}: ${JSON.stringify(r)} on ${policySource(c.policy)}`
          expect(fast.evaluateSync(hostRequest(r)), where).toEqual(want)
          expect(text.evaluateSync(hostRequest(r)), where).toEqual(want)
          tally.requests++
          if (want.decision === 'Allow') tally.allow++
          else tally.deny++
        }
        if (pollution === undefined) check()
        else {
          const [shape, , field, value] = pollution
          tally.polluted++
          if (shape === 'toJSON') polluted('toJSON', () => ({ [field]: value }), r.shapes.length % 2 === 0, check)
          else polluted(field, value, true, check)
        }
      }
    }
    console.log(`sdk.view: ${JSON.stringify(tally)}`)
    expect(tally.requests).toBeGreaterThan(RUNS * 2)
    expect(tally.allow).toBeGreaterThan(0)
    expect(tally.deny).toBeGreaterThan(0)
    expect(tally.polluted).toBeGreaterThan(0)
  })
})
