// The spec corpus (test/spec/*.json: numbered {note, policy, cases, init?}
// files, each case a request as bytes and the answer docs/semantics.md demands)
// read once, and each case's request as a JS host would send it to the SDK,
// when it can be one: test/spec.test.ts and test/paths.test.ts run the same data.

import { readdirSync, readFileSync } from 'node:fs'
import type { Policy } from '../../src/compiler/policy.js'
import type { EvaluateRequest } from '../../packages/sdk/src/request.js'
import { canonicalNumber } from './canonical.js'
import { decodeUtf8, type JsonValue, lastMember, readJson } from './ref-json.js'

export type Text = string | { repeat: string; times: number; then?: Text }

export interface Case {
  note?: string
  tool?: string
  toolHex?: string
  args?: Text
  argsHex?: string
  context: Text
  want: { decision: 'Allow' | 'Deny'; reason?: string } | { error: string }
}

/** `init` with `text` (UTF-8), or `init(0, 0)` when there is none (spec §6). */
export interface InitCase {
  note?: string
  text?: string
  want: 'ok' | 'error'
}

export interface SpecFile {
  note: string
  /** Compiled from `JSON.stringify(policy)`: that text is the source init's texts are compared with. */
  policy: Policy
  cases: Case[]
  init?: InitCase[]
}

const encoder = new TextEncoder()
const dir = new URL('../spec/', import.meta.url)

/** The spec files' names, in order. */
export const specFiles: string[] = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

export const readSpec = (file: string): SpecFile => JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as SpecFile

export const text = (t: Text): string => (typeof t === 'string' ? t : t.repeat.repeat(t.times) + (t.then ? text(t.then) : ''))
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))

/** The three inputs of `evaluate`, as bytes: tool name, arguments JSON, context JSON. */
export const inputs = (c: Case): [Uint8Array, Uint8Array, Uint8Array] => [
  c.toolHex !== undefined ? hex(c.toolHex) : encoder.encode(c.tool ?? ''),
  c.argsHex !== undefined ? hex(c.argsHex) : encoder.encode(text(c.args ?? '{}')),
  encoder.encode(text(c.context)),
]

/** Why a case's inputs are not a request an SDK user can send. */
export const SKIPS = {
  tool: 'the tool name is not UTF-8 text',
  json: 'arguments or context is not one JSON text the artifact reads (spec §5: syntax, escapes, lone surrogates, invalid UTF-8, overflow, 128 levels)',
  context: 'the context is not an object whose role is a string (a request has a string role and no context of its own)',
  repeated: 'a key is repeated (a JS object holds each key once)',
  spelling: 'an argument is spelled otherwise than a JS host writes its value (`1.0`, `1e2`, `-0`, `\\u0041`, `\\/`; reasons quote arguments as written) or a number is not a double (2^53 + 1)',
} as const
export type Skip = keyof typeof SKIPS

/** A case as a JS host sends it: the request, and the JSON texts (as written in the case) it was read from. */
export interface RequestForm {
  request: EvaluateRequest
  /** The case's arguments text, and the raw texts of `agent_attrs` and `resource_attrs` when the context has them. */
  texts: { args: string; agent?: string; resource?: string }
}

/**
 * The request a JS host would send for this case, or why there is none. The
 * context's keys other than `role`, `agent_attrs` and `resource_attrs` are not
 * sent (spec §4: they are ignored).
 */
export function requestOf(c: Case): RequestForm | { skip: Skip } {
  const [toolBytes, argsBytes, contextBytes] = inputs(c)
  const tool = decodeUtf8(toolBytes)
  if (tool === undefined || !tool.isWellFormed()) return { skip: 'tool' }
  const args = readJson(argsBytes)
  const context = readJson(contextBytes)
  if ('error' in args || 'error' in context) return { skip: 'json' }
  const role = lastMember(context.value, 'role')
  if (context.value.kind !== 'object' || role?.kind !== 'string') return { skip: 'context' }
  if (repeats(args.value) || repeats(context.value)) return { skip: 'repeated' }
  if (!spelledAsWritten(args.value, argsBytes) || !numbersAreDoubles(context.value)) return { skip: 'spelling' }

  const slice = (bytes: Uint8Array, v: JsonValue): string => decodeUtf8(bytes.subarray(v.start, v.end))!
  const request: EvaluateRequest = { tool, role: role.value, args: JSON.parse(slice(argsBytes, args.value)) as unknown }
  const texts: RequestForm['texts'] = { args: decodeUtf8(argsBytes)! }
  const agent = lastMember(context.value, 'agent_attrs')
  const resource = lastMember(context.value, 'resource_attrs')
  if (agent !== undefined) {
    texts.agent = slice(contextBytes, agent)
    request.agentAttributes = JSON.parse(texts.agent) as unknown
  }
  if (resource !== undefined) {
    texts.resource = slice(contextBytes, resource)
    request.resourceAttributes = JSON.parse(texts.resource) as unknown
  }
  return { request, texts }
}

function repeats(v: JsonValue): boolean {
  if (v.kind === 'array') return v.items.some(repeats)
  if (v.kind !== 'object') return false
  const keys = new Set(v.members.map((m) => m.key))
  return keys.size < v.members.length || v.members.some((m) => repeats(m.value))
}

/** Every number and string spelled as `JSON.stringify` spells its value (keys and white space aside). */
function spelledAsWritten(v: JsonValue, bytes: Uint8Array): boolean {
  switch (v.kind) {
    case 'array': return v.items.every((item) => spelledAsWritten(item, bytes))
    case 'object': return v.members.every((m) => spelledAsWritten(m.value, bytes))
    case 'number':
    case 'string': return JSON.stringify(v.value) === decodeUtf8(bytes.subarray(v.start, v.end))
    default: return true
  }
}

/** Every number keeps its exact value as a double (attributes are never quoted, but FieldEquals compares them exactly). */
function numbersAreDoubles(v: JsonValue): boolean {
  switch (v.kind) {
    case 'array': return v.items.every(numbersAreDoubles)
    case 'object': return v.members.every((m) => numbersAreDoubles(m.value))
    case 'number': return canonicalNumber(v.text) === canonicalNumber(JSON.stringify(v.value))
    default: return true
  }
}

/** A decision as the SDK answers it; an `{"error"}` answer is a denial whose reason is the error (hosts fail closed). */
export interface Decided {
  decision: 'Allow' | 'Deny'
  reason: string
}

export function decidedOf(answer: string): Decided {
  const parsed = JSON.parse(answer) as { decision?: 'Allow' | 'Deny'; reason?: string; error?: string }
  return parsed.error !== undefined ? { decision: 'Deny', reason: parsed.error } : { decision: parsed.decision!, reason: parsed.reason! }
}

/** How an answer misses the case's `want`, or undefined when it meets it (an error want: a denial whose reason is that input's error). */
export function missesWant(got: Decided, want: Case['want']): string | undefined {
  if ('error' in want) {
    return got.decision === 'Deny' && got.reason.startsWith(`${want.error}: `) ? undefined : `want a \`${want.error}\` error, got ${JSON.stringify(got)}`
  }
  if (got.decision !== want.decision) return `want ${want.decision}, got ${JSON.stringify(got)}`
  if (want.reason !== undefined && got.reason !== want.reason) return `want the reason ${JSON.stringify(want.reason)}, got ${JSON.stringify(got.reason)}`
  return undefined
}
