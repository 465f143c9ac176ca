// Builds the fuzz targets: each policy compiled once, a seeded corpus of
// requests aimed at it (the differential tests' arbitraries), and its probe.
// `compile` is passed in: the test uses src/, scripts/fuzz.js uses dist/.

import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import type { Policy } from '../../src/compiler/policy.js'
import { policyArb, policySource, requestArb } from '../support/arbitraries.js'
import { referenceEvaluate } from '../support/reference.js'
import type { Request } from './cases.js'
import { FIXTURE_PROBES, RICH, RICH_PROBE } from './policies.js'
import type { Target } from './run.js'

export type Compile = (source: string, options: { filename: string }) => Promise<{ wasm?: Uint8Array; diagnostics: unknown[] }>

const CORPUS_SIZE = 400

async function target(compile: Compile, name: string, source: string, probe: Request, seed: number, huge: boolean): Promise<Target> {
  const compiled = await compile(source, { filename: name })
  if (compiled.wasm === undefined) throw new Error(`${name} did not compile: ${JSON.stringify(compiled.diagnostics)}`)
  const policy = JSON.parse(source) as Policy
  const corpus = fc.sample(requestArb(policy), { numRuns: CORPUS_SIZE, seed })
  return { name, policy, module: new WebAssembly.Module(compiled.wasm as BufferSource), corpus, probe, huge }
}

/**
 * The rich policy (first: it takes the huge cases), the two fixtures, and
 * `randomPolicies` random policies of the differential tests, all seeded by `seed`.
 */
export async function buildTargets(compile: Compile, root: URL, seed: number, randomPolicies = 0): Promise<Target[]> {
  const targets = [await target(compile, 'rich', JSON.stringify(RICH, null, 2), RICH_PROBE, seed, true)]
  for (const [name, probe] of Object.entries(FIXTURE_PROBES)) {
    targets.push(await target(compile, name, readFileSync(new URL(name, root), 'utf8'), probe, seed + targets.length, false))
  }
  const randoms = randomPolicies > 0 ? fc.sample(policyArb, { numRuns: randomPolicies, seed }) : []
  for (const [i, policy] of randoms.entries()) {
    const source = policySource(policy)
    // Probe with the policy's first request that the reference answers with a decision.
    const corpus = fc.sample(requestArb(policy), { numRuns: 50, seed: seed + i })
    const probe = corpus.find((r) => !('error' in referenceEvaluate(JSON.parse(source) as Policy, r.tool, r.args, r.context)))
    if (probe !== undefined) targets.push(await target(compile, `random policy ${i}`, source, probe, seed + 100 + i, false))
  }
  return targets
}
