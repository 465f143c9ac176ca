// The fixed texts a failed condition's account is built from (docs/design.md
// "Reasons"). Rendered once at compile time and baked into the artifact.

import type { Node, Read } from './ir.js'
import type { NumericOp, StringOp } from './policy.js'

export const TEXT_LIMIT = 64

/** UTF-8 size of the UTF-16 unit at `i` of `text` (a surrogate pair counts 4 on its high unit, 0 on its low). */
function unitBytes(text: string, i: number): number {
  const c = text.charCodeAt(i)
  if (c < 0x80) return 1
  if (c < 0x800) return 2
  const pairHigh = c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
  const pairLow = c >= 0xdc00 && c <= 0xdfff && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800
  // A lone surrogate is encoded as U+FFFD: 3 bytes, like any other BMP unit.
  return pairHigh ? 4 : pairLow ? 0 : 3
}

/**
 * `text` cut to at most `limit` UTF-8 bytes at a character boundary, `…` appended when cut.
 * Sizes are counted per UTF-16 unit (no TextEncoder per character): big policies render tens of thousands of labels.
 */
export function cut(text: string, limit = TEXT_LIMIT): string {
  if (text.length * 3 <= limit) return text
  let bytes = 0
  for (let i = 0; i < text.length; i++) bytes += unitBytes(text, i)
  if (bytes <= limit) return text
  bytes = 0
  let end = 0
  while (end < text.length) {
    const size = unitBytes(text, end)
    if (bytes + size > limit) break
    bytes += size
    end += size === 4 ? 2 : 1
  }
  return text.slice(0, end) + '…'
}

/** `Lte 500`: what a numeric check demands. */
export const numericText = (op: NumericOp, value: number): string => `${op} ${String(value)}`

/** `In ["a", "b"]`: what a string check demands, the list cut to the text limit. */
export const listText = (op: StringOp, values: readonly string[]): string =>
  `${op} ${cut(`[${values.map((v) => JSON.stringify(v)).join(', ')}]`)}`

const field = (read: Read): string => `${read.source}.${read.field}`

const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) bytes += unitBytes(text, i)
  return bytes
}

/**
 * A condition summarised for a NOT's account (docs/design.md "Reasons"), e.g.
 * `Not(FieldPresent(Arguments.force))`. Field names are never cut: a long
 * `All([`/`Any([` stops listing its children once its own text reaches 64
 * bytes, and writes the rest as one `…`.
 */
export function label(node: Node, reads: readonly Read[]): string {
  const at = (i: number): Read => {
    const read = reads[i]
    if (read === undefined) throw new Error(`internal: read ${i} out of range`)
    return read
  }
  switch (node.kind) {
    case 'all':
    case 'any': {
      let text = node.kind === 'all' ? 'All([' : 'Any(['
      for (const [i, child] of node.children.entries()) {
        if (i > 0) {
          if (utf8Length(text) >= TEXT_LIMIT) {
            text += ', …'
            break
          }
          text += ', '
        }
        text += label(child, reads)
      }
      return text + '])'
    }
    case 'not':
      return `Not(${label(node.child, reads)})`
    case 'numeric':
      return `NumericCheck(${field(at(node.read))} ${numericText(node.op, node.value)})`
    case 'string_in':
      return `StringCheck(${field(at(node.read))} ${listText(node.negate ? 'NotIn' : 'In', node.values)})`
    case 'present':
      return `FieldPresent(${field(at(node.read))})`
    case 'equals':
      return `FieldEquals(${field(at(node.a))}, ${field(at(node.b))})`
    default:
      throw new Error(`internal: unknown node ${(node satisfies never as Node).kind}`)
  }
}
