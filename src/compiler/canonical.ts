// The canonical text of a policy (docs/design.md "Canonical JSON"): the one text
// of its JSON value whatever its white space, line endings, key order or number
// spelling. The compiler stores its SHA-256 in the blob, and `init` recognises a
// policy by it (spec §6); the runtime's canonical.ts writes the same text.

import type { JsonNode } from './json-tree.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The canonical text of `tree`, whose numbers are read exactly from `source`. */
export function canonicalText(tree: JsonNode, source: Uint8Array): string {
  switch (tree.kind) {
    case 'null':
      return 'null'
    case 'boolean':
      return String(tree.value)
    case 'number':
      return canonicalNumber(decoder.decode(source.subarray(tree.span.start, tree.span.end)))
    case 'string':
      return canonicalString(tree.value)
    case 'array':
      return `[${tree.items.map((item) => canonicalText(item, source)).join(',')}]`
    case 'object': {
      // Of repeated keys the last counts (spec §3); keys sort by their UTF-8 bytes.
      const members = new Map(tree.members.map((m) => [m.key, m.value]))
      const keys = [...members.keys()].map((key) => ({ key, bytes: encoder.encode(key) }))
      keys.sort((a, b) => Buffer.compare(a.bytes, b.bytes))
      return `{${keys.map(({ key }) => `${canonicalString(key)}:${canonicalText(members.get(key)!, source)}`).join(',')}}`
    }
  }
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/

/** `D` or `DeQ`: the significant digits and the exponent of the exact value `D × 10^Q`; `0` for zero. */
export function canonicalNumber(text: string): string {
  const match = NUMBER.exec(text)
  if (match === null) throw new Error(`internal: not a JSON number: ${text}`)
  const [, sign, whole, fraction = '', exponent = '0'] = match
  const digits = (whole! + fraction).replace(/^0+/, '')
  if (digits === '') return '0'
  const significant = digits.replace(/0+$/, '')
  const q = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length)
  return `${sign}${significant}${q === 0n ? '' : `e${q}`}`
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** A string escaped as every response escapes text: `"`, `\` and control characters only. */
export function canonicalString(value: string): string {
  let out = '"'
  for (const ch of value) {
    const short = SHORT_ESCAPES[ch]
    if (short !== undefined) out += short
    else if (ch.charCodeAt(0) < 0x20) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`
    else out += ch
  }
  return out + '"'
}
