// The fast path: instead of serializing whole objects, send the artifact only
// the values the matched table entry reads (the artifact's metadata says which
// fields of which source), each as a JSON text written straight into module
// memory, through the `evaluate_fields` export (docs/design.md "The fields
// export"). The artifact decides and words every reason; the sentences that are
// fixed per entry (spec §4) are read once from its answer on the text path, and
// only the account of a failed check is read from each answer.

import { type ArtifactExports, KnownText, MemoryViews, writeText } from '../host/abi.js'
import { type Metadata, SOURCE_NAMES } from '../host/metadata.js'
import type { Decision, EvaluateRequest } from './request.js'
import { utf8, writeBytes, writeString, writeValue } from './writer.js'

/** The exports the fast path calls: the ABI's, and the fields export of newer artifacts. */
export interface FieldsExports extends ArtifactExports {
  evaluate_fields(entry: number, table: number): number
}

/** Where a condition reads a value, by its index in SOURCE_NAMES (a number compares faster than a name). */
const enum Source {
  Arguments,
  AgentAttributes,
  ResourceAttributes,
}

interface Read {
  source: Source
  name: string
}

/** A (tool, role) table entry: what to send, and the artifact's fixed sentences once seen. */
interface Plan {
  /** The entry's place in the metadata, which `evaluate_fields` takes. */
  index: number
  /** The reads of its condition, in order: one value each. */
  reads: Read[]
  /** The reason of an Allow (`…; condition passed` or `…; no condition required`). */
  allowReason: string | undefined
  /** `…; condition failed`: the reason of a Deny, before `: ` and the account of the failed check. */
  failedReason: string | undefined
  /** The last Deny answer's bytes (`D` and the account) with its reason: the same bytes again are the same reason. */
  lastDeny: KnownText<string> | undefined
}


const DEFAULTS_CACHE_LIMIT = 1024
/** Default answers for longer tool names and roles (their reasons echo both) are not kept. */
const DEFAULTS_CACHE_LENGTH = 1024
const MIN_BUFFER = 64 * 1024
/** Offsets in a response text: `{"d` of every decision, then `A` of Allow or `D` of Deny. */
const DECISION_D = 2
const DECISION_AD = '{"decision":"'.length
const ALLOW_REASON_AT = '{"decision":"Allow","reason":"'.length
const DENY_REASON_AT = '{"decision":"Deny","reason":"'.length
/** First byte of a fields answer: `A` Allow, `D` Deny then the account (plain UTF-8); `{` starts an error response. */
const FIELDS_ALLOW = 0x41
const FIELDS_DENY = 0x44
/** Longer Deny answers (an account can echo field names of any length) are not kept. */
const KNOWN_DENY_LENGTH = 1024
/** The entry index that asks `evaluate_fields` for the default action (0xFFFFFFFF as an i32). */
const NO_ENTRY = -1
const EMPTY_ARGS = utf8('{}')
const CONTEXT_ROLE = utf8('{"role":')
const decoder = new TextDecoder()

/** The denial when the module cannot give the inputs a buffer (a fresh object: the caller owns it). */
const noRoom = (): Decision => ({ decision: 'Deny', reason: 'host: the artifact could not reserve memory for the inputs' })

/** The artifact's answer as a decision: an input error is a denial whose reason is the error (spec §5). */
export function decisionOf(answer: { decision?: unknown; reason?: unknown; error?: unknown }): Decision {
  if (answer.decision === 'Allow' && typeof answer.reason === 'string') return { decision: 'Allow', reason: answer.reason }
  if (answer.decision === 'Deny' && typeof answer.reason === 'string') return { decision: 'Deny', reason: answer.reason }
  return { decision: 'Deny', reason: typeof answer.error === 'string' ? answer.error : 'the artifact gave no decision' }
}

/** True when the artifact has the fields export (artifacts compiled before it have not). */
export function hasFieldsExport(exports: ArtifactExports): exports is FieldsExports {
  return typeof (exports as Partial<FieldsExports>).evaluate_fields === 'function'
}

export class FastPath {
  private readonly plans = new Map<string, Map<string, Plan>>()
  /** Default-action answers by tool and role, read once from the standard `evaluate`. */
  private readonly defaults = new Map<string, Map<string, Decision>>()
  private readonly evaluate: ArtifactExports['evaluate']
  private readonly evaluateFields: FieldsExports['evaluate_fields']
  private defaultsCount = 0
  private readonly views: MemoryViews
  private ptr = 0
  private room = 0
  // Where `writeDefault` put the three texts.
  private toolLen = 0
  private argsPtr = 0
  private argsLen = 0
  private contextPtr = 0
  private contextLen = 0

  /** `textPath` decides a request from its whole JSON texts: the answer the fixed sentences are read from. */
  constructor(
    private readonly exports: FieldsExports,
    metadata: Metadata,
    private readonly textPath: (request: EvaluateRequest) => Decision,
  ) {
    this.evaluate = exports.evaluate
    this.evaluateFields = exports.evaluate_fields
    this.views = new MemoryViews(exports.memory)
    metadata.entries.forEach(([toolIndex, roleIndex, , conditionIndex], index) => {
      const tool = metadata.tools[toolIndex]!
      const role = metadata.roles[roleIndex]!
      const reads = conditionIndex === null ? [] : metadata.conditions[conditionIndex]!.reads
      let byRole = this.plans.get(tool)
      if (byRole === undefined) this.plans.set(tool, (byRole = new Map()))
      byRole.set(role, {
        index,
        reads: reads.map((read) => ({ source: SOURCE_NAMES.indexOf(read.source) as Source, name: read.field })),
        allowReason: undefined,
        failedReason: undefined,
        lastDeny: undefined,
      })
    })
  }

  /** The artifact's decision on a request the walk accepted (so `role` is a well-formed string). */
  decide(request: EvaluateRequest): Decision {
    const { tool, role } = request
    const plan = this.plans.get(tool)?.get(role)
    if (plan === undefined) return this.decideDefault(tool, role)
    while (!this.writeValues(plan, request)) {
      if (!this.reserve(this.room * 2)) return noRoom()
    }
    // No `dealloc` of the answer: it is a no-op (design.md "Memory model"), and the ABI lets hosts skip it.
    const answer = this.evaluateFields(plan.index, this.ptr)
    const length = this.views.u32(answer)
    const bytes = this.views.bytes
    const kind = bytes[answer + 4]
    if (kind === FIELDS_ALLOW) return plan.allowReason !== undefined ? { decision: 'Allow', reason: plan.allowReason } : this.learn(plan, request, 'Allow', '')
    if (kind !== FIELDS_DENY) return this.read(answer + 4, length)
    const last = plan.lastDeny
    if (last !== undefined && last.matches(this.views, answer + 4, length)) return { decision: 'Deny', reason: last.value }
    const account = length > 1 ? decoder.decode(bytes.subarray(answer + 5, answer + 4 + length)) : ''
    if (plan.failedReason === undefined) return this.learn(plan, request, 'Deny', account)
    const reason = account === '' ? plan.failedReason : plan.failedReason + ': ' + account
    if (length > KNOWN_DENY_LENGTH) return { decision: 'Deny', reason }
    if (last === undefined) plan.lastDeny = new KnownText(this.views, answer + 4, length, reason)
    else last.set(this.views, answer + 4, length, reason)
    return { decision: 'Deny', reason }
  }

  /**
   * The first answer of its kind for an entry: the text path's, whose reason
   * holds the entry's fixed sentence, kept for the next ones. Should the two
   * paths ever disagree, the text path's answer stands and nothing is kept.
   */
  private learn(plan: Plan, request: EvaluateRequest, decision: Decision['decision'], account: string): Decision {
    const answer = this.textPath(request)
    if (answer.decision !== decision) return answer
    if (decision === 'Allow') plan.allowReason = answer.reason
    else {
      const tail = account === '' ? '' : ': ' + account
      if (answer.reason.endsWith(tail)) plan.failedReason = answer.reason.slice(0, answer.reason.length - tail.length)
    }
    return answer
  }

  /**
   * The values of an entry's reads as JSON texts, and before them the table of
   * their (ptr, len), len 0 for an absent field. False when the buffer is too small.
   */
  private writeValues(plan: Plan, request: EvaluateRequest): boolean {
    const bytes = this.views.current()
    const words = this.views.words
    const reads = plan.reads
    const table = this.ptr >> 2
    const end = this.ptr + this.room
    let p = this.ptr + reads.length * 8
    // Also false before the first buffer (room 0): the table's address is never 0.
    if (p >= end) return false
    for (let r = 0; r < reads.length; r++) {
      const read = reads[r]!
      const source = read.source === Source.Arguments ? request.args : read.source === Source.AgentAttributes ? request.agentAttributes : request.resourceAttributes
      const start = p
      // Not an object (array, scalar, null, absent): every field is absent, as the artifact reads it.
      // Like JSON.stringify, undefined is absent; own members only: an inherited
      // `toString` or a polluted prototype is not in the JSON text.
      if (typeof source === 'object' && source !== null && !Array.isArray(source)) {
        const value = (source as Record<string, unknown>)[read.name]
        if (value !== undefined && Object.hasOwn(source, read.name)) p = writeValue(bytes, p, end, value)
        if (p === -1) return false
      }
      words[table + 2 * r] = start
      words[table + 2 * r + 1] = p - start
    }
    return true
  }

  /**
   * The default-action answer of a (tool, role) without entry. Its reason is
   * fixed per pair (spec §4): once read from the standard `evaluate`, the
   * artifact is asked through `evaluate_fields` with no entry, which answers
   * the default action alone.
   */
  private decideDefault(tool: string, role: string): Decision {
    const known = this.defaults.get(tool)?.get(role)
    if (known !== undefined) {
      const answer = this.evaluateFields(NO_ENTRY, this.ptr)
      if (this.views.u32(answer) === 1 && this.views.bytes[answer + 4] === (known.decision === 'Allow' ? FIELDS_ALLOW : FIELDS_DENY)) {
        return { decision: known.decision, reason: known.reason }
      }
    }
    while (!this.writeDefault(tool, role)) {
      if (!this.reserve(this.room * 2)) return noRoom()
    }
    const resp = this.evaluate(this.ptr, this.toolLen, this.argsPtr, this.argsLen, this.contextPtr, this.contextLen)
    const length = this.views.u32(resp)
    const text = resp + 4
    const decision = this.read(text, length)
    // Not `{"d…`: an input error, which is not kept.
    return this.views.bytes[text + DECISION_D] === 0x64 ? this.keepDefault(tool, role, decision) : decision
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

  /** Keeps a default-action answer (a bounded cache, cleared when full); long ones, which echo long names, are not kept. */
  private keepDefault(tool: string, role: string, decision: Decision): Decision {
    if (tool.length + role.length > DEFAULTS_CACHE_LENGTH) return decision
    if (this.defaultsCount >= DEFAULTS_CACHE_LIMIT) {
      this.defaults.clear()
      this.defaultsCount = 0
    }
    let byRole = this.defaults.get(tool)
    if (byRole === undefined) this.defaults.set(tool, (byRole = new Map()))
    // A copy: the caller owns the decision it is handed.
    byRole.set(role, { decision: decision.decision, reason: decision.reason })
    this.defaultsCount++
    return decision
  }
}
