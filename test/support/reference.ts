// A plain TypeScript evaluator of the spec (§1–§6) and docs/design.md "Reasons" and
// "Canonical JSON", written independently of src/compiler and src/runtime, for
// differential tests.
// The text renderers (label, numericText, stringText, …) are pure and exported:
// the compiler's rendering of the same texts must agree with them byte for byte.

import type { Action, Condition, NumericOp, Policy, Rule, Source, StringOp } from '../../src/compiler/policy.js'
import { canonicalOf, canonicalText, escapeJson, jsonEqual } from './canonical.js'
import { cutText, decodeUtf8, lastMember, rawText, readJson, type JsonValue } from './ref-json.js'

export type RefResult = { decision: Action; reason: string } | { error: string }

// ---------------------------------------------------------------------------
// Policy reading (spec §1): note keys are ignored at every level

/** `description`, `$comment` and `x-…` are the author's notes (spec §1), allowed anywhere and ignored. */
export const isNoteKey = (key: string): boolean => key === 'description' || key === '$comment' || key.startsWith('x-')

const FORMS = ['All', 'Any', 'Not', 'NumericCheck', 'StringCheck', 'FieldPresent', 'FieldEquals']

/** A condition must have exactly one key besides notes, and it must be a form: else the test's policy is wrong. */
function checkForm(condition: Condition): void {
  const keys = Object.keys(condition).filter((key) => !isNoteKey(key))
  if (keys.length !== 1 || !FORMS.includes(keys[0]!)) throw new Error(`reference: not a condition ${JSON.stringify(condition)}`)
}

// ---------------------------------------------------------------------------
// Compile-time texts (docs/design.md "Reasons": texts fixed at compile time)

/** The limit on an All/Any summary's text before its remaining children become one `…`. */
export const SUMMARY_BYTES = 64

/** `Arguments.amount`: the source name as in the policy, a dot, the field as written (dots are not paths). Never cut. */
export const fieldText = (source: Source, field: string): string => `${source}.${field}`

/** NUMERIC text: `Lte 500` — op name, one space, the value as JavaScript's String() prints it (-0 prints `0`). Never cut. */
export const numericText = (op: NumericOp, value: number): string => `${op} ${String(value)}`

/** A string list as JSON: each element as JSON.stringify writes it, joined by `, `, in brackets: `["a", "b"]`, `[]`. */
export const listJson = (values: readonly string[]): string => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`

/** IN / NOT_IN text: `In ["a", "b"]` — op name, one space, the list JSON cut to 64 bytes (+ `…` when cut). */
export const stringText = (op: StringOp, values: readonly string[]): string => `${op} ${cutText(listJson(values))}`

const utf8Length = (text: string): number => new TextEncoder().encode(text).length

/**
 * `All([` or `Any([`, the children's summaries separated by `, `, `])`; before each
 * child but the first, once the text so far has 64 bytes or more, the rest of the
 * children are written as one `…`. A child is never cut, so neither is a field name.
 */
function listSummary(form: 'All' | 'Any', children: readonly Condition[]): string {
  let text = `${form}([`
  for (const [i, child] of children.entries()) {
    if (i > 0 && utf8Length(text) >= SUMMARY_BYTES) return `${text}, …])`
    text += (i > 0 ? ', ' : '') + label(child)
  }
  return `${text}])`
}

/**
 * A condition's summary (design "Reasons"): `NumericCheck(Arguments.amount Lte 500)`,
 * `StringCheck(Arguments.path In ["a", "b"])` (the list cut as in its text),
 * `FieldPresent(Arguments.force)`, `FieldEquals(AgentAttributes.user_id, ResourceAttributes.owner_id)`,
 * `Not(<summary>)`, `All([…])` / `Any([…])` (see listSummary). The whole is never cut:
 * a NOT's label is `label({ Not: child })`.
 */
export function label(condition: Condition): string {
  checkForm(condition)
  if ('All' in condition) return listSummary('All', condition.All)
  if ('Any' in condition) return listSummary('Any', condition.Any)
  if ('Not' in condition) return `Not(${label(condition.Not)})`
  if ('NumericCheck' in condition) {
    const { source, field, op, value } = condition.NumericCheck
    return `NumericCheck(${fieldText(source, field)} ${numericText(op, value)})`
  }
  if ('StringCheck' in condition) {
    const { source, field, op, value } = condition.StringCheck
    return `StringCheck(${fieldText(source, field)} ${stringText(op, value)})`
  }
  if ('FieldPresent' in condition) {
    const { source, field } = condition.FieldPresent
    return `FieldPresent(${fieldText(source, field)})`
  }
  if ('FieldEquals' in condition) {
    const { source_a, field_a, source_b, field_b } = condition.FieldEquals
    return `FieldEquals(${fieldText(source_a, field_a)}, ${fieldText(source_b, field_b)})`
  }
  throw new Error(`reference: unknown condition ${JSON.stringify(condition)}`)
}

/** The same as `label` (summaries are no longer rendered uncut and cut as a whole); kept for importers. */
export const renderLabel = label

// ---------------------------------------------------------------------------
// Decision reasons (spec §4)

const head = (tool: string, role: string): string => `tool '${tool}' for role '${role}'`
export const reasonNoRule = (tool: string, role: string): string => `no rule matched ${head(tool, role)}; applying default_action`
export const reasonNoCondition = (tool: string, role: string): string => `rule matched ${head(tool, role)}; no condition required`
export const reasonPassed = (tool: string, role: string): string => `rule matched ${head(tool, role)}; condition passed`
export const reasonFailed = (tool: string, role: string, account: string): string =>
  `rule matched ${head(tool, role)}; condition failed: ${account}`

/** The exact response bytes' text: compact JSON, strings escaped like serde_json (design "Reasons"). */
export function responseJson(result: RefResult): string {
  if ('error' in result) return `{"error":"${serdeEscape(result.error)}"}`
  return `{"decision":"${result.decision}","reason":"${serdeEscape(result.reason)}"}`
}

/** `"` `\` and control characters escaped (`\b \f \n \r \t`, else `\u00xx`); everything else as is. */
export const serdeEscape = escapeJson

// ---------------------------------------------------------------------------
// Expansion (spec §2), naively: every rule, in order, later pairs win

/** tool → role → rule. */
export type Table = Map<string, Map<string, Rule>>

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** `*` matches any run of characters, including none; nothing else is special. */
export const globMatches = (pattern: string, tool: string): boolean =>
  new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 'su').test(tool)

export function expandTable(policy: Policy): Table {
  const table: Table = new Map()
  for (const rule of policy.rules) {
    const tools = rule.tool_name.includes('*')
      ? policy.tools.filter((tool) => globMatches(rule.tool_name, tool))
      : [rule.tool_name]
    const roles = rule.roles.filter((role) => policy.roles.includes(role))
    for (const tool of tools) {
      let byRole = table.get(tool)
      if (byRole === undefined) table.set(tool, (byRole = new Map()))
      for (const role of roles) byRole.set(role, rule)
    }
  }
  return table
}

const tables = new WeakMap<Policy, Table>()
const tableOf = (policy: Policy): Table => {
  let table = tables.get(policy)
  if (table === undefined) tables.set(policy, (table = expandTable(policy)))
  return table
}

// ---------------------------------------------------------------------------
// Conditions (spec §3) with the account of why one failed (design "Reasons")

/** The three source objects of one request and the input texts their spans point into. */
export interface Sources {
  Arguments: { input: Uint8Array; value: JsonValue | undefined }
  AgentAttributes: { input: Uint8Array; value: JsonValue | undefined }
  ResourceAttributes: { input: Uint8Array; value: JsonValue | undefined }
}

export type Outcome = { holds: true } | { holds: false; account: string }
const HOLDS: Outcome = { holds: true }
const fails = (account: string): Outcome => ({ holds: false, account })

/** An ANY's list of accounts stops taking children once it has this many bytes. */
export const ANY_LIST_BYTES = 200

interface Read {
  /** `<name>`: `Arguments.amount`, never cut. */
  name: string
  value: JsonValue | undefined
  /** `<quote>`: ` = <raw>` for a read of Arguments, nothing for the attributes (spec §4: never quoted). */
  quote: () => string
}

function read(sources: Sources, source: Source, field: string): Read {
  const { input, value: object } = sources[source]
  const value = object === undefined ? undefined : lastMember(object, field)
  const quote = (): string => (value === undefined || source !== 'Arguments' ? '' : ` = ${rawText(input, value)}`)
  return { name: fieldText(source, field), value, quote }
}

const compare = (op: NumericOp, actual: number, value: number): boolean => {
  switch (op) {
    case 'Lt': return actual < value
    case 'Lte': return actual <= value
    case 'Gt': return actual > value
    case 'Gte': return actual >= value
    case 'Eq': return actual === value
  }
}

/**
 * An ANY's account: `none of the alternatives held: ` and each child's account, whole,
 * separated by `; `; before each child but the first, once the text (from `none` on,
 * UTF-8 bytes) has 200 bytes or more, the rest are only counted: `; and 3 more`.
 */
export function anyAccount(accounts: readonly string[]): string {
  let text = `none of the alternatives held: ${accounts[0] ?? ''}`
  for (let i = 1; i < accounts.length; i++) {
    if (utf8Length(text) >= ANY_LIST_BYTES) return `${text}; and ${accounts.length - i} more`
    text += `; ${accounts[i]}`
  }
  return text
}

export function evaluateCondition(condition: Condition, sources: Sources): Outcome {
  checkForm(condition)
  if ('All' in condition) {
    for (const child of condition.All) {
      const outcome = evaluateCondition(child, sources)
      if (!outcome.holds) return outcome
    }
    return HOLDS
  }
  if ('Any' in condition) {
    if (condition.Any.length === 0) return fails('Any([]) did not hold')
    const accounts: string[] = []
    for (const child of condition.Any) {
      const outcome = evaluateCondition(child, sources)
      if (outcome.holds) return HOLDS
      accounts.push(outcome.account)
    }
    return fails(anyAccount(accounts))
  }
  if ('Not' in condition) {
    return evaluateCondition(condition.Not, sources).holds ? fails(`${label(condition)} did not hold`) : HOLDS
  }
  if ('NumericCheck' in condition) {
    const { source, field, op, value } = condition.NumericCheck
    const r = read(sources, source, field)
    if (r.value === undefined) return fails(`${r.name} is missing`)
    if (r.value.kind !== 'number') return fails(`${r.name}${r.quote()} is not a number`)
    return compare(op, r.value.value, value) ? HOLDS : fails(`${r.name}${r.quote()} is not ${numericText(op, value)}`)
  }
  if ('StringCheck' in condition) {
    const { source, field, op, value } = condition.StringCheck
    const r = read(sources, source, field)
    if (r.value === undefined) return fails(`${r.name} is missing`)
    if (r.value.kind !== 'string') return fails(`${r.name}${r.quote()} is not a string`)
    const member = value.includes(r.value.value)
    return member === (op === 'In') ? HOLDS : fails(`${r.name}${r.quote()} is not ${stringText(op, value)}`)
  }
  if ('FieldPresent' in condition) {
    const { source, field } = condition.FieldPresent
    const r = read(sources, source, field)
    if (r.value === undefined) return fails(`${r.name} is missing`)
    if (r.value.kind === 'null') return fails(`${r.name} is null`)
    return HOLDS
  }
  if ('FieldEquals' in condition) {
    const { source_a, field_a, source_b, field_b } = condition.FieldEquals
    const a = read(sources, source_a, field_a)
    const b = read(sources, source_b, field_b)
    // Side a completely (missing, then null) before side b; nulls inside values compare as values.
    for (const r of [a, b]) {
      if (r.value === undefined) return fails(`${r.name} is missing`)
      if (r.value.kind === 'null') return fails(`${r.name} is null`)
    }
    if (jsonEqual(a.value!, b.value!)) return HOLDS
    return fails(`${a.name}${a.quote()} does not equal ${b.name}${b.quote()}`)
  }
  throw new Error(`reference: unknown condition ${JSON.stringify(condition)}`)
}

// ---------------------------------------------------------------------------
// Evaluation (spec §4, §5)

/** Context keys that may appear once: two parsers keeping different occurrences must never see different callers (spec §4). */
const SINGLE_CONTEXT_KEYS = ['role', 'agent_attrs', 'resource_attrs']

/** The request's inputs read and checked (spec §5), first error winning: the role and the three sources. */
export function readRequest(tool: Uint8Array, args: Uint8Array, context: Uint8Array):
  | { tool: string; role: string; sources: Sources }
  | { error: string } {
  const toolName = decodeUtf8(tool)
  if (toolName === undefined) return { error: 'tool_name: invalid UTF-8' }
  const argsRead = readJson(args)
  if ('error' in argsRead) return { error: `arguments JSON: ${argsRead.error}` }
  const contextRead = readJson(context)
  if ('error' in contextRead) return { error: `context JSON: ${contextRead.error}` }
  const ctx = contextRead.value
  if (ctx.kind !== 'object') return { error: 'context JSON: not an object' }
  for (const key of SINGLE_CONTEXT_KEYS) {
    const again = ctx.members.filter((member) => member.key === key)[1]
    if (again !== undefined) return { error: `context JSON: repeated key \`${key}\` at byte ${again.at}` }
  }
  const role = lastMember(ctx, 'role')
  if (role === undefined) return { error: 'context JSON: role is missing' }
  if (role.kind !== 'string') return { error: 'context JSON: role is not a string' }
  const sources: Sources = {
    Arguments: { input: args, value: argsRead.value },
    AgentAttributes: { input: context, value: lastMember(ctx, 'agent_attrs') },
    ResourceAttributes: { input: context, value: lastMember(ctx, 'resource_attrs') },
  }
  return { tool: toolName, role: role.value, sources }
}

export function referenceEvaluate(policy: Policy, tool: Uint8Array, args: Uint8Array, context: Uint8Array): RefResult {
  const request = readRequest(tool, args, context)
  if ('error' in request) return request
  const rule = tableOf(policy).get(request.tool)?.get(request.role)
  if (rule === undefined) return { decision: policy.default_action, reason: reasonNoRule(request.tool, request.role) }
  if (rule.condition === undefined || rule.condition === null) {
    return { decision: 'Allow', reason: reasonNoCondition(request.tool, request.role) }
  }
  const outcome = evaluateCondition(rule.condition, request.sources)
  return outcome.holds
    ? { decision: 'Allow', reason: reasonPassed(request.tool, request.role) }
    : { decision: 'Deny', reason: reasonFailed(request.tool, request.role, outcome.account) }
}

/** Convenience for tests: the three inputs as strings (UTF-8 encoded). */
export const referenceEvaluateText = (policy: Policy, tool: string, args: string, context: string): RefResult => {
  const enc = new TextEncoder()
  return referenceEvaluate(policy, enc.encode(tool), enc.encode(args), enc.encode(context))
}

// ---------------------------------------------------------------------------
// init (spec §6): the same policy is the same JSON value (design "Canonical JSON")

export type InitResult = { ok: true; version: string } | { error: string }

const NOT_THIS_POLICY = 'init: this artifact was compiled from another policy; recompile it with perso compile'

/** `init` of an artifact compiled from `source`: `given` undefined is `init(0, 0)`. */
export function referenceInit(source: Uint8Array, given: Uint8Array | undefined): InitResult {
  const compiled = readJson(source)
  if ('error' in compiled) throw new Error(`reference: the compiled source is not JSON: ${compiled.error}`)
  const version = lastMember(compiled.value, 'version')
  if (version?.kind !== 'string') throw new Error('reference: the compiled source has no version string')
  if (given !== undefined && canonicalText(given) !== canonicalOf(compiled.value)) return { error: NOT_THIS_POLICY }
  return { ok: true, version: version.value }
}
