// The fixed texts a failed condition's account is built from (docs/design.md
// "Reasons"). Rendered once at compile time and baked into the artifact.

import type { Node, Read } from './ir.js'
import type { NumericOp, StringOp } from './policy.js'

export const TEXT_LIMIT = 64

const encoder = new TextEncoder()

/** `text` cut to at most `limit` UTF-8 bytes at a character boundary, `…` appended when cut. */
export function cut(text: string, limit = TEXT_LIMIT): string {
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

/** `Lte 500`: what a numeric check demands. */
export const numericText = (op: NumericOp, value: number): string => `${op} ${String(value)}`

/** `In ["a", "b"]`: what a string check demands, the list cut to the text limit. */
export const listText = (op: StringOp, values: readonly string[]): string =>
  `${op} ${cut(`[${values.map((v) => JSON.stringify(v)).join(', ')}]`)}`

const field = (read: Read): string => `${read.source}.${read.field}`

/** A condition summarised in at most 64 bytes, e.g. `Not(FieldPresent(Arguments.force))`. */
export function label(node: Node, reads: readonly Read[]): string {
  const at = (i: number): Read => {
    const read = reads[i]
    if (read === undefined) throw new Error(`internal: read ${i} out of range`)
    return read
  }
  switch (node.kind) {
    case 'all':
      return cut(`All([${node.children.map((c) => label(c, reads)).join(', ')}])`)
    case 'any':
      return cut(`Any([${node.children.map((c) => label(c, reads)).join(', ')}])`)
    case 'not':
      return cut(`Not(${label(node.child, reads)})`)
    case 'numeric':
      return cut(`NumericCheck(${field(at(node.read))} ${numericText(node.op, node.value)})`)
    case 'string_in':
      return cut(`StringCheck(${field(at(node.read))} ${listText(node.negate ? 'NotIn' : 'In', node.values)})`)
    case 'present':
      return cut(`FieldPresent(${field(at(node.read))})`)
    case 'equals':
      return cut(`FieldEquals(${field(at(node.a))}, ${field(at(node.b))})`)
  }
}
