// Hostile requests for the runtime fuzzer: case `i` of seed `s` is a pure
// function of (s, i), so any failing case is reproduced from those two numbers.
// Each case starts from a valid request of the corpus and is mutated at the byte
// level (truncation, flips, injected tokens) or the structure level (a value
// swapped for an odd, malformed or huge one); a few cases are pure random bytes,
// and very few are huge (16 MB strings, 100k-deep nesting, 100k keys).

import { BAD_VALUES, ODD_VALUES, concat, nested, prng } from '../support/json-text.js'

export interface Request {
  tool: Uint8Array
  args: Uint8Array
  context: Uint8Array
}

export interface Case extends Request {
  /** What was done to the corpus request, for reports and figures: `none`, `args:flip+truncate`, `huge:deep-args`. */
  kind: string
}

type Rng = () => number
const enc = new TextEncoder()
const s = (text: string): Uint8Array => enc.encode(text)
const b = (...bytes: number[]): Uint8Array => new Uint8Array(bytes)
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!
const below = (rng: Rng, n: number): number => Math.floor(rng() * n)

/** Mixes seed and index into one PRNG seed (splitmix-like), so neighbouring cases are unrelated. */
export function caseRng(seed: number, index: number): Rng {
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return prng((h ^ (h >>> 16)) >>> 0)
}

const DIGITS_400 = '1' + '0'.repeat(399)

/** Short byte sequences that break or bend JSON and UTF-8 wherever they land. */
const TOKENS: Uint8Array[] = [
  s('['), s(']'), s('{'), s('}'), s('"'), s('\\'), s(','), s(':'), s(' '), s('\\u'), s('\\ud800'), s('\\udc00'),
  s('\\ud800\\udc00'), s('\\u0000'), s('\\"'), s('1e400'), s('-1e400'), s(DIGITS_400), s('-'), s('0'), s('.'), s('e'),
  s('null'), s('true'), s('"role":'), s('"role":"admin",'), s('""'), s('{}'), s('[]'),
  b(0xff), b(0xfe), b(0x80), b(0xc0, 0xaf), b(0xed, 0xa0, 0x80), b(0xed, 0xbf, 0xbf), b(0xe2, 0x82), b(0xf0, 0x80, 0x80, 0x80),
  b(0xf4, 0x90, 0x80, 0x80), b(0xf8, 0x88, 0x80, 0x80, 0x80), b(0xc3), b(0x00), b(0x01), b(0x1f), b(0x7f), b(0xef, 0xbb, 0xbf),
]

/** Values to put where a value was: odd but valid ones, malformed ones, numbers at the edges. */
const VALUES: Uint8Array[] = [
  ...ODD_VALUES, ...BAD_VALUES, s('"\\ud800"'), s(`"\\udbff\\udfff"`), s(DIGITS_400), s('-' + DIGITS_400), s(`0.${DIGITS_400}`),
  s(`${DIGITS_400}e-400`), s('1e400'), s('1e-400'), s('-0'), s('1E+308'), s('1.7976931348623157e308'), nested(128), nested(129),
  nested(127, 'obj'), nested(129, 'obj'), s('{"k":1,"k":2}'), s('[null,true,false]'), s('"' + 'é'.repeat(40) + '"'), s('"\\u00e9"'),
]

// ---------------------------------------------------------------------------
// Byte-level mutations

function truncate(bytes: Uint8Array, rng: Rng): Uint8Array {
  return bytes.subarray(0, below(rng, bytes.length + 1))
}

function flip(bytes: Uint8Array, rng: Rng): Uint8Array {
  if (bytes.length === 0) return pick(rng, TOKENS)
  const out = bytes.slice()
  const at = below(rng, out.length)
  out[at] = rng() < 0.5 ? out[at]! ^ (1 << below(rng, 8)) : below(rng, 256)
  return out
}

function insert(bytes: Uint8Array, rng: Rng): Uint8Array {
  const at = below(rng, bytes.length + 1)
  return concat([bytes.subarray(0, at), pick(rng, TOKENS), bytes.subarray(at)])
}

function remove(bytes: Uint8Array, rng: Rng): Uint8Array {
  const at = below(rng, bytes.length + 1)
  return concat([bytes.subarray(0, at), bytes.subarray(at + 1 + below(rng, 8))])
}

function duplicate(bytes: Uint8Array, rng: Rng): Uint8Array {
  const at = below(rng, bytes.length + 1)
  const end = Math.min(bytes.length, at + 1 + below(rng, 16))
  return concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)])
}

/** Replaces the value after a `:`, `[` or `,` (up to the next `,` `}` `]`) with one of VALUES: often still valid JSON. */
function replaceValue(bytes: Uint8Array, rng: Rng): Uint8Array {
  const starts: number[] = []
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x3a || bytes[i] === 0x5b || bytes[i] === 0x2c) starts.push(i + 1)
  if (starts.length === 0) return pick(rng, VALUES)
  const start = pick(rng, starts)
  let end = start
  while (end < bytes.length && bytes[end] !== 0x2c && bytes[end] !== 0x7d && bytes[end] !== 0x5d) end++
  return concat([bytes.subarray(0, start), pick(rng, VALUES), bytes.subarray(end)])
}

/** Random bytes: raw, or drawn from JSON's own alphabet so they get further into the reader. */
function randomBytes(rng: Rng): Uint8Array {
  const length = below(rng, rng() < 0.9 ? 48 : 1024)
  if (rng() < 0.5) return Uint8Array.from({ length }, () => below(rng, 256))
  const alphabet = s('{}[]":,\\ 0123456789.eE+-truefalsnl\\u"ab')
  return Uint8Array.from({ length }, () => alphabet[below(rng, alphabet.length)]!)
}

const MUTATIONS: [string, (bytes: Uint8Array, rng: Rng) => Uint8Array][] = [
  ['truncate', truncate], ['flip', flip], ['insert', insert], ['remove', remove], ['duplicate', duplicate], ['value', replaceValue],
]

// ---------------------------------------------------------------------------
// Huge inputs, built once each and shared (they are never written to)

const MB16 = 16 << 20
const HUGE: Record<string, () => Request> = {
  'string-16mb': () => ({ tool: s('read_file'), args: bigString(MB16, '{"path":"', '"}'), context: s('{"role":"reader"}') }),
  'string-16mb-unterminated': () => ({ tool: s('read_file'), args: bigString(MB16, '{"path":"', ''), context: s('{"role":"reader"}') }),
  'role-1mb': () => ({ tool: s('read_file'), args: s('{}'), context: bigString(1 << 20, '{"role":"', '"}') }),
  'tool-1mb': () => ({ tool: bigString(1 << 20, '', ''), args: s('{}'), context: s('{"role":"admin"}') }),
  'deep-args-100k': () => ({ tool: s('read_file'), args: nested(100_000), context: s('{"role":"reader"}') }),
  'deep-args-100k-obj': () => ({ tool: s('read_file'), args: nested(100_000, 'obj'), context: s('{"role":"reader"}') }),
  'deep-context-100k': () => ({
    tool: s('read_file'), args: s('{}'), context: concat([s('{"role":"reader","agent_attrs":'), nested(100_000), s('}')]),
  }),
  'keys-100k': () => ({ tool: s('process_refund'), args: manyKeys(100_000, '"amount":5'), context: s('{"role":"agent"}') }),
  'keys-100k-context': () => ({
    tool: s('delete_customer'), args: s('{}'),
    context: concat([s('{"role":"manager","resource_attrs":{"owner_id":"u","x":'), manyKeys(100_000, '"user_id":"u"'), s('},"agent_attrs":'), manyKeys(100_000, '"user_id":"u"'), s('}')]),
  }),
  'random-16mb': () => {
    const rng = prng(16)
    return { tool: s('read_file'), args: Uint8Array.from({ length: MB16 }, () => below(rng, 256)), context: s('{"role":"reader"}') }
  },
}
export const HUGE_KINDS = Object.keys(HUGE)
const hugeCache = new Map<string, Request>()

/** A string value of `size` bytes between `head` and `tail`: mostly ASCII, with escapes and non-ASCII sprinkled in. */
function bigString(size: number, head: string, tail: string): Uint8Array {
  const unit = s('abcdefghij\\n\\"é😀\\u00e9\\ud83d\\ude00klmnopq /')
  const out = new Uint8Array(head.length + size + tail.length)
  out.set(s(head))
  for (let at = head.length; at < head.length + size; at += unit.length) out.set(unit.subarray(0, Math.min(unit.length, head.length + size - at)), at)
  // The cut may split an escape or a character: end on a clean ASCII byte.
  out[head.length + size - 1] = 0x61
  out.set(s(tail), head.length + size)
  return out
}

function manyKeys(count: number, last: string): Uint8Array {
  const members = Array.from({ length: count }, (_, i) => `"k${i}":${i % 3 === 0 ? 'null' : i % 3 === 1 ? `"v${i}"` : i}`)
  return s(`{${members.join(',')},${last}}`)
}

export function hugeCase(kind: string): Case {
  let request = hugeCache.get(kind)
  if (request === undefined) hugeCache.set(kind, (request = HUGE[kind]!()))
  return { ...request, kind: `huge:${kind}` }
}

// ---------------------------------------------------------------------------
// Cases

export interface CaseOptions {
  /** Probability that a case is one of the huge inputs (they cost milliseconds to seconds each). */
  hugeRate: number
}

/** Case `index` of `seed`: a corpus request, mutated or not. */
export function makeCase(corpus: readonly Request[], seed: number, index: number, options: CaseOptions): Case {
  const rng = caseRng(seed, index)
  if (rng() < options.hugeRate) return hugeCase(pick(rng, HUGE_KINDS))
  const base = pick(rng, corpus)
  const roll = rng()
  if (roll < 0.2) return { ...base, kind: 'none' }
  const parts: (keyof Request)[] = ['tool', 'args', 'context']
  if (roll < 0.28) {
    const part = pick(rng, parts)
    return { ...base, [part]: randomBytes(rng), kind: `${part}:random` }
  }
  if (roll < 0.33) {
    // Another request's input in place of one's own: valid JSON, unexpected shape.
    const part = pick(rng, ['args', 'context'] as const)
    const other = pick(rng, corpus)
    return { ...base, [part]: rng() < 0.5 ? other.args : other.context, kind: `${part}:swapped` }
  }
  const out: Case = { ...base, kind: '' }
  const done: string[] = []
  for (let n = 1 + below(rng, 3); n > 0; n--) {
    const part = rng() < 0.1 ? 'tool' : rng() < 0.5 ? 'args' : 'context'
    const [name, mutate] = pick(rng, MUTATIONS)
    out[part] = mutate(out[part], rng)
    done.push(`${part}:${name}`)
  }
  out.kind = done.join('+')
  return out
}
