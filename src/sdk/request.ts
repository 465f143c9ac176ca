// What a host asks, and the one walk that decides whether the engine can read
// it. Both the fast path and the text path run this walk first, so "cannot be
// read" means the same thing on both, and anything it lets through encodes to
// JSON text the artifact accepts (spec §5): nothing past it can fail on data.

import { Limit } from '../layout.js'

declare global {
  interface String {
    /** ES2024 (Node 20, every current browser); the project's lib setting predates it. */
    isWellFormed(): boolean
  }
}

export interface EvaluateRequest {
  /** The tool being called. */
  tool: string
  /** The call's arguments: any JSON value; absent = `{}`. */
  args?: unknown
  /** The caller's role; data, so a missing or non-string role is a denial, not a TypeError. */
  role: string
  /** `agent_attrs` of the context; absent = `{}`. */
  agentAttributes?: unknown
  /** `resource_attrs` of the context; absent = `{}`. */
  resourceAttributes?: unknown
  /** Carried into the audit event. */
  traceId?: string
}

export interface Decision {
  decision: 'Allow' | 'Deny'
  reason: string
}

/** Nesting of this many levels or more in one JSON text is refused by the artifact (spec §5: 127 levels are read). */
export const MAX_DEPTH = Limit.Depth
/**
 * Largest request, in a weighted count that bounds its JSON text length (a
 * string unit is at most 6 characters escaped, any value with its key and
 * punctuation at most 32 more). Kept far below the artifact's input limit, so
 * the text path (which reserves 3 bytes per character) never meets an
 * allocation failure that the fast path would not.
 */
export const MAX_WEIGHT = 64 * 1024 * 1024

/** A reason the engine cannot read a value, and where it is (filled in while unwinding). */
class Problem {
  readonly path: (string | number)[] = []
  constructor(readonly what: string) {}
}

const DEEP = `nests ${MAX_DEPTH} levels deep or more`
let weight = 0

function walk(value: unknown, depth: number): Problem | undefined {
  switch (typeof value) {
    case 'string':
      weight += value.length * 6 + 32
      return value.isWellFormed() ? undefined : new Problem('is a string with a lone surrogate')
    case 'number':
      weight += 32
      return Number.isFinite(value) ? undefined : new Problem(`is ${value}, not a finite number`)
    case 'boolean':
      weight += 32
      return undefined
    case 'object':
      weight += 32
      return value === null ? undefined : walkContainer(value, depth)
    case 'bigint':
      return new Problem('is a BigInt')
    case 'undefined':
      return new Problem('is undefined')
    default:
      return new Problem(`is a ${typeof value}`)
  }
}

function walkContainer(value: object, depth: number): Problem | undefined {
  // `depth` containers enclose this one; it makes depth + 1.
  if (depth + 1 >= MAX_DEPTH) return new Problem(DEEP)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = walk(value[i], depth + 1)
      if (problem !== undefined) {
        problem.path.push(i)
        return problem
      }
    }
    return undefined
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return new Problem(`is ${describeObject(value)}, not a plain object`)
  // for…in, not Object.keys: no array per object. It also lists what the
  // prototype has enumerable (Object.prototype, polluted), which JSON.stringify skips.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    weight += key.length * 6
    if (!key.isWellFormed()) return new Problem('has a key with a lone surrogate')
    const member = (value as Record<string, unknown>)[key]
    // Like JSON.stringify: a member whose value is undefined is absent.
    if (member === undefined) continue
    const problem = walk(member, depth + 1)
    if (problem !== undefined) {
      problem.path.push(key)
      return problem
    }
  }
  return undefined
}

function describeObject(value: object): string {
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a custom prototype'
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

function renderPath(root: string, path: (string | number)[]): string {
  let text = root
  for (const step of path) {
    text += typeof step === 'number' ? `[${step}]` : IDENTIFIER.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`
    if (text.length > 120) return text.slice(0, 120) + '…'
  }
  return text
}

/** A too-deep value is often a cycle: follow the path from the root and say so when an object repeats. */
function cycleIn(root: unknown, path: (string | number)[]): (string | number)[] | undefined {
  const seen = new Set<unknown>()
  let node = root
  for (let i = 0; ; i++) {
    if (seen.has(node)) return path.slice(0, i)
    seen.add(node)
    if (i === path.length) return undefined
    node = (node as Record<string | number, unknown>)[path[i]!]
  }
}

function checkSource(root: string, value: unknown, depth: number): string | undefined {
  if (value === undefined) return undefined
  const problem = walk(value, depth)
  if (problem === undefined) return undefined
  const path = problem.path.reverse()
  if (problem.what === DEEP) {
    const cycle = cycleIn(value, path)
    if (cycle !== undefined) return `request: ${renderPath(root, cycle)} is cyclic (it contains itself)`
  }
  return `request: ${renderPath(root, path)} ${problem.what}`
}

/** Throws a TypeError for requests no host should send: those are bugs in the host, not data. */
export function assertRequestShape(request: unknown): asserts request is EvaluateRequest {
  if (typeof request !== 'object' || request === null) throw new TypeError('perso: evaluate() takes a request object')
  const { tool, traceId } = request as Partial<EvaluateRequest>
  if (typeof tool !== 'string') throw new TypeError(`perso: request.tool must be the tool name, a string (got ${typeof tool})`)
  if (traceId !== undefined && typeof traceId !== 'string') {
    throw new TypeError(`perso: request.traceId must be a string when given (got ${typeof traceId})`)
  }
}

/** Which part of a request the engine cannot read, and why (a denial reason naming the problem and where it is). */
export interface Unreadable {
  part: 'tool' | 'role' | 'args' | 'agentAttributes' | 'resourceAttributes' | 'request'
  reason: string
}

/**
 * Why the engine cannot read this request; undefined when it can. Never
 * throws: a getter or a proxy that throws is itself a reason.
 */
export function unreadable(request: EvaluateRequest): Unreadable | undefined {
  try {
    const { tool, role } = request
    if (!tool.isWellFormed()) return { part: 'tool', reason: 'request: tool is a string with a lone surrogate' }
    if (role === undefined) return { part: 'role', reason: 'request: role is missing' }
    if (typeof role !== 'string') {
      return { part: 'role', reason: `request: role is ${role === null ? 'null' : `a ${typeof role}`}, not a string` }
    }
    if (!role.isWellFormed()) return { part: 'role', reason: 'request: role is a string with a lone surrogate' }
    weight = tool.length * 6 + role.length * 6
    // One call per source, not a loop over their names: `request[part]` with a
    // varying name is a slow keyed load. The context text wraps the attributes
    // in one more object than the arguments text, hence their depth 1.
    let reason = checkSource('args', request.args, 0)
    if (reason !== undefined) return { part: 'args', reason }
    reason = checkSource('agentAttributes', request.agentAttributes, 1)
    if (reason !== undefined) return { part: 'agentAttributes', reason }
    reason = checkSource('resourceAttributes', request.resourceAttributes, 1)
    if (reason !== undefined) return { part: 'resourceAttributes', reason }
    if (weight > MAX_WEIGHT) return { part: 'request', reason: `request: too large (over ${MAX_WEIGHT >> 20} MiB as JSON text)` }
    return undefined
  } catch (e) {
    return { part: 'request', reason: `request: could not be read: ${e instanceof Error ? e.message : String(e)}` }
  }
}
