// Semantic warnings (src/compiler/semantics.ts): W106 only where replacing a
// rule changes a decision, naming the guard lost or added; W108 a condition
// that can never hold; W109 one that always holds. Hand-made cases, the
// natural policies staying quiet, and a property test that each warning (or
// its absence) is a fact about what the compiled artifact decides.
//
// seed: PERSO_SEED=<seed>

import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { check, compile } from '../src/compiler/compile.js'
import type { Condition, Policy } from '../src/compiler/policy.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { policyArb, policySource, requestArb } from './support/arbitraries.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const RUNS = Number(process.env.PERSO_SEMANTICS_RUNS ?? 40)

const amountLte = (value: number): Condition => ({ NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value } })
const base = { version: 'v', default_action: 'Deny' as const, tools: ['read', 'write'], roles: ['agent', 'admin'] }
const warnings = (policy: object): { code: string; message: string }[] =>
  check(JSON.stringify(policy)).diagnostics.map(({ code, message }) => ({ code, message }))

describe('W106: a replaced rule, only where a decision changes', () => {
  it('a rule without condition replacing one without condition changes nothing: no warning', () => {
    expect(warnings({ ...base, rules: [{ tool_name: '*', roles: ['agent', 'admin'] }, { tool_name: 'write', roles: ['admin'] }] })).toEqual([])
  })

  it('the same condition again changes nothing: no warning', () => {
    const rule = { tool_name: 'write', roles: ['admin'], condition: amountLte(5) }
    expect(warnings({ ...base, rules: [rule, { ...rule, condition: { All: [amountLte(5)] } }] })).toEqual([])
  })

  it('a catch-all replacing a guarded rule: the guard no longer applies', () => {
    const policy = { ...base, rules: [{ tool_name: 'write', roles: ['agent'], condition: amountLte(500) }, { tool_name: '*', roles: ['agent'] }] }
    expect(warnings(policy)).toEqual([
      {
        code: 'W106',
        message: 'rules[1] replaces rules[0] for `write` for `agent`: the condition NumericCheck(Arguments.amount Lte 500) no longer applies (more permissive)',
      },
    ])
  })

  it('a guarded rule replacing an open one: the requests now need the guard', () => {
    const policy = { ...base, rules: [{ tool_name: 'write', roles: ['agent'] }, { tool_name: 'write', roles: ['agent'], condition: amountLte(500) }] }
    expect(warnings(policy)).toEqual([
      { code: 'W106', message: 'rules[1] replaces rules[0] for `write` for `agent`: its requests now need NumericCheck(Arguments.amount Lte 500) (less permissive)' },
    ])
  })

  it('another guard: which one, and which way', () => {
    const policy = {
      ...base,
      rules: [
        { tool_name: 'write', roles: ['agent'], condition: amountLte(500) },
        { tool_name: 'write', roles: ['agent'], condition: { Not: amountLte(500) } },
      ],
    }
    expect(warnings(policy)).toEqual([
      {
        code: 'W106',
        message:
          'rules[1] replaces rules[0] for `write` for `agent`: the condition NumericCheck(Arguments.amount Lte 500) is replaced by Not(NumericCheck(Arguments.amount Lte 500)) (both ways)',
      },
    ])
  })
})

describe('W108 and W109: conditions that decide nothing', () => {
  it('W108: a condition no request satisfies', () => {
    const never = { All: [{ NumericCheck: { source: 'Arguments', field: 'n', op: 'Lt', value: 0 } }, { NumericCheck: { source: 'Arguments', field: 'n', op: 'Gt', value: 10 } }] }
    expect(warnings({ ...base, rules: [{ tool_name: 'read', roles: ['agent'], condition: never }] }).map((w) => w.code)).toEqual(['W108'])
    // FieldEquals of a field with itself holds whenever it is present: not W108, not W109.
    const self = { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'Arguments', field_b: 'a' } }
    expect(warnings({ ...base, rules: [{ tool_name: 'read', roles: ['agent'], condition: self }] })).toEqual([])
  })

  it('W109: a condition every request satisfies', () => {
    const always = { Not: { All: [{ FieldPresent: { source: 'AgentAttributes', field: 'x' } }, { Not: { FieldPresent: { source: 'AgentAttributes', field: 'x' } } }] } }
    expect(warnings({ ...base, rules: [{ tool_name: 'read', roles: ['agent'], condition: always }] }).map((w) => w.code)).toEqual(['W109'])
    // An empty NotIn holds for strings only.
    const strings = { StringCheck: { source: 'Arguments', field: 'p', op: 'NotIn', value: [] } }
    expect(warnings({ ...base, rules: [{ tool_name: 'read', roles: ['agent'], condition: strings }] })).toEqual([])
  })
})

describe('natural policies stay quiet', () => {
  it('the CRM and file-ops fixtures, and the README’s one-minute policy (a catch-all last), have no warning', () => {
    for (const fixture of ['crm.json', 'file-ops.json']) {
      expect(check(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url))).diagnostics, fixture).toEqual([])
    }
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const policy = /## A policy in one minute\s+```json\n([^]*?)```/.exec(readme)![1]!
    expect(check(policy, { strict: true }).diagnostics).toEqual([])
  })
})

// ---------------------------------------------------------------------------

const decisionOf = (answer: string): string => (JSON.parse(answer) as { decision?: string }).decision ?? 'error'

/** The policy without rule `r`. */
const without = (policy: Policy, r: number): Policy => ({ ...policy, rules: policy.rules.filter((_, i) => i !== r) })

describe(`every semantic warning is a fact about the artifact (seed ${SEED})`, () => {
  it(`${RUNS} random policies: W108 rules never allow, W109 rules never deny, and a replacement without W106 decides as the rule it replaced`, { timeout: 120_000 }, async () => {
    const tally = { policies: 0, W106: 0, W108: 0, W109: 0, quiet: 0, requests: 0 }
    const cases = fc.sample(fc.tuple(policyArb, fc.nat()), { numRuns: RUNS, seed: SEED })
    const decoder = new TextDecoder()
    for (const [n, [policy]] of cases.entries()) {
      const checked = check(policySource(policy))
      if (checked.program === undefined) continue
      tally.policies++
      const artifact = RawArtifact.loadSync((await compile(policySource(policy))).wasm!)
      const requests = fc.sample(requestArb(policy), { numRuns: 150, seed: SEED + n }).map((r) => [r.tool, r.args, r.context].map((b) => decoder.decode(b)) as [string, string, string])
      const ruleOf = (tool: string, context: string): number | undefined => {
        try {
          return checked.table!.get(tool, (JSON.parse(context) as { role: string }).role)
        } catch {
          return undefined
        }
      }
      const where = `seed ${SEED}, case ${n}:\n${policySource(policy)}`
      const byRule = new Map<number, string[]>()
      for (const d of checked.diagnostics) {
        const r = /rules\[(\d+)\]/.exec(d.message)?.[1]
        if (r !== undefined && (d.code === 'W108' || d.code === 'W109')) byRule.set(Number(r), [...(byRule.get(Number(r)) ?? []), d.code])
        if (d.code === 'W106' || d.code === 'W108' || d.code === 'W109') tally[d.code]++
      }
      for (const [tool, args, context] of requests) {
        const rule = ruleOf(tool, context)
        if (rule === undefined) continue
        const decision = decisionOf(artifact.evaluateStrings(tool, args, context))
        tally.requests++
        if (byRule.get(rule)?.includes('W108')) expect(decision, `${where}\n${tool} ${args} ${context}`).not.toBe('Allow')
        if (byRule.get(rule)?.includes('W109')) expect(decision, `${where}\n${tool} ${args} ${context}`).not.toBe('Deny')
      }
      // Every replacement the compiler stayed quiet about: without the later rule, its pairs decide alike.
      const warned = new Set(checked.diagnostics.filter((d) => d.code === 'W106').map((d) => /^rules\[(\d+)\] replaces rules\[(\d+)\]/.exec(d.message)!.slice(1, 3).join(' ')))
      for (const r of policy.rules.keys()) {
        const replaced = policy.rules.slice(0, r).some((_, p) => warned.has(`${r} ${p}`))
        if (replaced) continue
        const earlier = check(policySource(without(policy, r)))
        if (earlier.program === undefined) continue
        const other = RawArtifact.loadSync((await compile(policySource(without(policy, r)))).wasm!)
        for (const [tool, args, context] of requests) {
          // Pairs rule r decides, that an earlier rule decided before it.
          if (ruleOf(tool, context) !== r) continue
          const role = (JSON.parse(context) as { role: string }).role
          const before = earlier.table!.get(tool, role)
          if (before === undefined || before >= r) continue
          tally.quiet++
          expect(decisionOf(artifact.evaluateStrings(tool, args, context)), `${where}\nrules[${r}] replaced rules[${before}] quietly, yet ${tool} ${args} ${context} decides otherwise without it`).toBe(
            decisionOf(other.evaluateStrings(tool, args, context)),
          )
        }
      }
    }
    console.log(`semantics: seed ${SEED}, ${JSON.stringify(tally)}`)
    expect(tally.W106 + tally.W108 + tally.W109).toBeGreaterThan(0)
    expect(tally.requests).toBeGreaterThan(RUNS * 10)
  })
})
