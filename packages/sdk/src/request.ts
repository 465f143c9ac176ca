// What a host asks, and the one walk that reads it: into its JSON view, once,
// or into the reason the engine cannot read it. Every consumer (fast path, text
// path, audit) takes that view and never the host's objects again, so a getter,
// a `toJSON`, a non-enumerable or inherited property cannot show one path a
// different request than another. Anything the walk lets through encodes to
// JSON text the artifact accepts (spec §5): nothing past it can fail on data.

import { Limit, Source as SourceCode } from './layout.js'

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
  /** Set once the problem is known to be a whole source's: the denial it makes. */
  unreadable: Unreadable | undefined
  constructor(readonly what: string) {}
}

/**
 * A JSON value as the SDK reads it, once: strings, finite numbers, booleans,
 * null, arrays, and plain objects holding the source's own enumerable
 * string-keyed members (a getter read once; no `toJSON`). Consumers read only
 * a view object's own members (`Object.hasOwn`): a polluted prototype is not in it.
 */
export type JsonView = string | number | boolean | null | JsonView[] | { [key: string]: JsonView }

const hasOwnProperty = Object.prototype.hasOwnProperty

const DEEP = `nests ${MAX_DEPTH} levels deep or more`

/**
 * The members of a request's sources that one decision reads (the fast path's
 * plan for its tool and role): the walk reads the whole request once, checks
 * all of it, and keeps the view of just these members, in `values` (undefined:
 * absent), with no view of the rest (docs/sdk.md "One view of each request").
 */
export interface Capture {
  /** Each read's source code (`Source` in layout.ts) and field name. */
  readonly reads: readonly { readonly source: number; readonly name: string }[]
  /** Filled by the walk, one per read. */
  readonly values: (JsonView | undefined)[]
}

/** Who knows what a decision on (tool, role) reads: the fast path. */
export interface Captures {
  /** The capture for (tool, role), or undefined to read the whole view. */
  captureFor(tool: string, role: string): Capture | undefined
}

/** What a container that is checked but not copied reads as: no consumer sees it. */
const UNCOPIED: JsonView = Object.freeze({})

/** One walk over a request: its weight so far (a bound on its JSON text's length), and the view it reads. */
class Walk {
  weight = 0
  /** False while the walk checks what no consumer reads: containers are then checked, not copied. */
  copy = true
  /** The reads to keep the members of, while the walk is at the top of source `captureSource` (-1: none). */
  capture: Capture | undefined = undefined
  captureSource = -1

  /** The view of `value`, or the problem that keeps the engine from reading it. */
  read(value: unknown, depth: number): JsonView | Problem {
    switch (typeof value) {
      case 'string':
        this.weight += value.length * 6 + 32
        return value.isWellFormed() ? value : new Problem('is a string with a lone surrogate')
      case 'number':
        this.weight += 32
        return Number.isFinite(value) ? value : new Problem(`is ${value}, not a finite number`)
      case 'boolean':
        this.weight += 32
        return value
      case 'object':
        this.weight += 32
        return value === null ? null : this.container(value, depth)
      case 'bigint':
        return new Problem('is a BigInt')
      case 'undefined':
        return new Problem('is undefined')
      default:
        return new Problem(`is a ${typeof value}`)
    }
  }

  /**
   * The view of a source of the request (undefined when absent), or the
   * problem, with the reason it makes. `code` is the source's code, for a capture.
   */
  source(part: Source, code: number, value: unknown, depth: number): JsonView | undefined | Problem {
    if (value === undefined) return undefined
    this.captureSource = this.capture === undefined ? -1 : code
    const read = this.read(value, depth)
    this.captureSource = -1
    if (read instanceof Problem) read.unreadable = { part, reason: problemReason(part, value, read) }
    return read
  }

  /** True when the capture keeps member `key` of source `source`. */
  private captures(source: number, key: string): boolean {
    const reads = this.capture!.reads
    for (let r = 0; r < reads.length; r++) if (reads[r]!.source === source && reads[r]!.name === key) return true
    return false
  }

  /** Keeps `view` as the value of every read of member `key` of source `source`. */
  private keep(source: number, key: string, view: JsonView): void {
    const { reads, values } = this.capture!
    for (let r = 0; r < reads.length; r++) if (reads[r]!.source === source && reads[r]!.name === key) values[r] = view
  }

  private container(value: object, depth: number): JsonView | Problem {
    // `depth` containers enclose this one; it makes depth + 1.
    if (depth + 1 >= MAX_DEPTH) return new Problem(DEEP)
    // Only a source's own members are captured (a source that is an array has none), not those of the containers inside it.
    const source = this.captureSource
    this.captureSource = -1
    if (Array.isArray(value)) {
      const items: JsonView[] | undefined = this.copy ? [] : undefined
      for (let i = 0; i < value.length; i++) {
        // A hole is not a value (JSON.stringify would write null for it, the JSON view has none).
        const item = Object.hasOwn(value, i) ? this.read(value[i], depth + 1) : new Problem('is a hole')
        if (item instanceof Problem) {
          item.path.push(i)
          return item
        }
        items?.push(item)
      }
      return items ?? UNCOPIED
    }
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return new Problem(`is ${describeObject(value)}, not a plain object`)
    const members: { [key: string]: JsonView } | undefined = this.copy ? {} : undefined
    // Own enumerable string keys, in the order JSON.stringify uses: nothing inherited, no symbols.
    // (for…in with hasOwnProperty reads members through V8's enumeration cache: twice as fast as Object.keys.)
    for (const key in value) {
      if (!hasOwnProperty.call(value, key)) continue
      this.weight += key.length * 6
      if (!key.isWellFormed()) return new Problem('has a key with a lone surrogate')
      const member: unknown = (value as Record<string, unknown>)[key]
      // Like JSON.stringify: a member whose value is undefined is absent.
      if (member === undefined) continue
      const kept = source !== -1 && this.captures(source, key)
      // A kept member is copied whole, whatever the walk does around it.
      const copying = this.copy
      if (kept) this.copy = true
      const read = this.read(member, depth + 1)
      this.copy = copying
      if (read instanceof Problem) {
        read.path.push(key)
        return read
      }
      if (kept) this.keep(source, key, read)
      if (members === undefined) continue
      // `__proto__` is a member like any other (an assignment would set the prototype).
      if (key === '__proto__') Object.defineProperty(members, key, { value: read, enumerable: true, writable: true, configurable: true })
      else members[key] = read
    }
    return members ?? UNCOPIED
  }
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

/** Throws a TypeError for requests no host should send: those are bugs in the host, not data. */
/**
 * The request's tool name and trace id, each read once (the view uses these,
 * not a second read); throws a TypeError for requests no host should send:
 * those are bugs in the host, not data.
 */
export function requestShape(request: unknown): { tool: string; traceId: string | undefined } {
  if (typeof request !== 'object' || request === null) throw new TypeError('perso: evaluate() takes a request object')
  const { tool, traceId } = request as Partial<EvaluateRequest>
  if (typeof tool !== 'string') throw new TypeError(`perso: request.tool must be the tool name, a string (got ${typeof tool})`)
  if (traceId !== undefined && typeof traceId !== 'string') {
    throw new TypeError(`perso: request.traceId must be a string when given (got ${typeof traceId})`)
  }
  return { tool, traceId }
}

/** Which part of a request the engine cannot read, and why (a denial reason naming the problem and where it is). */
export interface Unreadable {
  part: 'tool' | 'role' | 'args' | 'agentAttributes' | 'resourceAttributes' | 'request'
  reason: string
}

/**
 * A request as the SDK reads it, once (docs/sdk.md "One view of each request"):
 * every consumer — the fast path, the text path, the audit event — uses this
 * and never the host's objects again. A source the walk refused is undefined.
 */
export interface RequestView {
  tool: string
  role: string
  args: JsonView | undefined
  agentAttributes: JsonView | undefined
  resourceAttributes: JsonView | undefined
}

type Source = 'args' | 'agentAttributes' | 'resourceAttributes'

/**
 * The request's view, and why the engine cannot read it when it cannot
 * (`refused`, the first problem in the order tool, role, args, agent, resource;
 * the view then holds what could be read, for the audit). Never throws: a
 * getter or a proxy that throws is itself a reason.
 *
 * With `captures`, which names the members one decision on (tool, role)
 * reads, the walk checks the whole request just the same but keeps the view
 * of only those members, in the capture it returns: the view's sources are
 * then left undefined.
 */
export function readRequest(
  request: EvaluateRequest,
  tool: string,
  captures?: Captures,
): { view: RequestView; refused: Unreadable | undefined; capture: Capture | undefined } {
  const view: RequestView = { tool, role: '', args: undefined, agentAttributes: undefined, resourceAttributes: undefined }
  let refused: Unreadable | undefined
  let capture: Capture | undefined
  try {
    const role = request.role
    if (!tool.isWellFormed()) refused = { part: 'tool', reason: 'request: tool is a string with a lone surrogate' }
    if (role === undefined) refused ??= { part: 'role', reason: 'request: role is missing' }
    else if (typeof role !== 'string') refused ??= { part: 'role', reason: `request: role is ${role === null ? 'null' : `a ${typeof role}`}, not a string` }
    else if (!role.isWellFormed()) refused ??= { part: 'role', reason: 'request: role is a string with a lone surrogate' }
    else view.role = role
    const walk = new Walk()
    walk.weight = tool.length * 6 + view.role.length * 6
    if (captures !== undefined && refused === undefined) {
      capture = captures.captureFor(tool, view.role)
      if (capture !== undefined) {
        // A loop: Array.prototype.fill on a few elements costs more than the walk of a small source.
        const values = capture.values
        for (let r = 0; r < values.length; r++) values[r] = undefined
        walk.capture = capture
        walk.copy = false
      }
    }
    const copy = walk.copy
    // One line per source (`request[part]` with a varying name is a slow keyed load). The context
    // text wraps the attributes in one more object than the arguments text: depth 1.
    const args = walk.source('args', SourceCode.Arguments, request.args, 0)
    if (args instanceof Problem) refused ??= args.unreadable
    else if (copy) view.args = args
    const agent = walk.source('agentAttributes', SourceCode.AgentAttributes, request.agentAttributes, 1)
    if (agent instanceof Problem) refused ??= agent.unreadable
    else if (copy) view.agentAttributes = agent
    const resource = walk.source('resourceAttributes', SourceCode.ResourceAttributes, request.resourceAttributes, 1)
    if (resource instanceof Problem) refused ??= resource.unreadable
    else if (copy) view.resourceAttributes = resource
    if (walk.weight > MAX_WEIGHT) refused ??= { part: 'request', reason: `request: too large (over ${MAX_WEIGHT >> 20} MiB as JSON text)` }
  } catch (e) {
    refused ??= { part: 'request', reason: `request: could not be read: ${e instanceof Error ? e.message : String(e)}` }
  }
  return { view, refused, capture }
}

function problemReason(root: string, value: unknown, problem: Problem): string {
  const path = problem.path.reverse()
  if (problem.what === DEEP) {
    const cycle = cycleIn(value, path)
    if (cycle !== undefined) return `request: ${renderPath(root, cycle)} is cyclic (it contains itself)`
  }
  return `request: ${renderPath(root, path)} ${problem.what}`
}

/** The JSON text of a view (its own writer: no `toJSON` of any prototype is consulted). */
export function jsonText(value: JsonView): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value)
  if (Array.isArray(value)) {
    let text = '['
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + jsonText(value[i]!)
    return text + ']'
  }
  let text = '{'
  let first = true
  for (const key in value) {
    // A view's own members only: what a polluted prototype lists is not in it.
    if (!Object.hasOwn(value, key)) continue
    text += (first ? '' : ',') + JSON.stringify(key) + ':' + jsonText(value[key]!)
    first = false
  }
  return text + '}'
}
