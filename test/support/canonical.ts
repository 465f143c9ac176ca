// The canonical text of a JSON value (docs/design.md "Canonical JSON"), written
// apart from the product: two texts denote the same value (init, FieldEquals) when
// their canonical texts are equal. Numbers are kept exact: BigInt, never doubles.

import { readJson, type JsonValue, type Member } from './ref-json.js'

const encoder = new TextEncoder()

/**
 * A string's characters written as JSON the way serde_json and the canonical text
 * do: `"` `\` and U+0000–U+001F escaped (`\b \f \n \r \t`, else `\u00xx` in
 * lowercase hex); everything else, non-ASCII included, as is. No quotes added.
 */
export function escapeJson(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.charCodeAt(0)
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return out
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/

/**
 * A JSON number text as `D` or `De<Q>` with the value exactly `D × 10^Q`: `0` for
 * any zero, else the significant digits without leading or trailing zeros and
 * the exponent unless it is 0 (`1.0` → `1`, `100` → `1e2`, `-1234.50` → `-12345e-1`).
 */
export function canonicalNumber(text: string): string {
  const match = NUMBER.exec(text)
  if (match === null) throw new Error(`canonical: not a JSON number: ${text}`)
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match
  const digits = (whole + fraction).replace(/^0+/, '')
  if (digits === '') return '0'
  const significant = digits.replace(/0+$/, '')
  const q = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length)
  return `${sign}${significant}${q === 0n ? '' : `e${q}`}`
}

/** Byte-by-byte order of UTF-8 texts, a prefix first. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** The members that count (the last of repeated keys), sorted by their keys' UTF-8 bytes. */
function sortedMembers(members: readonly Member[]): Member[] {
  const last = new Map<string, Member>()
  for (const member of members) last.set(member.key, member)
  return [...last.values()]
    .map((member) => ({ member, bytes: encoder.encode(member.key) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes))
    .map(({ member }) => member)
}

const canonicalString = (value: string): string => `"${escapeJson(value)}"`

/** The canonical text of a value read by ref-json (numbers from their exact source text). */
export function canonicalOf(value: JsonValue): string {
  switch (value.kind) {
    case 'null':
      return 'null'
    case 'bool':
      return value.value ? 'true' : 'false'
    case 'number':
      return canonicalNumber(value.text)
    case 'string':
      return canonicalString(value.value)
    case 'array':
      return `[${value.items.map(canonicalOf).join(',')}]`
    case 'object':
      return `{${sortedMembers(value.members).map((m) => `${canonicalString(m.key)}:${canonicalOf(m.value)}`).join(',')}}`
  }
}

/** The canonical text of one complete JSON text, or why it is not one (spec §5 reading). */
export function canonicalText(bytes: Uint8Array): string | { error: string } {
  const read = readJson(bytes)
  return 'error' in read ? { error: read.error } : canonicalOf(read.value)
}

/**
 * JSON value equality of spec §3 (FieldEquals): equal canonical texts. Numbers by
 * exact decimal value, strings by unescaped characters, objects by key set and
 * values whatever the order (the last of repeated keys counting). Nulls compare
 * as values here; FieldEquals rejects a null side before calling this.
 */
export const jsonEqual = (a: JsonValue, b: JsonValue): boolean => canonicalOf(a) === canonicalOf(b)
