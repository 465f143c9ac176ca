// The contract (docs/semantics.md) as data: test/spec/*.json hold numbered
// {note, policy, cases, init?} files, each case a request (or an init text) and
// the answer the spec demands. Every case runs through the reference evaluator
// and through the compiled artifact, and the two must also agree with each other
// byte for byte. The two sides are separate tests, so a failure says whose it is.
// test/paths.test.ts runs the same corpus through every other path that decides.

import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { referenceEvaluate, referenceInit, responseJson } from './support/reference.js'
import { type Case, type InitCase, inputs, readSpec, specFiles } from './support/spec-corpus.js'

const encoder = new TextEncoder()
const files = specFiles
const initText = (c: InitCase): Uint8Array | undefined => (c.text === undefined ? undefined : encoder.encode(c.text))

function meets(answer: Record<string, unknown>, want: Case['want']): void {
  if ('error' in want) {
    // A decision instead of an error shows as the whole answer in the failure.
    expect(typeof answer.error === 'string' ? answer.error : JSON.stringify(answer)).toMatch(new RegExp(`^${want.error}: `))
    return
  }
  expect(answer.decision, JSON.stringify(answer)).toBe(want.decision)
  if (want.reason !== undefined) expect(answer.reason).toBe(want.reason)
}

function meetsInit(answer: Record<string, unknown>, want: InitCase['want'], version: string): void {
  if (want === 'ok') expect(answer).toEqual({ ok: true, version })
  else expect(Object.keys(answer), JSON.stringify(answer)).toEqual(['error'])
  if (want === 'error') expect(typeof answer.error).toBe('string')
}

const caseName = (c: Case, i: number): string => `${String(i + 1).padStart(2, '0')} ${c.note ?? ''} [${c.tool ?? c.toolHex}]`
const initName = (c: InitCase, i: number): string => `init ${String(i + 1).padStart(2, '0')} ${c.note ?? ''}`

/** The artifact compiled from `source`, or a function that throws why there is none. */
async function build(source: string, file: string): Promise<() => RawArtifact> {
  try {
    const compiled = await compile(source, { filename: file })
    const errors = compiled.diagnostics.filter((d) => d.severity === 'error')
    if (compiled.wasm === undefined) throw new Error(`${file} does not compile: ${JSON.stringify(errors)}`)
    const artifact = await RawArtifact.load(compiled.wasm)
    return () => artifact
  } catch (e) {
    return () => {
      throw e
    }
  }
}

it('has spec files', () => expect(files.length).toBeGreaterThanOrEqual(4))

for (const file of files) {
  const spec = readSpec(file)
  const source = JSON.stringify(spec.policy)
  const inits = spec.init ?? []

  describe(`${file}: ${spec.note}`, () => {
    describe('reference', () => {
      spec.cases.forEach((c, i) => {
        it(caseName(c, i), () => meets(referenceEvaluate(spec.policy, ...inputs(c)) as Record<string, unknown>, c.want))
      })
      inits.forEach((c, i) => {
        it(initName(c, i), () => meetsInit(referenceInit(encoder.encode(source), initText(c)), c.want, spec.policy.version))
      })
    })

    describe('artifact', async () => {
      const artifact = await build(source, file)

      spec.cases.forEach((c, i) => {
        it(caseName(c, i), () => {
          const answer = artifact().evaluateBytes(...inputs(c))
          meets(JSON.parse(answer) as Record<string, unknown>, c.want)
          if (!('error' in c.want)) expect(answer).toBe(responseJson(referenceEvaluate(spec.policy, ...inputs(c))))
        })
      })
      inits.forEach((c, i) => {
        it(initName(c, i), () => meetsInit(artifact().init(initText(c)), c.want, spec.policy.version))
      })

      it('an input error or a refused init leaves later decisions unchanged', () => {
        const before = spec.cases.map((c) => artifact().evaluateBytes(...inputs(c)))
        artifact().evaluateBytes(Uint8Array.of(0xff), encoder.encode('{'.repeat(1000)), encoder.encode('nope'))
        for (const c of inits) artifact().init(initText(c))
        artifact().init(encoder.encode(JSON.stringify({ ...spec.policy, default_action: 'Allow', rules: [] })))
        const after = spec.cases.map((c) => artifact().evaluateBytes(...inputs(c)))
        expect(after).toEqual(before)
      })
    })
  })
}
