// The SDK a host imports: load an artifact, ask it for decisions, audit them.
// Same engine in Node and browsers; nothing here imports a Node builtin.

import { RawArtifact } from './abi.js'
import { type Metadata, readMetadata } from './metadata.js'
import { Auditor, type AuditOptions } from './audit.js'
import { decisionOf, FastPath, hasValuesExport } from './fast-path.js'
import type { ArtifactSource } from './load.js'
import { loadModule } from './module.js'
import { type Decision, type EvaluateRequest, jsonText, readRequest, type RequestView, requestShape } from './request.js'

export interface LoadOptions {
  /** Emit one audit event per decision through `audit.transport`. */
  audit?: AuditOptions
  /**
   * Send the artifact only the fields the matched entry reads (default). With
   * `false`, send the whole request as JSON text; the decisions are the same.
   */
  fastPath?: boolean
}

function checkOptions(options: unknown): asserts options is LoadOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('perso: Perso.load() options must be an object')
  const { audit, fastPath } = options as Record<string, unknown>
  if (fastPath !== undefined && typeof fastPath !== 'boolean') throw new TypeError('perso: options.fastPath must be a boolean')
  if (audit === undefined) return
  if (typeof audit !== 'object' || audit === null) throw new TypeError('perso: options.audit must be an object')
  const { transport, hashArgs } = audit as Record<string, unknown>
  if (typeof (transport as { emit?: unknown } | null)?.emit !== 'function') {
    throw new TypeError('perso: options.audit.transport must be an object with an emit(event) method')
  }
  if (hashArgs !== undefined && typeof hashArgs !== 'boolean') throw new TypeError('perso: options.audit.hashArgs must be a boolean')
}

/** JSON text of the context object the artifact reads (spec §4), for the text path. */
function contextText(view: RequestView): string {
  let text = '{"role":' + JSON.stringify(view.role)
  if (view.agentAttributes !== undefined) text += ',"agent_attrs":' + jsonText(view.agentAttributes)
  if (view.resourceAttributes !== undefined) text += ',"resource_attrs":' + jsonText(view.resourceAttributes)
  return text + '}'
}

/** The artifact's decision on the whole request, as JSON texts through the ABI's `evaluate`. */
function textDecision(artifact: RawArtifact, view: RequestView): Decision {
  const args = view.args === undefined ? '{}' : jsonText(view.args)
  return decisionOf(JSON.parse(artifact.evaluateStrings(view.tool, args, contextText(view))) as Record<string, unknown>)
}

export class Perso {
  private closed = false
  /** Answers mayAllow, apart from the deciding fast path (its plans are for decisions). */
  private query: FastPath | undefined

  private constructor(
    private readonly artifact: RawArtifact,
    private readonly fast: FastPath | undefined,
    private readonly auditor: Auditor | undefined,
    /** The policy's own `version` label, as the artifact's `init` reports it. */
    readonly policyVersion: string,
    /** What the artifact says about itself: its table, and which fields each entry reads. */
    readonly metadata: Metadata,
  ) {}

  /** Loads an artifact from a path, URL, bytes or a compiled module. */
  static async load(source: ArtifactSource, options: LoadOptions = {}): Promise<Perso> {
    checkOptions(options)
    const module = await loadModule(source)
    const metadata = readMetadata(module)
    if (metadata instanceof Error) throw new TypeError(`perso: ${metadata.message}`)
    const artifact = await RawArtifact.load(module)
    const init = artifact.init()
    if (!('ok' in init)) throw new TypeError(`perso: the artifact did not start: ${init.error}`)
    const auditor = options.audit && new Auditor(options.audit.transport, options.audit.hashArgs ?? false, init.version)
    const exports = artifact.exports
    // Artifacts compiled before the values export take the text path.
    const fast = options.fastPath === false || !hasValuesExport(exports) ? undefined : new FastPath(exports, (view) => textDecision(artifact, view))
    return new Perso(artifact, fast, auditor, init.version, metadata)
  }

  /**
   * The decision on one tool call. Never throws or rejects on the request's
   * data (an unreadable request is a denial); a malformed call throws a
   * TypeError right here, not through the promise.
   */
  evaluate(request: EvaluateRequest): Promise<Decision> {
    return Promise.resolve(this.evaluateSync(request))
  }

  /** `evaluate`, synchronously. */
  evaluateSync(request: EvaluateRequest): Decision {
    const { tool, traceId } = requestShape(request)
    if (this.closed) throw new Error('perso: evaluate() after close()')
    // Without an audit event to make, no whole view is needed: the fast path's walk keeps what the entry reads.
    if (this.fast !== undefined && this.auditor === undefined) {
      try {
        return this.fast.decideRequest(request, tool)
      } catch (e) {
        return trapped(e)
      }
    }
    const { view, refused } = readRequest(request, tool)
    const decision: Decision = refused !== undefined ? { decision: 'Deny', reason: refused.reason } : this.decide(view)
    this.auditor?.record(view, traceId, decision, refused?.part)
    return decision
  }

  /**
   * A denial the host makes without asking the artifact — a guard refusing a
   * call it will not forward (no caller identity, arguments that are not an
   * object, a tool whose definition no longer matches its pin) — recorded
   * in the audit like every decision, and returned. It can only deny.
   */
  refuse(request: EvaluateRequest, reason: string): Decision {
    const { tool, traceId } = requestShape(request)
    if (typeof reason !== 'string') throw new TypeError('perso: refuse(request, reason) takes the reason as a string')
    if (this.closed) throw new Error('perso: refuse() after close()')
    const decision: Decision = { decision: 'Deny', reason }
    if (this.auditor !== undefined) {
      const { view, refused } = readRequest(request, tool)
      this.auditor.record(view, traceId, decision, refused?.part)
    }
    return decision
  }

  /**
   * Whether some request for (tool, role) could be allowed: the pair has an
   * entry (with or without a condition; a condition that can never hold
   * counts), or it has none and the policy's default_action is Allow. The
   * artifact answers it (docs/sdk.md "Which tools a caller may call"); what
   * to list to a caller, never a decision on a call.
   */
  mayAllow(tool: string, role: string): boolean {
    if (typeof tool !== 'string' || typeof role !== 'string') throw new TypeError('perso: mayAllow(tool, role) takes two strings')
    if (this.closed) throw new Error('perso: mayAllow() after close()')
    if (!tool.isWellFormed() || !role.isWellFormed()) return false
    const exports = this.artifact.exports
    if (!hasValuesExport(exports)) throw new TypeError('perso: this artifact predates evaluate_values and cannot answer mayAllow; recompile it with perso compile')
    this.query ??= new FastPath(exports, () => ({ decision: 'Deny', reason: 'unused' }))
    try {
      return this.query.mayAllow(tool, role)
    } catch {
      // The module trapped: nothing is shown that cannot be shown to be allowed.
      return false
    }
  }

  /** Audit events whose transport threw or rejected (the decisions stood). */
  get auditFailures(): number {
    return this.auditor?.failures ?? 0
  }

  /** Stops taking requests and flushes the audit transport. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.auditor?.close()
  }

  private decide(view: RequestView): Decision {
    try {
      return this.fast !== undefined ? this.fast.decide(view) : textDecision(this.artifact, view)
    } catch (e) {
      return trapped(e)
    }
  }
}

/** The module trapped (alloc, when memory cannot grow): still no throw, still no Allow. */
function trapped(e: unknown): Decision {
  return { decision: 'Deny', reason: `perso: the artifact failed: ${e instanceof Error ? e.message : String(e)}` }
}
