// A plain TypeScript evaluator of the spec (§2–§5) and docs/design.md "Reasons",
// written independently of src/compiler and src/runtime, for differential tests.
// The text renderers (label, numericText, stringText, …) are pure and exported:
// the compiler's rendering of the same texts must agree with them byte for byte.

import type { Action, Condition, NumericOp, Policy, Rule, Source, StringOp } from '../../src/compiler/policy.js'
import { cutText, decodeUtf8, jsonEqual, lastMember, rawText, readJson, type JsonValue } from './ref-json.js'

export type RefResult = { decision: Action; reason: string } | { error: string }

// ---------------------------------------------------------------------------
// Compile-time texts (docs/design.md "The policy blob" and "Reasons")

/** `Arguments.amount`: the source name as in the policy, a dot, the field as written (dots are not paths). */
export const fieldText = (source: Source, field: string): string => `${source}.${field}`

/** NUMERIC text: `Lte 500` — op name, one space, the value as JavaScript's String() prints it (-0 prints `0`). Never cut. */
export const numericText = (op: NumericOp, value: number): string => `${op} ${String(value)}`

/** A string list as JSON: each element as JSON.stringify writes it, joined by `, `, in brackets: `["a", "b"]`, `[]`. */
export const listJson = (values: readonly string[]): string => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`

/** IN / NOT_IN text: `In ["a", "b"]` — op name, one space, the list JSON cut to 64 bytes (+ `…` when cut). */
export const stringText = (op: StringOp, values: readonly string[]): string => `${op} ${cutText(listJson(values))}`

/**
 * A condition summarised, uncut: `All([c1, c2])`, `Any([])`, `Not(c)`,
 * `NumericCheck(Arguments.amount Lte 500)`, `StringCheck(Arguments.path In ["a", "b"])`,
 * `FieldPresent(Arguments.force)`, `FieldEquals(AgentAttributes.user_id, ResourceAttributes.owner_id)`.
 * Lists inside are uncut here; `label` cuts the whole once (cutting parts first gives the same result).
 */
export function renderLabel(condition: Condition): string {
  if ('All' in condition) return `All([${condition.All.map(renderLabel).join(', ')}])`
  if ('Any' in condition) return `Any([${condition.Any.map(renderLabel).join(', ')}])`
  if ('Not' in condition) return `Not(${renderLabel(condition.Not)})`
  if ('NumericCheck' in condition) {
    const { source, field, op, value } = condition.NumericCheck
    return `NumericCheck(${fieldText(source, field)} ${numericText(op, value)})`
  }
  if ('StringCheck' in condition) {
    const { source, field, op, value } = condition.StringCheck
    return `StringCheck(${fieldText(source, field)} ${op} ${listJson(value)})`
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

/** ALL / ANY / NOT label: `renderLabel` cut to 64 bytes at a character boundary, `…` appended when cut. */
export const label = (condition: Condition): string => cutText(renderLabel(condition))

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
export function serdeEscape(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.charCodeAt(0)
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return out
}

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
// Conditions (spec §3) with the account of the first failing check (design "Reasons")

/** The three source objects of one request and the input texts their spans point into. */
export interface Sources {
  Arguments: { input: Uint8Array; value: JsonValue | undefined }
  AgentAttributes: { input: Uint8Array; value: JsonValue | undefined }
  ResourceAttributes: { input: Uint8Array; value: JsonValue | undefined }
}

export type Outcome = { holds: true } | { holds: false; account: string }
const HOLDS: Outcome = { holds: true }
const fails = (account: string): Outcome => ({ holds: false, account })

interface Read {
  name: string
  value: JsonValue | undefined
  raw: () => string
}

function read(sources: Sources, source: Source, field: string): Read {
  const { input, value: object } = sources[source]
  const value = object === undefined ? undefined : lastMember(object, field)
  return { name: fieldText(source, field), value, raw: () => (value === undefined ? '' : rawText(input, value)) }
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

export function evaluateCondition(condition: Condition, sources: Sources): Outcome {
  if ('All' in condition) {
    for (const child of condition.All) {
      const outcome = evaluateCondition(child, sources)
      if (!outcome.holds) return outcome
    }
    return HOLDS
  }
  if ('Any' in condition) {
    let first: Outcome | undefined
    for (const child of condition.Any) {
      const outcome = evaluateCondition(child, sources)
      if (outcome.holds) return HOLDS
      first ??= outcome
    }
    return first ?? fails(`${label(condition)} did not hold`)
  }
  if ('Not' in condition) {
    return evaluateCondition(condition.Not, sources).holds ? fails(`${label(condition)} did not hold`) : HOLDS
  }
  if ('NumericCheck' in condition) {
    const { source, field, op, value } = condition.NumericCheck
    const r = read(sources, source, field)
    if (r.value === undefined) return fails(`${r.name} is missing`)
    if (r.value.kind !== 'number') return fails(`${r.name} = ${r.raw()} is not a number`)
    return compare(op, r.value.value, value) ? HOLDS : fails(`${r.name} = ${r.raw()} is not ${numericText(op, value)}`)
  }
  if ('StringCheck' in condition) {
    const { source, field, op, value } = condition.StringCheck
    const r = read(sources, source, field)
    if (r.value === undefined) return fails(`${r.name} is missing`)
    if (r.value.kind !== 'string') return fails(`${r.name} = ${r.raw()} is not a string`)
    const member = value.includes(r.value.value)
    return member === (op === 'In') ? HOLDS : fails(`${r.name} = ${r.raw()} is not ${stringText(op, value)}`)
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
    // Side a completely (missing, then null) before side b.
    for (const r of [a, b]) {
      if (r.value === undefined) return fails(`${r.name} is missing`)
      if (r.value.kind === 'null') return fails(`${r.name} is null`)
    }
    if (jsonEqual(a.value!, b.value!)) return HOLDS
    return fails(`${a.name} = ${a.raw()} does not equal ${b.name} = ${b.raw()}`)
  }
  throw new Error(`reference: unknown condition ${JSON.stringify(condition)}`)
}

// ---------------------------------------------------------------------------
// Evaluation (spec §4, §5)

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
