// `perso diff`'s analysis (docs/analysis.md): for every (tool, role) pair that
// either policy has an entry for, and for every other pair at once, whether
// the new policy allows requests the old one denies (more permissive), denies
// requests it allowed (less permissive), both, or neither — decided exactly on
// the requests of space.ts, with one witness request per direction.

import type { Program } from '../compiler/ir.js'
import { label } from '../compiler/texts.js'
import { type Decision, type PairRule, decide, noEntry, pairKey, pairRules } from '../compiler/decisions.js'
import { type FieldValue, type Json, MISSING, forEachRequest, spaceOf } from '../compiler/space.js'

export type Verdict = 'same' | 'more permissive' | 'less permissive' | 'both ways' | 'unknown'

/** A request whose decision differs between the two policies. */
export interface Witness {
  tool: string
  role: string
  args: Record<string, Json>
  agent_attrs: Record<string, Json>
  resource_attrs: Record<string, Json>
  old: Decision
  new: Decision
}

export interface PairDiff {
  /** The pair; `undefined` tool and role for "every pair neither policy has an entry for". */
  tool: string | undefined
  role: string | undefined
  verdict: Verdict
  /** A request the new policy allows and the old one denied. */
  gained?: Witness
  /** A request the new policy denies and the old one allowed. */
  lost?: Witness
  /** Why the verdict is `unknown`. */
  unknown?: string
  /** What decides the pair in each policy, in words. */
  was: string
  now: string
}

export interface DiffOptions {
  /** Most requests examined for one pair before its verdict is `unknown` (default 1,000,000). */
  budget?: number
}

export const DEFAULT_BUDGET = 1_000_000

/** The verdict of every pair, in (tool, role) order, then the row of every other pair. */
export function diffPrograms(before: Program, after: Program, options: DiffOptions = {}): PairDiff[] {
  const budget = options.budget ?? DEFAULT_BUDGET
  const [oldRules, newRules] = [pairRules(before), pairRules(after)]
  const pairs = new Map<string, { tool: string; role: string }>()
  for (const program of [before, after]) for (const { tool, role } of program.entries) pairs.set(pairKey(tool, role), { tool, role })
  const keys = [...pairs.keys()].sort(compareKeys)
  const out = keys.map((key) => {
    const { tool, role } = pairs.get(key)!
    return diffPair(tool, role, oldRules.get(key) ?? noEntry(before), newRules.get(key) ?? noEntry(after), budget)
  })
  out.push(otherPairs(before, after))
  return out
}

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function diffPair(tool: string, role: string, was: PairRule, now: PairRule, budget: number): PairDiff {
  const words = { was: describe(was), now: describe(now) }
  const space = spaceOf([was.condition, now.condition].filter((c) => c !== null))
  if (space.size > budget) {
    const unknown = `${space.size.toExponential(1)} distinct requests to examine, over the budget of ${budget}`
    return { tool, role, verdict: 'unknown', unknown, ...words }
  }
  let gained: Witness | undefined
  let lost: Witness | undefined
  forEachRequest(space, (values, assignment) => {
    const [before, after] = [decide(was, values), decide(now, values)]
    if (before === after) return true
    const witness = (): Witness => witnessOf(tool, role, space.fields, assignment, before, after)
    if (after === 'Allow') gained ??= witness()
    else lost ??= witness()
    return gained === undefined || lost === undefined
  })
  return { tool, role, verdict: verdictOf(gained !== undefined, lost !== undefined), gained, lost, ...words }
}

function verdictOf(gains: boolean, loses: boolean): Verdict {
  if (gains && loses) return 'both ways'
  if (gains) return 'more permissive'
  return loses ? 'less permissive' : 'same'
}

/** Every pair neither policy has an entry for: each gets its policy's default_action. */
function otherPairs(before: Program, after: Program): PairDiff {
  const [was, now] = [noEntry(before), noEntry(after)]
  const row: PairDiff = { tool: undefined, role: undefined, verdict: 'same', was: describe(was), now: describe(now) }
  if (was.defaultAction === now.defaultAction) return row
  const witness: Witness = { tool: unlistedTool(before, after), role: 'any-role', args: {}, agent_attrs: {}, resource_attrs: {}, old: was.defaultAction, new: now.defaultAction }
  return now.defaultAction === 'Allow' ? { ...row, verdict: 'more permissive', gained: witness } : { ...row, verdict: 'less permissive', lost: witness }
}

/** A tool name that neither policy declares or has an entry for. */
function unlistedTool(...programs: Program[]): string {
  const known = new Set(programs.flatMap((p) => [...p.tools, ...p.entries.map((e) => e.tool)]))
  for (let i = 0; ; i++) {
    const name = i === 0 ? 'unlisted_tool' : `unlisted_tool_${i}`
    if (!known.has(name)) return name
  }
}

/** The request whose fields (in `fields` order) have `values`, missing ones left out, with the two decisions it gets. */
export function witnessOf(tool: string, role: string, fields: readonly { source: string; field: string }[], values: readonly FieldValue[], old: Decision, now: Decision): Witness {
  const witness: Witness = { tool, role, args: {}, agent_attrs: {}, resource_attrs: {}, old, new: now }
  fields.forEach(({ source, field }, i) => {
    const value = values[i]!
    if (value === MISSING) return
    const target = source === 'Arguments' ? witness.args : source === 'AgentAttributes' ? witness.agent_attrs : witness.resource_attrs
    // A field may be named `__proto__`: a member like any other.
    Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true })
  })
  return witness
}

/** What decides a pair in a policy, in words: `rules[3], if NumericCheck(Arguments.amount Lte 500)`. */
function describe(rule: PairRule): string {
  if (rule.entry === undefined) return `no rule: default_action ${rule.defaultAction}`
  const where = `rules[${rule.entry.rule}]`
  return rule.condition === null ? `${where}: Allow` : `${where}: Allow if ${label(rule.condition.root, rule.condition.reads)}`
}

/** Asks one artifact for a decision: tool name, arguments JSON text, context JSON text → its JSON answer text. */
export type Ask = (tool: string, args: string, context: string) => string

/** The request's JSON texts, as a host would send them. */
export function witnessTexts(w: Witness): { args: string; context: string } {
  const context = `{"role":${JSON.stringify(w.role)},"agent_attrs":${JSON.stringify(w.agent_attrs)},"resource_attrs":${JSON.stringify(w.resource_attrs)}}`
  return { args: JSON.stringify(w.args), context }
}

/**
 * Checks every witness against the two artifacts: each must get the decisions
 * the analysis says. A pair whose witness does not is `unknown` (and the
 * answer says why); the count of such pairs is returned — any is a bug in perso.
 */
export function confirm(diffs: PairDiff[], askOld: Ask, askNew: Ask): number {
  let wrong = 0
  for (const [i, d] of diffs.entries()) {
    for (const w of [d.gained, d.lost]) {
      if (w === undefined) continue
      const { args, context } = witnessTexts(w)
      const got = [askOld(w.tool, args, context), askNew(w.tool, args, context)].map((text) => (JSON.parse(text) as { decision?: unknown }).decision)
      if (got[0] === w.old && got[1] === w.new) continue
      wrong++
      diffs[i] = {
        tool: d.tool,
        role: d.role,
        verdict: 'unknown',
        unknown: `the artifacts decide ${String(got[0])} and ${String(got[1])} where the analysis expected ${w.old} and ${w.new} (a bug in perso; please report it)`,
        was: d.was,
        now: d.now,
      }
      break
    }
  }
  return wrong
}
