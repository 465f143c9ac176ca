// What `perso guard` decides, whatever carries the messages (docs/guard.md):
// which upstream tools a caller is shown, whether a tools/call goes through,
// and the answer a denied call gets. The artifact is the only authority: the
// list comes from `Perso.mayAllow`, each call from `Perso.evaluateSync` on the
// exact arguments object that is forwarded. Anything unexpected is a denial.

import type { Decision, EvaluateRequest, Perso } from '@perso/sdk'
import { toolHash } from './lock.js'

/** `--pin tools.lock.json`: the hash each tool's definition must have, by name. */
export interface Pin {
  path: string
  tools: ReadonlyMap<string, string>
}

/** Who is calling: fixed by whoever starts the guard, never by the model or the arguments. */
export interface Identity {
  role: string
  agent?: Record<string, unknown>
  resource?: Record<string, unknown>
}

export type Mode = 'enforce' | 'shadow'
export type DenyAs = 'result' | 'error'

/** The JSON-RPC error code of a denied call under `--deny-as error`. */
export const DENIED_CODE = -32003

export interface Call {
  /** Forward the request upstream (an Allow, or anything in shadow mode). */
  forward: boolean
  decision: Decision
  /** The answer to send back instead, when the call is not forwarded: a result or an error. */
  answer?: { result: unknown } | { error: { code: number; message: string; data: unknown } }
}

/** A JSON object (not an array, not null). */
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The policy in force: swapped whole by a reload (http.ts), read once by each decision. */
export interface PolicyRef {
  current: Perso
}

/** Decisions per tool: allowed and denied (or would-be denied) counts. */
export type Tally = Map<string, { allowed: number; denied: number }>

export interface CoreOptions {
  policy: PolicyRef
  mode: Mode
  denyAs: DenyAs
  log: (line: string) => void
  /** `--pin`: the hash each upstream tool's definition must have. */
  pin?: Pin
  /** Where decisions are counted (shared by a gateway's sessions); a tally of its own by default. */
  tally?: Tally
}

/**
 * The decisions of one guarded session, for any number of callers: the stdio
 * proxy has one identity for its whole life, the middleware and the HTTP
 * gateway one per request.
 */
export class GuardCore {
  /** Decisions per tool, for shadow mode's summary and the gateway's metrics. */
  readonly tally: Tally
  /** The roles whose first list has been reported. */
  private readonly reported = new Set<string>()
  /** Under a pin: each tool the upstream listed, and why it may not be called (undefined: it matches its pin). */
  private readonly pinned = new Map<string, string | undefined>()
  /** The (tool, hash) mismatches already said on stderr. */
  private readonly pinReported = new Set<string>()
  private readonly policy: PolicyRef
  private readonly mode: Mode
  private readonly denyAs: DenyAs
  private readonly log: (line: string) => void
  private readonly pin: Pin | undefined

  constructor(options: CoreOptions) {
    this.policy = options.policy
    this.mode = options.mode
    this.denyAs = options.denyAs
    this.log = options.log
    this.pin = options.pin
    this.tally = options.tally ?? new Map()
  }

  /**
   * Under a pin: why `name` may not be called, from the latest definition the
   * upstream listed for it (undefined: it matches its pin). A tool not listed
   * since the guard started, or since the upstream said its list changed, is
   * unchecked and may not be called either.
   */
  private unpinned(name: string): string | undefined {
    if (this.pin === undefined) return undefined
    if (this.pinned.has(name)) return this.pinned.get(name)
    return `perso guard: \`${name}\` has not been listed since the upstream started or changed its tools, so its definition is unchecked against ${this.pin.path}`
  }

  /** Compares one listed tool definition with its pin, and says on stderr (and once) when it does not match. */
  private checkPin(definition: unknown): void {
    if (this.pin === undefined || !isObject(definition) || typeof definition.name !== 'string') return
    const name = definition.name
    const locked = this.pin.tools.get(name)
    const hash = toolHash(definition)
    const why =
      locked === undefined ? `perso guard: \`${name}\` is not pinned in ${this.pin.path}; scan the server again to allow it`
      : locked !== hash ? `perso guard: the definition of \`${name}\` changed since it was pinned in ${this.pin.path}`
      : undefined
    this.pinned.set(name, why)
    if (why !== undefined && !this.pinReported.has(`${name} ${hash}`)) {
      this.pinReported.add(`${name} ${hash}`)
      this.log(locked === undefined ? `\`${name}\` is new: not in ${this.pin.path}, so hidden and denied` : `\`${name}\` no longer matches ${this.pin.path} (its definition now hashes ${hash}): hidden and denied`)
    }
  }

  /** The upstream said its tool list changed: no tool may be called until its new definition has been listed and checked. */
  toolsChanged(): void {
    this.pinned.clear()
  }

  /**
   * Which of `tools` (a tools/list result's, as the upstream last listed them)
   * `role` is shown under `perso`: a tool with a name, matching its pin, that
   * the artifact could allow. A reload (http.ts) asks it of the old and the
   * new policy.
   */
  shown(tools: readonly unknown[], role: string, perso: Perso = this.policy.current): boolean[] {
    return tools.map((t) => {
      const name = isObject(t) ? t.name : undefined
      return typeof name === 'string' && this.unpinned(name) === undefined && perso.mayAllow(name, role)
    })
  }

  /**
   * A tools/list result with only the tools `identity` may call (none for no identity; its other
   * members, the cursor included, unchanged). A role's first list also says
   * on stderr which upstream tools the policy does not name.
   */
  filterList(result: unknown, identity: Identity | undefined): unknown {
    // No caller, or no list to filter: nothing is shown (shadow mode shows what there is).
    if (identity === undefined || !isObject(result) || !Array.isArray(result.tools)) return this.mode === 'shadow' ? result : { ...(isObject(result) ? result : {}), tools: [] }
    const tools = result.tools as unknown[]
    tools.forEach((t) => this.checkPin(t))
    const perso = this.policy.current
    // Asked once per tool: the report and the filter both use the answers. Shadow mode lists every tool.
    const allowed = this.shown(tools, identity.role, perso)
    const names = tools.map((t) => (isObject(t) ? t.name : undefined))
    if (!this.reported.has(identity.role)) {
      this.reported.add(identity.role)
      this.report(perso, identity.role, names.flatMap((name, i) => (typeof name === 'string' ? [{ name, allowed: allowed[i]! }] : [])))
    }
    return this.mode === 'shadow' ? result : { ...result, tools: tools.filter((_, i) => allowed[i]) }
  }

  /**
   * The decision on a tools/call request's params for `identity` (none: the
   * caller could not be identified, and is denied); `requestId` goes into the
   * audit event and the denial.
   */
  call(params: unknown, identity: Identity | undefined, requestId: string | number): Call {
    const name = isObject(params) ? params.name : undefined
    const args = isObject(params) ? params.arguments : undefined
    const tool = typeof name === 'string' ? name : '(no name)'
    const request = {
      tool,
      args: args ?? {},
      role: identity?.role,
      agentAttributes: identity?.agent ?? {},
      resourceAttributes: identity?.resource ?? {},
      traceId: String(requestId),
    } as EvaluateRequest
    const refusal =
      identity === undefined ? 'perso guard: no identity for this request'
      : typeof name !== 'string' ? 'perso guard: tools/call without a tool name'
      : args !== undefined && !isObject(args) ? 'perso guard: the arguments are not a JSON object'
      : this.unpinned(name)
    // One policy decides the call, and words its denial, even if a reload swaps it meanwhile.
    const perso = this.policy.current
    let decision: Decision
    try {
      decision = refusal !== undefined ? perso.refuse(request, refusal) : perso.evaluateSync(request)
    } catch (e) {
      decision = { decision: 'Deny', reason: `perso guard: ${e instanceof Error ? e.message : String(e)}` }
    }
    const counts = this.tally.get(tool) ?? { allowed: 0, denied: 0 }
    counts[decision.decision === 'Allow' ? 'allowed' : 'denied']++
    this.tally.set(tool, counts)
    if (decision.decision === 'Allow') return { forward: true, decision }
    if (this.mode === 'shadow') {
      this.log(`shadow: would deny ${tool} (request ${String(requestId)}): ${decision.reason}`)
      return { forward: true, decision }
    }
    return { forward: false, decision, answer: this.denial(tool, decision, perso.policyVersion, requestId) }
  }

  /** A denied call's answer: a tool result the model can read (isError), or a JSON-RPC error; the reason either way. */
  private denial(tool: string, decision: Decision, policyVersion: string, requestId: string | number): NonNullable<Call['answer']> {
    const data = { decision: decision.decision, reason: decision.reason, policyVersion, requestId }
    if (this.denyAs === 'error') return { error: { code: DENIED_CODE, message: `perso denied ${tool}: ${decision.reason}`, data } }
    return { result: { content: [{ type: 'text', text: `perso denied ${tool}: ${decision.reason}` }], isError: true, _meta: { 'perso/decision': data } } }
  }

  /** The tools the policy does not name, and the tools it names that the upstream does not offer. */
  private report(perso: Perso, role: string, upstream: { name: string; allowed: boolean }[]): void {
    const hidden = upstream.filter((t) => !t.allowed).map((t) => t.name)
    if (hidden.length > 0) this.log(`${hidden.length} upstream tool${hidden.length === 1 ? '' : 's'} hidden from role \`${role}\` (every call denied): ${hidden.join(', ')}`)
    const named = new Set(perso.metadata.tools)
    const open = upstream.filter((t) => t.allowed && !named.has(t.name)).map((t) => t.name)
    if (open.length > 0) this.log(`WARNING: the policy does not name ${open.join(', ')}, and its default_action Allow lets \`${role}\` call ${open.length === 1 ? 'it' : 'them'}`)
    const offered = new Set(upstream.map((t) => t.name))
    const missing = perso.metadata.tools.filter((name) => !offered.has(name))
    if (missing.length > 0) this.log(`the upstream does not offer ${missing.length === 1 ? 'this tool the policy names' : 'these tools the policy names'}: ${missing.join(', ')}`)
  }

  /** Shadow mode's summary: allowed and would-deny counts per tool. */
  summary(): string[] {
    return [...this.tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([tool, c]) => `${tool}: ${c.allowed} allowed, ${c.denied} ${this.mode === 'shadow' ? 'would be denied' : 'denied'}`)
  }
}
