// Facts about decisions, as warnings (docs/cli.md "perso check"): a condition
// that can never hold or always holds, and a rule replaced by a later one where
// that changes a decision — saying which guard is lost. Each is decided exactly
// on the requests that can tell decisions apart (space.ts); a question past the
// budget is left unsaid rather than guessed, except W106, which then warns as
// it always did.

import type { Condition as Lowered } from './ir.js'
import type { Diagnostic, Locate } from './diagnostics.js'
import { type PairRule, decide } from './decisions.js'
import { type Replacement, pairList } from './expand.js'
import { lowerCondition } from './lower.js'
import type { Policy } from './policy.js'
import { type FieldValue, forEachRequest, spaceOf } from './space.js'
import { label } from './texts.js'

/** Most requests examined for one question: `perso check` stays interactive. */
const BUDGET = 100_000

export function semanticWarnings(policy: Policy, replacements: readonly Replacement[], locate: Locate): Diagnostic[] {
  const conditions = policy.rules.map((rule, r) => (rule.condition === undefined || rule.condition === null ? null : lowerCondition(rule.condition, r)))
  const diagnostics: Diagnostic[] = []
  conditions.forEach((condition, r) => {
    if (condition === null) return
    const outcomes = outcomesOf(condition)
    if (outcomes === undefined) return
    const what = label(condition.root, condition.reads)
    if (!outcomes.allow) {
      diagnostics.push({
        code: 'W108',
        severity: 'warning',
        message: `the condition of rules[${r}] can never hold, so the rule denies every request it matches`,
        span: locate(['rules', r, 'condition']),
        help: `no request satisfies ${what}; a rule that should deny is clearer without a rule (default_action) or with the condition it means`,
      })
    } else if (!outcomes.deny) {
      diagnostics.push({
        code: 'W109',
        severity: 'warning',
        message: `the condition of rules[${r}] always holds, so the rule allows every request it matches`,
        span: locate(['rules', r, 'condition']),
        help: `every request satisfies ${what}; drop the condition, or write the one you mean`,
      })
    }
  })
  for (const { rule, previous, pairs } of replacements) {
    const change = lostGuard(conditions[previous] ?? null, conditions[rule] ?? null)
    if (change === '') continue
    diagnostics.push({
      code: 'W106',
      severity: 'warning',
      message: `rules[${rule}] replaces rules[${previous}] for ${pairList(pairs)}${change}`,
      span: locate(['rules', rule, 'tool_name']),
      help: 'a later rule replaces an earlier one for the same (tool, role); merge them or remove the earlier one',
      related: [{ message: `rules[${previous}] is here`, span: locate(['rules', previous, 'tool_name']) }],
    })
  }
  return diagnostics
}

/** Whether some request makes the condition hold, and whether some makes it fail; undefined past the budget. */
function outcomesOf(condition: Lowered): { allow: boolean; deny: boolean } | undefined {
  const rule: PairRule = { entry: { tool: '', role: '', rule: condition.rule, condition: 0 }, condition, defaultAction: 'Deny' }
  const seen = { allow: false, deny: false }
  const decided = each([condition], (values) => {
    seen[decide(rule, values) === 'Allow' ? 'allow' : 'deny'] = true
    return !(seen.allow && seen.deny)
  })
  return decided ? seen : undefined
}

/**
 * What replacing a rule of condition `before` by one of condition `after`
 * does to the pairs' decisions, as the tail of W106's message: `''` when no
 * request is decided differently, else which guard is lost or added.
 */
function lostGuard(before: Lowered | null, after: Lowered | null): string {
  const ruleOf = (c: Lowered | null): PairRule => ({ entry: { tool: '', role: '', rule: 0, condition: c === null ? null : 0 }, condition: c, defaultAction: 'Deny' })
  const [was, now] = [ruleOf(before), ruleOf(after)]
  const differs = { gains: false, loses: false }
  const decided = each([before, after].filter((c) => c !== null), (values) => {
    const [a, b] = [decide(was, values), decide(now, values)]
    if (a !== b) differs[b === 'Allow' ? 'gains' : 'loses'] = true
    return !(differs.gains && differs.loses)
  })
  // Past the budget: say what is replaced, as the syntactic warning did.
  if (!decided) return ': whether this changes a decision is past what `perso check` examines'
  if (!differs.gains && !differs.loses) return ''
  const direction = differs.gains && differs.loses ? 'both ways' : differs.gains ? 'more permissive' : 'less permissive'
  const text = (c: Lowered): string => label(c.root, c.reads)
  if (before !== null && after === null) return `: the condition ${text(before)} no longer applies (${direction})`
  if (before === null && after !== null) return `: its requests now need ${text(after)} (${direction})`
  return `: the condition ${text(before!)} is replaced by ${text(after!)} (${direction})`
}

/** Calls `visit` with every request of the conditions' space; false when the space is past the budget. */
function each(conditions: readonly Lowered[], visit: (values: ReadonlyMap<string, FieldValue>) => boolean): boolean {
  const space = spaceOf(conditions)
  if (space.size > BUDGET) return false
  forEachRequest(space, visit)
  return true
}
