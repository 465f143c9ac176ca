// The fuzz loop shared by test/fuzz.test.ts (short run) and scripts/fuzz.js
// (long run): cases go round-robin over the targets and their hosts; each
// answer is judged by the oracle, each call is followed by the target's probe,
// and memory is held to a bound. Replaying (seed, cases) replays the same calls
// in the same order, state included.

import type { Policy } from '../../src/compiler/policy.js'
import { type Case, type Request, caseRng, makeCase } from './cases.js'
import { FuzzHost, HOST_PATTERNS, type Outcome } from './host.js'
import { type Expectation, clip, disagreement, expectation, malformation } from './oracle.js'
import { memoryBound } from '../support/patterns.js'

export interface Target {
  name: string
  /** The policy as the reference reads it (parsed from the compiled source). */
  policy: Policy
  module: WebAssembly.Module
  /** Valid (mostly) requests aimed at the policy, the material of mutations. */
  corpus: Request[]
  probe: Request
  /** Whether the huge cases go to this target (they cost memory in every instance that sees them). */
  huge: boolean
}

export interface FuzzOptions {
  seed: number
  cases: number
  /** Probability of a huge case on a target that takes them. */
  hugeRate: number
  /** Probability of an out-of-bounds pointer case. */
  oobRate: number
  /** Stop cleanly, figures and all, once this many ms have passed (checked every 1,000 cases). */
  timeLimitMs?: number
  /** Stop after this many findings (hosts that trapped are replaced to go on). */
  maxFailures?: number
  onProgress?: (figures: Figures) => void
  /** Case `index` for `target`, instead of a mutation of its corpus (for fixed lists of cases). */
  caseAt?: (target: Target, index: number) => Case
}

export interface Failure {
  index: number
  target: string
  pattern: string
  kind: string
  problem: string
  request?: Request
}

export interface Figures {
  cases: number
  decisions: number
  errors: number
  /** Cases whose inputs were valid, so the answer was compared byte for byte. */
  exact: number
  errorsByInput: Record<string, number>
  huge: number
  outOfBounds: number
  maxMemory: number
  ms: number
  failures: Failure[]
}

const MIB = 1 << 20

interface Lane {
  target: Target
  host: FuzzHost
  probeAnswer: string
  /** Largest input total seen, for the memory bound. */
  largestInput: number
  baseMemory: number
}

function lanesOf(target: Target): Lane[] {
  const want = expectation(target.policy, target.probe)
  if (!('exact' in want)) throw new Error(`the probe of ${target.name} is not a valid request: ${want.error}`)
  return HOST_PATTERNS.map((pattern) => {
    const host = new FuzzHost(target.module, pattern)
    return { target, host, probeAnswer: want.exact, largestInput: 0, baseMemory: host.memoryBytes }
  })
}

/** Inputs out of memory's bounds for one of the three buffers; the others valid. */
function outOfBounds(lane: Lane, c: Case, index: number): { ptrs: number[]; lens: number[]; want: Expectation } {
  const which = index % 3
  const base = lane.host.exports.alloc(c.tool.length + c.args.length + c.context.length)
  // Memory's size after that alloc, which may have grown it: outside is judged at the call.
  const size = lane.host.memoryBytes
  const shapes: [number, number][] = [[size - 2, 10], [size, 1], [-16, 4], [1024, -1], [0x7fffffff, 0x7fffffff], [size + 65536, 0]]
  const [ptr, len] = shapes[Math.floor(index / 3) % shapes.length]!
  const inputs = [c.tool, c.args, c.context]
  const ptrs: number[] = []
  const lens: number[] = []
  let at = base
  inputs.forEach((bytes, i) => {
    new Uint8Array(lane.host.exports.memory.buffer, at, bytes.length).set(bytes)
    ptrs.push(i === which ? ptr : at)
    lens.push(i === which ? len : bytes.length)
    at += bytes.length
  })
  // The reference sees the out-of-bounds input as one that is surely invalid.
  const broken = [c.tool, c.args, c.context].map((bytes, i) => (i === which ? new Uint8Array([0xff]) : bytes))
  const want = expectation(lane.target.policy, { tool: broken[0]!, args: broken[1]!, context: broken[2]! })
  return { ptrs, lens, want: 'exact' in want ? want : { input: want.input, error: `(out of bounds) ${want.error}` } }
}

/** Why the outcome fails the contract, or undefined. */
function judge(outcome: Outcome, want: Expectation): string | undefined {
  if ('problem' in outcome) return outcome.problem
  return malformation(outcome.text) ?? disagreement(want, outcome.text)
}

export function runFuzz(targets: Target[], options: FuzzOptions): Figures {
  const lanes = targets.map(lanesOf)
  const figures: Figures = {
    cases: 0, decisions: 0, errors: 0, exact: 0, errorsByInput: {}, huge: 0, outOfBounds: 0, maxMemory: 0, ms: 0, failures: [],
  }
  const maxFailures = options.maxFailures ?? 1
  const start = performance.now()
  const fail = (lane: Lane, index: number, kind: string, problem: string, request?: Request): void => {
    figures.failures.push({ index, target: lane.target.name, pattern: lane.host.pattern, kind, problem, ...(request ? { request } : {}) })
    // A trapped instance may be left in any state: go on with a fresh one.
    if (problem.startsWith('trap')) {
      lane.host = new FuzzHost(lane.target.module, lane.host.pattern)
      lane.largestInput = 0
    }
  }
  for (let index = 0; index < options.cases && figures.failures.length < maxFailures; index++) {
    const t = index % lanes.length
    const lane = lanes[t]![Math.floor(index / lanes.length) % HOST_PATTERNS.length]!
    const target = lane.target
    const c = options.caseAt?.(target, index) ?? makeCase(target.corpus, options.seed, index, { hugeRate: target.huge ? options.hugeRate : 0 })
    figures.cases++
    if (c.kind.startsWith('huge:')) figures.huge++
    let outcome: Outcome
    let want: Expectation
    if (caseRng(options.seed ^ 0x0b0b, index)() < options.oobRate) {
      figures.outOfBounds++
      const oob = outOfBounds(lane, c, index)
      want = oob.want
      outcome = lane.host.evaluateAt(oob.ptrs, oob.lens)
      c.kind = `oob:${index % 3}`
    } else {
      want = expectation(target.policy, c)
      outcome = lane.host.evaluate(c)
      if ('exact' in want) figures.exact++
    }
    const problem = judge(outcome, want)
    if (problem !== undefined) fail(lane, index, c.kind, problem, c)
    else if ('text' in outcome) {
      if (outcome.text.startsWith('{"error"')) {
        figures.errors++
        const input = (JSON.parse(outcome.text) as { error: string }).error.split(': ')[0]!
        figures.errorsByInput[input] = (figures.errorsByInput[input] ?? 0) + 1
      } else figures.decisions++
    }
    // Nothing of this call may leak into the next decision.
    const probe = lane.host.evaluate(target.probe)
    const probeProblem = judge(probe, { exact: lane.probeAnswer })
    if (probeProblem !== undefined) fail(lane, index, c.kind, `the probe after this case: ${probeProblem}`, c)
    lane.largestInput = Math.max(lane.largestInput, c.tool.length + c.args.length + c.context.length)
    const memory = lane.host.memoryBytes
    figures.maxMemory = Math.max(figures.maxMemory, memory)
    // A host that releases its inputs stays near its largest call; one that does not keeps up to the budget of them (spec §6).
    const bound = lane.host.pattern === 'release'
      ? lane.baseMemory + 16 * lane.largestInput + 4 * MIB
      : Math.max(lane.baseMemory + 16 * lane.largestInput + 4 * MIB, memoryBound(lane.baseMemory, lane.largestInput))
    if (memory > bound) fail(lane, index, c.kind, `memory grew to ${memory} bytes, past ${bound} (largest input ${lane.largestInput} bytes)`)
    if (options.timeLimitMs !== undefined && index % 1000 === 999 && performance.now() - start > options.timeLimitMs) break
    if (options.onProgress !== undefined && index % 10_000 === 9_999) {
      figures.ms = performance.now() - start
      options.onProgress(figures)
    }
  }
  figures.ms = performance.now() - start
  return figures
}

/** A failure in a few lines: where, what, and the inputs (clipped). */
export function describeFailure(f: Failure): string {
  const show = (bytes: Uint8Array): string => clip(JSON.stringify(new TextDecoder().decode(bytes)), 300)
  const inputs = f.request === undefined ? '' :
    `\n  tool: ${show(f.request.tool)} (${f.request.tool.length} bytes)\n  args: ${show(f.request.args)} (${f.request.args.length} bytes)\n  context: ${show(f.request.context)} (${f.request.context.length} bytes)`
  return `case ${f.index} (${f.kind}) on ${f.target} through the \`${f.pattern}\` host: ${f.problem}${inputs}`
}
