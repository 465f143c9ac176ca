// parse.ts: spans, strictness and error codes of the hand-written JSON reader.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type JsonNode, parse } from '../src/compiler/parse.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (src: string, span: { start: number; end: number }): string =>
  new TextDecoder().decode(bytes(src).subarray(span.start, span.end))

/** The tree as a plain value, to compare with JSON.parse. */
function plain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': return Object.fromEntries(node.members.map((m) => [m.key, plain(m.value)]))
    case 'array': return node.items.map(plain)
    case 'null': return null
    default: return node.value
  }
}

/** The one error code parse reports for a source (fails the test if there is not exactly one). */
function errorCode(src: string | Uint8Array): string {
  const { diagnostics } = parse(typeof src === 'string' ? bytes(src) : src)
  expect(diagnostics).toHaveLength(1)
  return diagnostics[0]!.code
}

describe('parse', () => {
  it('keeps byte spans of values and keys, with multi-byte characters before them', () => {
    const src = '{"é": [1, "ü"], "b": {"c": null}}'
    const { tree, diagnostics, locate } = parse(bytes(src))
    expect(diagnostics).toEqual([])
    expect(plain(tree!)).toEqual({ é: [1, 'ü'], b: { c: null } })
    expect(text(src, locate(['é']))).toBe('[1, "ü"]')
    expect(text(src, locate(['é'], 'key'))).toBe('"é"')
    expect(text(src, locate(['é', 1]))).toBe('"ü"')
    expect(text(src, locate(['b', 'c']))).toBe('null')
    // A path that leaves the tree answers the deepest node reached.
    expect(text(src, locate(['b', 'missing']))).toBe('{"c": null}')
  })

  it('unescapes strings, including surrogate pairs', () => {
    const { tree } = parse(bytes('["am\\u006funt", "\\ud83d\\ude00", "\\"\\\\\\/\\b\\f\\n\\r\\t"]'))
    expect(plain(tree!)).toEqual(['amount', '😀', '"\\/\b\f\n\r\t'])
  })

  it('reads numbers as doubles', () => {
    const { tree, diagnostics } = parse(bytes('[0, -0, 1.5e3, 1E-400, 18446744073709551617]'))
    expect(diagnostics).toEqual([])
    expect(plain(tree!)).toEqual([0, -0, 1500, 0, 18446744073709551617])
  })

  it.each([
    ['', 'E002'], ['  \n ', 'E002'], ['{"a": 1,}', 'E009'], ['[1, 2,]', 'E009'], ['{"a" 1}', 'E011'],
    ['{"a": 1 "b": 2}', 'E010'], ['[1 2]', 'E010'], ['{"a": 1} x', 'E012'], ['{"a": "b', 'E005'],
    ['{"a": "b\nc"}', 'E005'], ['["\\x"]', 'E006'], ['["\\u12g4"]', 'E006'], ['["\\ud800"]', 'E007'],
    ['["\\udc00"]', 'E007'], ['["\\ud800\\u0041"]', 'E007'], ['["a\tb"]', 'E008'], ['[01]', 'E013'],
    ['[-]', 'E013'], ['[1.]', 'E013'], ['[1e]', 'E013'], ['[1e400]', 'E014'], ['[-1e400]', 'E014'],
    ['{"a": [', 'E004'], ['{', 'E004'], ['[True]', 'E003'], ["{'a': 1}", 'E003'], ['{/*c*/}', 'E003'],
    ['{"a": 1, "a": 2}', 'E016'], ['\ufeff{}', 'E018'],
  ])('rejects %j with %s', (src, code) => {
    expect(errorCode(src)).toBe(code)
  })

  it('rejects invalid UTF-8 at the first bad byte', () => {
    const { diagnostics } = parse(new Uint8Array([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]))
    expect(diagnostics.map((d) => [d.code, d.span.start])).toEqual([['E001', 2]])
    expect(errorCode(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]))).toBe('E001') // encoded surrogate
    expect(errorCode(new Uint8Array([0x22, 0xc0, 0xaf, 0x22]))).toBe('E001') // overlong
  })

  it('says "trailing comma" and how to fix it', () => {
    const d = parse(bytes('[1,]')).diagnostics[0]!
    expect(d.message).toBe('trailing comma in an array')
    expect(d.help).toBe('remove the trailing comma')
    expect(d.span).toEqual({ start: 2, end: 3 })
  })

  it('reports every duplicate key, pointing at the second with the first as related', () => {
    const src = '{"a": 1, "a": 2, "b": {"c": 1, "c": 2}}'
    const { tree, diagnostics } = parse(bytes(src))
    expect(tree).toBeDefined()
    expect(diagnostics.map((d) => d.code)).toEqual(['E016', 'E016'])
    expect(diagnostics[0]!.span).toEqual({ start: 9, end: 12 })
    expect(diagnostics[0]!.related?.[0]?.span).toEqual({ start: 1, end: 4 })
  })

  it('stops at depth 128 without using the call stack for a million brackets', () => {
    expect(parse(bytes('['.repeat(127) + ']'.repeat(127))).diagnostics).toEqual([])
    const d = parse(bytes('['.repeat(128) + ']'.repeat(128))).diagnostics
    expect(d.map((x) => [x.code, x.span.start])).toEqual([['E015', 127]])
    expect(errorCode('['.repeat(1_000_000))).toBe('E015')
    expect(errorCode('{"a":'.repeat(1_000_000))).toBe('E015')
  })

  it('names the unclosed bracket when the file ends early', () => {
    const d = parse(bytes('{"a": [1, 2')).diagnostics[0]!
    expect(d.code).toBe('E004')
    expect(d.related?.[0]?.span).toEqual({ start: 6, end: 7 })
  })

  it('agrees with JSON.parse on any JSON text (seeded; the seed is printed on failure)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
        const src = JSON.stringify(value, null, pretty ? 2 : undefined)
        const { tree, diagnostics } = parse(bytes(src))
        expect(diagnostics).toEqual([])
        expect(plain(tree!)).toEqual(JSON.parse(src))
        expect(tree!.span).toEqual({ start: 0, end: bytes(src).length })
      }),
      { seed: 20240611, numRuns: 300 },
    )
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
        const { tree, diagnostics } = parse(input)
        expect(tree !== undefined || diagnostics.length > 0).toBe(true)
      }),
      { seed: 7, numRuns: 2000 },
    )
  })
})
