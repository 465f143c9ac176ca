// lower: turns the expanded table and the rules' conditions into the Program
// IR (ir.ts) that codegen lays out. Each rule's condition is lowered once.

import type { Condition as LoweredCondition, Entry, Node, Program, Read } from './ir.js'
import type { Condition, Policy, Source } from './policy.js'
import type { Table } from './expand.js'

/** Interns the fields one condition reads, so each is located once per evaluation. */
class Reads {
  readonly list: Read[] = []
  private readonly index = new Map<string, number>()

  of(source: Source, field: string): number {
    const key = `${source}\u0000${field}`
    let i = this.index.get(key)
    if (i === undefined) {
      i = this.list.length
      this.list.push({ source, field })
      this.index.set(key, i)
    }
    return i
  }
}

function lowerNode(condition: Condition, reads: Reads): Node {
  if ('All' in condition) return { kind: 'all', children: condition.All.map((c) => lowerNode(c, reads)) }
  if ('Any' in condition) return { kind: 'any', children: condition.Any.map((c) => lowerNode(c, reads)) }
  if ('Not' in condition) return { kind: 'not', child: lowerNode(condition.Not, reads) }
  if ('NumericCheck' in condition) {
    const { source, field, op, value } = condition.NumericCheck
    return { kind: 'numeric', read: reads.of(source, field), op, value }
  }
  if ('StringCheck' in condition) {
    const { source, field, op, value } = condition.StringCheck
    return { kind: 'string_in', read: reads.of(source, field), values: value, negate: op === 'NotIn' }
  }
  if ('FieldPresent' in condition) {
    const { source, field } = condition.FieldPresent
    return { kind: 'present', read: reads.of(source, field) }
  }
  if ('FieldEquals' in condition) {
    const { source_a, field_a, source_b, field_b } = condition.FieldEquals
    return { kind: 'equals', a: reads.of(source_a, field_a), b: reads.of(source_b, field_b) }
  }
  // validate.ts admits the seven forms only: anything else here is a bug in perso.
  throw new Error(`internal: unknown condition form ${Object.keys(condition satisfies never as object).join(', ')}`)
}

export function lowerCondition(condition: Condition, rule: number): LoweredCondition {
  const reads = new Reads()
  const root = lowerNode(condition, reads)
  return { rule, reads: reads.list, root }
}

export function lower(policy: Policy, table: Table, sha256: string, digest: string): Program {
  const conditions: LoweredCondition[] = []
  const conditionOfRule = new Map<number, number | null>()
  const conditionFor = (rule: number): number | null => {
    let index = conditionOfRule.get(rule)
    if (index === undefined) {
      const condition = policy.rules[rule]?.condition
      index = condition === undefined || condition === null ? null : conditions.push(lowerCondition(condition, rule)) - 1
      conditionOfRule.set(rule, index)
    }
    return index
  }
  const entries: Entry[] = table.entries().map(({ tool, role, rule }) => ({ tool, role, rule, condition: conditionFor(rule) }))
  return {
    version: policy.version,
    defaultAction: policy.default_action,
    sha256,
    digest,
    tools: [...new Set(policy.tools)],
    roles: [...new Set(policy.roles)],
    ruleCount: policy.rules.length,
    conditions,
    entries,
  }
}
