// The contract (docs/semantics.md) as data: test/spec/*.json hold numbered
// {note, policy, cases} files, each case a request and the answer the spec
// demands. Every case runs through the compiled artifact AND the reference
// evaluator, and the two must also agree with each other byte for byte.

import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Policy } from '../src/compiler/policy.js'
import { RawArtifact } from '../src/host/abi.js'
import { referenceEvaluate, responseJson } from './support/reference.js'

type Text = string | { repeat: string; times: number; then?: Text }
interface Case {
  note?: string
  tool?: string
  toolHex?: string
  args?: Text
  argsHex?: string
  context: Text
  want: { decision: 'Allow' | 'Deny'; reason?: string } | { error: string }
}
interface SpecFile {
  note: string
  policy: Policy
  cases: Case[]
}

const encoder = new TextEncoder()
const dir = new URL('./spec/', import.meta.url)
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

const text = (t: Text): string => (typeof t === 'string' ? t : t.repeat.repeat(t.times) + (t.then ? text(t.then) : ''))
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
const inputs = (c: Case): [Uint8Array, Uint8Array, Uint8Array] => [
  c.toolHex !== undefined ? hex(c.toolHex) : encoder.encode(c.tool ?? ''),
  c.argsHex !== undefined ? hex(c.argsHex) : encoder.encode(text(c.args ?? '{}')),
  encoder.encode(text(c.context)),
]

function meets(answer: Record<string, unknown>, want: Case['want']): void {
  if ('error' in want) {
    expect(answer.error, JSON.stringify(answer)).toMatch(new RegExp(`^${want.error}: `))
    return
  }
  expect(answer.decision, JSON.stringify(answer)).toBe(want.decision)
  if (want.reason !== undefined) expect(answer.reason).toBe(want.reason)
}

it('has spec files', () => expect(files.length).toBeGreaterThanOrEqual(4))

for (const file of files) {
  const spec = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as SpecFile
  describe(`${file}: ${spec.note}`, async () => {
    const compiled = await compile(JSON.stringify(spec.policy), { filename: file })
    const errors = compiled.diagnostics.filter((d) => d.severity === 'error')
    if (compiled.wasm === undefined) throw new Error(`${file} does not compile: ${JSON.stringify(errors)}`)
    const artifact = await RawArtifact.load(compiled.wasm)

    spec.cases.forEach((c, i) => {
      const name = `${String(i + 1).padStart(2, '0')} ${c.note ?? ''} [${c.tool ?? c.toolHex}]`
      it(name, () => {
        const [tool, args, context] = inputs(c)
        const fromArtifact = artifact.evaluateBytes(tool, args, context)
        meets(JSON.parse(fromArtifact) as Record<string, unknown>, c.want)
        const fromReference = referenceEvaluate(spec.policy, tool, args, context)
        meets(fromReference as Record<string, unknown>, c.want)
        if (!('error' in c.want)) expect(fromArtifact).toBe(responseJson(fromReference))
      })
    })

    it('an input error leaves later decisions unchanged', () => {
      const before = spec.cases.map((c) => artifact.evaluateBytes(...inputs(c)))
      artifact.evaluateBytes(hex('ff'), encoder.encode('{'.repeat(1000)), encoder.encode('nope'))
      const after = spec.cases.map((c) => artifact.evaluateBytes(...inputs(c)))
      expect(after).toEqual(before)
    })
  })
}
