// fast-check arbitraries for differential tests: random policies (spec §1–§3) and
// random requests aimed at them, rendered to the exact bytes a host would pass.

import fc from 'fast-check'
import type { Condition, NumericOp, Policy, Rule, Source } from '../../src/compiler/policy.js'
import { expandTable } from './reference.js'
import { BAD_VALUES, ODD_NUMBERS, ODD_VALUES, damage, nested, nextDouble, prng, renderDoc, show, spellings, type Damage, type Doc } from './json-text.js'

// ---------------------------------------------------------------------------
// Names

export const TOOL_POOL = [
  'read_file', 'write_file', 'glob_tool_alpha', 'globa', 'glob_b', 'view_customer', 'process_refund',
  'quote"d', 'back\\slash', 'über_tool', '🔧 wrench', 'a*b', 'a.b', 'x\ny', '(re)[gex]+?', 'ab',
]
export const ROLE_POOL = ['agent', 'manager', 'admin', 'ro"le', 'rôle', 'r\\s', '👤', 'role with space']
export const FIELD_POOL = ['amount', 'path', 'force', 'user_id', 'owner_id', 'a.b', 'am"t', 'back\\slash', 'ünï', 'x y', '$', 'role']
const STRING_POOL = ['a', 'b', '/etc', '/tmp', '', 'é', '"q"', 'back\\', 'x'.repeat(40), '😀', 'a\nb', 'A', '/etc/']
const THRESHOLDS = [0, -0, 1, 500, 500.5, -3, 0.1, 1e21, 2 ** 53, 2 ** 53 + 2, 1.5e-7, 1e300, -1e-300, 5e-324, 123456.789]
const SOURCES: Source[] = ['Arguments', 'AgentAttributes', 'ResourceAttributes']
const NUMERIC_OPS: NumericOp[] = ['Lt', 'Lte', 'Gt', 'Gte', 'Eq']

const someString = fc.string({ unit: 'binary', minLength: 1, maxLength: 6 })
const named = (pool: readonly string[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: someString })

// ---------------------------------------------------------------------------
// Conditions

const sourceArb = fc.constantFrom(...SOURCES)
const fieldArb = named(FIELD_POOL)
const thresholdArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...THRESHOLDS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
)
const stringListArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...STRING_POOL), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { maxLength: 6 }) },
)

const leafArb: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ source: sourceArb, field: fieldArb, op: fc.constantFrom(...NUMERIC_OPS), value: thresholdArb })
    .map((NumericCheck) => ({ NumericCheck })),
  fc.record({ source: sourceArb, field: fieldArb, op: fc.constantFrom('In' as const, 'NotIn' as const), value: stringListArb })
    .map((StringCheck) => ({ StringCheck })),
  fc.record({ source: sourceArb, field: fieldArb }).map((FieldPresent) => ({ FieldPresent })),
  fc.record({ source_a: sourceArb, field_a: fieldArb, source_b: sourceArb, field_b: fieldArb })
    .map((FieldEquals) => ({ FieldEquals })),
)

/** Every condition form, nested up to `depth` levels of All / Any / Not. */
export function conditionArb(depth = 3): fc.Arbitrary<Condition> {
  if (depth <= 0) return leafArb
  const child = conditionArb(depth - 1)
  return fc.oneof(
    { weight: 4, arbitrary: leafArb },
    { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((All) => ({ All })) },
    { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((Any) => ({ Any })) },
    { weight: 1, arbitrary: child.map((Not) => ({ Not })) },
  )
}

// ---------------------------------------------------------------------------
// Policies

/** A pattern made from a declared tool by replacing one run of it (maybe empty) with `*`. */
const patternFrom = (tool: string) =>
  fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([i, j, twice]) => {
    const cps = [...tool]
    const a = i % (cps.length + 1)
    const z = a + (j % (cps.length - a + 1))
    const pattern = cps.slice(0, a).join('') + '*' + cps.slice(z).join('')
    return twice ? pattern.replace(/^(.)/su, '$1*') : pattern
  })

function ruleArb(tools: string[], roles: string[]): fc.Arbitrary<Rule> {
  const toolName = fc.oneof(
    ...(tools.length > 0
      ? [{ weight: 5, arbitrary: fc.constantFrom(...tools) }, { weight: 3, arbitrary: fc.constantFrom(...tools).chain(patternFrom) }]
      : []),
    { weight: 2, arbitrary: fc.constantFrom('*', '*_file', 'glob*a*', '*a*', '**', 'a*b', '*🔧*') },
    { weight: 1, arbitrary: named(['undeclared_tool', 'Read_file', 'read_file ']) },
  )
  const condition = fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 6, arbitrary: conditionArb() },
  )
  return fc.record({
    tool_name: toolName,
    roles: fc.oneof(
      { weight: 6, arbitrary: fc.subarray(roles, { minLength: 1 }).chain((declared) => fc.subarray(['ghost', 'Agent']).map((extra) => [...declared, ...extra])) },
      { weight: 1, arbitrary: fc.subarray([...roles, 'ghost', 'Agent']) },
    ),
    condition,
  }).map((rule) => {
    if (rule.condition === undefined) delete rule.condition
    return rule
  })
}

export const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    tools: fc.uniqueArray(named(TOOL_POOL), { maxLength: 8 }),
    roles: fc.uniqueArray(named(ROLE_POOL), { minLength: 1, maxLength: 4 }),
  })
  .chain(({ tools, roles }) =>
    fc.record({
      version: fc.constantFrom('perso-1.0.0', 'v2 "quoted"', '2024-01-01'),
      default_action: fc.constantFrom('Allow' as const, 'Deny' as const),
      tools: fc.constant(tools),
      roles: fc.constant(roles),
      rules: fc.oneof(
        { weight: 12, arbitrary: fc.array(ruleArb(tools, roles), { minLength: 1, maxLength: 8 }) },
        { weight: 1, arbitrary: fc.constant<Rule[]>([]) },
      ),
    }),
  )

/**
 * Policies for the guard's tests: a few plain tool names (and `patterns` of
 * them), every role of `roles`, and rules whose condition, if any, reads the
 * arguments `n` (a number), `mode` (a string) or `force` (present), so that
 * random calls `{ n, mode, force }` pass some conditions and fail others.
 */
export function guardPolicyArb(tools: readonly string[], roles: readonly string[], patterns: readonly string[]): fc.Arbitrary<Policy> {
  const condition = fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: 10 }).map((v): Condition => ({ NumericCheck: { source: 'Arguments', field: 'n', op: 'Lte', value: v } })),
    fc.constantFrom('a', 'b').map((v): Condition => ({ StringCheck: { source: 'Arguments', field: 'mode', op: 'In', value: [v] } })),
    fc.constant<Condition>({ Not: { FieldPresent: { source: 'Arguments', field: 'force' } } }),
  )
  const rule = fc
    .record({ tool_name: fc.constantFrom(...tools, ...patterns), roles: fc.subarray([...roles], { minLength: 1 }), condition })
    // A rule without a condition has no `condition` key, as a user writes it.
    .map(({ condition: c, ...r }): Rule => (c === undefined ? r : { ...r, condition: c }))
  return fc.record({
    version: fc.constant('prop-1'),
    default_action: fc.constantFrom('Allow' as const, 'Deny' as const),
    tools: fc.subarray([...tools], { minLength: 1 }),
    roles: fc.constant([...roles]),
    rules: fc.array(rule, { maxLength: 6 }),
  })
}

/** The policy's JSON source text, as a user would write it. */
export const policySource = (policy: Policy): string => JSON.stringify(policy, null, 2)

// ---------------------------------------------------------------------------
// What a policy's conditions look at, so requests can aim at it

export interface Aims {
  tools: string[]
  roles: string[]
  fields: Record<Source, string[]>
  numbers: number[]
  strings: string[]
}

export function aimsOf(policy: Policy): Aims {
  const aims: Aims = {
    tools: [...policy.tools, ...policy.rules.map((r) => r.tool_name).filter((t) => !t.includes('*'))],
    roles: [...policy.roles, ...policy.rules.flatMap((r) => r.roles)],
    fields: { Arguments: [], AgentAttributes: [], ResourceAttributes: [] },
    numbers: [],
    strings: [],
  }
  const visit = (c: Condition): void => {
    if ('All' in c) c.All.forEach(visit)
    else if ('Any' in c) c.Any.forEach(visit)
    else if ('Not' in c) visit(c.Not)
    else if ('NumericCheck' in c) {
      aims.fields[c.NumericCheck.source].push(c.NumericCheck.field)
      aims.numbers.push(c.NumericCheck.value)
    } else if ('StringCheck' in c) {
      aims.fields[c.StringCheck.source].push(c.StringCheck.field)
      aims.strings.push(...c.StringCheck.value)
    } else if ('FieldPresent' in c) aims.fields[c.FieldPresent.source].push(c.FieldPresent.field)
    else {
      aims.fields[c.FieldEquals.source_a].push(c.FieldEquals.field_a)
      aims.fields[c.FieldEquals.source_b].push(c.FieldEquals.field_b)
    }
  }
  for (const rule of policy.rules) if (rule.condition) visit(rule.condition)
  return aims
}

// ---------------------------------------------------------------------------
// Values

const orPool = <T>(items: T[], fallback: readonly T[]): T[] => (items.length > 0 ? items : [...fallback])
const num = (text: string): Doc => ({ t: 'num', text })
const str = (value: string): Doc => ({ t: 'str', value })
const rawDoc = (bytes: Uint8Array): Doc => ({ t: 'raw', bytes })

function numberArb(aims: Aims): fc.Arbitrary<Doc> {
  const near = fc.tuple(fc.constantFrom(...orPool(aims.numbers, THRESHOLDS)), fc.nat(6), fc.nat()).map(([x, how, k]) => {
    const moved = [x, x, nextDouble(x, true), nextDouble(x, false), x + 1, x - 1, -x][how]!
    const texts = spellings(moved)
    return num(texts[k % texts.length] ?? '0')
  })
  return fc.oneof(
    { weight: 5, arbitrary: near },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_NUMBERS).map(num) },
    { weight: 1, arbitrary: fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.nat()).map(([x, k]) => num(spellings(x)[k % 2]!)) },
  )
}

function stringArb(aims: Aims): fc.Arbitrary<Doc> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...orPool(aims.strings, STRING_POOL)).map(str) },
    { weight: 1, arbitrary: fc.constantFrom(...orPool(aims.strings, STRING_POOL)).map((s) => str(s + 'x')) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map(str) },
  )
}

/** Any JSON value, biased towards what the policy compares; `bad` adds malformed raw splices. */
function valueArb(aims: Aims, depth: number, bad: boolean): fc.Arbitrary<Doc> {
  const leaves: fc.WeightedArbitrary<Doc>[] = [
    { weight: 4, arbitrary: numberArb(aims) },
    { weight: 4, arbitrary: stringArb(aims) },
    { weight: 2, arbitrary: fc.constantFrom('null', 'true', 'false').map((text) => ({ t: 'lit', text }) as Doc) },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_VALUES).map(rawDoc) },
  ]
  if (bad) leaves.push({ weight: 2, arbitrary: fc.constantFrom(...BAD_VALUES).map(rawDoc) })
  if (depth <= 0) return fc.oneof(...leaves)
  const child = valueArb(aims, depth - 1, bad)
  const keys = named(Object.values(aims.fields).flat().concat(['k', 'a', 'b']))
  return fc.oneof(
    ...leaves,
    { weight: 1, arbitrary: fc.array(child, { maxLength: 4 }).map((items) => ({ t: 'arr', items }) as Doc) },
    { weight: 2, arbitrary: fc.array(fc.tuple(keys, child), { maxLength: 4 }).map((members) => ({ t: 'obj', members }) as Doc) },
  )
}

/** The same value spelled differently: object members shuffled, numbers respelled. */
function variant(doc: Doc, rng: () => number): Doc {
  switch (doc.t) {
    case 'num': {
      const texts = spellings(Number(doc.text))
      return rng() < 0.5 || texts.length === 0 ? doc : num(texts[Math.floor(rng() * texts.length)]!)
    }
    case 'arr':
      return { t: 'arr', items: doc.items.map((d) => variant(d, rng)) }
    case 'obj': {
      const members = doc.members.map(([k, v]): [string, Doc] => [k, variant(v, rng)])
      // Shuffling changes which duplicate key is last; the reference decides what that means.
      if (rng() < 0.7) for (let i = members.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1))
        ;[members[i], members[j]] = [members[j]!, members[i]!]
      }
      return { t: 'obj', members }
    }
    default:
      return doc
  }
}

// Parts of a request that depend on per-request choices (the shared value, the
// aimed tool and role) are generated as functions of them, so the arbitraries are
// built once per policy rather than once per request.

/** An object holding the fields `fields` (often), variants of the request's shared value under some, and extras. */
function sourceObjectArb(aims: Aims, fields: string[], bad: boolean): fc.Arbitrary<(shared: Doc) => Doc> {
  const value = valueArb(aims, 2, bad)
  const key = fc.constantFrom(...orPool(fields, FIELD_POOL))
  type Member = (shared: Doc) => [string, Doc]
  const member = fc.oneof<fc.MaybeWeightedArbitrary<Member>[]>(
    { weight: 6, arbitrary: fc.tuple(key, value).map(([k, v]) => () => [k, v]) },
    { weight: 2, arbitrary: fc.tuple(key, fc.nat()).map(([k, seed]) => (shared: Doc) => [k, variant(shared, prng(seed))]) },
    { weight: 1, arbitrary: fc.tuple(named(['other', 'role', 'amount.x']), value).map(([k, v]) => () => [k, v]) },
  )
  const object = fc.array(member, { maxLength: 6 }).map((members) => (shared: Doc): Doc => ({ t: 'obj', members: members.map((m) => m(shared)) }))
  // Sources that are not objects: every field of them is absent.
  return fc.oneof({ weight: 12, arbitrary: object }, { weight: 1, arbitrary: valueArb(aims, 1, bad).map((v) => () => v) })
}

// ---------------------------------------------------------------------------
// Requests

export interface Request {
  tool: Uint8Array
  args: Uint8Array
  context: Uint8Array
}

const showRequest = (r: Request): string =>
  `Request(tool=${JSON.stringify(show(r.tool))} [${[...r.tool].join(',')}], args=${JSON.stringify(show(r.args))}, context=${JSON.stringify(show(r.context))})`

const BAD_TOOLS = [[0xff], [0x61, 0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]]
const enc = new TextEncoder()

function toolArb(aims: Aims): fc.Arbitrary<(aimed: string) => Uint8Array> {
  const fixed = (arb: fc.Arbitrary<string>) => arb.map((t) => () => enc.encode(t))
  return fc.oneof<fc.MaybeWeightedArbitrary<(aimed: string) => Uint8Array>[]>(
    { weight: 30, arbitrary: fc.constant((aimed: string) => enc.encode(aimed)) },
    { weight: 6, arbitrary: fixed(fc.constantFrom(...orPool(aims.tools, TOOL_POOL))) },
    { weight: 1, arbitrary: fixed(fc.constantFrom('', 'nope', '\uFEFFread_file', 'read_file\u0000')) },
    { weight: 1, arbitrary: fixed(someString) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...BAD_TOOLS), fc.boolean()).map(([bad, prefixed]) => (aimed: string) =>
        new Uint8Array([...(prefixed ? enc.encode(aimed) : []), ...bad])),
    },
  )
}

function contextDocArb(aims: Aims, bad: boolean): fc.Arbitrary<(aimedRole: string, shared: Doc) => Doc> {
  const role = fc.oneof<fc.MaybeWeightedArbitrary<(aimed: string) => Doc>[]>(
    { weight: 30, arbitrary: fc.constant((aimed: string) => str(aimed)) },
    { weight: 6, arbitrary: fc.constantFrom(...orPool(aims.roles, ROLE_POOL)).map((r) => () => str(r)) },
    { weight: 1, arbitrary: someString.map((r) => () => str(r)) },
    { weight: 1, arbitrary: fc.constantFrom<Doc>({ t: 'lit', text: 'null' }, num('1'), { t: 'arr', items: [] }).map((d) => () => d) },
  )
  const attrs = (source: Source) => fc.option(sourceObjectArb(aims, aims.fields[source], bad), { nil: undefined, freq: 6 })
  return fc
    .record({
      role,
      agent: attrs('AgentAttributes'),
      resource: attrs('ResourceAttributes'),
      extra: fc.array(fc.tuple(named(['x', 'agent_attr', 'Role']), valueArb(aims, 1, bad)), { maxLength: 2 }),
      roleBefore: fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: role }),
      shape: fc.oneof(
        { weight: 40, arbitrary: fc.constant('object' as const) },
        { weight: 1, arbitrary: fc.constantFrom('no-role' as const, 'array' as const) },
      ),
      order: fc.nat(),
    })
    .map(({ role, agent, resource, extra, roleBefore, shape, order }) => (aimedRole: string, shared: Doc): Doc => {
      const members: [string, Doc][] = [...extra]
      if (roleBefore !== undefined) members.push(['role', roleBefore(aimedRole)])
      if (agent !== undefined) members.push(['agent_attrs', agent(shared)])
      if (resource !== undefined) members.push(['resource_attrs', resource(shared)])
      if (shape !== 'no-role') members.splice(order % (members.length + 1), 0, ['role', role(aimedRole)])
      const object: Doc = { t: 'obj', members }
      return shape === 'array' ? { t: 'arr', items: [object] } : object
    })
}

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 40, arbitrary: fc.constant('none' as const) },
  { weight: 1, arbitrary: fc.constantFrom<Damage>('truncate', 'trailing', 'bom', 'empty', 'space-only', 'nul') },
)

/** Deep nesting around the limit, spliced in as the whole arguments text. */
const deepArgsArb = fc
  .tuple(fc.constantFrom(127, 128, 129, 1000, 100_000), fc.constantFrom('arr' as const, 'obj' as const))
  .map(([d, k]) => (): Doc => rawDoc(nested(d, k)))

/**
 * A request aimed at `policy`: mostly (tool, role) pairs its table holds, the
 * fields its conditions read, values near its thresholds and lists, and the same
 * value under two fields (for FieldEquals); sometimes malformed (about 1 in 8).
 */
export function requestArb(policy: Policy): fc.Arbitrary<Request> {
  const aims = aimsOf(policy)
  const pairs = [...expandTable(policy)].flatMap(([tool, byRole]) => [...byRole.keys()].map((role): [string, string] => [tool, role]))
  const pairArb = fc.oneof(
    ...(pairs.length > 0 ? [{ weight: 8, arbitrary: fc.constantFrom(...pairs) }] : []),
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...orPool(aims.tools, TOOL_POOL)), fc.constantFrom(...orPool(aims.roles, ROLE_POOL))) },
  )
  const request = (bad: boolean) =>
    fc.record({
      shared: valueArb(aims, 2, false),
      pair: pairArb,
      tool: toolArb(aims),
      args: fc.oneof(
        { weight: 30, arbitrary: sourceObjectArb(aims, aims.fields.Arguments, bad) },
        { weight: 1, arbitrary: deepArgsArb },
      ),
      context: contextDocArb(aims, bad),
      argsSeed: fc.nat(),
      contextSeed: fc.nat(),
      argsDamage: bad ? damageArb : fc.constant('none' as const),
      contextDamage: bad ? damageArb : fc.constant('none' as const),
    })
  return fc
    .oneof({ weight: 7, arbitrary: request(false) }, { weight: 1, arbitrary: request(true) })
    .map(({ shared, pair: [tool, role], args, context, argsSeed, contextSeed, argsDamage, contextDamage, ...rest }): Request => {
      const r: Request = {
        tool: rest.tool(tool),
        args: damage(renderDoc(args(shared), argsSeed), argsDamage, prng(argsSeed ^ 0x5a5a)),
        context: damage(renderDoc(context(role, shared), contextSeed), contextDamage, prng(contextSeed ^ 0x5a5a)),
      }
      Object.defineProperty(r, fc.toStringMethod, { value: () => showRequest(r), enumerable: false })
      return r
    })
}
