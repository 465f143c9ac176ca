// The values export `evaluate_values(tool_ptr, tool_len, role_ptr, role_len, values) -> resp`
// (docs/design.md "The values export"), driven through module memory: the same
// bytes as `evaluate` on random policies and requests, claims that are not the
// entry's reads refused, inputs refused without a trap, random garbage with flat
// memory, every entry of tables of 0–40 entries, and the SDK on artifacts without
// the export.
// Seeds are fixed and printed: PERSO_SEED=<seed> replays a run, PERSO_FUZZ_RUNS
// scales the random policies, PERSO_VALUES_CALLS the garbage loop.

import fc from 'fast-check'
import binaryen from 'binaryen'
import { existsSync, readFileSync } from 'node:fs'
import { beforeAll, describe, expect, test } from 'vitest'
import { check, compile } from '../src/compiler/compile.js'
import { codegen } from '../src/compiler/codegen.js'
import type { Policy, Rule, Source } from '../src/compiler/policy.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { type Metadata, readMetadata } from '../packages/sdk/src/metadata.js'
import { Header, Source as SourceCode, ValueRecord, ValuesTable } from '../packages/sdk/src/layout.js'
import { hasValuesExport } from '../packages/sdk/src/fast-path.js'
import { Perso } from '../packages/sdk/src/perso.js'
import type { EvaluateRequest } from '../packages/sdk/src/request.js'
import { aimsOf, FIELD_POOL, policyArb, policySource, ROLE_POOL, TOOL_POOL, type Aims } from './support/arbitraries.js'
import { BAD_VALUES, nested, nextDouble } from './support/json-text.js'
import { linkInMemory } from './support/host.js'
import { expandTable } from './support/reference.js'
import { type Claim, claimOf, type Layout, LAYOUTS, type RawRecord, readsOf, ValuesHost } from './support/values-host.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const POLICIES = Number(process.env.PERSO_FUZZ_RUNS ?? 60)
const CALLS = Number(process.env.PERSO_VALUES_CALLS ?? 20_000)
console.log(`values.test.ts: seed ${SEED} (PERSO_SEED=${SEED} reproduces), ${POLICIES} policies, ${CALLS} garbage calls`)

const enc = new TextEncoder()
const MISMATCH = "evaluate_values: the values do not claim the entry's reads"
const errorText = (message: string): string => JSON.stringify({ error: message })
/**
 * The exact refusal of a table that does not claim the (tool, role) entry's
 * reads: it names the reads the entry has, from the blob (none without entry or condition).
 */
const refusal = (metadata: Metadata, tool: string, role: string): string =>
  JSON.stringify({ error: MISMATCH, reads: (readsOf(metadata, tool, role) ?? []).map((read) => [SourceCode[read.source], read.field]) })
const TABLE_OUTSIDE = errorText('evaluate_values: values table outside memory')

// ---------------------------------------------------------------------------
// Helpers

async function compiled(policy: Policy): Promise<{ module: WebAssembly.Module; wasm: Uint8Array; metadata: Metadata }> {
  const source = policySource(policy)
  const result = await compile(source)
  if (result.wasm === undefined) throw new Error(`policy did not compile:\n${source}\n${result.diagnostics.map((d) => d.message).join('\n')}`)
  const module = new WebAssembly.Module(result.wasm as Uint8Array<ArrayBuffer>)
  const metadata = readMetadata(module)
  if (metadata instanceof Error) throw metadata
  return { module, wasm: result.wasm, metadata }
}

/** A response text as one of the two shapes (decision or error); throws on anything else. */
function shapeOf(text: string): 'Allow' | 'Deny' | 'error' {
  const answer = JSON.parse(text) as Record<string, unknown>
  const keys = Object.keys(answer).join()
  if (keys === 'error' && typeof answer.error === 'string') return 'error'
  // The refusal of claims names the entry's reads.
  if (keys === 'error,reads' && answer.error === MISMATCH && Array.isArray(answer.reads)) return 'error'
  if (keys === 'decision,reason' && typeof answer.reason === 'string' && (answer.decision === 'Allow' || answer.decision === 'Deny')) return answer.decision
  throw new Error(`a response of neither shape: ${text}`)
}

/** The JSON text of member `field` of `source` as JSON.stringify writes it inside the request's text; undefined when absent. */
function valueText(source: unknown, field: string): Uint8Array | undefined {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined
  if (!Object.hasOwn(source, field)) return undefined
  const value = (source as Record<string, unknown>)[field]
  return value === undefined ? undefined : enc.encode(JSON.stringify(value))
}

const needsEscape = (s: string) => /["\\\u0000-\u001f]|[^\u0000-\u007f]/u.test(s)

// ---------------------------------------------------------------------------
// Requests as JS values, aimed at a policy, with the role spelled in the context
// text either as JSON.stringify writes it or with escapes that evaluate must undo

const NASTY_STRINGS = [
  'a"b', '"', '\\', 'back\\slash\\', '\u0000', '\u0001\u001f', '\b\f\n\r\t', '\u007f', 'é', 'ünï', '😀', '\u2028\u2029',
  '\ufeff', 'x\ny', 'ü'.repeat(40), 'x'.repeat(63) + 'é', 'x'.repeat(62) + '😀', '"'.repeat(70), '\\'.repeat(33), '日本語'.repeat(8),
]
const SHARED = Symbol('shared')
type Member = [string, unknown]

/** Values biased to what the policy compares, plus odd strings and arbitrary JSON; SHARED stands for the request's shared value. */
function jsValueArb(aims: Aims): fc.Arbitrary<unknown> {
  const numbers = aims.numbers.length > 0 ? aims.numbers : [0, 1, 500]
  const strings = aims.strings.length > 0 ? aims.strings : ['a', '/etc']
  const near = fc.tuple(fc.constantFrom(...numbers), fc.nat(5)).map(([x, how]) => [x, nextDouble(x, true), nextDouble(x, false), x + 1, x - 1, -x][how]!)
  return fc.oneof(
    { weight: 4, arbitrary: near },
    { weight: 4, arbitrary: fc.constantFrom(...strings) },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -0, [], {}, [1, 'a'], { k: 'v"' }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 3, arbitrary: fc.constant(SHARED) },
  )
}

/** A source: mostly an object holding the fields the policy reads from it; sometimes not an object. */
function sourceArb(aims: Aims, source: Source): fc.Arbitrary<unknown> {
  const fields = aims.fields[source].length > 0 ? aims.fields[source] : FIELD_POOL
  const key = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...fields) }, { weight: 1, arbitrary: fc.constantFrom('other', '__proto__', 'toString') })
  const value = fc.oneof({ weight: 12, arbitrary: jsValueArb(aims) }, { weight: 1, arbitrary: fc.constant(undefined) })
  const members = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((m) => ({ members: m }))
  return fc.oneof({ weight: 12, arbitrary: members }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)) })
}

function build(spec: unknown, shared: unknown): unknown {
  if (typeof spec === 'object' && spec !== null && 'members' in spec) {
    // Object.fromEntries makes every key an own member, `__proto__` included, as JSON.parse does.
    return Object.fromEntries((spec as { members: Member[] }).members.map(([k, v]) => [k, v === SHARED ? shared : v]))
  }
  return spec
}

/** How the context text spells the role: as JSON.stringify does, every character as `\uXXXX`, or every other one escaped. */
type Spelling = 'plain' | 'unicode' | 'mixed'

function spellRole(role: string, how: Spelling): string {
  if (how === 'plain') return JSON.stringify(role)
  let out = '"'
  let i = 0
  for (const ch of role) {
    if (how === 'mixed' && i++ % 2 === 1) out += JSON.stringify(ch).slice(1, -1)
    else if (ch === '/') out += '\\/'
    else for (let k = 0; k < ch.length; k++) out += '\\u' + ch.charCodeAt(k).toString(16).padStart(4, '0')[i % 3 === 0 ? 'toUpperCase' : 'toLowerCase']()
  }
  return out + '"'
}

interface JsRequest {
  tool: string
  role: string
  spelling: Spelling
  args: unknown
  agent: unknown
  resource: unknown
}

function jsRequestArb(policy: Policy): fc.Arbitrary<JsRequest> {
  const aims = aimsOf(policy)
  const pairs = [...expandTable(policy)].flatMap(([tool, byRole]) => [...byRole.keys()].map((role): [string, string] => [tool, role]))
  const pool = <T>(items: T[], fallback: T[]) => (items.length > 0 ? items : fallback)
  const pair = fc.oneof(
    ...(pairs.length > 0 ? [{ weight: 10, arbitrary: fc.constantFrom(...pairs) }] : []),
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...pool(aims.tools, TOOL_POOL)), fc.constantFrom(...pool(aims.roles, ROLE_POOL))) },
  )
  const attrs = (source: Source) => fc.oneof({ weight: 8, arbitrary: sourceArb(aims, source) }, { weight: 1, arbitrary: fc.constant(undefined) })
  const shared = jsValueArb(aims).filter((v) => v !== SHARED)
  const spelling = fc.constantFrom<Spelling>('plain', 'plain', 'unicode', 'mixed')
  return fc
    .record({ pair, spelling, shared, args: sourceArb(aims, 'Arguments'), agent: attrs('AgentAttributes'), resource: attrs('ResourceAttributes') })
    .map(({ pair: [tool, role], spelling, shared, args, agent, resource }) => ({
      tool,
      role,
      spelling,
      args: build(args, shared),
      agent: build(agent, shared),
      resource: build(resource, shared),
    }))
}

const sourceValue = (r: JsRequest, source: Source): unknown => (source === 'Arguments' ? r.args : source === 'AgentAttributes' ? r.agent : r.resource)
const argsText = (r: JsRequest) => JSON.stringify(r.args)
function contextText(r: JsRequest): string {
  let text = `{"role":${spellRole(r.role, r.spelling)}`
  if (r.agent !== undefined) text += `,"agent_attrs":${JSON.stringify(r.agent)}`
  if (r.resource !== undefined) text += `,"resource_attrs":${JSON.stringify(r.resource)}`
  return text + '}'
}

/** The claims of the (tool, role) entry's reads with the request's values, as the SDK would write them; [] without entry. */
function claimsFor(metadata: Metadata, r: JsRequest): Claim[] {
  return (readsOf(metadata, r.tool, r.role) ?? []).map((read) => claimOf(read, valueText(sourceValue(r, read.source), read.field)))
}

// ---------------------------------------------------------------------------
// 1. The same bytes as evaluate

describe('evaluate_values answers the bytes evaluate answers', () => {
  test(`on ${POLICIES} random policies × up to 60 requests`, async () => {
    const counts = {
      requests: 0, allow: 0, passed: 0, deny: 0, failed: 0, missing: 0, noRule: 0, noCondition: 0,
      absentClaims: 0, escapedNames: 0, unescapedRole: 0, oddAccount: 0,
    }
    const casesArb = policyArb.chain((policy) =>
      fc.record({
        policy: fc.constant(policy),
        requests: fc.array(fc.tuple(jsRequestArb(policy), fc.constantFrom(...LAYOUTS), fc.boolean()), { minLength: 1, maxLength: 60, size: 'max' }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(casesArb, async ({ policy, requests }) => {
        const { module, metadata } = await compiled(policy)
        const d = new ValuesHost(module)
        const policyText = policySource(policy)
        for (const [request, layout, valuesFirst] of requests) {
          const { tool, role } = request
          const where = `\npolicy: ${policyText}\ntool: ${JSON.stringify(tool)}\nargs: ${argsText(request)}\ncontext: ${contextText(request)}\nlayout: ${layout}`
          const claims = claimsFor(metadata, request)
          // Either call first: they share the heap and scratch.
          const early = valuesFirst ? d.ask(tool, role, claims, layout) : undefined
          const want = d.evaluateText(tool, argsText(request), contextText(request))
          const got = early ?? d.ask(tool, role, claims, layout)
          expect(got, `evaluate_values against evaluate${where}`).toBe(want)
          const answer = JSON.parse(want) as { decision: string; reason: string }
          expect(answer, `evaluate refused a well-formed request${where}`).not.toHaveProperty('error')
          const entry = readsOf(metadata, tool, role) !== undefined
          expect(!answer.reason.startsWith('no rule'), `the metadata's table and the artifact's disagree${where}`).toBe(entry)
          counts.requests++
          if (answer.decision === 'Allow') counts.allow++
          else counts.deny++
          if (answer.reason.startsWith('no rule')) counts.noRule++
          if (answer.reason.endsWith('; no condition required')) counts.noCondition++
          if (answer.reason.endsWith('; condition passed')) counts.passed++
          if (answer.reason.includes('; condition failed')) counts.failed++
          if (answer.reason.includes(' is missing')) counts.missing++
          const account = answer.reason.split('; condition failed: ')[1]
          if (account !== undefined && needsEscape(account.replace(/…/gu, ''))) counts.oddAccount++
          if (claims.some((c) => c.value === undefined)) counts.absentClaims++
          if (needsEscape(tool) || needsEscape(role)) counts.escapedNames++
          if (entry && request.spelling !== 'plain' && role !== '') counts.unescapedRole++
        }
      }),
      { numRuns: POLICIES, seed: SEED },
    )
    console.log('values differential:', JSON.stringify(counts))
    const scale = POLICIES / 60
    expect(counts.allow).toBeGreaterThan(150 * scale)
    expect(counts.passed).toBeGreaterThan(50 * scale)
    expect(counts.deny).toBeGreaterThan(150 * scale)
    expect(counts.failed).toBeGreaterThan(100 * scale)
    expect(counts.missing).toBeGreaterThan(20 * scale)
    expect(counts.noRule).toBeGreaterThan(50 * scale)
    expect(counts.noCondition).toBeGreaterThan(50 * scale)
    expect(counts.absentClaims).toBeGreaterThan(50 * scale)
    expect(counts.escapedNames).toBeGreaterThan(100 * scale)
    expect(counts.unescapedRole).toBeGreaterThan(100 * scale)
    expect(counts.oddAccount).toBeGreaterThan(50 * scale)
  }, 60_000)
})

// ---------------------------------------------------------------------------
// A fixed policy for claims, inputs and garbage

const FIXED: Policy = {
  version: 'values-1',
  default_action: 'Deny',
  tools: ['t', 'v', 'eq', 'many', 'p"q'],
  roles: ['r', 'rôle'],
  rules: [
    {
      tool_name: 't',
      roles: ['r'],
      condition: {
        All: [
          { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500 } },
          { StringCheck: { source: 'AgentAttributes', field: 'team', op: 'In', value: ['a', 'b'] } },
        ],
      },
    },
    { tool_name: 'v', roles: ['r', 'rôle'] },
    { tool_name: 'eq', roles: ['r'], condition: { FieldEquals: { source_a: 'Arguments', field_a: 'x', source_b: 'ResourceAttributes', field_b: 'y' } } },
    {
      tool_name: 'many',
      roles: ['r'],
      condition: {
        Any: [
          { Not: { FieldPresent: { source: 'Arguments', field: 'force' } } },
          { NumericCheck: { source: 'ResourceAttributes', field: 'n', op: 'Gt', value: 1 } },
          { StringCheck: { source: 'AgentAttributes', field: 'a"b', op: 'NotIn', value: ['/etc'] } },
          { FieldEquals: { source_a: 'AgentAttributes', field_a: 'id', source_b: 'ResourceAttributes', field_b: 'owner' } },
        ],
      },
    },
    { tool_name: 'p"q', roles: ['rôle'], condition: { FieldPresent: { source: 'ResourceAttributes', field: 'ünï' } } },
  ],
}

let fixed: WebAssembly.Module
let fixedMetadata: Metadata
beforeAll(async () => {
  ;({ module: fixed, metadata: fixedMetadata } = await compiled(FIXED))
})

/** The claims of the (tool, role) entry of FIXED, with these values (undefined: absent). */
function fixedClaims(tool: string, role: string, values: (string | Uint8Array | undefined)[]): Claim[] {
  const reads = readsOf(fixedMetadata, tool, role)
  if (reads === undefined) throw new Error(`FIXED has no entry (${tool}, ${role})`)
  expect(values.length, `values for ${tool}/${role}`).toBe(reads.length)
  return reads.map((read, i) => claimOf(read, values[i]))
}

const T_ARGS = '{"amount":7}'
/** A fixed probe through both exports, compared before and after every hostile call. */
function probe(d: ValuesHost): Record<string, string> {
  return {
    evaluateDeny: d.evaluateText('t', T_ARGS, '{"role":"r","agent_attrs":{"team":"x\\"y"}}'),
    evaluateAllow: d.evaluateText('t', T_ARGS, '{"role":"r","agent_attrs":{"team":"b"}}'),
    evaluateNoRule: d.evaluateText('nope', '{}', '{"role":"r"}'),
    valuesDeny: d.ask('t', 'r', fixedClaims('t', 'r', ['900', '"b"'])),
    valuesAllow: d.ask('t', 'r', fixedClaims('t', 'r', ['7', '"b"'])),
    valuesNoCondition: d.ask('v', 'rôle', []),
    valuesNoRule: d.ask('p"q', 'r', []),
  }
}

const PROBE_EXPECTED = {
  evaluateDeny: JSON.stringify({ decision: 'Deny', reason: `rule matched tool 't' for role 'r'; condition failed: AgentAttributes.team is not In ["a", "b"]` }),
  evaluateAllow: JSON.stringify({ decision: 'Allow', reason: "rule matched tool 't' for role 'r'; condition passed" }),
  evaluateNoRule: JSON.stringify({ decision: 'Deny', reason: "no rule matched tool 'nope' for role 'r'; applying default_action" }),
  valuesDeny: JSON.stringify({ decision: 'Deny', reason: "rule matched tool 't' for role 'r'; condition failed: Arguments.amount = 900 is not Lte 500" }),
  valuesAllow: JSON.stringify({ decision: 'Allow', reason: "rule matched tool 't' for role 'r'; condition passed" }),
  valuesNoCondition: JSON.stringify({ decision: 'Allow', reason: "rule matched tool 'v' for role 'rôle'; no condition required" }),
  valuesNoRule: JSON.stringify({ decision: 'Deny', reason: `no rule matched tool 'p"q' for role 'r'; applying default_action` }),
}

/** Runs each hostile case on a fresh instance (probe before and after) and all of them on one instance. */
function hostileSuite(cases: [string, (d: ValuesHost) => void][]): void {
  test.each(cases)('%s', (_name, run) => {
    const d = new ValuesHost(fixed)
    expect(probe(d)).toEqual(PROBE_EXPECTED)
    run(d)
    expect(probe(d), 'later decisions').toEqual(PROBE_EXPECTED)
  })
  test(`all ${cases.length} cases one after another on one instance`, () => {
    const d = new ValuesHost(fixed)
    for (const [name, run] of cases) {
      run(d)
      expect(probe(d), `after ${name}`).toEqual(PROBE_EXPECTED)
    }
  })
}

test('the fixed probe answers as expected, on both exports', () => {
  expect(fixedMetadata.entries.length).toBe(6)
  expect(probe(new ValuesHost(fixed))).toEqual(PROBE_EXPECTED)
  // The probe's evaluate_values answers are evaluate's.
  const d = new ValuesHost(fixed)
  expect(d.evaluateText('t', '{"amount":900}', '{"role":"r","agent_attrs":{"team":"b"}}')).toBe(PROBE_EXPECTED.valuesDeny)
  expect(d.evaluateText('v', '{}', '{"role":"r\\u00f4le"}')).toBe(PROBE_EXPECTED.valuesNoCondition)
  expect(d.evaluateText('p"q', '{}', '{"role":"r"}')).toBe(PROBE_EXPECTED.valuesNoRule)
})

// ---------------------------------------------------------------------------
// 2. Claims that are not the entry's reads

describe("claims that are not the entry's reads are refused", () => {
  const claim = (source: number, name: string, value?: string): Claim => ({ source, name: enc.encode(name), value: value === undefined ? undefined : enc.encode(value) })
  const T_GOOD = () => fixedClaims('t', 'r', ['7', '"b"'])
  const swap = <T>(items: T[], i: number, j: number): T[] => {
    const out = [...items]
    ;[out[i], out[j]] = [out[j]!, out[i]!]
    return out
  }
  const refuses = (tool: string, role: string, claims: () => Claim[], count?: number) => (d: ValuesHost) => {
    for (const layout of LAYOUTS) {
      const text = d.ask(tool, role, claims(), layout, count)
      expect(text, layout).toBe(refusal(fixedMetadata, tool, role))
      expect((JSON.parse(text) as { error: string }).error.startsWith('evaluate_values: ')).toBe(true)
    }
  }
  const renamed = (name: string) => () => [claim(0, name, '7'), T_GOOD()[1]!]
  const resourced = (source: number) => () => [claim(source, 'amount', '7'), T_GOOD()[1]!]
  const cases: [string, (d: ValuesHost) => void][] = [
    // Count.
    ['one claim more', refuses('t', 'r', () => [...T_GOOD(), claim(0, 'amount', '7')])],
    ['the last claim twice', refuses('t', 'r', () => [...T_GOOD(), T_GOOD()[1]!])],
    ['one claim fewer', refuses('t', 'r', () => T_GOOD().slice(0, 1))],
    ['no claim', refuses('t', 'r', () => [])],
    ['the count word 1 over two good records', refuses('t', 'r', T_GOOD, 1)],
    ['a third claim with an empty name and no value', refuses('t', 'r', () => [...T_GOOD(), { source: 0, name: new Uint8Array(0) }])],
    ['four of the five claims of many/r', refuses('many', 'r', () => fixedClaims('many', 'r', ['1', '2', '"c"', '"i"', '"o"']).slice(1))],
    // A field name.
    ...['amounT', 'Amount', 'amoun', 'amounts', 'amount\u0000', ' amount', 'am\\u006funt', 'аmount' /* Cyrillic а */, 'x', 'team'].map(
      (name): [string, (d: ValuesHost) => void] => [`field name ${JSON.stringify(name)} for Arguments.amount`, refuses('t', 'r', renamed(name))],
    ),
    ['field name "a\\"b" spelled escaped for AgentAttributes.a"b', refuses('many', 'r', () => {
      const claims = fixedClaims('many', 'r', ['1', '2', '"c"', '"i"', '"o"'])
      const at = claims.findIndex((c) => new TextDecoder().decode(c.name) === 'a"b')
      claims[at] = { ...claims[at]!, name: enc.encode('a\\"b') }
      return claims
    })],
    ['field name "ünï" in another normal form (NFD)', refuses('p"q', 'rôle', () => [claim(2, 'ünï'.normalize('NFD'), '1')])],
    // A source code.
    ...[1, 2, 3, 0x100, 0x7fffffff, 0xffffffff].map((source): [string, (d: ValuesHost) => void] => [
      `source ${source} for Arguments.amount`,
      refuses('t', 'r', resourced(source)),
    ]),
    ['source 0 for AgentAttributes.team', refuses('t', 'r', () => [T_GOOD()[0]!, claim(0, 'team', '"b"')])],
    // Order.
    ['the two reads of t/r swapped', refuses('t', 'r', () => swap(T_GOOD(), 0, 1))],
    ['reads 1 and 2 of many/r swapped', refuses('many', 'r', () => swap(fixedClaims('many', 'r', ['1', '2', '"c"', '"i"', '"o"']), 1, 2))],
    ['the reads of eq/r swapped', refuses('eq', 'r', () => swap(fixedClaims('eq', 'r', ['1', '1']), 0, 1))],
    // Another entry's reads: metadata that is not this artifact's.
    ["eq/r's reads for t/r", refuses('t', 'r', () => fixedClaims('eq', 'r', ['7', '"b"']))],
    ["t/r's reads for eq/r", refuses('eq', 'r', T_GOOD)],
    // An entry without condition, and no entry at all.
    ["a claim for v/r (no condition)", refuses('v', 'r', () => [claim(0, 'amount', '7')])],
    ["t/r's claims for v/rôle (no condition)", refuses('v', 'rôle', T_GOOD)],
    ['a claim of an absent value for v/r (no condition)', refuses('v', 'r', () => [claim(0, 'amount')])],
    ['a claim for nope/r (no entry)', refuses('nope', 'r', () => [claim(0, 'amount', '7')])],
    ["t/r's claims for t/rôle (no entry)", refuses('t', 'rôle', T_GOOD)],
    ["t/r's claims for t/r\\u0000 (no entry)", refuses('t', 'r\u0000', T_GOOD)],
    ["p\"q/rôle's claim for p\"q/r (no entry)", refuses('p"q', 'r', () => fixedClaims('p"q', 'rôle', ['1']))],
  ]
  hostileSuite(cases)

  test('a refused claim never depends on its values: valid, absent or not JSON, the same error', () => {
    const d = new ValuesHost(fixed)
    for (const value of ['7', '900', undefined, '{', '1 2']) {
      expect(d.ask('t', 'r', [claim(1, 'amount', value), T_GOOD()[1]!])).toBe(refusal(fixedMetadata, 't', 'r'))
      expect(d.ask('v', 'r', [claim(0, 'amount', value)])).toBe(refusal(fixedMetadata, 'v', 'r'))
    }
  })

  test('the claims are checked whole before any value: a bad value before a bad claim is still the mismatch', () => {
    const d = new ValuesHost(fixed)
    for (const value of ['{', '1 2', '"\\x"']) {
      expect(d.ask('t', 'r', [claim(0, 'amount', value), claim(1, 'not_team', '"b"')])).toBe(refusal(fixedMetadata, 't', 'r'))
    }
  })
})

// ---------------------------------------------------------------------------
// 3. Inputs refused, never a trap

/** Good inputs for t/r in their own buffers, as raw words a case may change before the call. */
interface Words {
  tool: [number, number]
  role: [number, number]
  /** Where the table is written (the allocated one), unless a case points `table` elsewhere. */
  tableBuffer: number
  table: number
  records: RawRecord[]
  count?: number
}

function goodWords(d: ValuesHost, values: string[] = ['7', '"b"']): Words {
  const put = (bytes: Uint8Array): [number, number] => [d.write(bytes), bytes.length]
  const records = readsOf(fixedMetadata, 't', 'r')!.map((read, i): RawRecord => {
    const claim = claimOf(read, values[i])
    return [claim.source, ...put(claim.name), ...put(claim.value!)]
  })
  const table = d.alloc(ValuesTable.Records + records.length * ValueRecord.Size)
  return { tool: put(enc.encode('t')), role: put(enc.encode('r')), tableBuffer: table, table, records }
}

/** Calls evaluate_values on `words`, writing the table when it is still the allocated one. */
function send(d: ValuesHost, words: Words): string {
  if (words.table === words.tableBuffer) d.writeTable(words.table, words.records, words.count)
  return d.callRaw(...words.tool, ...words.role, words.table)
}

/** Places where a buffer is not inside memory, as (ptr, len). */
const OUTSIDE: [string, (d: ValuesHost) => [number, number]][] = [
  ['ends one byte past memory', (d) => [d.memoryBytes - 2, 3]],
  ['starts at the end of memory', (d) => [d.memoryBytes, 1]],
  ['starts at 0xFFFFFFFF', () => [0xffffffff, 1]],
  ['is 0xFFFFFFFF bytes long', () => [1024, 0xffffffff]],
  ['is 2^31 bytes long', () => [1024, 0x80000000]],
  ['wraps 32 bits', () => [0xfffffff0, 0x20]],
]

const b = (...bytes: number[]) => new Uint8Array(bytes)
const BAD_UTF8: [string, Uint8Array][] = [
  ['a bare 0xFF', b(0xff)],
  ['a lone continuation byte after "a"', b(0x61, 0x80)],
  ['an overlong "/"', b(0xc0, 0xaf)],
  ['an encoded surrogate', b(0xed, 0xa0, 0x80)],
  ['a cut 3-byte sequence', b(0x61, 0x62, 0xe2, 0x82)],
  ['a code point past U+10FFFF', b(0xf4, 0x90, 0x80, 0x80)],
]

/** Value texts that are not one JSON text, each named for the class it stands for. */
const NOT_JSON: [string, Uint8Array][] = [
  ['whitespace only', enc.encode(' ')],
  ['whitespace only (tab, newline)', enc.encode('\t\n')],
  ['trailing garbage', enc.encode('"a"x')],
  ['unterminated string', enc.encode('"abc')],
  ['a leading zero (01)', enc.encode('01')],
  ['two values (1 2)', enc.encode('1 2')],
  ['NaN', enc.encode('NaN')],
  ['[1,]', enc.encode('[1,]')],
  ['{', enc.encode('{')],
  ['a lone surrogate escape', enc.encode('"\\ud800"')],
  ['invalid UTF-8 in a string', b(0x22, 0xff, 0x22)],
  ['a bare 0xFF', b(0xff)],
  ['an overlong sequence', b(0x22, 0xc0, 0xaf, 0x22)],
  ['an encoded surrogate', b(0x22, 0xed, 0xa0, 0x80, 0x22)],
  ['a control character in a string', b(0x22, 0x01, 0x22)],
  ['1e400 (out of range)', enc.encode('1e400')],
  // BAD_VALUES, the malformed values of the differential tests; an empty one would be an absent value.
  ...BAD_VALUES.filter((v) => v.length > 0).map((v, i): [string, Uint8Array] => [`BAD_VALUES[${i}] ${JSON.stringify(new TextDecoder().decode(v))}`, v]),
]

describe('inputs are refused with an error answer, never a trap', () => {
  const cases: [string, (d: ValuesHost) => void][] = []

  // Names that are not UTF-8: the tool's error is evaluate's own, the role's names the role.
  for (const [name, bytes] of BAD_UTF8) {
    cases.push([`tool name: ${name}`, (d) => {
      const want = d.evaluateText(bytes, '{}', '{"role":"r"}')
      expect(want).toMatch(/^\{"error":"tool_name: invalid utf-8 at byte \d+"\}$/)
      expect(d.ask(bytes, 'r', [])).toBe(want)
      expect(d.ask(bytes, 'r', fixedClaims('t', 'r', ['7', '"b"']))).toBe(want)
    }])
    cases.push([`role: ${name}`, (d) => {
      const want = d.evaluateText(bytes, '{}', '{"role":"r"}').replace('tool_name: ', 'role: ')
      expect(d.ask('t', bytes, fixedClaims('t', 'r', ['7', '"b"']))).toBe(want)
      expect(d.ask('v', bytes, [])).toBe(want)
    }])
  }
  cases.push(['tool name and role both not UTF-8: the tool name wins', (d) => {
    expect(d.ask(b(0xff), b(0xff), [])).toBe(errorText('tool_name: invalid utf-8 at byte 0'))
  }])

  // Buffers outside memory.
  for (const [name, where] of OUTSIDE) {
    cases.push([`tool name ${name}`, (d) => {
      const words = goodWords(d)
      words.tool = where(d)
      expect(send(d, words)).toBe(errorText('tool_name: buffer outside memory'))
      // evaluate says the same of the same words.
      const args = d.write(enc.encode('{}'))
      const ctx = d.write(enc.encode('{"role":"r"}'))
      expect(d.readResponse(d.exports.evaluate(...words.tool, args, 2, ctx, 12))).toBe(errorText('tool_name: buffer outside memory'))
    }])
    cases.push([`role ${name}`, (d) => {
      const words = goodWords(d)
      words.role = where(d)
      expect(send(d, words)).toBe(errorText('role: buffer outside memory'))
    }])
    for (const slot of [0, 1]) {
      cases.push([`read ${slot}: the name ${name}`, (d) => {
        const words = goodWords(d)
        const [ptr, len] = where(d)
        words.records[slot]![1] = ptr
        words.records[slot]![2] = len
        expect(send(d, words)).toBe(TABLE_OUTSIDE)
      }])
      cases.push([`read ${slot}: the value ${name}`, (d) => {
        const words = goodWords(d)
        const [ptr, len] = where(d)
        words.records[slot]![3] = ptr
        words.records[slot]![4] = len
        expect(send(d, words)).toBe(TABLE_OUTSIDE)
      }])
    }
  }
  cases.push(['tool name empty, starting past memory', (d) => {
    const words = goodWords(d)
    words.tool = [d.memoryBytes + 16, 0]
    expect(send(d, words)).toBe(errorText('tool_name: buffer outside memory'))
  }])
  cases.push(['role empty, starting past memory', (d) => {
    const words = goodWords(d)
    words.role = [0xfffffff0, 0]
    expect(send(d, words)).toBe(errorText('role: buffer outside memory'))
  }])
  for (const [name, at] of [
    ['at the end of memory', (d: ValuesHost) => d.memoryBytes],
    ['straddling the end of memory (count word cut)', (d: ValuesHost) => d.memoryBytes - 2],
    ['at 2^31', () => 0x80000000],
    ['at 0xFFFFFFFC', () => 0xfffffffc],
    ['at 0xFFFFFFFF', () => 0xffffffff],
  ] as const) {
    cases.push([`values table ${name}`, (d) => {
      const words = goodWords(d)
      words.table = at(d)
      expect(send(d, words)).toBe(TABLE_OUTSIDE)
    }])
  }
  cases.push(['a count whose size wraps 32 bits to 8, the table ending at the end of memory', (d) => {
    // Read as 32-bit arithmetic, the table would be 8 bytes long and the records past it would be read: past the end of memory.
    const words = goodWords(d)
    const table = d.memoryBytes - ValuesTable.Records - 2 * ValueRecord.Size
    d.writeTable(table, words.records, 0x0ccccccd)
    words.table = table
    expect(send(d, words)).toBe(TABLE_OUTSIDE)
  }])
  cases.push(['values table whose second record straddles the end of memory', (d) => {
    // Written over the last bytes of memory (the wilderness): the count word and the first record fit, the second does not.
    const words = goodWords(d)
    const table = d.memoryBytes - ValuesTable.Records - ValueRecord.Size - 10
    d.writeTable(table, words.records.slice(0, 1), 2)
    words.table = table
    expect(send(d, words)).toBe(TABLE_OUTSIDE)
  }])
  for (const [name, count] of [
    ['0xFFFFFFFF', () => 0xffffffff],
    ['2^28', () => 2 ** 28],
    ['0x0CCCCCCD (its size wraps 32 bits to 4)', () => 0x0ccccccd],
    ['0x0CCCCCCC (its size is 0xFFFFFFF4)', () => 0x0ccccccc],
    ['one record past memory', (d: ValuesHost, table: number) => Math.floor((d.memoryBytes - table - ValuesTable.Records) / ValueRecord.Size) + 1],
  ] as const) {
    cases.push([`a count of ${name}`, (d) => {
      const words = goodWords(d)
      words.count = count(d, words.table)
      expect(send(d, words)).toBe(TABLE_OUTSIDE)
    }])
  }

  // Values that are not one JSON text: refused even where the condition would not look.
  for (const [name, text] of NOT_JSON) {
    for (const slot of [0, 1]) {
      cases.push([`read ${slot}: ${name}`, (d) => {
        const values: (string | Uint8Array)[] = ['7', '"b"']
        values[slot] = text
        const got = d.ask('t', 'r', fixedClaims('t', 'r', values))
        expect(got).toMatch(new RegExp(`^\\{"error":"evaluate_values: value ${slot} is not one JSON text at byte \\d+"\\}$`))
        // The byte is where evaluate finds the error in the same text.
        const alone = d.evaluateText('t', text, '{"role":"r"}')
        const at = /at byte (\d+)"\}$/.exec(alone)?.[1]
        if (at !== undefined) expect(got).toMatch(new RegExp(`at byte ${at}"\\}$`))
      }])
    }
  }
  cases.push(['read 1 not JSON after read 0 already fails the condition', (d) => {
    expect(d.ask('t', 'r', fixedClaims('t', 'r', ['900', '{']))).toMatch(/^\{"error":"evaluate_values: value 1 is not one JSON text/)
  }])
  cases.push(['read 1 not JSON after read 0 is absent', (d) => {
    expect(d.ask('t', 'r', fixedClaims('t', 'r', [undefined, '1 2']))).toMatch(/^\{"error":"evaluate_values: value 1 is not one JSON text/)
  }])
  cases.push(['read 2 of 5 not JSON, the Any decided by read 0', (d) => {
    expect(d.ask('many', 'r', fixedClaims('many', 'r', [undefined, undefined, 'tru', undefined, undefined]))).toMatch(/^\{"error":"evaluate_values: value 2 is not one JSON text/)
  }])
  hostileSuite(cases)

  describe("nesting: as deep as the request's own text could hold the value", () => {
    // evaluate reads 127 levels of one text and refuses 128 (spec §5). An argument
    // sits one level inside the arguments object: 126 levels of it are read, 127
    // refused. An attribute sits two inside the context: 125 read, 126 refused.
    type Case = { name: string; kind: 'arr' | 'obj'; tool: string; slot: number; levels: number; ok: boolean; args: (v: string) => string; context: (v: string) => string }
    const cases: Case[] = []
    for (const kind of ['arr', 'obj'] as const) {
      for (const [levels, ok] of [[126, true], [127, false]] as const) {
        cases.push({ name: `Arguments.amount, ${levels} levels (${kind})`, kind, tool: 't', slot: 0, levels, ok, args: (v) => `{"amount":${v}}`, context: () => '{"role":"r","agent_attrs":{"team":"b"}}' })
      }
      for (const [levels, ok] of [[125, true], [126, false]] as const) {
        cases.push({ name: `AgentAttributes.team, ${levels} levels (${kind})`, kind, tool: 't', slot: 1, levels, ok, args: () => T_ARGS, context: (v) => `{"role":"r","agent_attrs":{"team":${v}}}` })
        cases.push({ name: `ResourceAttributes.y, ${levels} levels (${kind})`, kind, tool: 'eq', slot: 1, levels, ok, args: () => '{"x":1}', context: (v) => `{"role":"r","resource_attrs":{"y":${v}}}` })
      }
    }
    test.each(cases)('$name', (c) => {
      const value = new TextDecoder().decode(nested(c.levels, c.kind))
      const d = new ValuesHost(fixed)
      const values: string[] = c.tool === 't' ? ['7', '"b"'] : ['1', '1']
      values[c.slot] = value
      const got = d.ask(c.tool, 'r', fixedClaims(c.tool, 'r', values))
      const want = d.evaluateText(c.tool, c.args(value), c.context(value))
      if (c.ok) {
        expect(shapeOf(want)).toBe('Deny')
        expect(got).toBe(want)
      } else {
        expect(want).toMatch(/^\{"error":"(arguments|context) JSON: nested 128 levels deep or more at byte \d+"\}$/)
        expect(got).toMatch(new RegExp(`^\\{"error":"evaluate_values: value ${c.slot} is not one JSON text at byte \\d+"\\}$`))
      }
      expect(probe(d)).toEqual(PROBE_EXPECTED)
    })
  })

  describe("values spelled as the request's text spells them", () => {
    const spellings: [string, string, string][] = [
      ['white space around a value', ' 900\n', '{"amount": 900\n}'],
      ['an exponent', '9e2', '{"amount":9e2}'],
      ['a long mantissa', '900.000000000000000000001', '{"amount":900.000000000000000000001}'],
      ['an escaped string', '"\\u0061\\/"', '{"amount":"\\u0061\\/"}'],
      ['a long string, quoted cut', JSON.stringify('é'.repeat(50)), `{"amount":${JSON.stringify('é'.repeat(50))}}`],
    ]
    test.each(spellings)('%s', (_name, value, args) => {
      const d = new ValuesHost(fixed)
      const want = d.evaluateText('t', args, '{"role":"r","agent_attrs":{"team":"b"}}')
      expect(shapeOf(want)).toBe('Deny')
      expect(d.ask('t', 'r', fixedClaims('t', 'r', [value, '"b"']))).toBe(want)
    })
  })

  describe('an absent value (length 0) is not read: it may point anywhere', () => {
    const anywhere: [string, (d: ValuesHost) => number][] = [
      ['0', () => 0],
      ['1', () => 1],
      ["inside the module's own data", () => 4096],
      ['the last byte of memory', (d) => d.memoryBytes - 1],
      ['the end of memory', (d) => d.memoryBytes],
      ['past memory', (d) => d.memoryBytes + 4096],
      ['2^31', () => 0x80000000],
      ['0xFFFFFFFF', () => 0xffffffff],
    ]
    test.each(anywhere)('at %s', (_name, at) => {
      const d = new ValuesHost(fixed)
      for (const slot of [0, 1]) {
        const words = goodWords(d)
        words.records[slot]![3] = at(d)
        words.records[slot]![4] = 0
        const args = slot === 0 ? '{}' : T_ARGS
        const context = slot === 0 ? '{"role":"r","agent_attrs":{"team":"b"}}' : '{"role":"r","agent_attrs":[]}'
        const want = d.evaluateText('t', args, context)
        expect(want).toContain(slot === 0 ? 'Arguments.amount is missing' : 'AgentAttributes.team is missing')
        expect(send(d, words), `read ${slot}`).toBe(want)
      }
      expect(probe(d)).toEqual(PROBE_EXPECTED)
    })
  })
})

describe('a corrupt policy answers an error, whatever the claims', () => {
  // docs/design.md "Loud failure": every call of a corrupt blob answers the corrupt-policy error,
  // never a decision. The runtime names the export that answers (as `init: …` does).
  const CORRUPT = errorText('evaluate_values: the policy in this artifact is corrupt; recompile it with perso compile')
  const corruptions: [string, (blob: DataView) => void][] = [
    ['another format', (blob) => blob.setUint32(Header.Format, 1, true)],
    ['no magic', (blob) => blob.setUint32(Header.Magic, 0, true)],
    ['a default action neither Deny nor Allow', (blob) => blob.setUint32(Header.DefaultAction, 2, true)],
    ['a condition count past the blob', (blob) => blob.setUint32(Header.ConditionCount, 1000, true)],
  ]
  test.each(corruptions)('%s', (_name, corrupt) => {
    const template = new WebAssembly.Module(readFileSync(new URL('../dist/runtime/runtime.wasm', import.meta.url)))
    const program = check(policySource(FIXED)).program!
    const host = linkInMemory(template, (base) => {
      const blob = codegen(program, base)
      corrupt(new DataView(blob.buffer, blob.byteOffset, blob.byteLength))
      return blob
    })
    const d = new ValuesHost(host.exports as ValuesHost['exports'])
    for (const ask of [
      () => d.ask('t', 'r', fixedClaims('t', 'r', ['7', '"b"'])),
      () => d.ask('t', 'r', fixedClaims('t', 'r', ['900', '"b"'])),
      () => d.ask('v', 'r', []),
      () => d.ask('nope', 'r', []),
      () => d.ask('t', 'r', []),
    ]) {
      expect(ask()).toBe(CORRUPT)
    }
    expect(d.evaluateText('v', '{}', '{"role":"r"}')).toMatch(/^\{"error":"evaluate: the policy in this artifact is corrupt/)
  })
})

// ---------------------------------------------------------------------------
// 4. Random garbage

/** xorshift32 from a seed: a u32 per call. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
}

const GARBAGE_TEXTS = ['7', '900', '"a"', '"b"', 'null', '{"k":[1,2]}', '"\\u00e9"', '1 2', '{', ' ', '[[[]]]', '"\\ud800"', '1e400'].map((t) => enc.encode(t))
const GARBAGE_NAMES = ['amount', 'team', 'x', 'y', 'force', 'n', 'a"b', 'id', 'owner', 'ünï', 'amounT', ''].map((t) => enc.encode(t))

/**
 * One garbage call on `d`: mostly the names and claims of an entry of FIXED (or
 * of a pair without entry), any word of which may be wrong; pointers stay below
 * 64 KiB or far past memory (a buffer ending at the end of memory moves scratch
 * above it, by design, so those would grow memory every call). Every buffer it
 * allocated and the response are released.
 */
function garbageCall(d: ValuesHost, next: () => number): string {
  const below = (n: number) => next() % n
  const pairs: [string, string][] = [...fixedMetadata.entries.map(([t, r]): [string, string] => [fixedMetadata.tools[t]!, fixedMetadata.roles[r]!]), ['nope', 'r'], ['t', 'rôle']]
  const [tool, role] = pairs[below(pairs.length)]!
  const reads = readsOf(fixedMetadata, tool, role) ?? []
  const buffers: [number, number][] = []
  const put = (bytes: Uint8Array): [number, number] => {
    const ptr = d.write(bytes)
    buffers.push([ptr, bytes.length])
    return [ptr, bytes.length]
  }
  const randomBytes = () => Uint8Array.from({ length: below(24) }, () => below(256))
  const anywhere = (): [number, number] => (below(2) === 0 ? [below(65_536), below(256)] : [0x80000000 + below(0x7fffffff), below(64)])
  const name = (good: string): [number, number] => {
    const how = below(16)
    return how < 12 ? put(enc.encode(good)) : how < 15 ? put(below(2) === 0 ? randomBytes() : GARBAGE_NAMES[below(GARBAGE_NAMES.length)]!) : anywhere()
  }
  const toolWords = name(tool)
  const roleWords = name(role)
  const count = below(4) !== 0 ? reads.length : below(7)
  const records: RawRecord[] = []
  for (let r = 0; r < count; r++) {
    const read = reads[r]
    const good = read !== undefined && below(8) !== 0
    const source = good ? claimOf(read).source : below(4) === 0 ? next() : below(3)
    const [namePtr, nameLen] = good ? name(read.field) : below(2) === 0 ? put(GARBAGE_NAMES[below(GARBAGE_NAMES.length)]!) : anywhere()
    const how = below(12)
    const [valuePtr, valueLen] =
      how < 6 ? put(GARBAGE_TEXTS[below(GARBAGE_TEXTS.length)]!) : how < 8 ? put(randomBytes()) : how < 10 ? [next(), 0] : anywhere()
    records.push([source, namePtr, nameLen, valuePtr, valueLen])
  }
  let table: number
  const where = below(32)
  if (where < 30) {
    const size = ValuesTable.Records + records.length * ValueRecord.Size
    table = d.alloc(size + 3)
    buffers.push([table, size + 3])
    table += below(4)
    d.writeTable(table, records, below(16) === 0 ? next() : records.length)
  } else table = where === 30 ? below(65_536) : 0x80000000 + below(0x7fffffff)
  const text = d.callRaw(...toolWords, ...roleWords, table)
  for (const [ptr, len] of buffers) d.exports.dealloc(ptr, len)
  return text
}

describe('random garbage', () => {
  const ERROR_KINDS = [/^tool_name: /, /^role: /, /^evaluate_values: the values do not claim/, /^evaluate_values: value \d+ is not one JSON text/, /^evaluate_values: values table outside memory$/]

  test('3000 calls answer a decision or an error, never trap, and change no later decision', () => {
    const d = new ValuesHost(fixed)
    const next = xorshift(SEED)
    const seen = { Allow: 0, Deny: 0, error: 0 }
    for (let i = 0; i < 3000; i++) {
      let text: string
      try {
        text = garbageCall(d, next)
      } catch (e) {
        throw new Error(`call ${i} (PERSO_SEED=${SEED}): ${e instanceof Error ? e.message : String(e)}`)
      }
      const shape = shapeOf(text)
      seen[shape]++
      if (shape === 'error') {
        const { error } = JSON.parse(text) as { error: string }
        expect(ERROR_KINDS.some((kind) => kind.test(error)), `call ${i} (PERSO_SEED=${SEED}): ${error}`).toBe(true)
      }
      if (i % 10 === 9) expect(probe(d), `probe after call ${i} (PERSO_SEED=${SEED})`).toEqual(PROBE_EXPECTED)
    }
    console.log('garbage answers:', JSON.stringify(seen))
    expect(seen.Allow).toBeGreaterThan(150)
    expect(seen.Deny).toBeGreaterThan(150)
    expect(seen.error).toBeGreaterThan(600)
  })

  test(`memory is flat after warm-up over ${CALLS.toLocaleString('en')} calls whose responses the host releases`, () => {
    const d = new ValuesHost(fixed)
    const next = xorshift(SEED ^ 0x5eed)
    const seen = { Allow: 0, Deny: 0, error: 0 }
    const warmUp = Math.min(1000, CALLS / 10)
    let warm = 0
    for (let i = 0; i < CALLS; i++) {
      seen[shapeOf(garbageCall(d, next))]++
      if (i === warmUp) warm = d.memoryBytes
    }
    console.log(`${CALLS} garbage calls (PERSO_SEED=${SEED}):`, JSON.stringify(seen), `memory ${d.memoryBytes} bytes, ${warm} after ${warmUp}`)
    expect(d.memoryBytes, `PERSO_SEED=${SEED}`).toBe(warm)
    expect(warm, `PERSO_SEED=${SEED}`).toBeLessThan(1024 * 1024)
    expect(probe(d)).toEqual(PROBE_EXPECTED)
    expect(seen.Allow).toBeGreaterThan(CALLS / 20)
    expect(seen.Deny).toBeGreaterThan(CALLS / 20)
    expect(seen.error).toBeGreaterThan(CALLS / 5)
  }, Math.max(30_000, CALLS))
})

// ---------------------------------------------------------------------------
// 5. Every entry of tables of 0–40 entries

/**
 * `n` entries, default `defaultAction`: entry i is (tool `tNN`, role `r` or `s`),
 * every third without condition, the others reading their own field `fNN`, so
 * that another entry's claims never pass for this one's.
 */
function tablePolicy(n: number, defaultAction: 'Allow' | 'Deny'): Policy {
  const tool = (i: number) => `t${String(i).padStart(2, '0')}`
  const rules: Rule[] = []
  for (let i = 0; i < n; i++) {
    const rule: Rule = { tool_name: tool(i), roles: [i % 2 === 0 ? 'r' : 's'] }
    if (i % 3 !== 0) rule.condition = { NumericCheck: { source: i % 4 === 1 ? 'Arguments' : 'ResourceAttributes', field: `f${tool(i)}`, op: 'Lte', value: i } }
    rules.push(rule)
  }
  return { version: `table-${n}`, default_action: defaultAction, tools: Array.from({ length: n }, (_, i) => tool(i)), roles: ['r', 's'], rules }
}

describe('every entry of tables of 0–40 entries', () => {
  const sizes = [...Array.from({ length: 41 }, (_, n) => [n, 'Deny'] as const), ...[0, 1, 17, 40].map((n) => [n, 'Allow'] as const)]
  test(`${sizes.length} tables: every entry and the pairs around them answer evaluate's bytes`, async () => {
    const tally = { entries: 0, absent: 0, refusedNeighbours: 0 }
    for (const [n, defaultAction] of sizes) {
      const { module, metadata } = await compiled(tablePolicy(n, defaultAction))
      expect(metadata.entries.length, `${n} entries`).toBe(n)
      const d = new ValuesHost(module)
      const pairs = metadata.entries.map(([t, r]): [string, string] => [metadata.tools[t]!, metadata.roles[r]!])
      const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      const last = sorted.at(-1)?.[0] ?? 't'
      const where = (tool: string, role: string) => `table of ${n} (default ${defaultAction}), (${JSON.stringify(tool)}, ${JSON.stringify(role)})`
      // Every entry, with its field passing, failing and absent.
      for (const [i, [tool, role]] of pairs.entries()) {
        const reads = readsOf(metadata, tool, role)!
        const index = Number(tool.slice(1))
        for (const value of [String(index), String(index + 1), undefined]) {
          const claims = reads.map((read) => claimOf(read, value))
          const member = value === undefined || reads.length === 0 ? '' : `"${reads[0]!.field}":${value}`
          const inArgs = reads[0]?.source === 'Arguments'
          const want = d.evaluateText(tool, `{${inArgs ? member : ''}}`, `{"role":"${role}","resource_attrs":{${inArgs ? '' : member}}}`)
          expect(d.ask(tool, role, claims, LAYOUTS[i % 3]), where(tool, role)).toBe(want)
          expect(want, where(tool, role)).toMatch(/"reason":"rule matched/)
        }
        // A neighbour's claims are not this entry's.
        for (const other of [i - 1, i + 1]) {
          const neighbour = pairs[other]
          if (neighbour === undefined) continue
          const theirs = readsOf(metadata, ...neighbour)!
          if (theirs.length === 0 && reads.length === 0) continue
          expect(d.ask(tool, role, theirs.map((read) => claimOf(read, '0'))), `${where(tool, role)} with the claims of ${neighbour.join('/')}`).toBe(refusal(metadata, tool, role))
          tally.refusedNeighbours++
        }
        tally.entries++
      }
      // Pairs the table does not hold: around every entry, and past the last one in sort order.
      const absent: [string, string][] = [
        ['', 'r'], ['t', 'r'], ['t0', 's'], [`t${String(n).padStart(2, '0')}`, 'r'], [`t${String(n).padStart(2, '0')}`, 's'],
        [last + '\u0000', 'r'], [last + ' ', 's'], [last + '0', 'r'], ['t99', 'r'], ['u', 'r'], ['\u{10ffff}', 's'], ['t00', ''], ['t00', 'r\u0000'],
        ...pairs.flatMap(([tool, role]): [string, string][] => [[tool, role === 'r' ? 's' : 'r'], [tool + '\u0000', role], [tool.slice(0, -1), role]]),
      ]
      for (const [tool, role] of absent) {
        if (readsOf(metadata, tool, role) !== undefined) continue
        const want = d.evaluateText(tool, '{}', JSON.stringify({ role }))
        expect(want, where(tool, role)).toBe(JSON.stringify({ decision: defaultAction, reason: `no rule matched tool '${tool}' for role '${role}'; applying default_action` }))
        expect(d.ask(tool, role, []), where(tool, role)).toBe(want)
        if (n > 0) {
          const lastReads = readsOf(metadata, ...sorted.at(-1)!)!
          const claims = lastReads.length > 0 ? lastReads.map((read) => claimOf(read, '0')) : [claimOf({ source: 'Arguments', field: 'ft00' }, '0')]
          expect(d.ask(tool, role, claims), `${where(tool, role)} claiming the last entry's reads`).toBe(refusal(metadata, tool, role))
        }
        tally.absent++
      }
    }
    console.log('tables:', JSON.stringify(tally))
    expect(tally.entries).toBe(41 * 20 + 1 + 17 + 40)
    expect(tally.absent).toBeGreaterThan(1000)
  }, 30_000)
})

// ---------------------------------------------------------------------------
// 6. The SDK on artifacts without evaluate_values

/** The artifact with `evaluate_values` removed, everything else (the `perso` section too) kept. */
function withoutValuesExport(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  const module = binaryen.readBinary(wasm)
  try {
    module.removeExport('evaluate_values')
    return new Uint8Array(module.emitBinary())
  } finally {
    module.dispose()
  }
}

interface Scenario {
  name: string
  tool: string
  args: unknown
  context: { role: string; agent_attrs?: unknown; resource_attrs?: unknown }
}

const toEvaluateRequest = (r: JsRequest): EvaluateRequest => ({ tool: r.tool, role: r.role, args: r.args, agentAttributes: r.agent, resourceAttributes: r.resource })
const fromScenario = (s: Scenario): EvaluateRequest => ({ tool: s.tool, role: s.context.role, args: s.args, agentAttributes: s.context.agent_attrs, resourceAttributes: s.context.resource_attrs })

/** The previous release's CRM artifact (it has `evaluate_fields`, not `evaluate_values`), when the bench keeps one. */
const BASELINE = new URL('../bench/baseline/crm-d8a7d26.wasm', import.meta.url)
const CRM = readFileSync(new URL('../fixtures/crm.json', import.meta.url), 'utf8')

describe('SDK fallback for artifacts without evaluate_values', () => {
  let scenarios: EvaluateRequest[]
  let crmRequests: EvaluateRequest[]
  let crmWasm: Uint8Array
  beforeAll(async () => {
    const { CRM_SCENARIOS } = (await import(new URL('../bench/scenarios.js', import.meta.url).href)) as { CRM_SCENARIOS: Scenario[] }
    scenarios = CRM_SCENARIOS.map(fromScenario)
    crmRequests = fc.sample(jsRequestArb(JSON.parse(CRM) as Policy), { numRuns: 300, seed: SEED }).map(toEvaluateRequest)
    crmWasm = (await compile(CRM)).wasm!
  })

  /** `artifact` decides every request like itself with fastPath: false, and like `reference` (decision, or all of it). */
  async function decidesLike(artifact: Uint8Array, reference: Uint8Array, requests: EvaluateRequest[], same: 'decision' | 'answer') {
    const sdk = await Perso.load(artifact)
    const text = await Perso.load(artifact, { fastPath: false })
    const fresh = await Perso.load(reference)
    const tally = { Allow: 0, Deny: 0 }
    for (const request of requests) {
      const got = sdk.evaluateSync(request)
      const where = `\nrequest: ${JSON.stringify(request)}`
      expect(got, `fastPath: false${where}`).toEqual(text.evaluateSync(request))
      const want = fresh.evaluateSync(request)
      if (same === 'answer') expect(got, `the artifact with the export${where}`).toEqual(want)
      else expect(got.decision, `the fresh artifact${where}`).toBe(want.decision)
      tally[got.decision]++
    }
    await Promise.all([sdk.close(), text.close(), fresh.close()])
    return tally
  }

  test('a fresh CRM artifact stripped of the export: the CRM scenarios and random requests', async () => {
    const stripped = withoutValuesExport(crmWasm)
    const module = new WebAssembly.Module(stripped)
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(['alloc', 'dealloc', 'evaluate', 'init', 'memory'])
    expect(hasValuesExport(RawArtifact.loadSync(module).exports)).toBe(false)
    expect(hasValuesExport(RawArtifact.loadSync(crmWasm as Uint8Array<ArrayBuffer>).exports)).toBe(true)
    const tally = await decidesLike(stripped, crmWasm, [...scenarios, ...crmRequests], 'answer')
    console.log('SDK fallback, stripped CRM:', JSON.stringify(tally))
    expect(tally.Allow).toBeGreaterThan(20)
    expect(tally.Deny).toBeGreaterThan(20)
  })

  test('random policies stripped of the export', async () => {
    const cases = fc.sample(
      policyArb.chain((policy) => fc.record({ policy: fc.constant(policy), requests: fc.array(jsRequestArb(policy), { minLength: 100, maxLength: 100 }) })),
      { numRuns: 4, seed: SEED },
    )
    for (const { policy, requests } of cases) {
      const { wasm } = await compiled(policy)
      await decidesLike(withoutValuesExport(wasm), wasm, requests.map(toEvaluateRequest), 'answer')
    }
  })

  test.skipIf(!existsSync(BASELINE))("the previous release's CRM artifact decides like today's through the raw ABI", async () => {
    const baseline = new Uint8Array(readFileSync(BASELINE))
    const names = WebAssembly.Module.exports(new WebAssembly.Module(baseline)).map((e) => e.name)
    expect(names).toContain('evaluate_fields')
    expect(names).not.toContain('evaluate_values')
    // Its engine may word some reasons as that release did (bench/baseline/README.md): the decisions must agree.
    const [old, fresh] = await Promise.all([RawArtifact.load(baseline), RawArtifact.load(crmWasm as Uint8Array<ArrayBuffer>)])
    const context = (r: EvaluateRequest) => JSON.stringify({ role: r.role, agent_attrs: r.agentAttributes, resource_attrs: r.resourceAttributes })
    for (const request of [...scenarios, ...crmRequests]) {
      const args = JSON.stringify(request.args ?? {})
      const want = fresh.evaluate(request.tool, args, context(request))
      expect(shapeOf(JSON.stringify(want))).not.toBe('error')
      expect(old.evaluate(request.tool, args, context(request)), `request: ${JSON.stringify(request)}`).toMatchObject({ decision: (want as { decision: string }).decision })
    }
  })

  test.skipIf(!existsSync(BASELINE))("the previous release's CRM artifact loads in the SDK and decides like fastPath: false", async () => {
    const baseline = new Uint8Array(readFileSync(BASELINE))
    const tally = await decidesLike(baseline, crmWasm, [...scenarios, ...crmRequests], 'decision')
    console.log('SDK fallback, baseline CRM:', JSON.stringify(tally))
    expect(tally.Allow).toBeGreaterThan(20)
    expect(tally.Deny).toBeGreaterThan(20)
  })
  if (!existsSync(BASELINE)) console.log('values.test.ts: bench/baseline/crm-d8a7d26.wasm is absent; only stripped artifacts are loaded')
})
