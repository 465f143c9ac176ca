// The compiler at scale: the generated policies of scripts/gen-policy.js, and the
// shortcuts that keep big policies fast (texts cut without encoding per
// character, patterns matched only against tools sharing their prefix) held to
// the plain definitions they replace.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { check } from '../src/compiler/compile.js'
import { cut } from '../src/compiler/texts.js'
import type { Policy } from '../src/compiler/policy.js'
import { expandTable } from './support/reference.js'
// @ts-ignore: a plain JS script without types (an error only without allowJs)
import { generatePolicy } from '../scripts/gen-policy.js'

const encoder = new TextEncoder()

/** The definition: cut at a character boundary, counting each character's UTF-8 bytes. */
function plainCut(text: string, limit: number): string {
  if (encoder.encode(text).length <= limit) return text
  let bytes = 0
  let end = 0
  for (const ch of text) {
    const size = encoder.encode(ch).length
    if (bytes + size > limit) break
    bytes += size
    end += ch.length
  }
  return text.slice(0, end) + '…'
}

/** Table entries as the reference expands them, in the compiler's order. */
function referenceEntries(policy: Policy): { tool: string; role: string; rule: number }[] {
  return [...expandTable(policy)]
    .flatMap(([tool, byRole]) => [...byRole].map(([role, rule]) => ({ tool, role, rule: policy.rules.indexOf(rule) })))
    .sort((a, b) => (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : a.role < b.role ? -1 : a.role > b.role ? 1 : 0))
}

describe('scale shortcuts agree with the plain definitions', () => {
  it('cut counts UTF-8 bytes per UTF-16 unit as the encoder does, lone surrogates included', () => {
    const piece = fc.oneof(
      fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00', '\udbff\udfff', '"', '…'),
      fc.string({ unit: 'binary', maxLength: 4 }),
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 0, max: 80 }), (pieces, limit) => {
        const text = pieces.join('')
        expect(cut(text, limit)).toBe(plainCut(text, limit))
      }),
      { numRuns: 3000 },
    )
  })

  it('patterns expand to the same tools as matching every declared tool', () => {
    const tools = ['svc1_op1', 'svc1_op2', 'svc10_op1', 'svc1', 'svc', 'sv', 'a*b', 'ab', 'ä_op1', '😀_x', '\uffff_op1', 'x_op1', '']
    const patterns = ['svc1*', 'svc1_*', 'svc*1', '*_op1', '*', 'a*', 'a**b', 'ä*', '😀*', '\uffff*', 'zz*', 'sv*c*', 's*']
    fc.assert(
      fc.property(fc.shuffledSubarray(tools), fc.array(fc.constantFrom(...patterns, ...tools), { minLength: 1, maxLength: 6 }), (declared, names) => {
        const policy: Policy = {
          version: 'v', default_action: 'Deny', tools: declared, roles: ['r', 's'],
          rules: names.map((tool_name, i) => ({ tool_name, roles: i % 2 === 0 ? ['r'] : ['r', 's'] })),
        }
        expect(check(JSON.stringify(policy)).table?.entries()).toEqual(referenceEntries(policy))
      }),
      { numRuns: 500 },
    )
  })
})

describe('scripts/gen-policy.js', () => {
  it.each([10, 100, 1000, 10_000])('%i entries: checks without warnings, with exactly that many entries, as the reference expands it', (entries) => {
    const policy = generatePolicy(entries) as Policy
    const checked = check(JSON.stringify(policy))
    expect(checked.diagnostics).toEqual([])
    expect(checked.table?.size).toBe(entries)
    expect(checked.table?.entries()).toEqual(referenceEntries(policy))
    const forms = JSON.stringify(policy.rules.map((r) => r.condition ?? null))
    for (const form of ['NumericCheck', 'StringCheck', 'FieldPresent', 'FieldEquals', 'All', 'Any', 'Not']) {
      if (entries >= 1000) expect(forms).toContain(form)
    }
    expect(policy.rules.some((r) => r.tool_name.includes('*'))).toBe(true)
  })
})
