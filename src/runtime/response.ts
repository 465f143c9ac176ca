// Texts written at the scratch top, each write claiming its bytes (so scratch
// taken while a text is being written lies above it and is given back before the
// next write): the account of a failed condition, canonical JSON, and the
// response, which `finish` moves into a block of its own (spec §6 "Lifetimes").
// Text from inputs and the policy is escaped exactly like serde_json.

import { keepResponse } from './heap'
import { bytesBelow, bytesEqualTo } from './text'
import { claimTo, scratchMark } from './scratch'

/** Answered when not even the response fits in memory: `{"error":"out of memory"}`, in static data (dealloc ignores it). */
const OUT_OF_MEMORY: usize = memory.data<u8>([
  0x19, 0x0, 0x0, 0x0, 0x7b, 0x22, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x22, 0x3a, 0x22, 0x6f, 0x75, 0x74,
  0x20, 0x6f, 0x66, 0x20, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x22, 0x7d,
])

/** Where the next byte goes: always the scratch top. */
let pos: usize = 0
/** Set when a write to the response being written could not get memory (the call's fault is raised too). */
let failed: bool = false

/** Starts (or, after scratch was given back, resumes) the text at the scratch top; returns where it starts. */
export function startText(): usize {
  pos = scratchMark()
  return pos
}

/** The end of the text being written. */
export function textEnd(): usize {
  return pos
}

/** False, and the text fails, when `n` more bytes cannot be had. */
// @ts-ignore: decorator
@inline function room(n: usize): bool {
  if (claimTo(<u64>pos + <u64>n)) return true
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
  if (!room(len)) return
  let q = pos
  let end = q + len
  for (; q + 8 <= end; q += 8, p += 8) store<u64>(q, load<u64>(p))
  for (; q < end; q++, p++) store<u8>(q, load<u8>(p))
  pos = end
}

/** Claims `length` bytes that are already in place at the text position. */
export function keepWritten(length: usize): void {
  if (room(length)) pos += length
}

export function putByte(c: u32): void {
  if (!room(1)) return
  store<u8>(pos, c)
  pos++
}

/** Appends `…` (U+2026), which marks a shortened value. */
export function putEllipsis(): void {
  if (!room(3)) return
  store<u8>(pos, 0xe2)
  store<u8>(pos, 0x80, 1)
  store<u8>(pos, 0xa6, 2)
  pos += 3
}

export function putDecimal(v: u64): void {
  let digits: usize = 1
  for (let t = v / 10; t > 0; t /= 10) digits++
  if (!room(digits)) return
  for (let i = digits; i > 0; i--) {
    store<u8>(pos + i - 1, <u8>(0x30 + v % 10))
    v /= 10
  }
  pos += digits
}

/** Appends bytes inside a JSON string: `"` `\` and control characters escaped like serde_json. */
export function putEscaped(p: usize, len: usize): void {
  if (!room(len * 6)) return
  let q = pos
  let i: usize = 0
  // Eight bytes at a time while none of them needs escaping, as names and most values.
  for (; i + 8 <= len; i += 8) {
    let w = load<u64>(p + i)
    if ((bytesEqualTo(w, 0x22) | bytesEqualTo(w, 0x5c) | bytesBelow(w, 0x20)) != 0) break
    store<u64>(q, w)
    q += 8
  }
  for (; i < len; i++) {
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
  // Give back what the escapes did not need.
  pos = q
  claimTo(<u64>pos)
}

function hexDigit(d: u32): u8 {
  return <u8>(d < 10 ? 0x30 + d : 0x57 + d)
}

// ---- Responses: a u32 length, then the JSON text

let responseStart: usize = 0

/** Starts a response at the scratch top. */
export function begin(): void {
  failed = false
  responseStart = startText()
  room(4)
  pos += failed ? 0 : 4
}

/** Seals the response and keeps it in a block of its own (the out-of-memory answer if it does not fit). */
export function finish(): usize {
  if (failed) return OUT_OF_MEMORY
  store<u32>(responseStart, <u32>(pos - responseStart - 4))
  let kept = keepResponse(responseStart, pos - responseStart)
  return kept != 0 ? kept : OUT_OF_MEMORY
}

/** Seals the response where it is written: its address (the u32 length, then the text), or 0 when it was not written whole. */
export function seal(): usize {
  if (failed) return 0
  store<u32>(responseStart, <u32>(pos - responseStart - 4))
  return responseStart
}

/** A response of its own with the bytes of the kept answer at `kept`. */
export function copyOf(kept: usize): usize {
  let copy = keepResponse(kept, 4 + <usize>load<u32>(kept))
  return copy != 0 ? copy : OUT_OF_MEMORY
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
