// Writes a response into call scratch: a 4-byte little-endian length, then UTF-8
// JSON. Text from inputs and the policy is escaped exactly like serde_json.

import { knownBytes, mark, reserve, scratch } from './memory'

/** Answered when not even the response fits in memory: `{"error":"out of memory"}`. */
const OUT_OF_MEMORY: usize = memory.data<u8>([
  0x19, 0x0, 0x0, 0x0, 0x7b, 0x22, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x22, 0x3a, 0x22, 0x6f, 0x75, 0x74,
  0x20, 0x6f, 0x66, 0x20, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x22, 0x7d,
])

let base: usize = 0
let pos: usize = 0
let failed: bool = false
/** Set after `begin` for an answer that is plain UTF-8, not JSON: `putEscaped` then copies. */
export let plain: bool = false

/** Starts a response at the scratch top; nothing else may take scratch until `finish`. */
export function begin(): void {
  base = mark()
  pos = base + 4
  failed = !reserve(<u64>pos)
  plain = false
}

/** False, and the response fails, when `n` more bytes cannot be had. */
function room(n: usize): bool {
  if (reserve(<u64>pos + <u64>n)) return true
  failed = true
  return false
}

/** Appends a text made by `utf8('…')` that needs no escaping. */
export function putText(text: usize): void {
  putBytes(text + 1, load<u8>(text))
}

/**
 * Appends bytes as they are. The pieces are short, and for short lengths V8's
 * `memory.copy` (a call out of the compiled code) costs more than this loop.
 */
export function putBytes(p: usize, len: usize): void {
  // Nearly always the bytes fit in memory already: no call then.
  if (<u64>pos + <u64>len > knownBytes && !room(len)) return
  let q = pos
  let end = q + len
  for (; q + 8 <= end; q += 8, p += 8) store<u64>(q, load<u64>(p))
  for (; q < end; q++, p++) store<u8>(q, load<u8>(p))
  pos = end
}

/** Appends `…` (U+2026), which marks a cut text. */
export function putEllipsis(): void {
  if (!room(3)) return
  store<u8>(pos, 0xe2)
  store<u8>(pos, 0x80, 1)
  store<u8>(pos, 0xa6, 2)
  pos += 3
}

export function putDecimal(v: u64): void {
  if (!room(20)) return
  let digits: usize = 1
  for (let t = v / 10; t > 0; t /= 10) digits++
  for (let i = digits; i > 0; i--) {
    store<u8>(pos + i - 1, <u8>(0x30 + v % 10))
    v /= 10
  }
  pos += digits
}

/** Appends bytes inside a JSON string: `"` `\` and control characters escaped like serde_json (unless `plain`). */
export function putEscaped(p: usize, len: usize): void {
  if (plain) return putBytes(p, len)
  if (<u64>pos + <u64>len * 6 > knownBytes && !room(len * 6)) return
  let q = pos
  for (let i: usize = 0; i < len; i++) {
    let c = <u32>load<u8>(p + i)
    if (c >= 0x20 && c != 0x22 && c != 0x5c) {
      store<u8>(q++, c)
      continue
    }
    store<u8>(q++, 0x5c)
    let short: u32 = c == 0x22 ? 0x22 : c == 0x5c ? 0x5c : c == 0x08 ? 0x62 : c == 0x0c ? 0x66 : c == 0x0a ? 0x6e : c == 0x0d ? 0x72 : c == 0x09 ? 0x74 : 0
    if (short != 0) {
      store<u8>(q++, short)
      continue
    }
    store<u32>(q, 0x30303075) // "u00"
    store<u8>(q + 3, hexDigit(c >> 4))
    store<u8>(q + 4, hexDigit(c & 15))
    q += 5
  }
  pos = q
}

function hexDigit(d: u32): u8 {
  return <u8>(d < 10 ? 0x30 + d : 0x57 + d)
}

/** Seals the response and hands back its address (the out-of-memory answer if it did not fit). */
export function finish(): usize {
  if (failed) return OUT_OF_MEMORY
  store<u32>(base, <u32>(pos - base - 4))
  // Claim the bytes so nothing later in this call overwrites them.
  scratch(<u64>(pos - base))
  return base
}

/** `{"error":"<input>: <message>` — the caller appends the message's tail, then `endError`. */
export function beginError(input: usize, message: usize): void {
  begin()
  putText(utf8('{"error":"'))
  putText(input)
  putText(utf8(': '))
  putText(message)
}

export function endError(): usize {
  putText(utf8('"}'))
  return finish()
}

/** A whole error response with a fixed message. */
export function error(input: usize, message: usize): usize {
  beginError(input, message)
  return endError()
}
