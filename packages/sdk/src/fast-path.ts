// The fast path: instead of serialising whole objects, send the artifact the
// values of just the fields the matched entry reads, each as a JSON text written
// straight into module memory and claimed by its source and field name, through
// `evaluate_values` (docs/design.md "The values export"). Which fields an entry
// reads, the artifact says itself: the first call of a (tool, role) claims none,
// and the artifact's refusal names them. It checks every claim against its own
// blob and decides on the one path `evaluate` takes: it answers the same bytes,
// which the SDK only reads. The metadata section plays no part.

import { type ArtifactExports, KnownText, MemoryViews } from './abi.js'
import { KeptAnswer, Source, ValueRecord, ValuesTable } from './layout.js'
import { type Capture, type Captures, type Decision, type EvaluateRequest, type JsonView, readRequest, type RequestView } from './request.js'
import { utf8, writeValue } from './writer.js'

/** The exports the fast path calls: the ABI's, and the values export of artifacts that have it. */
export interface ValuesExports extends ArtifactExports {
  evaluate_values(toolPtr: number, toolLen: number, rolePtr: number, roleLen: number, values: number): number
}

/** A field an entry's condition reads, as the artifact named it. */
interface Read {
  source: number
  name: string
  nameBytes: Uint8Array
}

/** What the artifact answers when a table does not claim the entry's reads: the reads it must claim (`[source code, field]`). */
interface Refusal {
  error: string
  reads?: [number, string][]
}

/**
 * What to send for a (tool, role): its values table (the claims), tool name,
 * role and field names — written into module memory once per buffer (`at`,
 * valid for buffer `placed`), so that a call only writes its values — and the
 * last answers seen for it, recognised by their bytes.
 */
class Plan implements Capture {
  reads: Read[] = []
  /** The values of the reads for the call being made (the request walk's capture). */
  values: (JsonView | undefined)[] = []
  /** True once the artifact took the plan's claims: a request's walk then keeps just the values they read. */
  confirmed = false
  answers: KnownText<Decision>[] = []
  /** The entry's answers as the artifact keeps them (layout.ts `KeptAnswer`: its Allow, its first Denies): each one's address, and what it says. */
  keptAnswers: { at: number; decision: Decision }[] = []
  /** Bytes the plan takes in memory: its table, then the tool name, the role and the field names. */
  size = 0
  /** Where it is written, and in which buffer (`FastPath.buffer`): stale when `placed` is not the current buffer. */
  at = 0
  placed = 0

  constructor(
    readonly tool: Uint8Array,
    readonly role: Uint8Array,
    /** False for a plan that serves one call: it is written with its values, never placed. */
    readonly kept: boolean,
  ) {
    this.claim([])
  }

  /** The reads the plan claims from now on; it is written again where it is next used, and its answers are forgotten. */
  claim(reads: Read[]): void {
    this.reads = reads
    this.values = new Array<JsonView | undefined>(reads.length).fill(undefined)
    this.confirmed = false
    const names = reads.reduce((n, r) => n + r.nameBytes.length, 0)
    this.size = (ValuesTable.Records + reads.length * ValueRecord.Size + this.tool.length + this.role.length + names + 3) & ~3
    this.placed = 0
    this.answers = []
  }
}

/** A tool's plans by role, and the one asked for last (a tool's calls mostly come from the role of the call before). */
interface ToolPlans {
  byRole: Map<string, Plan>
  lastRole: string
  last: Plan
}

const MIN_BUFFER = 64 * 1024
/** The first quarter of the buffer holds plans written once; the rest takes each call's values. */
const PLANS_SHARE_BITS = 2
/** (tool, role) pairs whose plans are kept (a bounded cache, cleared when full), and the longest tool name and role kept. */
const PLANS_KEPT = 4096
const PLAN_NAME_LENGTH = 1024
/** Kept answers known by address per plan: the entry's Allow and its kept Denies (answers.ts keeps two). */
const KEPT_PER_PLAN = 4
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

/** The values of the plan's reads in a request's view (undefined: absent). */
function valuesIn(plan: Plan, view: RequestView): (JsonView | undefined)[] {
  return plan.reads.map((read) => {
    const source = read.source === Source.Arguments ? view.args : read.source === Source.AgentAttributes ? view.agentAttributes : view.resourceAttributes
    // Not an object (array, scalar, null, absent): every field is absent, as the artifact reads it.
    // The view's own members only: what a polluted prototype lists is not in it.
    return typeof source === 'object' && source !== null && !Array.isArray(source) && Object.hasOwn(source, read.name) ? source[read.name] : undefined
  })
}

/** The reads a refusal names, when it is one whose reads are well formed. */
function readsOf(refusal: Refusal): Read[] | undefined {
  const reads = refusal.reads
  if (!Array.isArray(reads)) return undefined
  const ok = reads.every((r) => Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && typeof r[1] === 'string')
  return ok ? reads.map(([source, name]) => ({ source, name, nameBytes: utf8(name) })) : undefined
}

export class FastPath implements Captures {
  /** Plans as the artifact taught them, by tool and role. */
  private readonly plans = new Map<string, ToolPlans>()
  private planCount = 0
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

  /** `textPath` decides from the whole JSON texts: the answer when the artifact refuses the values it named. */
  constructor(
    private readonly exports: ValuesExports,
    private readonly textPath: (view: RequestView) => Decision,
  ) {
    this.views = new MemoryViews(exports.memory)
  }

  /**
   * The artifact's decision on a request, read in one walk. For a (tool, role)
   * whose claims the artifact took before, the walk keeps the values of just
   * the fields they read; else it reads the whole view, and the artifact
   * teaches the plan.
   */
  decideRequest(request: EvaluateRequest, tool: string): Decision {
    const { view, refused, capture } = readRequest(request, tool, this)
    if (refused !== undefined) return { decision: 'Deny', reason: refused.reason }
    if (capture === undefined) return this.decide(view)
    // The capture is the plan (captureFor).
    const plan = capture as Plan
    const answer = this.ask(plan, plan.values)
    if (!('error' in answer)) return answer
    // An error: the whole request's texts decide, from a walk of its own (the capture holds no whole view).
    return this.textPath(readRequest(request, tool).view)
  }

  /** The artifact's decision on a request's view. */
  decide(view: RequestView): Decision {
    const chosen = this.planFor(view.tool, view.role)
    const first = this.ask(chosen, valuesIn(chosen, view))
    if (!('error' in first)) return first
    // The plan claims other reads than the entry's (a new pair's claims none): the artifact names them.
    const reads = readsOf(first)
    if (reads === undefined) return this.textPath(view)
    chosen.claim(reads)
    const second = this.ask(chosen, valuesIn(chosen, view))
    // Refused again, or an error: the whole request's texts decide.
    return 'error' in second ? this.textPath(view) : second
  }

  /** One `evaluate_values` call with the plan's claims and the values of its reads: the decision, or the artifact's error. */
  private ask(plan: Plan, values: (JsonView | undefined)[]): Decision | Refusal {
    let table: number
    while ((table = this.write(plan, values)) === -1) {
      if (!this.reserve(this.room * 2)) return noRoom()
    }
    const toolPtr = table + ValuesTable.Records + plan.reads.length * ValueRecord.Size
    const resp = this.exports.evaluate_values(toolPtr, plan.tool.length, toolPtr + plan.tool.length, plan.role.length, table)
    // A kept answer's bytes never change: once read, it is known by its address.
    const kept = plan.keptAnswers
    for (let k = 0; k < kept.length; k++) {
      if (kept[k]!.at === resp) return { decision: kept[k]!.decision.decision, reason: kept[k]!.decision.reason }
    }
    const length = this.views.u32(resp)
    const answer = this.read(plan, resp + 4, length)
    if (resp % KeptAnswer.Modulus !== KeptAnswer.Remainder) this.exports.dealloc(resp, 4 + length)
    else if (!('error' in answer) && kept.length < KEPT_PER_PLAN) kept.push({ at: resp, decision: { decision: answer.decision, reason: answer.reason } })
    if (!('error' in answer)) plan.confirmed = true
    return answer
  }

  /**
   * Whether some request for (tool, role) could be allowed, as the artifact
   * itself answers it: asked with no claims, it decides a pair without an
   * entry (its default_action) or whose entry reads nothing, and refuses one
   * whose condition reads fields, naming them. A pair with an entry could be
   * allowed, whatever its condition (a condition that can never hold too:
   * policy analysis reports that).
   */
  mayAllow(tool: string, role: string): boolean {
    const answer = this.ask(new Plan(utf8(tool), utf8(role), false), [])
    // A decision: the pair's entry, whose condition reads nothing (spec §4: its reason starts
    // `rule matched`), or no entry, when default_action decides (`no rule matched`).
    if (!('error' in answer)) return answer.decision === 'Allow' || answer.reason.startsWith('rule matched tool ')
    const reads = readsOf(answer)
    return reads !== undefined && reads.length > 0
  }

  /** The plan for (tool, role) as the walk's capture, once the artifact has taken its claims. */
  captureFor(tool: string, role: string): Plan | undefined {
    const plan = this.planFor(tool, role)
    return plan.confirmed ? plan : undefined
  }

  /** The plan for (tool, role): the one the artifact taught, or a new one. */
  private planFor(tool: string, role: string): Plan {
    const byTool = this.plans.get(tool)
    if (byTool === undefined) return this.newPlan(tool, role)
    if (byTool.lastRole === role) return byTool.last
    const plan = byTool.byRole.get(role)
    if (plan === undefined) return this.newPlan(tool, role)
    byTool.lastRole = role
    byTool.last = plan
    return plan
  }

  /** A plan for a pair the artifact has not been asked about: it claims no reads, and is kept unless its names are long. */
  private newPlan(tool: string, role: string): Plan {
    if (tool.length + role.length > PLAN_NAME_LENGTH) return new Plan(utf8(tool), utf8(role), false)
    if (this.planCount >= PLANS_KEPT) {
      this.plans.clear()
      this.planCount = 0
    }
    const made = new Plan(utf8(tool), utf8(role), true)
    const byTool = this.plans.get(tool)
    if (byTool === undefined) this.plans.set(tool, { byRole: new Map([[role, made]]), lastRole: role, last: made })
    else {
      byTool.byRole.set(role, made)
      byTool.lastRole = role
      byTool.last = made
    }
    this.planCount++
    return made
  }

  /**
   * Writes the request's values, and the plan too unless it is written in this
   * buffer already (a plan is placed once, while the plans' part has room);
   * the plan's table address, or -1 when the buffer is too small.
   */
  private write(plan: Plan, values: (JsonView | undefined)[]): number {
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
      // Not placed (no room left for plans, or a plan for one call): written with the values.
      if (p + plan.size > end) return -1
      table = p
      this.writePlan(plan, table)
      p += plan.size
    }
    const bytes = this.views.current()
    const words = this.views.words
    const reads = plan.reads
    for (let r = 0; r < reads.length; r++) {
      const value = values[r]
      const start = p
      if (value !== undefined) {
        p = writeValue(bytes, p, end, value)
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
   * What the response text at `text` says: a decision (a repeat of one of the
   * plan's last answers is recognised by its bytes), or the artifact's error.
   */
  private read(plan: Plan, text: number, length: number): Decision | Refusal {
    for (const known of plan.answers) {
      if (known.matches(this.views, text, length)) return { decision: known.value.decision, reason: known.value.reason }
    }
    const answer = this.decode(text, length)
    if ('error' in answer || length > KNOWN_LENGTH) return answer
    if (plan.answers.length >= KNOWN_PER_PLAN) plan.answers.shift()
    plan.answers.push(new KnownText(this.views, text, length, { decision: answer.decision, reason: answer.reason }))
    return answer
  }

  /** The response text: a decision (its reason decoded directly when it holds no escape), else the parsed error. */
  private decode(text: number, length: number): Decision | Refusal {
    const bytes = this.views.bytes
    if (bytes[text + DECISION_D] === 0x64 && bytes[text + length - 1] === 0x7d && bytes[text + length - 2] === 0x22) {
      // {"decision":"Allow","reason":"…"} or {"decision":"Deny","reason":"…"}
      const allow = bytes[text + DECISION_AD] === 0x41
      const reason = bytes.subarray(text + (allow ? ALLOW_REASON_AT : DENY_REASON_AT), text + length - 2)
      if (reason.indexOf(0x5c) === -1) return { decision: allow ? 'Allow' : 'Deny', reason: decoder.decode(reason) }
    }
    const parsed = JSON.parse(decoder.decode(bytes.subarray(text, text + length))) as Record<string, unknown>
    if (typeof parsed.error === 'string') return parsed as unknown as Refusal
    return decisionOf(parsed)
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
