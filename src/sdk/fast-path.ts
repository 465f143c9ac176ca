// The fast path: instead of serialising whole objects, send the artifact the
// values of just the fields the matched entry reads (the artifact's metadata
// says which), each as a JSON text written straight into module memory and
// claimed by its source and field name, through `evaluate_values`
// (docs/design.md "The values export"). The artifact checks every claim against
// its own blob and decides on the one path `evaluate` takes: it answers the
// same bytes, which the SDK only reads.

import { type ArtifactExports, KnownText, MemoryViews, writeText } from '../host/abi.js'
import type { Metadata } from '../host/metadata.js'
import { Source, ValueRecord, ValuesTable } from '../layout.js'
import type { Decision, EvaluateRequest } from './request.js'
import { utf8, writeValue } from './writer.js'

/** The exports the fast path calls: the ABI's, and the values export of artifacts that have it. */
export interface ValuesExports extends ArtifactExports {
  evaluate_values(toolPtr: number, toolLen: number, rolePtr: number, roleLen: number, values: number): number
}

/** A field an entry's condition reads. */
interface Read {
  source: number
  name: string
  nameBytes: Uint8Array
}

/** What to send for a (tool, role), and the last answers seen for it, recognised by their bytes. */
interface Plan {
  reads: Read[]
  answers: KnownText<Decision>[]
}

const MIN_BUFFER = 64 * 1024
/** Answers kept per plan (an Allow and a Deny or two), and how long they may be. */
const KNOWN_PER_PLAN = 3
const KNOWN_LENGTH = 1024
/** Offsets in a response text: `{"d` of every decision, then `A` of Allow or `D` of Deny. */
const DECISION_D = 2
const DECISION_AD = '{"decision":"'.length
const ALLOW_REASON_AT = '{"decision":"Allow","reason":"'.length
const DENY_REASON_AT = '{"decision":"Deny","reason":"'.length
const decoder = new TextDecoder()

/** The denial when the module cannot give the inputs a buffer (a fresh object: the caller owns it). */
const noRoom = (): Decision => ({ decision: 'Deny', reason: 'host: the artifact could not reserve memory for the inputs' })

/** The artifact's answer as a decision: an input error is a denial whose reason is the error (spec §5). */
export function decisionOf(answer: { decision?: unknown; reason?: unknown; error?: unknown }): Decision {
  if (answer.decision === 'Allow' && typeof answer.reason === 'string') return { decision: 'Allow', reason: answer.reason }
  if (answer.decision === 'Deny' && typeof answer.reason === 'string') return { decision: 'Deny', reason: answer.reason }
  return { decision: 'Deny', reason: typeof answer.error === 'string' ? answer.error : 'the artifact gave no decision' }
}

/** True when the artifact has the values export (artifacts compiled before it have not). */
export function hasValuesExport(exports: ArtifactExports): exports is ValuesExports {
  return typeof (exports as Partial<ValuesExports>).evaluate_values === 'function'
}

export class FastPath {
  private readonly plans = new Map<string, Map<string, Plan>>()
  /** For pairs the metadata has no entry for: no reads, and answers recognised by their bytes all the same. */
  private readonly noEntry: Plan = { reads: [], answers: [] }
  private readonly views: MemoryViews
  private ptr = 0
  private room = 0
  // Where `write` put the tool name and the role.
  private toolPtr = 0
  private toolLen = 0
  private rolePtr = 0
  private roleLen = 0

  /** `textPath` decides a request from its whole JSON texts: the answer when the artifact refuses the values. */
  constructor(
    private readonly exports: ValuesExports,
    metadata: Metadata,
    private readonly textPath: (request: EvaluateRequest) => Decision,
  ) {
    this.views = new MemoryViews(exports.memory)
    for (const [toolIndex, roleIndex, , conditionIndex] of metadata.entries) {
      const tool = metadata.tools[toolIndex]!
      const role = metadata.roles[roleIndex]!
      const reads = conditionIndex === null ? [] : metadata.conditions[conditionIndex]!.reads
      let byRole = this.plans.get(tool)
      if (byRole === undefined) this.plans.set(tool, (byRole = new Map()))
      byRole.set(role, {
        reads: reads.map((read) => ({ source: Source[read.source], name: read.field, nameBytes: utf8(read.field) })),
        answers: [],
      })
    }
  }

  /** The artifact's decision on a request the walk accepted (so `role` is a well-formed string). */
  decide(request: EvaluateRequest): Decision {
    const plan = this.plans.get(request.tool)?.get(request.role) ?? this.noEntry
    while (!this.write(plan, request)) {
      if (!this.reserve(this.room * 2)) return noRoom()
    }
    const resp = this.exports.evaluate_values(this.toolPtr, this.toolLen, this.rolePtr, this.roleLen, this.ptr)
    const length = this.views.u32(resp)
    const decision = this.read(plan, resp + 4, length)
    this.exports.dealloc(resp, 4 + length)
    // The artifact refused the claims (metadata that is not its own) or a value: the whole request's texts decide.
    return decision !== undefined ? decision : this.textPath(request)
  }

  /**
   * The values table (a count, then per read its source, name and value), then
   * the tool name, the role, the names and the values it points at. False when
   * the buffer is too small.
   */
  private write(plan: Plan, request: EvaluateRequest): boolean {
    const bytes = this.views.current()
    const words = this.views.words
    const reads = plan.reads
    const table = this.ptr >> 2
    const end = this.ptr + this.room
    let p = this.ptr + ValuesTable.Records + reads.length * ValueRecord.Size
    // Also false before the first buffer (room 0).
    if (p >= end) return false
    this.toolPtr = p
    p = writeText(bytes, p, end, request.tool)
    if (p === -1) return false
    this.toolLen = p - this.toolPtr
    this.rolePtr = p
    p = writeText(bytes, p, end, request.role)
    if (p === -1) return false
    this.roleLen = p - this.rolePtr
    words[table] = reads.length
    for (let r = 0; r < reads.length; r++) {
      const read = reads[r]!
      const record = table + (ValuesTable.Records + r * ValueRecord.Size) / 4
      if (p + read.nameBytes.length > end) return false
      bytes.set(read.nameBytes, p)
      words[record + ValueRecord.Source / 4] = read.source
      words[record + ValueRecord.NamePtr / 4] = p
      words[record + ValueRecord.NameLen / 4] = read.nameBytes.length
      p += read.nameBytes.length
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
      words[record + ValueRecord.ValuePtr / 4] = start
      words[record + ValueRecord.ValueLen / 4] = p - start
    }
    return true
  }

  /**
   * The decision the response text at `text` gives: a repeat of one of the
   * plan's last answers is recognised by its bytes; undefined for an error.
   */
  private read(plan: Plan, text: number, length: number): Decision | undefined {
    for (const known of plan.answers) {
      if (known.matches(this.views, text, length)) return { decision: known.value.decision, reason: known.value.reason }
    }
    const decision = this.decode(text, length)
    if (decision === undefined || length > KNOWN_LENGTH) return decision
    if (plan.answers.length >= KNOWN_PER_PLAN) plan.answers.shift()
    plan.answers.push(new KnownText(this.views, text, length, { decision: decision.decision, reason: decision.reason }))
    return decision
  }

  /** The decision in a response text: the reason decoded directly when it holds no escape, else parsed. */
  private decode(text: number, length: number): Decision | undefined {
    const bytes = this.views.bytes
    if (bytes[text + DECISION_D] !== 0x64) return undefined
    if (bytes[text + length - 1] === 0x7d && bytes[text + length - 2] === 0x22) {
      // {"decision":"Allow","reason":"…"} or {"decision":"Deny","reason":"…"}
      const allow = bytes[text + DECISION_AD] === 0x41
      const reason = bytes.subarray(text + (allow ? ALLOW_REASON_AT : DENY_REASON_AT), text + length - 2)
      if (reason.indexOf(0x5c) === -1) return { decision: allow ? 'Allow' : 'Deny', reason: decoder.decode(reason) }
    }
    return decisionOf(JSON.parse(decoder.decode(bytes.subarray(text, text + length))) as Record<string, unknown>)
  }

  /**
   * One input buffer, reserved once and reused for every call (a buffer stays
   * the host's until released: spec §6 "Lifetimes"); replaced, and the old one
   * released, when a request needs more.
   */
  private reserve(need: number): boolean {
    let room = Math.max(MIN_BUFFER, this.room)
    while (room < need) room *= 2
    let ptr: number
    try {
      ptr = this.exports.alloc(room)
    } catch {
      // alloc traps when memory cannot grow (spec §6).
      return false
    }
    if (this.room !== 0) this.exports.dealloc(this.ptr, this.room)
    this.ptr = ptr
    this.room = room
    return true
  }
}
