// The fast path: instead of serializing whole objects, send the artifact only
// what the matched table entry reads (the artifact's metadata says which fields
// of which source), as minimal JSON texts encoded straight into module memory.
// The artifact still decides and words the reason; this file never does.

import type { ArtifactExports } from '../host/abi.js'
import type { Metadata } from '../host/metadata.js'
import type { Decision, EvaluateRequest } from './request.js'

/** One field a table entry reads: its name and its member prefix as JSON text (`"amount":`). */
interface Field {
  name: string
  key: string
}

/** What to send for one (tool, role) entry, and its Allow answer once seen. */
interface Plan {
  /** `{"role":"agent"`: the context text up to its attributes. */
  contextHead: string
  args: Field[]
  agent: Field[]
  resource: Field[]
  /** The Allow reason (fixed per entry by spec §4) and the response length it came in. */
  allowReason?: string
  allowLength: number
}

/** A default-action answer for a (tool, role) without entry: fixed too, keyed by both. */
interface Cached {
  length: number
  decision: Decision['decision']
  reason: string
}

const DEFAULTS_CACHE_LIMIT = 1024
const MIN_BUFFER = 64 * 1024
const RESPONSE_DECISION = 4 + '{"decision":"'.length
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The artifact's answer as a decision: an input error is a denial whose reason is the error (spec §5). */
export function decisionOf(answer: { decision?: unknown; reason?: unknown; error?: unknown }): Decision {
  if (answer.decision === 'Allow' && typeof answer.reason === 'string') return { decision: 'Allow', reason: answer.reason }
  if (answer.decision === 'Deny' && typeof answer.reason === 'string') return { decision: 'Deny', reason: answer.reason }
  return { decision: 'Deny', reason: typeof answer.error === 'string' ? answer.error : 'the artifact gave no decision' }
}

/** JSON text of one value the walk accepted; what JSON.stringify writes for it inside a larger text. */
function valueText(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return '' + value // -0 prints `0`, as JSON.stringify does
    case 'boolean':
      return value ? 'true' : 'false'
    default:
      return value === null ? 'null' : JSON.stringify(value)
  }
}

/** The members of `source` that `fields` name, as JSON text without braces; '' when none is there. */
function membersText(source: unknown, fields: Field[]): string {
  // Not an object (array, scalar, null, absent): every field is absent, as the artifact reads it.
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return ''
  let text = ''
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    // Own members only: an inherited `toString` or a polluted prototype is not in the JSON text.
    if (!Object.hasOwn(source, field.name)) continue
    const value = (source as Record<string, unknown>)[field.name]
    if (value === undefined) continue
    text += (text === '' ? '' : ',') + field.key + valueText(value)
  }
  return text
}

/**
 * Writes `text` as UTF-8 at `at` (room for 3 bytes per unit is reserved); the
 * bytes written. Short ASCII texts, the usual case, are copied in a plain loop:
 * cheaper than a call into the encoder; anything else goes through it.
 */
function writeText(bytes: Uint8Array, at: number, text: string): number {
  const length = text.length
  if (length <= 256) {
    let i = 0
    for (; i < length; i++) {
      const unit = text.charCodeAt(i)
      if (unit >= 0x80) break
      bytes[at + i] = unit
    }
    if (i === length) return length
  }
  return encoder.encodeInto(text, bytes.subarray(at, at + length * 3)).written
}

/**
 * The reason of a decision response from its JSON bytes: decoded directly when
 * it holds no escape (nearly always), else undefined and the JSON parser reads it.
 */
function reasonOf(bytes: Uint8Array, start: number, end: number): string | undefined {
  const reason = bytes.subarray(start, end)
  return reason.indexOf(0x5c) === -1 ? decoder.decode(reason) : undefined
}

const ALLOW_REASON_AT = '{"decision":"Allow","reason":"'.length
const DENY_REASON_AT = '{"decision":"Deny","reason":"'.length

export class FastPath {
  private readonly plans = new Map<string, Map<string, Plan>>()
  private readonly defaults = new Map<string, Map<string, Cached>>()
  private defaultsCount = 0
  private bytes: Uint8Array
  private ptr = 0
  private room = 0

  constructor(private readonly exports: ArtifactExports, metadata: Metadata) {
    this.bytes = new Uint8Array(exports.memory.buffer)
    const reads = metadata.conditions.map((c) => c.reads)
    for (const [toolIndex, roleIndex, , conditionIndex] of metadata.entries) {
      const tool = metadata.tools[toolIndex]!
      const role = metadata.roles[roleIndex]!
      const fields = (source: string): Field[] =>
        (conditionIndex === null ? [] : reads[conditionIndex]!)
          .filter((read) => read.source === source)
          .map((read) => ({ name: read.field, key: JSON.stringify(read.field) + ':' }))
      let byRole = this.plans.get(tool)
      if (byRole === undefined) this.plans.set(tool, (byRole = new Map()))
      byRole.set(role, {
        contextHead: '{"role":' + JSON.stringify(role),
        args: fields('Arguments'),
        agent: fields('AgentAttributes'),
        resource: fields('ResourceAttributes'),
        allowLength: -1,
      })
    }
  }

  /** The artifact's decision on a request the walk accepted (so `role` is a well-formed string). */
  decide(request: EvaluateRequest): Decision {
    const { tool, role } = request
    const plan = this.plans.get(tool)?.get(role)
    let args = '{}'
    let context: string
    if (plan === undefined) context = '{"role":' + JSON.stringify(role) + '}'
    else {
      if (plan.args.length > 0) args = '{' + membersText(request.args, plan.args) + '}'
      context = plan.contextHead
      if (plan.agent.length > 0) {
        const members = membersText(request.agentAttributes, plan.agent)
        if (members !== '') context += ',"agent_attrs":{' + members + '}'
      }
      if (plan.resource.length > 0) {
        const members = membersText(request.resourceAttributes, plan.resource)
        if (members !== '') context += ',"resource_attrs":{' + members + '}'
      }
      context += '}'
    }
    const resp = this.call(tool, args, context)
    if (resp === 0) return { decision: 'Deny', reason: 'host: the artifact could not reserve memory for the inputs' }
    return plan === undefined ? this.defaultAnswer(tool, role, resp) : this.entryAnswer(plan, resp)
  }

  /** Writes the three texts into the reused input buffer and calls `evaluate`; the response pointer, 0 when out of memory. */
  private call(tool: string, args: string, context: string): number {
    const need = (tool.length + args.length + context.length) * 3
    if (need > this.room && !this.reserve(need)) return 0
    const bytes = this.view()
    const toolPtr = this.ptr
    const toolLen = writeText(bytes, toolPtr, tool)
    const argsPtr = toolPtr + toolLen
    const argsLen = writeText(bytes, argsPtr, args)
    const contextPtr = argsPtr + argsLen
    const contextLen = writeText(bytes, contextPtr, context)
    return this.exports.evaluate(toolPtr, toolLen, argsPtr, argsLen, contextPtr, contextLen)
  }

  /**
   * One input buffer, reserved once and reused for every call (the memory model
   * supports hosts that alloc once); replaced by a larger one when a request needs it.
   */
  private reserve(need: number): boolean {
    let room = Math.max(MIN_BUFFER, this.room)
    while (room < need) room *= 2
    const ptr = this.exports.alloc(room)
    if (ptr === 0) return false
    this.ptr = ptr
    this.room = room
    return true
  }

  /** The module's memory as bytes; a new view after the memory grew (growing detaches the old buffer). */
  private view(): Uint8Array {
    const buffer = this.exports.memory.buffer
    if (this.bytes.buffer !== buffer) this.bytes = new Uint8Array(buffer)
    return this.bytes
  }

  /** Response length, after releasing the response (its bytes stay readable until the next call). */
  private responseLength(resp: number): number {
    const bytes = this.view()
    const length = (bytes[resp]! | (bytes[resp + 1]! << 8) | (bytes[resp + 2]! << 16) | (bytes[resp + 3]! << 24)) >>> 0
    this.exports.dealloc(resp, 4 + length)
    return length
  }

  private read(resp: number, length: number): Decision {
    const bytes = this.bytes
    const text = resp + 4
    if (bytes[text + 2] === 0x64 && bytes[text + length - 1] === 0x7d && bytes[text + length - 2] === 0x22) {
      // {"decision":"Allow","reason":"…"} or {"decision":"Deny","reason":"…"}
      const allow = bytes[resp + RESPONSE_DECISION] === 0x41
      const reason = reasonOf(bytes, text + (allow ? ALLOW_REASON_AT : DENY_REASON_AT), text + length - 2)
      if (reason !== undefined) return { decision: allow ? 'Allow' : 'Deny', reason }
    }
    return decisionOf(JSON.parse(decoder.decode(bytes.subarray(text, text + length))) as Record<string, unknown>)
  }

  /** Allow answers of an entry are fixed texts (spec §4), read once and then recognised by their length. */
  private entryAnswer(plan: Plan, resp: number): Decision {
    const length = this.responseLength(resp)
    const allow = this.bytes[resp + RESPONSE_DECISION] === 0x41 && this.bytes[resp + 6] === 0x64 // `A` of "Allow", `d` of "decision"
    if (allow && length === plan.allowLength) return { decision: 'Allow', reason: plan.allowReason! }
    const decision = this.read(resp, length)
    if (allow && decision.decision === 'Allow') {
      plan.allowReason = decision.reason
      plan.allowLength = length
    }
    return decision
  }

  /** Default-action answers are fixed per (tool, role) too; a bounded cache keeps the recent ones. */
  private defaultAnswer(tool: string, role: string, resp: number): Decision {
    const length = this.responseLength(resp)
    const cached = this.defaults.get(tool)?.get(role)
    if (cached !== undefined && cached.length === length && this.bytes[resp + 6] === 0x64) return { decision: cached.decision, reason: cached.reason }
    const decision = this.read(resp, length)
    if (this.bytes[resp + 6] === 0x64) {
      if (this.defaultsCount >= DEFAULTS_CACHE_LIMIT) {
        this.defaults.clear()
        this.defaultsCount = 0
      }
      let byRole = this.defaults.get(tool)
      if (byRole === undefined) this.defaults.set(tool, (byRole = new Map()))
      byRole.set(role, { length, ...decision })
      this.defaultsCount++
    }
    return decision
  }
}
