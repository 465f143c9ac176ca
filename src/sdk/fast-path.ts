// The fast path: instead of serializing whole objects, send the artifact only
// what the matched table entry reads (the artifact's metadata says which fields
// of which source), as minimal JSON texts written straight into module memory.
// The artifact still decides and words the reason; this file never does: it
// only recognises answers the artifact already gave, by comparing their bytes.

import { type ArtifactExports, KnownText, MemoryViews, writeText } from '../host/abi.js'
import type { Metadata } from '../host/metadata.js'
import type { Decision, EvaluateRequest } from './request.js'
import { utf8, writeBytes, writeString, writeValue } from './writer.js'

/** One field a table entry reads: its name and its member prefix as UTF-8 JSON (`"amount":`). */
interface Field {
  name: string
  key: Uint8Array
}

/** What to send for one (tool, role) entry, and its answers once seen. */
interface Plan {
  tool: Uint8Array
  /** `{"role":"agent"`: the context text up to its attributes. */
  contextHead: Uint8Array
  args: Field[]
  agent: Field[]
  resource: Field[]
  /** The Allow reason (fixed per entry by spec §4) and the response length it came in. */
  allowReason: string
  allowLength: number
  /** The last Deny response text, with its reason: the same bytes again are the same reason. */
  deny: KnownText<string> | undefined
}

/** A default-action answer for a (tool, role) without entry: fixed too, keyed by both. */
interface Cached {
  length: number
  decision: Decision['decision']
  reason: string
}

const DEFAULTS_CACHE_LIMIT = 1024
/** Longer default answers (they echo the tool name and role, of any length) are not kept. */
const DEFAULTS_CACHE_LENGTH = 1024
const MIN_BUFFER = 64 * 1024
/** Offsets in a response text: `{"d` of every decision, then `A` of Allow or `D` of Deny. */
const DECISION_D = 2
const DECISION_AD = '{"decision":"'.length
const ALLOW_REASON_AT = '{"decision":"Allow","reason":"'.length
const DENY_REASON_AT = '{"decision":"Deny","reason":"'.length
const EMPTY_ARGS = utf8('{}')
const AGENT_HEAD = utf8(',"agent_attrs":{')
const RESOURCE_HEAD = utf8(',"resource_attrs":{')
const CONTEXT_ROLE = utf8('{"role":')
const decoder = new TextDecoder()

/** The artifact's answer as a decision: an input error is a denial whose reason is the error (spec §5). */
export function decisionOf(answer: { decision?: unknown; reason?: unknown; error?: unknown }): Decision {
  if (answer.decision === 'Allow' && typeof answer.reason === 'string') return { decision: 'Allow', reason: answer.reason }
  if (answer.decision === 'Deny' && typeof answer.reason === 'string') return { decision: 'Deny', reason: answer.reason }
  return { decision: 'Deny', reason: typeof answer.error === 'string' ? answer.error : 'the artifact gave no decision' }
}

/**
 * The members of `source` that `fields` name, written from `at` as JSON
 * members after `head` (`,"agent_attrs":{`, or nothing for the arguments);
 * nothing at all when none is there. The position after them, -1 when out of room.
 */
function writeMembers(bytes: Uint8Array, at: number, end: number, head: Uint8Array | undefined, source: unknown, fields: Field[]): number {
  // Not an object (array, scalar, null, absent): every field is absent, as the artifact reads it.
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return at
  let p = at
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const value = (source as Record<string, unknown>)[field.name]
    // Like JSON.stringify, undefined is absent; own members only: an inherited
    // `toString` or a polluted prototype is not in the JSON text.
    if (value === undefined || !Object.hasOwn(source, field.name)) continue
    if (p !== at) {
      if (p >= end) return -1
      bytes[p++] = 0x2c
    } else if (head !== undefined) p = writeBytes(bytes, p, end, head)
    if (p !== -1) p = writeBytes(bytes, p, end, field.key)
    if (p !== -1) p = writeValue(bytes, p, end, value)
    if (p === -1) return -1
  }
  if (p === at || head === undefined) return p
  if (p >= end) return -1
  bytes[p] = 0x7d
  return p + 1
}

export class FastPath {
  private readonly plans = new Map<string, Map<string, Plan>>()
  private readonly defaults = new Map<string, Map<string, Cached>>()
  private readonly evaluate: ArtifactExports['evaluate']
  private defaultsCount = 0
  private readonly views: MemoryViews
  private ptr = 0
  private room = 0
  // Where `write` put the three texts.
  private toolLen = 0
  private argsPtr = 0
  private argsLen = 0
  private contextPtr = 0
  private contextLen = 0

  constructor(private readonly exports: ArtifactExports, metadata: Metadata) {
    this.evaluate = exports.evaluate
    this.views = new MemoryViews(exports.memory)
    const reads = metadata.conditions.map((c) => c.reads)
    for (const [toolIndex, roleIndex, , conditionIndex] of metadata.entries) {
      const tool = metadata.tools[toolIndex]!
      const role = metadata.roles[roleIndex]!
      const fields = (source: string): Field[] =>
        (conditionIndex === null ? [] : reads[conditionIndex]!)
          .filter((read) => read.source === source)
          .map((read) => ({ name: read.field, key: utf8(JSON.stringify(read.field) + ':') }))
      let byRole = this.plans.get(tool)
      if (byRole === undefined) this.plans.set(tool, (byRole = new Map()))
      byRole.set(role, {
        tool: utf8(tool),
        contextHead: utf8('{"role":' + JSON.stringify(role)),
        args: fields('Arguments'),
        agent: fields('AgentAttributes'),
        resource: fields('ResourceAttributes'),
        allowReason: '',
        allowLength: -1,
        deny: undefined,
      })
    }
  }

  /** The artifact's decision on a request the walk accepted (so `role` is a well-formed string). */
  decide(request: EvaluateRequest): Decision {
    const { tool, role } = request
    const plan = this.plans.get(tool)?.get(role)
    while (!(plan === undefined ? this.writeDefault(tool, role) : this.writePlan(plan, request))) {
      if (!this.reserve(this.room * 2)) return { decision: 'Deny', reason: 'host: the artifact could not reserve memory for the inputs' }
    }
    // No `dealloc` of the response: it is a no-op (design.md "Memory model"), and the ABI lets hosts skip it.
    const resp = this.evaluate(this.ptr, this.toolLen, this.argsPtr, this.argsLen, this.contextPtr, this.contextLen)
    const length = this.views.u32(resp)
    const bytes = this.views.bytes
    const text = resp + 4
    // Not `{"d…`: an input error, which the artifact words and the parser reads.
    if (bytes[text + DECISION_D] !== 0x64) return this.read(text, length)
    if (plan === undefined) return this.defaultAnswer(tool, role, text, length)
    return bytes[text + DECISION_AD] === 0x41 ? this.allowAnswer(plan, text, length) : this.denyAnswer(plan, text, length)
  }

  /** The three texts of a request with an entry: only the fields it reads. False when the buffer is too small. */
  private writePlan(plan: Plan, request: EvaluateRequest): boolean {
    const bytes = this.views.current()
    const end = this.ptr + this.room
    let p = writeBytes(bytes, this.ptr, end, plan.tool)
    if (p === -1) return false
    this.toolLen = p - this.ptr
    this.argsPtr = p
    if (plan.args.length === 0) p = writeBytes(bytes, p, end, EMPTY_ARGS)
    else if (p < end) {
      bytes[p] = 0x7b
      p = writeMembers(bytes, p + 1, end, undefined, request.args, plan.args)
      if (p === -1 || p >= end) return false
      bytes[p++] = 0x7d
    } else return false
    if (p === -1) return false
    this.argsLen = p - this.argsPtr
    this.contextPtr = p
    p = writeBytes(bytes, p, end, plan.contextHead)
    if (p !== -1 && plan.agent.length > 0) p = writeMembers(bytes, p, end, AGENT_HEAD, request.agentAttributes, plan.agent)
    if (p !== -1 && plan.resource.length > 0) p = writeMembers(bytes, p, end, RESOURCE_HEAD, request.resourceAttributes, plan.resource)
    if (p === -1 || p >= end) return false
    bytes[p++] = 0x7d
    this.contextLen = p - this.contextPtr
    return true
  }

  /** The three texts of a request without entry: no fields at all. False when the buffer is too small. */
  private writeDefault(tool: string, role: string): boolean {
    const bytes = this.views.current()
    const end = this.ptr + this.room
    let p = writeText(bytes, this.ptr, end, tool)
    if (p === -1) return false
    this.toolLen = p - this.ptr
    this.argsPtr = p
    p = writeBytes(bytes, p, end, EMPTY_ARGS)
    if (p === -1) return false
    this.argsLen = 2
    this.contextPtr = p
    p = writeBytes(bytes, p, end, CONTEXT_ROLE)
    if (p !== -1) p = writeString(bytes, p, end, role)
    if (p === -1 || p >= end) return false
    bytes[p++] = 0x7d
    this.contextLen = p - this.contextPtr
    return true
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

  /** The decision in a response text, read in full: the reason decoded directly when it holds no escape, else parsed. */
  private read(text: number, length: number): Decision {
    const bytes = this.views.bytes
    if (bytes[text + DECISION_D] === 0x64 && bytes[text + length - 1] === 0x7d && bytes[text + length - 2] === 0x22) {
      // {"decision":"Allow","reason":"…"} or {"decision":"Deny","reason":"…"}
      const allow = bytes[text + DECISION_AD] === 0x41
      const reason = bytes.subarray(text + (allow ? ALLOW_REASON_AT : DENY_REASON_AT), text + length - 2)
      if (reason.indexOf(0x5c) === -1) return { decision: allow ? 'Allow' : 'Deny', reason: decoder.decode(reason) }
    }
    return decisionOf(JSON.parse(decoder.decode(bytes.subarray(text, text + length))) as Record<string, unknown>)
  }

  /** Allow answers of an entry are fixed texts (spec §4), read once and then recognised by their length. */
  private allowAnswer(plan: Plan, text: number, length: number): Decision {
    if (length === plan.allowLength) return { decision: 'Allow', reason: plan.allowReason }
    const decision = this.read(text, length)
    if (decision.decision === 'Allow') {
      plan.allowReason = decision.reason
      plan.allowLength = length
    }
    return decision
  }

  /** Deny answers of an entry name the failed check; the last one is kept and recognised by its bytes. */
  private denyAnswer(plan: Plan, text: number, length: number): Decision {
    const last = plan.deny
    if (last !== undefined && last.matches(this.views, text, length)) return { decision: 'Deny', reason: last.value }
    const decision = this.read(text, length)
    if (decision.decision === 'Deny') plan.deny = new KnownText(this.views.bytes, text, length, decision.reason)
    return decision
  }

  /** Default-action answers are fixed per (tool, role) too; a bounded cache keeps the recent ones. */
  private defaultAnswer(tool: string, role: string, text: number, length: number): Decision {
    const cached = this.defaults.get(tool)?.get(role)
    if (cached !== undefined && cached.length === length) return { decision: cached.decision, reason: cached.reason }
    const decision = this.read(text, length)
    if (length > DEFAULTS_CACHE_LENGTH) return decision
    if (this.defaultsCount >= DEFAULTS_CACHE_LIMIT) {
      this.defaults.clear()
      this.defaultsCount = 0
    }
    let byRole = this.defaults.get(tool)
    if (byRole === undefined) this.defaults.set(tool, (byRole = new Map()))
    byRole.set(role, { length, ...decision })
    this.defaultsCount++
    return decision
  }
}
