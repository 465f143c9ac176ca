// JSON texts for random requests: a small document model, rendered to bytes with
// the spellings the spec says must not matter (white space, escapes, number forms)
// and, on request, the malformations spec §5 says must be refused.

/** A JSON document to render; `raw` is spliced in byte for byte (often malformed). */
export type Doc =
  | { t: 'lit'; text: 'null' | 'true' | 'false' }
  | { t: 'num'; text: string }
  | { t: 'str'; value: string }
  | { t: 'arr'; items: Doc[] }
  | { t: 'obj'; members: [string, Doc][] }
  | { t: 'raw'; bytes: Uint8Array }

const enc = new TextEncoder()

/** Deterministic PRNG (mulberry32) so a fast-check seed reproduces the exact bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
type Rng = () => number
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!

const WHITESPACE = ['', '', '', ' ', '\n', '\t', '  ', '\r\n ']

/** One string as JSON text; `escapeAll` spells some characters as `\uXXXX` or short escapes. */
function renderString(value: string, rng: Rng, escapeAll: boolean): string {
  let out = '"'
  for (const ch of value) {
    const c = ch.codePointAt(0)!
    const escapeThis = escapeAll && rng() < 0.4
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (c < 0x20) out += ch === '\n' && rng() < 0.5 ? '\\n' : `\\u${c.toString(16).padStart(4, '0')}`
    else if (ch === '/' && escapeThis) out += '\\/'
    else if (escapeThis) {
      const units = c > 0xffff ? [0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff)] : [c]
      const hex = (u: number) => u.toString(16).padStart(4, '0')
      out += units.map((u) => `\\u${rng() < 0.5 ? hex(u) : hex(u).toUpperCase()}`).join('')
    } else out += ch
  }
  return out + '"'
}

/** Renders `doc` to UTF-8 bytes with random (seeded) white space and escapes. */
export function renderDoc(doc: Doc, seed: number): Uint8Array {
  const rng = prng(seed)
  const escapes = rng() < 0.3
  const spaced = rng() < 0.4
  const ws = (): string => (spaced ? pick(rng, WHITESPACE) : '')
  const parts: (string | Uint8Array)[] = []
  const walk = (d: Doc): void => {
    switch (d.t) {
      case 'lit':
      case 'num':
        parts.push(d.text)
        return
      case 'str':
        parts.push(renderString(d.value, rng, escapes))
        return
      case 'raw':
        parts.push(d.bytes)
        return
      case 'arr':
        parts.push('[' + ws())
        d.items.forEach((item, i) => {
          if (i > 0) parts.push(ws() + ',' + ws())
          walk(item)
        })
        parts.push(ws() + ']')
        return
      case 'obj':
        parts.push('{' + ws())
        d.members.forEach(([key, value], i) => {
          if (i > 0) parts.push(ws() + ',' + ws())
          parts.push(renderString(key, rng, escapes) + ws() + ':' + ws())
          walk(value)
        })
        parts.push(ws() + '}')
        return
    }
  }
  parts.push(ws())
  walk(doc)
  parts.push(ws())
  return concat(parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p)))
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** Equivalent spellings of one double as a JSON number (all read back as `x`, or as the nearest double). */
export function spellings(x: number): string[] {
  const out = [String(x).replace('+', ''), x.toExponential()]
  if (Object.is(x, -0)) out.push('-0', '-0.0', '-0e0', '-0E+5')
  if (Number.isInteger(x) && Math.abs(x) < 1e15) {
    out.push(`${x}.0`, `${x}e0`, `${x}0E-1`, `${x}.000e+0`)
    if (x === 0) out.push('0e400', '0.0e-400')
  }
  return out.filter((s) => /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(s))
}

/** The double next to `x` towards +∞ (`up`) or −∞. */
export function nextDouble(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  view.setBigUint64(0, x > 0 === up ? bits + 1n : bits - 1n)
  return view.getFloat64(0)
}

/** Number texts whose reading is not obvious: big integers, underflow, long mantissas. */
export const ODD_NUMBERS = [
  '9007199254740993', '-9007199254740993', '18446744073709551617', '123456789012345678901234567890',
  '1e-400', '-1e-400', '4.9e-324', '2.4703282292062328e-324', '1.7976931348623157e308', '1.7976931348623158e308',
  '0.1000000000000000055511151231257827', '500.00000000000000001', '5E2', '5e+2', '50000e-2', '-0.0', '1E0',
]

/** Number texts that must be refused (spec §5), except the first few which are fine. */
export const OVERFLOW_NUMBERS = ['1e400', '-1e400', '1.7976931348623159e308', '2e308', '1' + '0'.repeat(400)]

const b = (...bytes: number[]) => new Uint8Array(bytes)
const s = (text: string) => enc.encode(text)

/** Malformed value texts to splice in as `raw` docs; every one makes its JSON text an error. */
export const BAD_VALUES: Uint8Array[] = [
  s('"\\ud800"'), s('"\\udc00x"'), s('"a\\ud83dz"'), s('"\\ud83d\\u0041"'), s('"\\x"'), s('"\\u12"'), s('"\\u12G4"'),
  s('"\\\''), s('"\\a"'), b(0x22, 0xff, 0x22), b(0x22, 0xc3, 0x22), b(0x22, 0xc0, 0xaf, 0x22), b(0x22, 0xed, 0xa0, 0x80, 0x22),
  b(0x22, 0xf4, 0x90, 0x80, 0x80, 0x22), b(0x22, 0xe2, 0x82, 0x5c, 0x6e, 0x22), b(0x22, 0x61, 0x01, 0x22), b(0x22, 0x09, 0x22),
  s('"abc'), s('01'), s('1.'), s('.5'), s('+1'), s('-'), s('1e'), s('1e+'), s('tru'), s('nul'), s('NaN'), s('Infinity'),
  s('[1,]'), s('{"a"}'), s('{"a":1,}'), s('[1 2]'), s("'a'"), s('{a:1}'), s(''), ...OVERFLOW_NUMBERS.map(s),
]

/** Odd but valid value texts to splice in as `raw` docs. */
export const ODD_VALUES: Uint8Array[] = [
  s('"\\ud83d\\ude00"'), s('"\\u0000"'), s('"\\uD834\\uDD1E"'), s('"\\/\\b\\f\\n\\r\\t"'), s('"\u2028\u2029"'), s('"\u007f"'),
  s('[ ]'), s('{ }'), s('"é"'), b(0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22), s('[[[[[]]]]]'), ...ODD_NUMBERS.map(s),
]

/** `depth` arrays nested, innermost empty: depth 128 is fine at top level, 129 is not. */
export const nested = (depth: number, kind: 'arr' | 'obj' = 'arr'): Uint8Array =>
  kind === 'arr' ? s('['.repeat(depth) + ']'.repeat(depth)) : s('{"k":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1))

/** Byte-level damage to a whole JSON text. */
export type Damage = 'none' | 'truncate' | 'trailing' | 'bom' | 'empty' | 'space-only' | 'nul'

export function damage(bytes: Uint8Array, kind: Damage, rng: Rng): Uint8Array {
  switch (kind) {
    case 'none':
      return bytes
    case 'truncate':
      return bytes.subarray(0, Math.floor(rng() * bytes.length))
    case 'trailing':
      return concat([bytes, s(pick(rng, ['x', '}', ']', ',', '0', '{}', ' 1', '"', '\u0000', ' /']))])
    case 'bom':
      return concat([b(0xef, 0xbb, 0xbf), bytes])
    case 'empty':
      return new Uint8Array()
    case 'space-only':
      return s(' \n\t ')
    case 'nul':
      return concat([bytes, b(0)])
  }
}

/** Lossy text of some bytes, for printing counterexamples. */
export const show = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
