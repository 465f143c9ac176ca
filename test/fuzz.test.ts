// The runtime fuzzed through the raw ABI (spec §5, §6), short run: hostile and
// valid requests against compiled artifacts; every answer well formed, the
// reference's byte for byte when the inputs are valid, the same input named
// when they are not; no trap, no state leaking into the probe, memory bounded.
// The long run is `npm run fuzz` (scripts/fuzz.js). Reproduce with the printed
// seed: PERSO_SEED=<seed> npx vitest run test/fuzz.test.ts

import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { HUGE_KINDS, hugeCase } from './fuzz/cases.js'
import { disagreement, malformation } from './fuzz/oracle.js'
import { describeFailure, runFuzz, type Target } from './fuzz/run.js'
import { buildTargets } from './fuzz/targets.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const ROOT = new URL('..', import.meta.url)
const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const CASES = Number(process.env.PERSO_FUZZ_CASES ?? 12_000)

describe.skipIf(!existsSync(TEMPLATE))('fuzz: the runtime through the raw ABI', () => {
  let targets: Target[]
  const load = async (): Promise<Target[]> => {
    if (targets === undefined) {
      const { compile } = await import('../src/compiler/compile.js')
      targets = await buildTargets(compile, ROOT, SEED)
    }
    return targets
  }

  it(`${CASES} mutated and random requests (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED}`)
    const figures = runFuzz(await load(), { seed: SEED, cases: CASES, hugeRate: 0, oobRate: 0.01 })
    const report = figures.failures.map(describeFailure).join('\n')
    expect(report, `seed ${SEED}: PERSO_SEED=${SEED} reproduces`).toBe('')
    expect(figures.cases).toBe(CASES)
    // The mix exercises both sides: exact comparisons and every kind of input error.
    expect(figures.exact).toBeGreaterThan(CASES / 10)
    expect(figures.decisions).toBeGreaterThan(CASES / 10)
    expect(Object.keys(figures.errorsByInput).sort()).toEqual(['arguments JSON', 'context JSON', 'tool_name'])
  }, 60_000)

  it('every huge input once, each through another host pattern and followed by the probe', async () => {
    const [rich] = await load()
    const figures = runFuzz([rich!], { seed: SEED, cases: HUGE_KINDS.length, hugeRate: 0, oobRate: 0, caseAt: (_, i) => hugeCase(HUGE_KINDS[i]!) })
    expect(figures.failures.map(describeFailure).join('\n')).toBe('')
    expect(figures.exact).toBeGreaterThanOrEqual(4)
    expect(figures.maxMemory).toBeLessThan(512 << 20)
  }, 60_000)
})

describe('fuzz: the oracle itself', () => {
  it('accepts exactly the two response shapes', () => {
    expect(malformation('{"decision":"Allow","reason":"r"}')).toBeUndefined()
    expect(malformation('{"error":"context JSON: role is missing"}')).toBeUndefined()
    for (const bad of [
      '{"decision":"allow","reason":"r"}', '{"reason":"r","decision":"Deny"}', '{"decision":"Deny","reason":"r","x":1}',
      '{"decision":"Deny"}', '{"error":"evaluate: no policy"}', '{"error":"tool_name:x"}', '{"error":1}', '[]', '',
      '{"decision":"Deny", "reason":"r"}', '{"error":"tool_name: \\u0041"}',
    ]) expect(malformation(bad), bad).toBeDefined()
  })

  it('compares valid inputs byte for byte, errors by input name', () => {
    expect(disagreement({ exact: '{"a":1}' }, '{"a":1}')).toBeUndefined()
    expect(disagreement({ exact: '{"a":1}' }, '{"a":2}')).toBeDefined()
    expect(disagreement({ input: 'context JSON', error: 'context JSON: x' }, '{"error":"context JSON: y at byte 3"}')).toBeUndefined()
    expect(disagreement({ input: 'context JSON', error: 'context JSON: x' }, '{"error":"arguments JSON: y"}')).toBeDefined()
    expect(disagreement({ input: 'context JSON', error: 'context JSON: x' }, '{"decision":"Deny","reason":"r"}')).toBeDefined()
  })
})
