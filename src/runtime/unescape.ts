// JSON string contents after unescaping: copy into scratch, or compare against
// UTF-8 bytes on the fly. Input is always a string the validator accepted.

import { bytesEqual } from './text'

/** Position after the escape decoded by the last `decodeEscape`. */
let decodedEnd: usize = 0

function hexValue(p: usize): u32 {
  let v: u32 = 0
  for (let i: usize = 0; i < 4; i++) {
    let c = <u32>load<u8>(p + i)
    v = (v << 4) | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57)
  }
  return v
}

/** The position after the escape that the last `decodeEscape` decoded. */
export function escapeEnd(): usize {
  return decodedEnd
}

/** At a backslash: the code point it stands for (surrogate pairs joined). */
export function decodeEscape(p: usize): u32 {
  let e = <u32>load<u8>(p, 1)
  decodedEnd = p + 2
  if (e == 0x62) return 0x08
  if (e == 0x66) return 0x0c
  if (e == 0x6e) return 0x0a
  if (e == 0x72) return 0x0d
  if (e == 0x74) return 0x09
  if (e != 0x75) return e
  let u = hexValue(p + 2)
  decodedEnd = p + 6
  if (u >= 0xd800 && u <= 0xdbff) {
    let low = hexValue(p + 8)
    decodedEnd = p + 12
    return 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00)
  }
  return u
}

/** Writes the UTF-8 form of `cp` at `dst`; returns its length. */
export function encodeUtf8(dst: usize, cp: u32): usize {
  let units = utf8Units(cp)
  let count = utf8Length(cp)
  for (let k: usize = 0; k < count; k++) store<u8>(dst + k, <u8>(units >> (<u32>k * 8)))
  return count
}

function hasEscape(start: usize, end: usize): bool {
  for (let p = start; p < end; p++) if (load<u8>(p) == 0x5c) return true
  return false
}

/** Unescapes string contents `[start, end)` into `dst` (never longer than the source); returns the length. */
export function unescapeInto(dst: usize, start: usize, end: usize): usize {
  let n: usize = 0
  let p = start
  while (p < end) {
    let c = load<u8>(p)
    if (c != 0x5c) {
      store<u8>(dst + n, c)
      n++
      p++
      continue
    }
    n += encodeUtf8(dst + n, decodeEscape(p))
    p = decodedEnd
  }
  return n
}

/** True when string contents `[start, end)`, unescaped, are exactly the `len` bytes at `bytes`. */
export function unescapedEquals(start: usize, end: usize, bytes: usize, len: usize): bool {
  // Unescaping only ever shortens: a key as long as `bytes` must be free of escapes.
  let raw = end - start
  if (raw < len) return false
  if (raw == len) return bytesEqual(start, bytes, len) && !hasEscape(start, end)
  if (!hasEscape(start, end)) return false
  let i: usize = 0
  let p = start
  while (p < end) {
    let c = load<u8>(p)
    if (c != 0x5c) {
      if (i >= len || load<u8>(bytes + i) != c) return false
      i++
      p++
      continue
    }
    let cp = decodeEscape(p)
    p = decodedEnd
    let units = utf8Units(cp)
    let count = utf8Length(cp)
    if (i + count > len) return false
    for (let k: usize = 0; k < count; k++) {
      if (load<u8>(bytes + i + k) != <u8>(units >> (<u32>k * 8))) return false
    }
    i += count
  }
  return i == len
}

function utf8Length(cp: u32): usize {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
}

/** The UTF-8 bytes of `cp` packed little-endian into a u32 (first byte lowest). */
function utf8Units(cp: u32): u32 {
  if (cp < 0x80) return cp
  if (cp < 0x800) return (0xc0 | (cp >> 6)) | ((0x80 | (cp & 0x3f)) << 8)
  if (cp < 0x10000) return (0xe0 | (cp >> 12)) | ((0x80 | ((cp >> 6) & 0x3f)) << 8) | ((0x80 | (cp & 0x3f)) << 16)
  return (0xf0 | (cp >> 18)) | ((0x80 | ((cp >> 12) & 0x3f)) << 8) | ((0x80 | ((cp >> 6) & 0x3f)) << 16) | ((0x80 | (cp & 0x3f)) << 24)
}
