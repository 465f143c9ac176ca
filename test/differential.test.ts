// Differential test: random policies compiled to artifacts, random requests run
// through each artifact and through the reference evaluator; decisions, reasons
// (byte for byte, response included) and error inputs must agree.
// Skipped until the runtime template is built (`npm run build:runtime`).
// Reproduce a failure with the seed and path fast-check prints; scale with PERSO_FUZZ_RUNS.

import fc from 'fast-check'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Policy } from '../src/compiler/policy.js'
import { policyArb, policySource, requestArb, type Request } from './support/arbitraries.js'
import { show } from './support/json-text.js'
import type { Condition } from '../src/compiler/policy.js'
import { conditionArb } from './support/arbitraries.js'
import { expandTable, label, numericText, referenceEvaluate, referenceEvaluateText, responseJson, stringText } from './support/reference.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const POLICIES = Number(process.env.PERSO_FUZZ_RUNS ?? 120)
/** Requests per compiled policy: up to this many (about half on average), so a failure shrinks to one. */
const REQUESTS_PER_POLICY = 40

/** Where the artifact's answer first departs from the reference's, or undefined when they agree. */
function disagreement(policy: Policy, request: Request, answer: string): string | undefined {
  const want = referenceEvaluate(policy, request.tool, request.args, request.context)
  let got: unknown
  try {
    got = JSON.parse(answer)
  } catch {
    return `artifact answered text that is not JSON: ${answer}`
  }
  if ('error' in want) {
    // Only the input name must agree: messages and byte positions may legitimately differ.
    const input = want.error.slice(0, want.error.indexOf(':'))
    const keys = typeof got === 'object' && got !== null ? Object.keys(got) : []
    const error = (got as { error?: unknown }).error
    if (keys.length !== 1 || typeof error !== 'string') return `want an error for ${input}, got ${answer}`
    if (error.slice(0, error.indexOf(':')) !== input) return `want an error for \`${input}\` (${want.error}), got ${answer}`
    return undefined
  }
  const expected = responseJson(want)
  return answer === expected ? undefined : `want ${expected}\n got ${answer}`
}

const casesArb = policyArb.chain((policy) =>
  fc.record({
    policy: fc.constant(policy),
    requests: fc.array(requestArb(policy), { minLength: 1, maxLength: REQUESTS_PER_POLICY, size: 'max' }),
    // One widely used SDK never releases its inputs; memory must stay bounded and decisions unchanged either way.
    releaseInputs: fc.boolean(),
  }),
)

/** A compiled policy ready to answer: `evaluate` gives the raw response JSON text. */
interface Decider {
  evaluate(request: Request): string
}
type Link = (source: string, releaseInputs: boolean) => Promise<Decider>

/** Runs random cases through `link`'s decider and the reference; throws with the whole case on the first disagreement. */
async function agree(link: Link, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(casesArb, async ({ policy, requests, releaseInputs }) => {
      const source = policySource(policy)
      // The reference reads the policy as the compiler does: from its text (-0 is written `0`, for one).
      const asWritten = JSON.parse(source) as Policy
      const decider = await link(source, releaseInputs)
      for (const request of requests) {
        const answer = decider.evaluate(request)
        const why = disagreement(asWritten, request, answer)
        if (why !== undefined) {
          throw new Error(
            `${why}\npolicy: ${source}\ntool: ${JSON.stringify(show(request.tool))} bytes [${[...request.tool].join(',')}]\n` +
              `args: ${JSON.stringify(show(request.args).slice(0, 2000))}\ncontext: ${JSON.stringify(show(request.context).slice(0, 2000))}`,
          )
        }
      }
    }),
    { numRuns },
  )
}

const refused = (source: string, diagnostics: unknown): Error =>
  new Error(`policy did not compile:\n${source}\n${JSON.stringify(diagnostics, null, 2)}`)

describe.skipIf(!existsSync(TEMPLATE))('differential: compiled artifact against the reference evaluator', () => {
  it(`agrees on ${POLICIES} random policies × up to ${REQUESTS_PER_POLICY} requests (compile → artifact)`, async () => {
    const { compile } = await import('../src/compiler/compile.js')
    const { RawArtifact } = await import('../packages/sdk/src/abi.js')
    await agree(async (source, releaseInputs) => {
      const compiled = await compile(source)
      if (compiled.wasm === undefined) throw refused(source, compiled.diagnostics)
      const artifact = RawArtifact.loadSync(compiled.wasm, { releaseInputs })
      return { evaluate: (r) => artifact.evaluateBytes(r.tool, r.args, r.context) }
    }, POLICIES)
  }, 120_000)

  // The runtime and the blob without emit's binaryen step: the template is instantiated
  // and the blob written into its memory (test/support/host.ts linkInMemory).
  it(`agrees on ${POLICIES} random policies × up to ${REQUESTS_PER_POLICY} requests (codegen → template, linked in memory)`, async () => {
    const { check } = await import('../src/compiler/compile.js')
    const { codegen } = await import('../src/compiler/codegen.js')
    const { linkInMemory } = await import('./support/host.js')
    const template = new WebAssembly.Module(readFileSync(TEMPLATE))
    await agree(async (source, releaseInputs) => {
      const checked = check(source)
      const program = checked.program
      if (program === undefined) throw refused(source, checked.diagnostics)
      const host = linkInMemory(template, (base) => codegen(program, base))
      return { evaluate: (r) => host.evaluateText(r.tool, r.args, r.context, releaseInputs) }
    }, POLICIES)
  }, 120_000)
})

// Needs no template or binaryen: the front end and expansion only.
describe('differential: expansion against the reference', () => {
  it('accepts every random policy and builds the same (tool, role) → rule table', async () => {
    const { check } = await import('../src/compiler/compile.js')
    fc.assert(
      fc.property(policyArb, (policy) => {
        const source = policySource(policy)
        const checked = check(source)
        if (checked.table === undefined) {
          throw new Error(`policy was refused:\n${source}\n${JSON.stringify(checked.diagnostics, null, 2)}`)
        }
        const asWritten = JSON.parse(source) as Policy
        const want = [...expandTable(asWritten)]
          .flatMap(([tool, byRole]) => [...byRole].map(([role, rule]) => ({ tool, role, rule: asWritten.rules.indexOf(rule) })))
          .sort((a, b) => (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : a.role < b.role ? -1 : a.role > b.role ? 1 : 0))
        expect(checked.table.entries()).toEqual(want)
      }),
      { numRuns: 500 },
    )
  })
})

describe('differential: compile-time texts against the reference', () => {
  it('renders every label, numeric and list text as the reference does', async () => {
    const { lowerCondition } = await import('../src/compiler/lower.js')
    const texts = await import('../src/compiler/texts.js')
    type Lowered = ReturnType<typeof lowerCondition>
    const compareTree = (condition: Condition, node: Lowered['root'], reads: Lowered['reads']): void => {
      if ('All' in condition || 'Any' in condition || 'Not' in condition) {
        expect(texts.label(node, reads)).toBe(label(condition))
      }
      if ('All' in condition && node.kind === 'all') condition.All.forEach((c, i) => compareTree(c, node.children[i]!, reads))
      if ('Any' in condition && node.kind === 'any') condition.Any.forEach((c, i) => compareTree(c, node.children[i]!, reads))
      if ('Not' in condition && node.kind === 'not') compareTree(condition.Not, node.child, reads)
      if ('NumericCheck' in condition) {
        const { op, value } = condition.NumericCheck
        expect(texts.numericText(op, value)).toBe(numericText(op, value))
      }
      if ('StringCheck' in condition) {
        const { op, value } = condition.StringCheck
        expect(texts.listText(op, value)).toBe(stringText(op, value))
      }
    }
    fc.assert(
      fc.property(conditionArb(4), (condition) => {
        const lowered = lowerCondition(condition, 0)
        compareTree(condition, lowered.root, lowered.reads)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('differential: the comparison itself', () => {
  const policy: Policy = { version: 'v', default_action: 'Deny', tools: ['t'], roles: ['r'], rules: [] }
  const enc = new TextEncoder()
  const request = (args: string): Request => ({ tool: enc.encode('t'), args: enc.encode(args), context: enc.encode('{"role":"r"}') })
  it('agrees with the exact response, and only with it', () => {
    const want = responseJson(referenceEvaluateText(policy, 't', '{}', '{"role":"r"}'))
    expect(disagreement(policy, request('{}'), want)).toBeUndefined()
    expect(disagreement(policy, request('{}'), want.replace('Deny', 'Allow'))).toBeDefined()
    expect(disagreement(policy, request('{}'), want.replace('}', ' }'))).toBeDefined()
    expect(disagreement(policy, request('{}'), '{"error":"arguments JSON: x"}')).toBeDefined()
  })
  it('compares only the input name of errors', () => {
    expect(disagreement(policy, request('{'), '{"error":"arguments JSON: whatever at byte 99"}')).toBeUndefined()
    expect(disagreement(policy, request('{'), '{"error":"context JSON: whatever"}')).toBeDefined()
    expect(disagreement(policy, request('{'), '{"decision":"Deny","reason":"x"}')).toBeDefined()
    expect(disagreement(policy, request('{'), 'not json')).toBeDefined()
  })
})
