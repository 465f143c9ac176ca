// JSON value equality for FieldEquals (spec §3): the same canonical text
// (canonical.ts), so numbers compare by exact decimal value, strings by their
// characters, objects by key set and values whatever their order.

import { canonical } from './canonical'
import { rewind, scratchMark } from './scratch'
import { startText, textEnd } from './response'
import { bytesEqual } from './text'

/** Equality of two valid JSON values given by their spans. */
export function jsonEquals(a: usize, aEnd: usize, b: usize, bEnd: usize): bool {
  let len = aEnd - a
  // The same text is the same value; a different first byte is another type, except for numbers (`-1`, `1`).
  if (len == bEnd - b && bytesEqual(a, b, len)) return true
  if (kind(load<u8>(a)) != kind(load<u8>(b))) return false
  let mark = scratchMark()
  let textA = startText()
  canonical(a, aEnd)
  let textB = textEnd()
  canonical(b, bEnd)
  let end = textEnd()
  let equal = textB - textA == end - textB && bytesEqual(textA, textB, textB - textA)
  // Back to where the caller's text (an account being written) was.
  rewind(mark)
  startText()
  return equal
}

/** What the first byte of a value says of its type: numbers start with `-` or a digit. */
function kind(c: u32): u32 {
  return c == 0x2d || c - 0x30 < 10 ? 0x30 : c
}
