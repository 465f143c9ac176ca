// `perso explain` / `perso eval --explain` / a failing `perso test` case
// (src/analysis/explain.ts): which rule decided, each condition with the value
// it read and whether it held — and, on random policies and requests, the
// explanation decides exactly as the artifact does.
//
// seed: PERSO_SEED=<seed>

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { explain } from '../src/analysis/explain.js'
import { check, compile } from '../src/compiler/compile.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { policyArb, policySource, requestArb } from './support/arbitraries.js'
import { runCli } from './support/cli.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const RUNS = Number(process.env.PERSO_EXPLAIN_RUNS ?? 30)

describe('perso explain', () => {
  it('shows the rule, where it is, and the condition tree with the values read', async () => {
    const run = await runCli([
      'explain', 'fixtures/crm.json', '--tool', 'bulk_update', '--role', 'admin',
      '--agent', '{"mfa_verified_at":"2026-11-21"}', '--resource', '{"env":"staging"}',
    ])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe(
      [
        'Deny  rule matched tool \'bulk_update\' for role \'admin\'; condition failed: ResourceAttributes.env is not In ["production"]',
        'why: rules[8] (fixtures/crm.json:51:5) decides bulk_update for admin; its condition fails',
        '  ✗ All',
        '    ✓ FieldPresent(AgentAttributes.mfa_verified_at)   AgentAttributes.mfa_verified_at = "2026-11-21"',
        '    ✗ StringCheck(ResourceAttributes.env In ["production"])   ResourceAttributes.env = "staging"',
        '',
      ].join('\n'),
    )
  })

  it('no rule, no condition, missing fields, Not and Any', async () => {
    const none = await runCli(['explain', 'fixtures/crm.json', '--tool', 'drop_database', '--role', 'admin'])
    expect(none.stdout).toContain('why: no rule for this tool and role: default_action Deny (drop_database for admin)')
    const open = await runCli(['eval', 'fixtures/crm.json', '--explain', '--tool', 'view_customer', '--role', 'agent'])
    expect(open.stdout).toContain('why: rules[0] (fixtures/crm.json:16:5) decides view_customer for agent; the rule has no condition')
    const policy = JSON.stringify({
      version: 'v', default_action: 'Deny', tools: ['t'], roles: ['r'],
      rules: [{ tool_name: 't', roles: ['r'], condition: { Any: [{ Not: { FieldPresent: { source: 'Arguments', field: 'force' } } }, { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'ResourceAttributes', field_b: 'b' } }] } }],
    })
    const run = await runCli(['explain', 'p.json', '--tool', 't', '--role', 'r', '--args', '{"force":true,"a":[1,{"x":2}]}', '--resource', '{"b":[1, {"x": 2.0}]}'], { files: { 'p.json': policy } })
    expect(run.code).toBe(0)
    expect(run.stdout.split('\n').slice(1)).toEqual([
      'why: rules[0] (p.json:1:77) decides t for r; its condition holds',
      '  ✓ Any',
      '    ✗ Not',
      '      ✓ FieldPresent(Arguments.force)   Arguments.force = true',
      '    ✓ FieldEquals(Arguments.a, ResourceAttributes.b)   Arguments.a = [1,{"x":2}], ResourceAttributes.b = [1, {"x": 2.0}]',
      '',
    ])
    const missing = await runCli(['explain', 'p.json', '--tool', 't', '--role', 'r', '--args', '{"force":1}'], { files: { 'p.json': policy } })
    expect(missing.stdout).toContain('✗ FieldEquals(Arguments.a, ResourceAttributes.b)   Arguments.a is missing, ResourceAttributes.b is missing')
  })

  it('--format json adds the explanation to the artifact’s answer; an artifact alone cannot be explained', async () => {
    const run = await runCli(['explain', 'fixtures/crm.json', '--tool', 'process_refund', '--role', 'agent', '--args', '{"amount":800}', '--format', 'json'])
    const doc = JSON.parse(run.stdout) as { decision: string; explanation: { rule: number; condition: { holds: boolean; read: string[] } } }
    expect(doc.decision).toBe('Deny')
    expect(doc.explanation).toMatchObject({ rule: 2, condition: { holds: false, read: ['Arguments.amount = 800'] } })
    const wasm = (await compile(new TextEncoder().encode('{"version":"v","default_action":"Deny","tools":[],"roles":[],"rules":[]}'))).wasm!
    const refused = await runCli(['explain', 'a.wasm', '--tool', 't', '--role', 'r'], { files: { 'a.wasm': wasm } })
    expect(refused.code).toBe(64)
    expect(refused.stderr).toContain('--explain needs the policy (.json)')
  })
})

describe(`the explanation decides as the artifact does (seed ${SEED})`, () => {
  it(`${RUNS} random policies × 200 aimed requests`, { timeout: 120_000 }, async () => {
    const tally = { requests: 0, explained: 0, errors: 0 }
    const decoder = new TextDecoder()
    const encoder = new TextEncoder()
    for (const [n, policy] of fc.sample(policyArb, { numRuns: RUNS, seed: SEED }).entries()) {
      const program = check(policySource(policy)).program
      if (program === undefined) continue
      const artifact = RawArtifact.loadSync((await compile(policySource(policy))).wasm!)
      for (const r of fc.sample(requestArb(policy), { numRuns: 200, seed: SEED + n })) {
        tally.requests++
        // The texts as a host holding strings sends them (bytes that are not UTF-8 arrive replaced).
        const [tool, args, context] = [r.tool, r.args, r.context].map((b) => decoder.decode(b)) as [string, string, string]
        const answer = JSON.parse(artifact.evaluateStrings(tool, args, context)) as { decision?: string }
        if (answer.decision === undefined) {
          tally.errors++
          continue
        }
        const e = explain(program, tool, encoder.encode(args), encoder.encode(context))
        const where = `seed ${SEED}, case ${n}: ${tool} ${args} ${context} on ${policySource(policy)}`
        expect('error' in e ? e.error : e.decision, where).toBe(answer.decision)
        tally.explained++
      }
    }
    console.log(`explain: seed ${SEED}, ${JSON.stringify(tally)}`)
    expect(tally.explained).toBeGreaterThan(RUNS * 50)
  })
})
