// Writes the fast path's JSON texts as UTF-8 straight into module memory. The
// usual pieces (ASCII keys and strings, small integers, constants) are stored
// byte by byte with no intermediate JS string; anything else goes through
// JSON.stringify and TextEncoder. Every writer answers the position after what
// it wrote, or -1 when it would pass `end` (the caller grows its buffer and retries).

import { writeText } from './abi.js'
import { jsonText, type JsonView } from './request.js'

const encoder = new TextEncoder()

/** Up to these many UTF-16 units a JS loop beats JSON.stringify and the encoder for a string (measured on Node 20). */
const SHORT_STRING = 64

const TRUE = encoder.encode('true')
const FALSE = encoder.encode('false')
const NULL = encoder.encode('null')

/** Bytes known in advance (a key, a context head). */
export function writeBytes(bytes: Uint8Array, at: number, end: number, piece: Uint8Array): number {
  const length = piece.length
  if (at + length > end) return -1
  if (length > 32) bytes.set(piece, at)
  else for (let i = 0; i < length; i++) bytes[at + i] = piece[i]!
  return at + length
}

/** A string as a JSON string: printable ASCII without `"` or `\` is copied as is, else JSON.stringify escapes it. */
export function writeString(bytes: Uint8Array, at: number, end: number, value: string): number {
  const length = value.length
  if (length <= SHORT_STRING && at + length + 2 <= end) {
    bytes[at] = 0x22
    let i = 0
    for (; i < length; i++) {
      const unit = value.charCodeAt(i)
      if (unit < 0x20 || unit >= 0x80 || unit === 0x22 || unit === 0x5c) break
      bytes[at + 1 + i] = unit
    }
    if (i === length) {
      bytes[at + 1 + length] = 0x22
      return at + length + 2
    }
  }
  return writeText(bytes, at, end, JSON.stringify(value))
}

/** A number as JSON.stringify writes it (`-0` as `0`); integers of 32 bits by hand. */
function writeNumber(bytes: Uint8Array, at: number, end: number, value: number): number {
  if ((value | 0) !== value) return writeText(bytes, at, end, '' + value)
  if (at + 11 > end) return -1
  let v = value
  if (v < 0) {
    bytes[at++] = 0x2d
    v = -v
  }
  let digits = 1
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++
  for (let i = at + digits - 1; i >= at; i--) {
    bytes[i] = 0x30 + (v % 10)
    v = (v / 10) | 0
  }
  return at + digits
}

/** A value of a request's view, as its JSON text (request.ts `jsonText`) inside a larger text. */
export function writeValue(bytes: Uint8Array, at: number, end: number, value: JsonView): number {
  switch (typeof value) {
    case 'string':
      return writeString(bytes, at, end, value)
    case 'number':
      return writeNumber(bytes, at, end, value)
    case 'boolean':
      return writeBytes(bytes, at, end, value ? TRUE : FALSE)
    default:
      return value === null ? writeBytes(bytes, at, end, NULL) : writeText(bytes, at, end, jsonText(value))
  }
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}
