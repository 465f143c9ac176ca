// Audit events: one per decision, in the camelCase shape the published perso
// SDKs emit, handed to a transport that can never change or delay a decision.

import { sha256Hex } from './sha256.js'
import type { Decision, JsonView, RequestView, Unreadable } from './request.js'
import { SDK_VERSION } from './version.js'

export interface AuditEvent {
  /** A fresh UUID per decision. */
  id: string
  traceId: string | null
  /** ISO 8601, UTC. */
  timestamp: string
  tool: string
  /** The arguments, or the SHA-256 hex of their canonical JSON when `hashArgs`; null when unreadable. */
  args: unknown
  role: string | null
  agentAttributes: unknown
  resourceAttributes: unknown
  decision: Decision['decision']
  reason: string
  sdkVersion: string
  policyVersion: string
}

/** Anything with `emit` is a transport; `close` (awaited by `Perso.close()`) should flush what it holds. */
export interface Transport {
  emit(event: AuditEvent): void | Promise<void>
  close?(): void | Promise<void>
}

export interface AuditOptions {
  transport: Transport
  /** Put the SHA-256 hex of the canonical arguments in events instead of the arguments. */
  hashArgs?: boolean
}

/** The part of a request the validation walk refused: the event carries null in its place. */
type Part = Unreadable['part']

/**
 * Canonical JSON (RFC 8785 for the values the walk accepts): object keys sorted
 * by UTF-16 code units, no white space, numbers and strings as JSON.stringify
 * writes them; members whose value is undefined are absent.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']'
  const record = value as Record<string, unknown>
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => JSON.stringify(key) + ':' + canonicalJson(record[key]))
  return '{' + members.join(',') + '}'
}

const encoder = new TextEncoder()

function uuid(): string {
  const crypto = globalThis.crypto
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  // randomUUID needs a secure context in browsers; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export class Auditor {
  /** Emits that threw or rejected; none of them changed a decision. */
  failures = 0

  constructor(
    private readonly transport: Transport,
    private readonly hashArgs: boolean,
    private readonly policyVersion: string,
  ) {}

  /**
   * Builds the event from the request's view (what was decided on, not the
   * host's objects) and hands it over; whatever the transport does, this
   * returns normally.
   */
  record(view: RequestView, traceId: string | undefined, decision: Decision, refused: Part | undefined): void {
    try {
      const readable = (part: Part): boolean => refused !== part && refused !== 'request'
      const or = (value: JsonView | undefined, part: Part): JsonView | null => (!readable(part) ? null : (value ?? {}))
      const args = or(view.args, 'args')
      const event: AuditEvent = {
        id: uuid(),
        traceId: traceId ?? null,
        timestamp: new Date().toISOString(),
        tool: view.tool,
        args: args !== null && this.hashArgs ? sha256Hex(encoder.encode(canonicalJson(args))) : args,
        role: readable('role') ? view.role : null,
        agentAttributes: or(view.agentAttributes, 'agentAttributes'),
        resourceAttributes: or(view.resourceAttributes, 'resourceAttributes'),
        decision: decision.decision,
        reason: decision.reason,
        sdkVersion: SDK_VERSION,
        policyVersion: this.policyVersion,
      }
      const done = this.transport.emit(event)
      if (done !== undefined && typeof (done as Promise<void>).then === 'function') {
        ;(done as Promise<void>).then(undefined, () => this.failures++)
      }
    } catch {
      this.failures++
    }
  }

  async close(): Promise<void> {
    await this.transport.close?.()
  }
}
