// The requests that can tell decisions apart, as a finite set (docs/analysis.md).
// A condition only compares a field with constants (numbers in double
// arithmetic, strings by membership), asks whether it is present and not null,
// or compares two fields for equality. So two values of a field that lie in the
// same cell — the same type, and on the same side of every constant any
// condition compares that field (or a field it is compared with) against — can
// only be told apart by equality, and a handful of distinct values per cell
// realise every pattern of equalities. Enumerating those representatives
// decides exactly, with no solver.

import type { Node, Read } from './ir.js'

/** A JSON value of a request's field, or MISSING. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export const MISSING: unique symbol = Symbol('missing')
export type FieldValue = Json | typeof MISSING

/** A field as conditions name it: `Source\0field`. */
export const fieldKey = (read: Read): string => `${read.source}\u0000${read.field}`

/** What the conditions of one question say about each field they read. */
class Constants {
  readonly numbers = new Map<string, Set<number>>()
  readonly strings = new Map<string, Set<string>>()
  /** Fields compared for equality, as union-find parents. */
  readonly parent = new Map<string, string>()
  readonly reads = new Map<string, Read>()

  add(node: Node, reads: readonly Read[]): void {
    switch (node.kind) {
      case 'all':
      case 'any':
        for (const child of node.children) this.add(child, reads)
        return
      case 'not':
        return this.add(node.child, reads)
      case 'numeric':
        return void setOf(this.numbers, this.field(reads[node.read]!)).add(node.value)
      case 'string_in': {
        const strings = setOf(this.strings, this.field(reads[node.read]!))
        for (const value of node.values) strings.add(value)
        return
      }
      case 'present':
        return void this.field(reads[node.read]!)
      case 'equals':
        return this.union(this.field(reads[node.a]!), this.field(reads[node.b]!))
      default:
        throw new Error(`internal: unknown condition node ${(node satisfies never as { kind: string }).kind}`)
    }
  }

  private field(read: Read): string {
    const key = fieldKey(read)
    if (!this.reads.has(key)) {
      this.reads.set(key, read)
      this.parent.set(key, key)
    }
    return key
  }

  root(key: string): string {
    let k = key
    while (this.parent.get(k) !== k) k = this.parent.get(k)!
    return k
  }

  private union(a: string, b: string): void {
    const [ra, rb] = [this.root(a), this.root(b)]
    if (ra !== rb) this.parent.set(ra, rb)
  }
}

function setOf<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let set = map.get(key)
  if (set === undefined) map.set(key, (set = new Set()))
  return set
}

/** The space of one question: the fields, and each field's representative values. */
export interface Space {
  fields: Read[]
  values: FieldValue[][]
  /** How many assignments the space holds (the product of the fields' counts). */
  size: number
}

/**
 * The space of the conditions given (each with its reads): for every field
 * they read, values that cover every cell of its domain, as many distinct ones
 * per cell as fields are compared with it for equality (so that any of them can
 * be equal or unequal).
 */
export function spaceOf(conditions: readonly { root: Node; reads: readonly Read[] }[]): Space {
  const constants = new Constants()
  for (const c of conditions) constants.add(c.root, c.reads)
  const classes = new Map<string, string[]>()
  for (const key of constants.reads.keys()) {
    const root = constants.root(key)
    const members = classes.get(root)
    if (members === undefined) classes.set(root, [key])
    else members.push(key)
  }
  const fields: Read[] = []
  const values: FieldValue[][] = []
  for (const members of classes.values()) {
    // Fields compared for equality share their constants: a value of one must be able to meet the other's.
    const numbers = new Set<number>()
    const strings = new Set<string>()
    for (const key of members) {
      for (const n of constants.numbers.get(key) ?? []) numbers.add(n)
      for (const s of constants.strings.get(key) ?? []) strings.add(s)
    }
    const reps = representatives([...numbers], [...strings], members.length)
    for (const key of members) {
      fields.push(constants.reads.get(key)!)
      values.push(reps)
    }
  }
  const size = values.reduce((n, v) => n * v.length, 1)
  return { fields, values, size }
}

/** Values that cover every cell: missing, null, other types, numbers around each constant, the strings and others. */
export function representatives(numbers: number[], strings: string[], distinct: number): FieldValue[] {
  const out: FieldValue[] = [MISSING, null, ...numberRepresentatives(numbers, distinct)]
  for (const s of [...new Set(strings)].sort()) out.push(s)
  // Strings that are none of the constants.
  const taken = new Set(strings)
  for (let i = 0, made = 0; made < distinct; i++) {
    const s = `other-${i}`
    if (taken.has(s)) continue
    out.push(s)
    made++
  }
  // Neither numbers nor strings: booleans, then arrays when more distinct values are needed.
  out.push(true)
  if (distinct > 1) out.push(false)
  for (let i = 2; i < distinct; i++) out.push([i])
  return out
}

/** Each constant, and `distinct` values inside every interval between and around them. */
function numberRepresentatives(constants: number[], distinct: number): number[] {
  const sorted = [...new Set(constants.map((c) => (Object.is(c, -0) ? 0 : c)))].sort((a, b) => a - b)
  if (sorted.length === 0) return Array.from({ length: distinct }, (_, i) => i)
  const out: number[] = []
  out.push(...outside(sorted[0]!, -1, distinct))
  for (let i = 0; i < sorted.length; i++) {
    const c = sorted[i]!
    out.push(c)
    const next = sorted[i + 1]
    if (next !== undefined) out.push(...between(c, next, distinct))
  }
  out.push(...outside(sorted.at(-1)!, 1, distinct))
  return out
}

/** Up to `distinct` finite doubles strictly between `lo` and `hi`. */
function between(lo: number, hi: number, distinct: number): number[] {
  const out = new Set<number>()
  for (let j = 1; j <= distinct; j++) {
    const x = lo + ((hi - lo) * j) / (distinct + 1)
    if (Number.isFinite(x) && x > lo && x < hi) out.add(x)
  }
  // An interval too narrow for the fractions (or whose width overflows): its neighbours of the ends.
  for (let x = nextAfter(lo, 1); out.size < distinct && x < hi; x = nextAfter(x, 1)) out.add(x)
  return [...out].sort((a, b) => a - b)
}

/** Up to `distinct` finite doubles beyond `end` in `direction`. */
function outside(end: number, direction: 1 | -1, distinct: number): number[] {
  const out = new Set<number>()
  for (let j = 1; j <= distinct; j++) {
    const x = end + direction * Math.max(1, Math.abs(end)) * j * 0.25
    if (Number.isFinite(x) && x !== end) out.add(x)
  }
  for (let x = nextAfter(end, direction); out.size < distinct && Number.isFinite(x); x = nextAfter(x, direction)) out.add(x)
  return [...out]
}

const float = new Float64Array(1)
const bits = new BigInt64Array(float.buffer)

/** The double next to `x` in `direction` (x finite). */
function nextAfter(x: number, direction: 1 | -1): number {
  if (x === 0) return direction * Number.MIN_VALUE
  float[0] = x
  bits[0]! += (x > 0) === (direction > 0) ? 1n : -1n
  return float[0]!
}

/** Calls `visit` with every assignment of the space (a value per field, in `fields` order); stops when it returns false. */
export function forEachAssignment(space: Space, visit: (values: readonly FieldValue[]) => boolean): void {
  const n = space.fields.length
  const index = new Array<number>(n).fill(0)
  const current = space.values.map((v) => v[0]!)
  if (space.values.some((v) => v.length === 0)) return
  while (true) {
    if (!visit(current)) return
    let i = n - 1
    while (i >= 0) {
      index[i]!++
      if (index[i]! < space.values[i]!.length) {
        current[i] = space.values[i]![index[i]!]!
        break
      }
      index[i] = 0
      current[i] = space.values[i]![0]!
      i--
    }
    if (i < 0) return
  }
}

/**
 * Calls `visit` with every request of the space: the values by field key (what
 * decisions.ts reads; one map, refilled for each request) and by position in
 * `fields`; stops when it returns false.
 */
export function forEachRequest(space: Space, visit: (values: ReadonlyMap<string, FieldValue>, assignment: readonly FieldValue[]) => boolean): void {
  const keys = space.fields.map(fieldKey)
  const values = new Map<string, FieldValue>()
  forEachAssignment(space, (assignment) => {
    assignment.forEach((v, i) => values.set(keys[i]!, v))
    return visit(values, assignment)
  })
}
