// Spec §6 "Lifetimes" as real hosts live it: every pattern of test/support/patterns.ts
// (release everything, never release inputs, reuse buffers, read answers after
// later calls, inputs at offsets inside one buffer) runs the spec corpus and
// random policies and requests, with inputs from ~30 B to ~1 MB, and every
// answer must be the reference's. Memory: flat after warm-up when the host
// releases, within memoryBound() when it never releases its inputs.
// The long run is `npm run soak`.
//
// seed: PERSO_SEED=<seed> npx vitest run test/host-patterns.test.ts (passes: PERSO_PATTERN_PASSES)

import fc from 'fast-check'
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Policy } from '../src/compiler/policy.js'
import { expectation } from './fuzz/oracle.js'
import { policyArb, policySource, requestArb } from './support/arbitraries.js'
import { prng } from './support/json-text.js'
import { MiB, PATTERNS, PatternHost, inputBytes, memoryBound, padArgs, runPattern, withinBudget, type Job, type PatternName, type Report, type Request } from './support/patterns.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_251_204)
const PASSES = Number(process.env.PERSO_PATTERN_PASSES ?? 4)
const RANDOM_POLICIES = 6
const RANDOM_REQUESTS = 50
/** Sizes some requests of every pool are padded to, next to their own ~30 B–1 KB. */
const PADDED = [4 * 1024, 64 * 1024, MiB]

const encoder = new TextEncoder()

interface Suite {
  name: string
  policy: Policy
  module: WebAssembly.Module
  jobs: Job[]
}

const jobOf = (policy: Policy, label: string, request: Request): Job => ({ label, request, want: expectation(policy, request) })

/** `jobs` and, for a few of them (chosen by `rng`), the same request padded to each of `sizes`. */
function withSizes(policy: Policy, jobs: Job[], sizes: readonly number[], rng: () => number): Job[] {
  const paddable = jobs.filter((j) => j.request.args[0] === 0x7b)
  const padded = sizes.flatMap((size) => {
    if (paddable.length === 0) return []
    const job = paddable[Math.floor(rng() * paddable.length)]!
    const args = padArgs(job.request.args, size)!
    return [jobOf(policy, `${job.label}, args padded to ${args.length} B`, { ...job.request, args })]
  })
  // Spread the large ones through the pool, so small and large calls interleave.
  const out = [...jobs]
  padded.forEach((job, i) => out.splice(Math.floor(((i + 1) * out.length) / (padded.length + 1)), 0, job))
  return out
}

async function moduleOf(source: string, name: string): Promise<WebAssembly.Module | undefined> {
  const compiled = await compile(source, { filename: name })
  return compiled.wasm === undefined ? undefined : new WebAssembly.Module(compiled.wasm)
}

// ---------------------------------------------------------------------------
// The spec corpus: each file's policy with its cases (test/spec.test.ts reads them the same way)

type Text = string | { repeat: string; times: number; then?: Text }
interface SpecCase { note?: string; tool?: string; toolHex?: string; args?: Text; argsHex?: string; context: Text }
const text = (t: Text): string => (typeof t === 'string' ? t : t.repeat.repeat(t.times) + (t.then ? text(t.then) : ''))
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
const requestOf = (c: SpecCase): Request => ({
  tool: c.toolHex !== undefined ? hex(c.toolHex) : encoder.encode(c.tool ?? ''),
  args: c.argsHex !== undefined ? hex(c.argsHex) : encoder.encode(text(c.args ?? '{}')),
  context: encoder.encode(text(c.context)),
})

const rng = prng(SEED)
const suites: Suite[] = []
const refused: string[] = []
const specDir = new URL('./spec/', import.meta.url)
for (const file of readdirSync(specDir).filter((f) => f.endsWith('.json')).sort()) {
  const spec = JSON.parse(readFileSync(new URL(file, specDir), 'utf8')) as { policy: Policy; cases: SpecCase[] }
  const module = await moduleOf(JSON.stringify(spec.policy), file)
  if (module === undefined) {
    refused.push(file)
    continue
  }
  const jobs = spec.cases.map((c, i) => jobOf(spec.policy, `${file} case ${i + 1} ${c.note ?? ''}`, requestOf(c)))
  suites.push({ name: file, policy: spec.policy, module, jobs: withSizes(spec.policy, jobs, PADDED, rng) })
}

// Random policies and requests aimed at them (test/support/arbitraries.ts, as test/differential.test.ts).
const policies = fc.sample(policyArb, { seed: SEED, numRuns: RANDOM_POLICIES })
for (const [p, policy] of policies.entries()) {
  const source = policySource(policy)
  // The reference reads the policy as the compiler does: from its text.
  const asWritten = JSON.parse(source) as Policy
  const module = await moduleOf(source, `random-${p}.json`)
  if (module === undefined) throw new Error(`a random policy did not compile (seed ${SEED}):\n${source}`)
  const requests = fc.sample(requestArb(policy), { seed: SEED + p + 1, numRuns: RANDOM_REQUESTS })
  const jobs = requests.map((r, i) => jobOf(asWritten, `random policy ${p} request ${i}`, r))
  suites.push({ name: `random policy ${p}`, policy: asWritten, module, jobs: withSizes(asWritten, jobs, PADDED, rng) })
}

/** A request of the suite, to be written before the first call and decided after the last. */
const sentinelOf = (suite: Suite): Job => suite.jobs[Math.floor(suite.jobs.length / 2)]!

/**
 * The sentinel of `suite` in `pattern`, unless the host would pass the budget:
 * a host that never releases its inputs may lose a buffer it has not used since.
 */
function sentinelIn(pattern: PatternName, suite: Suite): Job | undefined {
  const sentinel = sentinelOf(suite)
  if (pattern !== 'keep' || withinBudget(suite.jobs, PASSES, inputBytes(sentinel.request) + 3 * 32)) return sentinel
  return undefined
}

const runs = new Map<PatternName, Report[]>()
/** Every suite through `pattern`, each on a fresh instance; run once, shared by the checks below. */
function reports(pattern: PatternName): Report[] {
  let done = runs.get(pattern)
  if (done === undefined) {
    done = suites.map((suite) => ({
      ...runPattern(suite.module, pattern, suite.jobs, { passes: PASSES, seed: SEED, sentinel: sentinelIn(pattern, suite) }),
      suite: suite.name,
    }))
    runs.set(pattern, done)
  }
  return done
}

const named = (r: Report & { suite?: string }, lines: string[]): string[] => lines.map((l) => `${r.suite ?? ''} (${r.pattern}): ${l}`)

describe(`host patterns on the spec corpus and ${RANDOM_POLICIES} random policies (seed ${SEED}, ${PASSES} passes)`, () => {
  it('has the corpus', () => {
    console.log(`host patterns: seed ${SEED}; ${suites.length} policies, ${suites.reduce((n, s) => n + s.jobs.length, 0)} requests per pass${refused.length > 0 ? `; refused by the compiler: ${refused.join(', ')}` : ''}`)
    expect(suites.length).toBeGreaterThanOrEqual(RANDOM_POLICIES + 5)
    const sizes = suites.flatMap((s) => s.jobs.map((j) => inputBytes(j.request)))
    expect(Math.min(...sizes)).toBeLessThanOrEqual(40)
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(MiB)
  })

  describe.each(PATTERNS)('%s', (pattern) => {
    it('answers every call as the reference does', { timeout: 30_000 }, () => {
      const all = reports(pattern)
      console.log(`${pattern}: ${all.reduce((n, r) => n + r.calls, 0)} calls`)
      expect(all.flatMap((r) => named(r, r.wrong))).toEqual([])
    })

    it('alloc never answers 0 or below 1024, and neither alloc nor an answer lands on what the host holds; nothing traps', () => {
      expect(reports(pattern).flatMap((r) => named(r, r.violations))).toEqual([])
    })

    it('a request written before the first call is intact after the last and decides the same', () => {
      // keep: only where the host stayed within the budget (most pools; sentinelIn).
      const checked = reports(pattern).filter((r) => r.sentinel !== undefined)
      expect(checked.length).toBeGreaterThanOrEqual(pattern === 'keep' ? suites.length / 2 : suites.length)
      expect(checked.flatMap((r) => (r.sentinel === 'intact' ? [] : named(r, [r.sentinel!])))).toEqual([])
    })

    if (pattern === 'keep') {
      it('memory stays within memoryBound()', () => {
        const over = reports(pattern).filter((r) => r.end > memoryBound(r.heapEnd, r.largestCall))
        expect(over.flatMap((r) => named(r, [`memory ${r.end} > bound ${memoryBound(r.heapEnd, r.largestCall)}`]))).toEqual([])
      })
    } else {
      it('memory is flat after the warm-up pass', () => {
        const grew = reports(pattern).filter((r) => r.end !== r.warm)
        expect(grew.flatMap((r) => named(r, [`memory ${r.warm} after warm-up → ${r.end}`]))).toEqual([])
      })
    }
  })
})

describe('past the budget: large inputs never released', () => {
  // One policy, a pool heavy with 1 MB arguments: the keep pattern leaves far more
  // than memoryBound() behind, so it holds only if inputs are reclaimed.
  const suite = suites.find((s) => s.name.startsWith('03')) ?? suites[0]!
  const small = suite.jobs.filter((j) => inputBytes(j.request) < 4096)
  const jobs = withSizes(suite.policy, small, Array<number>(12).fill(MiB), prng(SEED ^ 0x55))
  const passes = 6

  it('keep: every answer is the reference’s and memory stays within memoryBound()', { timeout: 30_000 }, () => {
    const r = runPattern(suite.module, 'keep', jobs, { passes, seed: SEED })
    const bound = memoryBound(r.heapEnd, r.largestCall)
    console.log(`keep past the budget: ${r.calls} calls, ${(r.keptBytes / MiB).toFixed(0)} MiB never released; memory ${(r.heapEnd / MiB).toFixed(1)} → ${(r.warm / MiB).toFixed(1)} (warm) → ${(r.end / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`)
    // Without reclaiming, what the host left behind alone would pass the bound.
    expect(r.keptBytes).toBeGreaterThan(bound - r.heapEnd)
    expect([...r.wrong, ...r.violations]).toEqual([])
    expect(r.end).toBeLessThanOrEqual(bound)
  })

  it('release: the same pool leaves memory flat after the warm-up pass', { timeout: 30_000 }, () => {
    const r = runPattern(suite.module, 'release', jobs, { passes: 3, seed: SEED, sentinel: sentinelOf(suite) })
    expect([...r.wrong, ...r.violations]).toEqual([])
    expect(r.sentinel).toBe('intact')
    expect(r.end).toBe(r.warm)
  })
})

describe('the harness itself, on the d8a7d26 artifact (bench/baseline: the older lifetimes)', () => {
  // The older runtime ends an answer at the next call and restarts its arena at the
  // next alloc: hosts that release everything or reuse buffers work there, hosts that
  // read answers late or keep a buffer across calls do not. The harness must see both.
  const module = new WebAssembly.Module(readFileSync(new URL('../bench/baseline/crm-d8a7d26.wasm', import.meta.url)))
  const crm: [string, string, string][] = [
    ['process_refund', '{"order_id":"ORD-1","amount":800}', '{"role":"agent","agent_attrs":{"user_id":"a"}}'],
    ['process_refund', '{"amount":120}', '{"role":"agent"}'],
    ['delete_customer', '{"customer_id":"C-1"}', '{"role":"manager","agent_attrs":{"user_id":"m"},"resource_attrs":{"owner_id":"m"}}'],
    ['delete_customer', '{}', '{"role":"manager","agent_attrs":{"user_id":"m"},"resource_attrs":{"owner_id":"x"}}'],
    ['view_customer', '{"customer_id":"C-3"}', '{"role":"agent"}'],
    ['drop_database', '{}', '{"role":"admin"}'],
    ['process_refund', '{"amount":', '{"role":"agent"}'],
  ]
  // Its own answers, one call per fresh instance, stand in for the reference (its reasons are worded the old way).
  const jobs: Job[] = crm.map(([tool, args, context], i) => {
    const request = { tool: encoder.encode(tool), args: encoder.encode(args), context: encoder.encode(context) }
    const host = new PatternHost(module)
    const answer = host.take(host.evaluate(host.put(request.tool), host.put(request.args), host.put(request.context)))
    if ('broken' in answer) throw new Error(`no answer from the baseline for ${tool}: ${answer.broken}`)
    return { label: `crm ${i}`, request, want: { exact: answer.text } }
  })
  const pool = Array.from({ length: 40 }, (_, i) => jobs[i % jobs.length]!)

  it.each(['release', 'reuse'] as const)('%s: passes there too', (pattern) => {
    const r = runPattern(module, pattern, pool, { passes: 3, seed: SEED })
    expect([...r.wrong, ...r.violations]).toEqual([])
    expect(r.end).toBe(r.warm)
  })

  it('batch: sees answers overwritten by later calls', () => {
    const r = runPattern(module, 'batch', pool, { passes: 2, seed: SEED })
    expect(r.wrongCount + r.violations.length).toBeGreaterThan(0)
  })

  it('release: sees a buffer written before the first call overwritten', () => {
    const r = runPattern(module, 'release', pool, { passes: 1, seed: SEED, sentinel: jobs[0]! })
    expect(r.sentinel).not.toBe('intact')
  })
})
