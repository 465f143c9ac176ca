// The optional fields export `evaluate_fields(entry, table) -> resp`
// (docs/design.md "The fields export"), driven directly through module memory:
// a differential property against the standard `evaluate`, invalid input,
// random garbage (well-formed answers, nothing changed, bounded memory), absent
// values, and the SDK's fallback for artifacts without the export.
// Reproduce a property failure with the seed and path fast-check prints; the
// 100k-call loop prints its own seed (PERSO_FIELDS_SEED to replay it; PERSO_FIELDS_CALLS for more calls).

import fc from 'fast-check'
import binaryen from 'binaryen'
import { beforeAll, describe, expect, test } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Policy, Source } from '../src/compiler/policy.js'
import type { ArtifactExports } from '../src/host/abi.js'
import { type Metadata, readMetadata } from '../src/host/metadata.js'
import type { EvaluateRequest } from '../src/sdk/request.js'
import { aimsOf, FIELD_POOL, policyArb, policySource, ROLE_POOL, TOOL_POOL, type Aims } from './support/arbitraries.js'
import { nextDouble } from './support/json-text.js'
import { expandTable } from './support/reference.js'

const POLICIES = Number(process.env.PERSO_FUZZ_RUNS ?? 60)
const enc = new TextEncoder()
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const INVALID = { error: 'evaluate_fields: invalid input' }

// ---------------------------------------------------------------------------
// A raw host for the fields export: alloc, write, call, read the framed answer.

type FieldsExports = ArtifactExports & { evaluate_fields(entry: number, table: number): number }
/** The entry index that asks for the default action (docs/design.md "The fields export"). */
const NO_ENTRY = 0xffffffff

/** What `evaluate_fields` answered, once checked to be well formed. */
type FieldsAnswer = { kind: 'A' } | { kind: 'D'; account: string } | { kind: 'error'; error: string }

/** Where the table and the values go: all are `alloc` addresses, in different orders. */
type Layout = 'one-buffer' | 'table-first' | 'values-first'
const LAYOUTS: Layout[] = ['one-buffer', 'table-first', 'values-first']

/**
 * The answer bytes as a FieldsAnswer; throws when they are none of `A`,
 * `D` + UTF-8, or a JSON object with one string `error`.
 */
function parseFields(bytes: Uint8Array): FieldsAnswer {
  const show = () => JSON.stringify([...bytes.subarray(0, 80)])
  if (bytes.length === 0) throw new Error('empty fields answer')
  if (bytes[0] === 0x41) {
    if (bytes.length !== 1) throw new Error(`'A' answer with trailing bytes: ${show()}`)
    return { kind: 'A' }
  }
  if (bytes[0] === 0x44) return { kind: 'D', account: strict.decode(bytes.subarray(1)) }
  if (bytes[0] === 0x7b) {
    const parsed = JSON.parse(strict.decode(bytes)) as unknown
    if (typeof parsed !== 'object' || parsed === null || Object.keys(parsed).join() !== 'error' || typeof (parsed as { error: unknown }).error !== 'string') {
      throw new Error(`malformed error answer: ${strict.decode(bytes)}`)
    }
    return { kind: 'error', error: (parsed as { error: string }).error }
  }
  throw new Error(`fields answer is not A, D or an error: ${show()}`)
}

class Driver {
  readonly exports: FieldsExports
  constructor(readonly module: WebAssembly.Module) {
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as FieldsExports
  }

  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer)
  }
  view(): DataView {
    return new DataView(this.exports.memory.buffer)
  }

  /** A fresh `alloc` buffer of `len` bytes; throws when alloc fails. */
  alloc(len: number): number {
    const ptr = this.exports.alloc(len)
    if (ptr === 0) throw new Error(`alloc(${len}) failed`)
    return ptr
  }

  put(bytes: Uint8Array): number {
    const ptr = this.alloc(bytes.length)
    this.bytes().set(bytes, ptr)
    return ptr
  }

  /** The framed answer at `resp`, copied; throws when the frame is outside memory. */
  answer(resp: number): Uint8Array {
    const at = resp >>> 0
    const size = this.memoryBytes
    if (at + 4 > size) throw new Error(`answer pointer ${at} outside memory (${size})`)
    const len = this.view().getUint32(at, true)
    if (at + 4 + len > size) throw new Error(`answer [${at}, +${len}] outside memory (${size})`)
    return this.bytes().slice(at + 4, at + 4 + len)
  }

  evaluate(tool: string | Uint8Array, args: string | Uint8Array, ctx: string | Uint8Array): Record<string, unknown> {
    const inputs = [tool, args, ctx].map((x) => (typeof x === 'string' ? enc.encode(x) : x))
    const ptrs = inputs.map((b) => this.put(b))
    const resp = this.exports.evaluate(ptrs[0]!, inputs[0]!.length, ptrs[1]!, inputs[1]!.length, ptrs[2]!, inputs[2]!.length)
    return JSON.parse(strict.decode(this.answer(resp))) as Record<string, unknown>
  }

  /** Writes `pairs` as the table (u32 LE ptr, len) at `table`. */
  writeTable(table: number, pairs: [number, number][]): void {
    const view = this.view()
    pairs.forEach(([ptr, len], i) => {
      view.setUint32(table + 8 * i, ptr >>> 0, true)
      view.setUint32(table + 8 * i + 4, len >>> 0, true)
    })
  }

  /** `evaluate_fields(entry, table)`, the answer's bytes. */
  callRaw(entry: number, table: number): Uint8Array {
    return this.answer(this.exports.evaluate_fields(entry | 0, table | 0))
  }

  /**
   * One value per read (undefined = absent: len 0, ptr an in-memory address),
   * written in `layout`, then `evaluate_fields(entry, table)`.
   */
  fields(entry: number, values: (Uint8Array | undefined)[], layout: Layout = 'table-first'): Uint8Array {
    const n = values.length
    let table: number
    const pairs: [number, number][] = []
    if (layout === 'one-buffer') {
      const total = 8 * n + values.reduce((s, v) => s + (v?.length ?? 0), 0)
      table = this.alloc(total)
      let p = table + 8 * n
      for (const v of values) {
        if (v === undefined || v.length === 0) pairs.push([table, 0])
        else {
          this.bytes().set(v, p)
          pairs.push([p, v.length])
          p += v.length
        }
      }
    } else {
      table = layout === 'table-first' ? this.alloc(8 * n) : 0
      for (const v of values) pairs.push(v === undefined || v.length === 0 ? [0, 0] : [this.put(v), v.length])
      if (layout === 'values-first') table = this.alloc(8 * n)
      for (const pair of pairs) if (pair[1] === 0) pair[0] = table
    }
    this.writeTable(table, pairs)
    return this.callRaw(entry, table)
  }
}

/** Index of the (tool, role) entry in the metadata, or -1. */
function entryIndex(metadata: Metadata, tool: string, role: string): number {
  return metadata.entries.findIndex(([t, r]) => metadata.tools[t] === tool && metadata.roles[r] === role)
}

const readsOf = (metadata: Metadata, entry: number) => {
  const condition = metadata.entries[entry]![3]
  return condition === null ? [] : metadata.conditions[condition]!.reads
}

/** The JSON text of field `field` of `source` as the artifact reads it; undefined when absent. */
function valueText(source: unknown, field: string): Uint8Array | undefined {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined
  if (!Object.hasOwn(source, field)) return undefined
  const value = (source as Record<string, unknown>)[field]
  return value === undefined ? undefined : enc.encode(JSON.stringify(value))
}

async function compiled(policy: Policy): Promise<WebAssembly.Module> {
  const source = policySource(policy)
  const result = await compile(source)
  if (result.wasm === undefined) throw new Error(`policy did not compile:\n${source}\n${result.diagnostics.map((d) => d.message).join('\n')}`)
  return new WebAssembly.Module(result.wasm)
}

function metadataOf(module: WebAssembly.Module): Metadata {
  const metadata = readMetadata(module)
  if (metadata instanceof Error) throw metadata
  return metadata
}

const head = (tool: string, role: string) => `rule matched tool '${tool}' for role '${role}'; `
const failedSentence = (tool: string, role: string) => head(tool, role) + 'condition failed'

// ---------------------------------------------------------------------------
// Requests as JS values, aimed at a policy

/** Strings whose account must come out plain: quotes, backslashes, control characters, non-ASCII, cuts at 64 bytes. */
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
function sourceArb(aims: Aims, source: Source): fc.Arbitrary<Member[] | unknown> {
  const fields = aims.fields[source].length > 0 ? aims.fields[source] : FIELD_POOL
  const key = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...fields) }, { weight: 1, arbitrary: fc.constantFrom('other', '__proto__', 'toString') })
  const value = fc.oneof({ weight: 12, arbitrary: jsValueArb(aims) }, { weight: 1, arbitrary: fc.constant(undefined) })
  const members = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((m) => ({ members: m }))
  return fc.oneof({ weight: 12, arbitrary: members }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)) })
}

interface JsRequest {
  tool: string
  role: string
  args: unknown
  agent: unknown
  resource: unknown
}

function build(spec: unknown, shared: unknown): unknown {
  if (typeof spec === 'object' && spec !== null && 'members' in spec) {
    // Object.fromEntries makes every key an own member, `__proto__` included, as JSON.parse does.
    return Object.fromEntries((spec as { members: Member[] }).members.map(([k, v]) => [k, v === SHARED ? shared : v]))
  }
  return spec
}

function jsRequestArb(policy: Policy): fc.Arbitrary<JsRequest> {
  const aims = aimsOf(policy)
  const pairs = [...expandTable(policy)].flatMap(([tool, byRole]) => [...byRole.keys()].map((role): [string, string] => [tool, role]))
  const pool = <T>(items: T[], fallback: T[]) => (items.length > 0 ? items : fallback)
  const pair = fc.oneof(
    ...(pairs.length > 0 ? [{ weight: 10, arbitrary: fc.constantFrom(...pairs) }] : []),
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...pool(aims.tools, TOOL_POOL)), fc.constantFrom(...pool(aims.roles, ROLE_POOL))) },
  )
  const attrs = (source: Source) => fc.oneof({ weight: 8, arbitrary: sourceArb(aims, source) }, { weight: 1, arbitrary: fc.constant(undefined) })
  const shared = jsValueArb(aims).filter((v) => v !== SHARED)
  return fc
    .record({ pair, shared, args: sourceArb(aims, 'Arguments'), agent: attrs('AgentAttributes'), resource: attrs('ResourceAttributes') })
    .map(({ pair: [tool, role], shared, args, agent, resource }) => ({
      tool,
      role,
      args: build(args, shared),
      agent: build(agent, shared),
      resource: build(resource, shared),
    }))
}

const sourceValue = (r: JsRequest, source: Source): unknown => (source === 'Arguments' ? r.args : source === 'AgentAttributes' ? r.agent : r.resource)
const argsText = (r: JsRequest) => JSON.stringify(r.args)
const contextText = (r: JsRequest) => JSON.stringify({ role: r.role, agent_attrs: r.agent, resource_attrs: r.resource })
const needsEscape = (s: string) => /["\\\u0000-\u001f]|[^\u0000-\u007f]/u.test(s)

// ---------------------------------------------------------------------------

describe('evaluate_fields against evaluate', () => {
  test(`the same decision and wording on ${POLICIES} random policies × up to 60 requests`, async () => {
    const counts = { allow: 0, allowByCondition: 0, deny: 0, denyOddAccount: 0, denyMissing: 0, noRule: 0, emptyAccount: 0 }
    const casesArb = policyArb.chain((policy) =>
      fc.record({
        policy: fc.constant(policy),
        requests: fc.array(fc.tuple(jsRequestArb(policy), fc.constantFrom(...LAYOUTS), fc.boolean()), { minLength: 1, maxLength: 60, size: 'max' }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(casesArb, async ({ policy, requests }) => {
        const module = await compiled(policy)
        const metadata = metadataOf(module)
        const d = new Driver(module)
        for (const [request, layout, fieldsFirst] of requests) {
          const { tool, role } = request
          const where = `\npolicy: ${policySource(policy)}\nargs: ${argsText(request)}\ncontext: ${contextText(request)}\nlayout: ${layout}`
          const entry = entryIndex(metadata, tool, role)
          const values = entry === -1 ? [] : readsOf(metadata, entry).map((read) => valueText(sourceValue(request, read.source), read.field))
          // Either call first: they share the arena and scratch.
          const early = entry !== -1 && fieldsFirst ? d.fields(entry, values, layout) : undefined
          const answer = d.evaluate(tool, argsText(request), contextText(request))
          expect(answer, `evaluate refused a well-formed request${where}`).not.toHaveProperty('error')
          const reason = String(answer.reason)
          if (reason.startsWith('no rule')) {
            expect(entry, `evaluate found no rule, the metadata has entry ${entry}${where}`).toBe(-1)
            // Index 0xFFFFFFFF asks for the default action: the same decision, no account.
            expect(parseFields(d.fields(NO_ENTRY, [], layout)), `evaluate_fields without entry${where}`).toEqual({ kind: answer.decision === 'Allow' ? 'A' : 'D', account: answer.decision === 'Allow' ? undefined : '' })
            counts.noRule++
            continue
          }
          expect(entry, `evaluate matched a rule the metadata has no entry for${where}`).not.toBe(-1)
          const got = parseFields(early ?? d.fields(entry, values, layout))
          const conditioned = metadata.entries[entry]![3] !== null
          if (got.kind === 'A') {
            expect(answer, `evaluate_fields allowed${where}`).toEqual({ decision: 'Allow', reason: head(tool, role) + (conditioned ? 'condition passed' : 'no condition required') })
            counts.allow++
            if (conditioned) counts.allowByCondition++
          } else if (got.kind === 'D') {
            const expected = failedSentence(tool, role) + (got.account === '' ? '' : ': ' + got.account)
            expect(answer, `evaluate_fields denied with account ${JSON.stringify(got.account)}${where}`).toEqual({ decision: 'Deny', reason: expected })
            counts.deny++
            if (got.account === '') counts.emptyAccount++
            if (needsEscape(got.account.replace(/…$/u, ''))) counts.denyOddAccount++
            if (got.account.endsWith(' is missing')) counts.denyMissing++
          } else {
            expect.fail(`evaluate_fields answered ${got.error}; evaluate answered ${JSON.stringify(answer)}${where}`)
          }
        }
      }),
      { numRuns: POLICIES },
    )
    console.log('fields differential:', JSON.stringify(counts))
    // Both outcomes, often, and accounts that a JSON writer would have escaped.
    const scale = POLICIES / 40
    expect(counts.allow).toBeGreaterThan(100 * scale)
    expect(counts.allowByCondition).toBeGreaterThan(30 * scale)
    expect(counts.deny).toBeGreaterThan(100 * scale)
    expect(counts.denyMissing).toBeGreaterThan(10 * scale)
    expect(counts.denyOddAccount).toBeGreaterThan(20 * scale)
    expect(counts.noRule).toBeGreaterThan(5 * scale)
  }, 60_000)
})

// ---------------------------------------------------------------------------
// A fixed policy for the invalid-input, garbage and absent-value tests

const FIXED: Policy = {
  version: 'fields-1',
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
  fixed = await compiled(FIXED)
  fixedMetadata = metadataOf(fixed)
})

const entryOf = (tool: string, role: string): number => {
  const index = entryIndex(fixedMetadata, tool, role)
  if (index === -1) throw new Error(`no entry (${tool}, ${role})`)
  return index
}

const PROBE_CONTEXT = '{"role":"r","agent_attrs":{"team":"x\\"y"}}'

/** A fixed probe through both exports; compared before and after each hostile call. */
function probe(d: Driver): unknown {
  const t = entryOf('t', 'r')
  const v = entryOf('v', 'r')
  return {
    evaluateDeny: d.evaluate('t', '{"amount":7}', PROBE_CONTEXT),
    evaluateAllow: d.evaluate('t', '{"amount":7}', '{"role":"r","agent_attrs":{"team":"b"}}'),
    evaluateNoRule: d.evaluate('nope', '{}', '{"role":"r"}'),
    fieldsDeny: parseFields(d.fields(t, [enc.encode('7'), enc.encode('"x\\"y"')])),
    fieldsAllow: parseFields(d.fields(t, [enc.encode('7'), enc.encode('"b"')])),
    fieldsNoCondition: parseFields(d.fields(v, [])),
  }
}

const PROBE_EXPECTED = {
  evaluateDeny: { decision: 'Deny', reason: `rule matched tool 't' for role 'r'; condition failed: AgentAttributes.team = "x\\"y" is not In ["a", "b"]` },
  evaluateAllow: { decision: 'Allow', reason: "rule matched tool 't' for role 'r'; condition passed" },
  evaluateNoRule: { decision: 'Deny', reason: "no rule matched tool 'nope' for role 'r'; applying default_action" },
  fieldsDeny: { kind: 'D', account: 'AgentAttributes.team = "x\\"y" is not In ["a", "b"]' },
  fieldsAllow: { kind: 'A' },
  fieldsNoCondition: { kind: 'A' },
}

describe('no entry', () => {
  test('index 0xFFFFFFFF answers the default action alone, reading no table', async () => {
    for (const defaultAction of ['Deny', 'Allow'] as const) {
      const d = new Driver(await compiled({ ...FIXED, default_action: defaultAction }))
      const want = defaultAction === 'Allow' ? 'A' : 'D'
      for (const table of [0, d.alloc(8), d.memoryBytes, 0xffffffff]) {
        expect(strict.decode(d.callRaw(NO_ENTRY, table)), `default ${defaultAction}, table at ${table}`).toBe(want)
      }
      expect(d.evaluate('nope', '{}', '{"role":"r"}').decision).toBe(defaultAction)
    }
  })
})

describe('invalid input', () => {
  test('the fixed probe answers as expected', () => {
    expect(probe(new Driver(fixed))).toEqual(PROBE_EXPECTED)
    expect(fixedMetadata.entries.length).toBe(6)
  })

  /** Each case makes one hostile call on `d` and answers its raw answer. */
  const cases: [string, (d: Driver) => Uint8Array][] = []
  const good = () => [enc.encode('7'), enc.encode('"a"')]

  // No such entry.
  for (const [name, entry] of [
    ['the number of entries', 6],
    ['2^31 - 1', 0x7fffffff],
    ['2^31', 0x80000000],
    ['0xFFFFFFFE', 0xfffffffe],
  ] as const) {
    cases.push([`entry index ${name}`, (d) => d.fields(entry, good())])
  }

  // The table outside memory (for the entry with two reads: 16 bytes).
  for (const [name, at] of [
    ['at the end of memory', (d: Driver) => d.memoryBytes],
    ['straddling the end of memory', (d: Driver) => d.memoryBytes - 8],
    ['at 2^31', () => 0x80000000],
    ['at 0xFFFFFFF8', () => 0xfffffff8],
    ['at 0xFFFFFFFF', () => 0xffffffff],
  ] as const) {
    cases.push([`table ${name}`, (d) => d.callRaw(entryOf('t', 'r'), at(d))])
  }

  // A pair whose ptr + len passes the end of memory, as read 0 or read 1.
  const outside: [string, (d: Driver) => [number, number]][] = [
    ['ends one byte past memory', (d) => [d.memoryBytes - 2, 3]],
    ['starts at the end of memory', (d) => [d.memoryBytes, 1]],
    ['starts at 0xFFFFFFFF', () => [0xffffffff, 1]],
    ['len 0xFFFFFFFF', () => [1024, 0xffffffff]],
    ['len 2^31', () => [1024, 0x80000000]],
    ['ptr + len wraps 32 bits', () => [0xfffffff0, 0x20]],
  ]
  for (const [name, pair] of outside) {
    for (const slot of [0, 1]) {
      cases.push([`read ${slot}: a pair that ${name}`, (d) => {
        const values = good().map((v) => d.put(v))
        const table = d.alloc(16)
        const pairs: [number, number][] = [[values[0]!, 1], [values[1]!, 3]]
        pairs[slot] = pair(d)
        d.writeTable(table, pairs)
        return d.callRaw(entryOf('t', 'r'), table)
      }])
    }
  }

  // A value that is not one JSON text.
  const b = (...bytes: number[]) => new Uint8Array(bytes)
  const notJson: [string, Uint8Array][] = [
    ['{', enc.encode('{')],
    ['1 2', enc.encode('1 2')],
    ['"\\ud800" (lone surrogate escape)', enc.encode('"\\ud800"')],
    ['" " (whitespace only)', enc.encode(' ')],
    ['"\\t\\n" (whitespace only)', enc.encode('\t\n')],
    ['[1,]', enc.encode('[1,]')],
    ['01', enc.encode('01')],
    ['"abc (unterminated)', enc.encode('"abc')],
    ['1e400 (out of range)', enc.encode('1e400')],
    ['NaN', enc.encode('NaN')],
    ['"a" trailing garbage', enc.encode('"a"x')],
    ['bare 0xFF', b(0xff)],
    ['"\\xFF" (invalid UTF-8 in a string)', b(0x22, 0xff, 0x22)],
    ['overlong "\\xC0\\xAF"', b(0x22, 0xc0, 0xaf, 0x22)],
    ['encoded surrogate "\\xED\\xA0\\x80"', b(0x22, 0xed, 0xa0, 0x80, 0x22)],
    ['control character in a string', b(0x22, 0x01, 0x22)],
    ['129 nested arrays', enc.encode('['.repeat(129) + ']'.repeat(129))],
  ]
  for (const [name, text] of notJson) {
    for (const slot of [0, 1]) {
      cases.push([`read ${slot}: ${name}`, (d) => {
        const values: (Uint8Array | undefined)[] = good()
        values[slot] = text
        return d.fields(entryOf('t', 'r'), values)
      }])
    }
  }
  // Every read is checked, even one the condition would never reach.
  cases.push(['read 1 invalid after read 0 already fails', (d) => d.fields(entryOf('t', 'r'), [enc.encode('900'), enc.encode('{')])])
  cases.push(['read 1 invalid after read 0 is absent', (d) => d.fields(entryOf('t', 'r'), [undefined, enc.encode('1 2')])])
  cases.push(['read 3 of 6 invalid', (d) => d.fields(entryOf('many', 'r'), [undefined, undefined, undefined, enc.encode('tru'), undefined, undefined])])

  test.each(cases)('%s: exactly the invalid-input error, and nothing changed', (_name, call) => {
    const d = new Driver(fixed)
    const before = probe(d)
    expect(before).toEqual(PROBE_EXPECTED)
    const bytes = call(d)
    expect(JSON.parse(strict.decode(bytes))).toEqual(INVALID)
    expect(probe(d)).toEqual(before)
  })

  test('all the cases one after another on one instance', () => {
    const d = new Driver(fixed)
    for (const [name, call] of cases) {
      expect(JSON.parse(strict.decode(call(d))), name).toEqual(INVALID)
      expect(probe(d), name).toEqual(PROBE_EXPECTED)
    }
    expect(cases.length).toBeGreaterThan(50)
  })
})

// ---------------------------------------------------------------------------
// Random garbage

interface Garbage {
  entry: number
  /** Byte buffers placed through alloc; random bytes or JSON texts. */
  blobs: Uint8Array[]
  /** Table placement: in an alloc buffer (at a small offset), or any address. */
  table: { alloc: true; offset: number } | { alloc: false; at: number }
  /** Table words: a pair is (ptr, len); ptrs and lens may refer to blobs. */
  pairs: [PtrSpec, LenSpec][]
}
type PtrSpec = { blob: number; offset: number } | { at: number }
type LenSpec = { rest: true } | { len: number }

const u32 = fc.integer({ min: 0, max: 0xffffffff })
const garbageArb = (entries: number): fc.Arbitrary<Garbage> =>
  fc.record({
    entry: fc.oneof({ weight: 8, arbitrary: fc.nat(entries) }, { weight: 1, arbitrary: u32 }, { weight: 1, arbitrary: fc.constantFrom(0x7fffffff, 0x80000000, 0xffffffff) }),
    blobs: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        { weight: 3, arbitrary: fc.json({ maxDepth: 2 }).map((t) => enc.encode(t)) },
        { weight: 1, arbitrary: fc.constantFrom('"', '{', '[', '1', '-', '"\\', '"\\u', 't').map((t) => enc.encode(t)) },
      ),
      { minLength: 1, maxLength: 8 },
    ),
    table: fc.oneof(
      { weight: 8, arbitrary: fc.nat(3).map((offset) => ({ alloc: true as const, offset })) },
      { weight: 1, arbitrary: u32.map((at) => ({ alloc: false as const, at })) },
    ),
    pairs: fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 6, arbitrary: fc.record({ blob: fc.nat(7), offset: fc.nat(3) }) },
          { weight: 1, arbitrary: u32.map((at) => ({ at })) },
          { weight: 1, arbitrary: fc.nat(200_000).map((at) => ({ at })) },
        ),
        fc.oneof(
          { weight: 6, arbitrary: fc.constant({ rest: true as const }) },
          { weight: 2, arbitrary: fc.nat(64).map((len) => ({ len })) },
          { weight: 1, arbitrary: u32.map((len) => ({ len })) },
        ),
      ),
      { maxLength: 12 },
    ),
  })

/** Places `g` in memory and calls the export; the answer's bytes. */
function runGarbage(d: Driver, g: Garbage): Uint8Array {
  const placed = g.blobs.map((blob) => ({ at: d.put(blob), len: blob.length }))
  const table = g.table.alloc ? d.alloc(8 * g.pairs.length + 4) + g.table.offset : g.table.at
  const pairs = g.pairs.map(([ptr, len]): [number, number] => {
    const blob = 'blob' in ptr ? placed[ptr.blob % placed.length]! : undefined
    const at = 'blob' in ptr ? blob!.at + Math.min(ptr.offset, blob!.len) : ptr.at
    const n = 'rest' in len ? (blob !== undefined ? blob.at + blob.len - at : 0) : len.len
    return [at, n]
  })
  if (g.table.alloc) d.writeTable(table, pairs)
  return d.callRaw(g.entry, table)
}

describe('random garbage', () => {
  test('every call answers A, D… or {"error"}, never traps, and changes nothing', () => {
    const d = new Driver(fixed)
    const seen = { A: 0, D: 0, error: 0 }
    fc.assert(
      fc.property(garbageArb(fixedMetadata.entries.length), (g) => {
        const got = parseFields(runGarbage(d, g))
        seen[got.kind]++
        if (got.kind === 'error') expect([INVALID.error, 'evaluate: out of memory']).toContain(got.error)
        expect(probe(d)).toEqual(PROBE_EXPECTED)
      }),
      { numRuns: 3000 },
    )
    console.log('garbage answers:', JSON.stringify(seen))
    expect(seen.A).toBeGreaterThan(50)
    expect(seen.D).toBeGreaterThan(25)
    expect(seen.error).toBeGreaterThan(300)
  })

  /** PERSO_FIELDS_CALLS scales the loop for a longer run (with PERSO_FIELDS_SEED to replay one). */
  const CALLS = Number(process.env.PERSO_FIELDS_CALLS ?? 100_000)
  test(`memory stays bounded over ${CALLS.toLocaleString('en')} garbage calls`, () => {
    const seed = Number(process.env.PERSO_FIELDS_SEED ?? Math.floor(Math.random() * 0x7fffffff))
    let state = seed || 1
    /** xorshift32: a u32. */
    const next = (): number => {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return state >>> 0
    }
    const below = (n: number) => next() % n
    const d = new Driver(fixed)
    const entries = fixedMetadata.entries.length
    const texts = ['7', '"a"', '900', 'null', '{"k":[1,2]}', '"\\u00e9"', '1 2', '{', ' '].map((t) => enc.encode(t))
    const seen = { A: 0, D: 0, error: 0 }
    let warm = 0
    for (let i = 0; i < CALLS; i++) {
      // Pointers stay below a fixed bound or far outside memory: a buffer that ends
      // at the end of memory (even an empty one) moves scratch above it, by design,
      // and `evaluate` does the same, so those would grow memory a page per call.
      const blobs: { at: number; len: number }[] = []
      for (let k = below(4) + 1; k > 0; k--) {
        const bytes = below(2) === 0 ? texts[below(texts.length)]! : Uint8Array.from({ length: below(24) }, () => below(256))
        blobs.push({ at: d.put(bytes), len: bytes.length })
      }
      // Mostly an alloc buffer (at an offset of 0 to 3) holding 8 pairs, more than
      // any entry reads (a shorter table would have the entry read stale words,
      // possibly a pair ending near the end of memory); else an address left as it is.
      const count = 8
      const allocated = below(16) !== 0
      const table = allocated ? d.alloc(8 * count + 4) + below(4) : [0, 0x80000000 + below(0x7fffffff), 0xffffffff][below(3)]!
      const pairs: [number, number][] = []
      for (let r = 0; r < count; r++) {
        const blob = blobs[below(blobs.length)]!
        const how = below(8)
        if (how < 5) pairs.push([blob.at, blob.len])
        else if (how === 5) pairs.push([below(65_536), below(4096)])
        else if (how === 6) pairs.push([blob.at, 0x80000000 + below(0x7fffffff)])
        else pairs.push([0x80000000 + below(0x7fffffff), below(64)])
      }
      if (allocated) d.writeTable(table, pairs)
      const entry = below(16) === 0 ? NO_ENTRY : below(8) === 0 ? next() : below(entries + 1)
      let got: FieldsAnswer
      try {
        got = parseFields(d.callRaw(entry, table))
      } catch (e) {
        throw new Error(`call ${i} (seed ${seed}): ${e instanceof Error ? e.message : String(e)}`)
      }
      seen[got.kind]++
      if (i === 999) warm = d.memoryBytes
      if (i % 10_000 === 9_999) expect(probe(d), `probe after call ${i} (seed ${seed})`).toEqual(PROBE_EXPECTED)
    }
    console.log(`${CALLS} garbage calls (seed ${seed}):`, JSON.stringify(seen), 'memory', d.memoryBytes)
    // The high-water mark of the first 1,000 calls holds for all the others.
    expect(d.memoryBytes, `seed ${seed}`).toBe(warm)
    expect(warm, `seed ${seed}`).toBeLessThan(4 * 1024 * 1024)
    expect(seen.A, `seed ${seed}`).toBeGreaterThan(1000)
    expect(seen.D, `seed ${seed}`).toBeGreaterThan(1000)
    expect(seen.error, `seed ${seed}`).toBeGreaterThan(1000)
  }, Math.max(30_000, CALLS / 2))
})

// ---------------------------------------------------------------------------
// Absent values

describe('absent values', () => {
  const cases: { tool: string; role: string; values: (Uint8Array | undefined)[]; args: string; context: string; account: string }[] = [
    { tool: 't', role: 'r', values: [undefined, undefined], args: '{}', context: '{"role":"r"}', account: 'Arguments.amount is missing' },
    { tool: 't', role: 'r', values: [enc.encode('7'), undefined], args: '{"amount":7}', context: '{"role":"r","agent_attrs":[]}', account: 'AgentAttributes.team is missing' },
    { tool: 'eq', role: 'r', values: [enc.encode('"é"'), undefined], args: '{"x":"é"}', context: '{"role":"r","resource_attrs":{"z":1}}', account: 'ResourceAttributes.y is missing' },
    { tool: 'eq', role: 'r', values: [undefined, enc.encode('1')], args: '5', context: '{"role":"r","resource_attrs":{"y":1}}', account: 'Arguments.x is missing' },
    { tool: 'p"q', role: 'rôle', values: [undefined], args: '{}', context: '{"role":"rôle","resource_attrs":null}', account: 'ResourceAttributes.ünï is missing' },
  ]

  test.each(cases)('$tool/$role: D with "$account", as evaluate words it', ({ tool, role, values, args, context, account }) => {
    for (const layout of LAYOUTS) {
      const d = new Driver(fixed)
      expect(parseFields(d.fields(entryOf(tool, role), values, layout)), layout).toEqual({ kind: 'D', account })
      expect(d.evaluate(tool, args, context)).toEqual({ decision: 'Deny', reason: `${failedSentence(tool, role)}: ${account}` })
    }
  })

  test('an absent pair may point anywhere in memory, its end included', () => {
    const d = new Driver(fixed)
    const t = entryOf('t', 'r')
    for (const at of [1, 1024, 4096, d.memoryBytes - 1, d.memoryBytes]) {
      const table = d.alloc(16)
      d.writeTable(table, [[at, 0], [at, 0]])
      expect(parseFields(d.callRaw(t, table)), `absent pair at ${at}`).toEqual({ kind: 'D', account: 'Arguments.amount is missing' })
    }
  })

  // docs/design.md: "`len` 0 when the field is absent": an absent value is not read, so it may point anywhere.
  test('an absent pair reads as absent wherever it points: (0, 0) and past the end of memory', () => {
    const d = new Driver(fixed)
    const table = d.alloc(16)
    const value = d.put(enc.encode('"a"'))
    for (const at of [0, 0xfffffff0]) {
      d.writeTable(table, [[at, 0], [value, 3]])
      expect(parseFields(d.callRaw(entryOf('t', 'r'), table)), `absent pair at ${at}`).toEqual({ kind: 'D', account: 'Arguments.amount is missing' })
    }
  })

  test('an entry without condition answers A on any alloc address, its words unread', () => {
    const d = new Driver(fixed)
    for (const [tool, role] of [['v', 'r'], ['v', 'rôle']] as const) {
      const entry = entryOf(tool, role)
      expect(readsOf(fixedMetadata, entry)).toEqual([])
      expect(parseFields(d.callRaw(entry, d.alloc(0)))).toEqual({ kind: 'A' })
      const table = d.alloc(16)
      d.writeTable(table, [[0xffffffff, 0xffffffff], [0x80000000, 7]])
      expect(strict.decode(d.callRaw(entry, table))).toBe('A')
      expect(d.evaluate(tool, '{}', JSON.stringify({ role }))).toEqual({ decision: 'Allow', reason: head(tool, role) + 'no condition required' })
    }
  })
})

// ---------------------------------------------------------------------------
// The SDK without the fields export

/** The artifact with `evaluate_fields` removed, everything else (the `perso` section too) kept. */
function withoutFieldsExport(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  const module = binaryen.readBinary(wasm)
  try {
    module.removeExport('evaluate_fields')
    return new Uint8Array(module.emitBinary())
  } finally {
    module.dispose()
  }
}

const toEvaluateRequest = (r: JsRequest): EvaluateRequest => ({ tool: r.tool, role: r.role, args: r.args, agentAttributes: r.agent, resourceAttributes: r.resource })

describe('SDK fallback for artifacts without evaluate_fields', () => {
  test('loads and decides like the artifact with it, and like fastPath: false', async () => {
    const { Perso } = await import('../src/sdk/perso.js')
    const { hasFieldsExport } = await import('../src/sdk/fast-path.js')
    const { RawArtifact } = await import('../src/host/abi.js')
    const tally = { Allow: 0, Deny: 0, conditionFailed: 0, requests: 0 }
    const casesArb = policyArb.chain((policy) =>
      fc.record({ policy: fc.constant(policy), requests: fc.array(jsRequestArb(policy), { minLength: 150, maxLength: 200 }) }),
    )
    const check = async ({ policy, requests }: { policy: Policy; requests: JsRequest[] }): Promise<void> => {
      const source = policySource(policy)
      const result = await compile(source)
      const wasm = result.wasm!
      const stripped = withoutFieldsExport(wasm)
      const strippedModule = new WebAssembly.Module(stripped)
      expect(WebAssembly.Module.exports(strippedModule).map((e) => e.name).sort()).toEqual(['alloc', 'dealloc', 'evaluate', 'init', 'memory'])
      expect(hasFieldsExport(RawArtifact.loadSync(strippedModule).exports)).toBe(false)
      const module = new WebAssembly.Module(wasm)
      expect(hasFieldsExport(RawArtifact.loadSync(module).exports)).toBe(true)
      const old = await Perso.load(stripped)
      const fast = await Perso.load(module)
      const text = await Perso.load(module, { fastPath: false })
      expect(old.metadata).toEqual(fast.metadata)
      expect(old.policyVersion).toBe(fast.policyVersion)
      for (const request of requests) {
        const r = toEvaluateRequest(request)
        const want = fast.evaluateSync(r)
        const where = `\npolicy: ${source}\nargs: ${argsText(request)}\ncontext: ${contextText(request)}`
        expect(old.evaluateSync(r), `without the export${where}`).toEqual(want)
        expect(text.evaluateSync(r), `fastPath: false${where}`).toEqual(want)
        tally[want.decision]++
        tally.requests++
        if (want.reason.includes('; condition failed')) tally.conditionFailed++
      }
      await Promise.all([old.close(), fast.close(), text.close()])
    }
    // The fixed policy first (default Deny, entries that allow), so both outcomes are always there;
    // random policies alone may all default to Allow.
    await check({ policy: FIXED, requests: fc.sample(jsRequestArb(FIXED), { numRuns: 200, seed: 4242 }) })
    await fc.assert(fc.asyncProperty(casesArb, check), { numRuns: 4 })
    console.log('SDK fallback:', JSON.stringify(tally))
    expect(tally.requests).toBeGreaterThanOrEqual(600)
    expect(tally.Allow).toBeGreaterThan(20)
    expect(tally.Deny).toBeGreaterThan(20)
  }, 60_000)
})
