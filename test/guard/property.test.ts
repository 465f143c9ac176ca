// perso guard's promises over random policies, identities and tool sets, with
// a server that records every call it receives: a tool that is not listed is
// never allowed, whatever its arguments; every allowed call was of a listed
// tool; a listed tool without a condition is allowed; no denied call reaches
// the upstream. And, at the SDK, mayAllow answers what the policy's table says.
//
// seed: PERSO_SEED=<seed>; more: PERSO_GUARD_CASES=<n>

import fc from 'fast-check'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { check, compile } from '../../src/compiler/compile.js'
import { Perso } from '../../packages/sdk/src/perso.js'
import { guardPolicyArb, policyArb, policySource, ROLE_POOL, TOOL_POOL } from '../support/arbitraries.js'
import { connect, policyFile, RECORDING, temp, textOf } from './support.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const CASES = Number(process.env.PERSO_GUARD_CASES ?? 12)

describe(`mayAllow answers what the policy's table says (seed ${SEED})`, () => {
  it('on 150 random policies, for every declared and undeclared pair', async () => {
    let pairs = 0
    for (const [n, policy] of fc.sample(policyArb, { numRuns: 150, seed: SEED }).entries()) {
      const checked = check(policySource(policy))
      if (checked.table === undefined) continue
      const perso = await Perso.load((await compile(policySource(policy))).wasm!)
      for (const tool of [...policy.tools, ...TOOL_POOL.slice(0, 4), 'never_declared']) {
        for (const role of [...policy.roles, ...ROLE_POOL.slice(0, 3), 'nobody']) {
          const rule = checked.table.get(tool, role)
          const want = rule !== undefined || policy.default_action === 'Allow'
          expect(perso.mayAllow(tool, role), `seed ${SEED}, case ${n}: ${tool} × ${role}\n${policySource(policy)}`).toBe(want)
          pairs++
        }
      }
    }
    expect(pairs).toBeGreaterThan(1000)
  })
})

/** A policy over a few plain tool names, with conditions on `n` and `mode` so that random arguments pass or fail them. */
const TOOLS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']
const ROLES = ['r1', 'r2', 'r3']
const caseArb = fc.record({
  policy: guardPolicyArb(TOOLS, ROLES, ['*', 'a*', '*a']),
  upstream: fc.subarray([...TOOLS, 'zeta', 'eta'], { minLength: 1 }),
  role: fc.constantFrom(...ROLES),
  calls: fc.array(fc.record({ tool: fc.constantFrom(...TOOLS, 'zeta', 'eta'), n: fc.integer({ min: -2, max: 12 }), mode: fc.constantFrom('a', 'b', 'c'), force: fc.boolean() }), { minLength: 4, maxLength: 10 }),
})

describe(`perso guard on random policies, identities and tool sets (seed ${SEED})`, () => {
  it(`${CASES} cases through a recording server`, { timeout: 300_000 }, async () => {
    const tally = { calls: 0, allowed: 0, denied: 0, hiddenCalled: 0 }
    for (const [n, c] of fc.sample(caseArb, { numRuns: CASES, seed: SEED }).entries()) {
      const policy = c.policy
      const where = `seed ${SEED}, case ${n}: role ${c.role}, upstream ${c.upstream.join(',')}\n${policySource(policy)}`
      const record = join(temp('record-'), 'calls.jsonl')
      const path = policyFile(policy)
      process.env.PERSO_TEST_TOOLS = JSON.stringify(c.upstream)
      process.env.PERSO_TEST_RECORD = record
      const guard = await connect(['node', RECORDING], [path, '--role', c.role])
      const listed = new Set((await guard.client.listTools()).tools.map((t) => t.name))
      const table = check(policySource(policy)).table!
      const allowedCalls: string[] = []
      for (const call of c.calls) {
        const args = { n: call.n, mode: call.mode, ...(call.force ? { force: true } : {}) }
        const result = await guard.client.callTool({ name: call.tool, arguments: args })
        const allowed = result.isError !== true
        tally.calls++
        if (!c.upstream.includes(call.tool)) tally.hiddenCalled++
        if (allowed) {
          tally.allowed++
          allowedCalls.push(JSON.stringify({ name: call.tool, arguments: args }))
          expect(listed.has(call.tool) || !c.upstream.includes(call.tool), `${where}\nallowed ${call.tool}, which is not listed`).toBe(true)
          expect(textOf(result), where).toBe(`called ${call.tool}`)
        } else {
          tally.denied++
          expect(textOf(result), where).toMatch(new RegExp(`^perso denied ${call.tool}: `))
          // A listed tool without a condition is never denied.
          const rule = table.get(call.tool, c.role)
          const open = rule === undefined ? policy.default_action === 'Allow' : policy.rules[rule]!.condition === undefined
          expect(open && listed.has(call.tool), `${where}\n${call.tool} is listed and has no condition, yet was denied`).toBe(false)
        }
        if (!listed.has(call.tool) && c.upstream.includes(call.tool)) expect(allowed, `${where}\n${call.tool} is not listed, yet was allowed`).toBe(false)
      }
      await guard.close()
      // The upstream received exactly the allowed calls (unknown tools too, which it then refuses itself).
      const received = existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').filter(Boolean) : []
      expect(received, where).toEqual(allowedCalls)
    }
    delete process.env.PERSO_TEST_TOOLS
    delete process.env.PERSO_TEST_RECORD
    console.log(`guard property: seed ${SEED}, ${JSON.stringify(tally)}`)
    expect(tally.allowed).toBeGreaterThan(0)
    expect(tally.denied).toBeGreaterThan(0)
  })
})
