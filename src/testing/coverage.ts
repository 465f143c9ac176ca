// Coverage of one policy by the cases that ran: from what the artifact
// answered (which entry matched, how its condition went) and its metadata
// (entry → rule, entry → condition).
//
// Items: every rule with at least one table entry (matched by some case),
// every table entry (probed), and two per condition (seen true, seen false).
// Percentage = covered items / all items. Rules with no table entry (replaced
// by later rules, or matching no declared tool) can never match: they are
// listed as unreachable and not counted.

import type { Exercised } from './run.js'

export interface RuleRef {
  /** Index in the policy's `rules`. */
  rule: number
  label: string
  where?: string
}

export interface ConditionRef extends RuleRef {
  condition: string
}

export interface EntryRef {
  tool: string
  role: string
  rule: number
}

export interface Coverage {
  policy: string
  covered: number
  total: number
  /** covered / total × 100; 100 when there is nothing to cover. */
  percent: number
  rulesNeverMatched: RuleRef[]
  entriesNeverProbed: EntryRef[]
  conditionsNeverTrue: ConditionRef[]
  conditionsNeverFalse: ConditionRef[]
  unreachableRules: RuleRef[]
}

export function coverageOf(seen: Exercised): Coverage {
  const { metadata, rules } = seen.policy
  const { entries, conditions, tools, roles } = metadata!
  const ruleRef = (rule: number): RuleRef => {
    const info = rules[rule]
    const ref: RuleRef = { rule, label: info?.label ?? '' }
    if (info?.where !== undefined) ref.where = info.where
    return ref
  }
  const conditionRef = (index: number): ConditionRef => {
    const rule = conditions[index]!.rule
    return { ...ruleRef(rule), condition: rules[rule]?.condition ?? 'condition' }
  }

  const reachable = new Set(entries.map(([, , rule]) => rule))
  const matched = new Set([...seen.entries].map((i) => entries[i]![2]))
  const ruleIndexes = Array.from({ length: metadata!.counts.rules }, (_, i) => i)
  const rulesNeverMatched = ruleIndexes.filter((r) => reachable.has(r) && !matched.has(r)).map(ruleRef)
  const unreachableRules = ruleIndexes.filter((r) => !reachable.has(r)).map(ruleRef)
  const entriesNeverProbed = entries.flatMap(([tool, role, rule], i): EntryRef[] =>
    seen.entries.has(i) ? [] : [{ tool: tools[tool]!, role: roles[role]!, rule }])
  const conditionIndexes = conditions.map((_, i) => i).sort((a, b) => conditions[a]!.rule - conditions[b]!.rule)
  const conditionsNeverTrue = conditionIndexes.filter((i) => !seen.conditionTrue.has(i)).map(conditionRef)
  const conditionsNeverFalse = conditionIndexes.filter((i) => !seen.conditionFalse.has(i)).map(conditionRef)

  const total = reachable.size + entries.length + 2 * conditions.length
  const missed = rulesNeverMatched.length + entriesNeverProbed.length + conditionsNeverTrue.length + conditionsNeverFalse.length
  const covered = total - missed
  return {
    policy: seen.policy.path,
    covered,
    total,
    percent: total === 0 ? 100 : (covered / total) * 100,
    rulesNeverMatched,
    entriesNeverProbed,
    conditionsNeverTrue,
    conditionsNeverFalse,
    unreachableRules,
  }
}

/** `87.5%`, rounded down so that 99.97% never shows as 100%. */
export const percentText = (percent: number): string => `${Math.floor(percent * 10) / 10}%`

/** The human report: a headline, then one line per item left unexercised. */
export function coverageLines(c: Coverage): string[] {
  const rule = (r: RuleRef): string => `rules[${r.rule}] ${r.label}${r.where !== undefined ? ` (${r.where})` : ''}`
  const condition = (r: ConditionRef): string => `rules[${r.rule}] ${r.condition}${r.where !== undefined ? ` (${r.where})` : ''}`
  return [
    `coverage of ${c.policy}: ${percentText(c.percent)} (${c.covered}/${c.total} rules, entries and condition outcomes)`,
    ...c.rulesNeverMatched.map((r) => `  rule never matched     ${rule(r)}`),
    ...c.entriesNeverProbed.map((e) => `  entry never probed     \`${e.tool}\` for \`${e.role}\` (rules[${e.rule}])`),
    ...c.conditionsNeverTrue.map((r) => `  condition never true   ${condition(r)}`),
    ...c.conditionsNeverFalse.map((r) => `  condition never false  ${condition(r)}`),
    ...c.unreachableRules.map((r) => `  unreachable rule       ${rule(r)}: no table entry, not counted`),
  ]
}
