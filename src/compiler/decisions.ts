// What a compiled policy decides for a (tool, role) pair, as a function of the
// values of the fields its entry reads: the IR (src/compiler/ir.ts) evaluated
// over JSON values, with the runtime's semantics (spec §3): numbers compared in
// double arithmetic, strings by exact membership, present = not missing and not
// null, equal = both present and the same JSON value. The artifact stays the
// authority: every answer printed from this is checked against it.

import type { Condition, Entry, Node, Program, Read } from './ir.js'
import { type FieldValue, type Json, MISSING, fieldKey } from './space.js'

export type Decision = 'Allow' | 'Deny'

/** A pair's decision in one policy: its entry's condition (null: none), or the default when it has no entry. */
export interface PairRule {
  entry: Entry | undefined
  condition: Condition | null
  defaultAction: Decision
}

/** The values of an assignment by field key. */
export type Values = ReadonlyMap<string, FieldValue>

export function decide(rule: PairRule, values: Values): Decision {
  if (rule.entry === undefined) return rule.defaultAction
  if (rule.condition === null) return 'Allow'
  return holds(rule.condition.root, rule.condition.reads, values) ? 'Allow' : 'Deny'
}

export function holds(node: Node, reads: readonly Read[], values: Values): boolean {
  const valueOf = (read: number): FieldValue => values.get(fieldKey(reads[read]!)) ?? MISSING
  switch (node.kind) {
    case 'all':
      return node.children.every((c) => holds(c, reads, values))
    case 'any':
      return node.children.some((c) => holds(c, reads, values))
    case 'not':
      return !holds(node.child, reads, values)
    case 'numeric': {
      const v = valueOf(node.read)
      return typeof v === 'number' && compare(v, node.op, node.value)
    }
    case 'string_in': {
      const v = valueOf(node.read)
      return typeof v === 'string' && node.values.includes(v) !== node.negate
    }
    case 'present': {
      const v = valueOf(node.read)
      return v !== MISSING && v !== null
    }
    case 'equals': {
      const a = valueOf(node.a)
      const b = valueOf(node.b)
      if (a === MISSING || a === null || b === MISSING || b === null) return false
      return jsonEqual(a, b)
    }
    default:
      throw new Error(`internal: unknown condition node ${(node satisfies never as { kind: string }).kind}`)
  }
}

/** A NumericCheck's comparison, in double arithmetic (spec §3). */
export function compare(actual: number, op: 'Lt' | 'Lte' | 'Gt' | 'Gte' | 'Eq', value: number): boolean {
  switch (op) {
    case 'Lt':
      return actual < value
    case 'Lte':
      return actual <= value
    case 'Gt':
      return actual > value
    case 'Gte':
      return actual >= value
    case 'Eq':
      return actual === value
  }
}

function jsonEqual(a: Json, b: Json): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]!))
  }
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k]!, b[k]!))
}

/** Every pair's rule in a program, by `tool\0role`. */
export function pairRules(program: Program): Map<string, PairRule> {
  const rules = new Map<string, PairRule>()
  for (const entry of program.entries) {
    const condition = entry.condition === null ? null : program.conditions[entry.condition]!
    rules.set(pairKey(entry.tool, entry.role), { entry, condition, defaultAction: program.defaultAction })
  }
  return rules
}

export const pairKey = (tool: string, role: string): string => `${tool}\u0000${role}`

/** The rule of a pair the program has no entry for. */
export const noEntry = (program: Program): PairRule => ({ entry: undefined, condition: null, defaultAction: program.defaultAction })
