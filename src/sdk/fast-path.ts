// The fast path: instead of serialising whole objects, send the artifact the
// values of just the fields the matched entry reads (the artifact's metadata
// says which), each as a JSON text written straight into module memory and
// claimed by its source and field name, through `evaluate_values`
// (docs/design.md "The values export"). The artifact checks every claim against
// its own blob and decides on the one path `evaluate` takes: it answers the
// same bytes, which the SDK only reads.

import { type ArtifactExports, KnownText, MemoryViews } from '../host/abi.js'
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

/**
 * What to send for a (tool, role): its values table (the claims), tool name,
 * role and field names — written into module memory once per buffer (`at`,
 * valid for buffer `placed`), so that a call only writes its values — and the
 * last answers seen for it, recognised by their bytes.
 */
interface Plan {
  tool: Uint8Array
  role: Uint8Array
  reads: Read[]
  answers: KnownText<Decision>[]
  /** Bytes the plan takes in memory: its table, then the tool name, the role and the field names. */
  size: number
  /** Where it is written, and in which buffer (`FastPath.buffer`); `at` is stale when `placed` is not the current buffer. */
  at: number
  placed: number
  /** False for a plan that serves one call: it is written with its values, never placed. */
  kept: boolean
}

const MIN_BUFFER = 64 * 1024
/** The first quarter of the buffer holds plans written once; the rest takes each call's values. */
const PLANS_SHARE_BITS = 2
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

function plan(tool: string, role: string, reads: Read[], answers: KnownText<Decision>[], kept: boolean): Plan {
  const toolBytes = utf8(tool)
  const roleBytes = utf8(role)
  const names = reads.reduce((n, r) => n + r.nameBytes.length, 0)
  const size = (ValuesTable.Records + reads.length * ValueRecord.Size + toolBytes.length + roleBytes.length + names + 3) & ~3
  return { tool: toolBytes, role: roleBytes, reads, answers, size, at: 0, placed: 0, kept }
}

/** Pairs without entry whose plans are kept (their answers repeat per pair), and the longest tool name and role kept. */
const NO_ENTRY_PLANS = 1024
const NO_ENTRY_LENGTH = 1024

export class FastPath {
  private readonly plans = new Map<string, Map<string, Plan>>()
  /** Plans of pairs the metadata has no entry for, as they are asked (a bounded cache, cleared when full). */
  private readonly noEntry = new Map<string, Map<string, Plan>>()
  private noEntryCount = 0
  private readonly views: MemoryViews
  /**
   * One buffer, reserved once and reused by every call (a buffer stays the
   * host's until released, and one that every call uses is never reclaimed:
   * spec §6 "Lifetimes"). Its first part holds plans, the rest each call's values.
   */
  private ptr = 0
  private room = 0
  /** Counts the buffers taken, so a plan knows whether it is written in this one. */
  private buffer = 0
  private plansEnd = 0

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
      const claims = reads.map((read) => ({ source: Source[read.source], name: read.field, nameBytes: utf8(read.field) }))
      byRole.set(role, plan(tool, role, claims, [], true))
    }
  }

  /** The artifact's decision on a request the walk accepted (so `role` is a well-formed string). */
  decide(request: EvaluateRequest): Decision {
    const chosen = this.plans.get(request.tool)?.get(request.role) ?? this.noEntryPlan(request.tool, request.role)
    let table: number
    while ((table = this.write(chosen, request)) === -1) {
      if (!this.reserve(this.room * 2)) return noRoom()
    }
    const toolPtr = table + ValuesTable.Records + chosen.reads.length * ValueRecord.Size
    const resp = this.exports.evaluate_values(toolPtr, chosen.tool.length, toolPtr + chosen.tool.length, chosen.role.length, table)
    const length = this.views.u32(resp)
    const decision = this.read(chosen, resp + 4, length)
    this.exports.dealloc(resp, 4 + length)
    // The artifact refused the claims (metadata that is not its own) or a value: the whole request's texts decide.
    return decision !== undefined ? decision : this.textPath(request)
  }

  /** The plan of a pair the metadata has no entry for: it claims no reads. Long names get a plan for one call only. */
  private noEntryPlan(tool: string, role: string): Plan {
    const known = this.noEntry.get(tool)?.get(role)
    if (known !== undefined) return known
    if (tool.length + role.length > NO_ENTRY_LENGTH) return plan(tool, role, [], [], false)
    if (this.noEntryCount >= NO_ENTRY_PLANS) {
      this.noEntry.clear()
      this.noEntryCount = 0
    }
    let byRole = this.noEntry.get(tool)
    if (byRole === undefined) this.noEntry.set(tool, (byRole = new Map()))
    const made = plan(tool, role, [], [], true)
    byRole.set(role, made)
    this.noEntryCount++
    return made
  }

  /**
   * Writes the request's values, and the plan too unless it is written in this
   * buffer already (a plan is placed once, while the plans' part has room);
   * the plan's table address, or -1 when the buffer is too small.
   */
  private write(plan: Plan, request: EvaluateRequest): number {
    if (this.room === 0) return -1
    const plansLimit = this.ptr + (this.room >> PLANS_SHARE_BITS)
    if (plan.kept && plan.placed !== this.buffer && this.plansEnd + plan.size <= plansLimit) {
      this.writePlan(plan, this.plansEnd)
      plan.at = this.plansEnd
      plan.placed = this.buffer
      this.plansEnd += plan.size
    }
    const end = this.ptr + this.room
    let p = plansLimit
    let table = plan.at
    if (plan.placed !== this.buffer) {
      // Not placed (no room left for plans, or a pair without entry): written with the values, every call.
      if (p + plan.size > end) return -1
      table = p
      this.writePlan(plan, table)
      p += plan.size
    }
    const bytes = this.views.current()
    const words = this.views.words
    const reads = plan.reads
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
        if (p === -1) return -1
      }
      const record = (table + ValuesTable.Records + r * ValueRecord.Size) >> 2
      words[record + ValueRecord.ValuePtr / 4] = start
      words[record + ValueRecord.ValueLen / 4] = p - start
    }
    return table
  }

  /** The plan's table (claims, values absent), tool name, role and field names at `at` (4-aligned, room checked). */
  private writePlan(plan: Plan, at: number): void {
    const bytes = this.views.current()
    const words = this.views.words
    const reads = plan.reads
    words[at >> 2] = reads.length
    let p = at + ValuesTable.Records + reads.length * ValueRecord.Size
    bytes.set(plan.tool, p)
    p += plan.tool.length
    bytes.set(plan.role, p)
    p += plan.role.length
    for (let r = 0; r < reads.length; r++) {
      const read = reads[r]!
      const record = (at + ValuesTable.Records + r * ValueRecord.Size) >> 2
      bytes.set(read.nameBytes, p)
      words[record + ValueRecord.Source / 4] = read.source
      words[record + ValueRecord.NamePtr / 4] = p
      words[record + ValueRecord.NameLen / 4] = read.nameBytes.length
      words[record + ValueRecord.ValuePtr / 4] = 0
      words[record + ValueRecord.ValueLen / 4] = 0
      p += read.nameBytes.length
    }
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

  /** A larger buffer when a request needs more; the old one is released, and the plans are written again as they are used. */
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
    this.buffer++
    this.plansEnd = ptr
    return true
  }
}
