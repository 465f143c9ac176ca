// Byte-level text helpers shared by the JSON reader, the interpreter and the
// response writer: UTF-8 validation, byte comparison, cutting at a character boundary.

/**
 * Length (2–4) of the well-formed UTF-8 sequence of a non-ASCII lead byte at `p`,
 * or 0 when it is invalid: a stray continuation byte, an overlong form, an
 * encoded surrogate, a code point above U+10FFFF or a sequence cut by `end`.
 */
export function utf8Sequence(p: usize, end: usize): usize {
  let c0 = <u32>load<u8>(p)
  if (c0 < 0xc2) return 0
  if (c0 < 0xe0) {
    if (p + 1 >= end) return 0
    return isContinuation(load<u8>(p, 1)) ? 2 : 0
  }
  if (c0 < 0xf0) {
    if (p + 2 >= end) return 0
    let c1 = <u32>load<u8>(p, 1)
    let lo: u32 = c0 == 0xe0 ? 0xa0 : 0x80
    let hi: u32 = c0 == 0xed ? 0x9f : 0xbf
    if (c1 < lo || c1 > hi) return 0
    return isContinuation(load<u8>(p, 2)) ? 3 : 0
  }
  if (c0 < 0xf5) {
    if (p + 3 >= end) return 0
    let c1 = <u32>load<u8>(p, 1)
    let lo: u32 = c0 == 0xf0 ? 0x90 : 0x80
    let hi: u32 = c0 == 0xf4 ? 0x8f : 0xbf
    if (c1 < lo || c1 > hi) return 0
    return isContinuation(load<u8>(p, 2)) && isContinuation(load<u8>(p, 3)) ? 4 : 0
  }
  return 0
}

function isContinuation(c: u8): bool {
  return (c & 0xc0) == 0x80
}

/** Offset of the first invalid UTF-8 byte in `[p, p + len)`, or -1 when it is all valid. */
export function invalidUtf8At(p: usize, len: usize): i64 {
  let end = p + len
  let q = p
  // ASCII, eight bytes at a time: names nearly always are.
  while (q + 8 <= end && (load<u64>(q) & HIGHS) == 0) q += 8
  while (q < end) {
    if (load<u8>(q) < 0x80) {
      q++
      continue
    }
    let n = utf8Sequence(q, end)
    if (n == 0) return <i64>(q - p)
    q += n
  }
  return -1
}

/**
 * Eight bytes at a time: keys, names and table entries are mostly longer than
 * that. One function for every equality test, so memcmp is not inlined at each.
 */
export function bytesEqual(a: usize, b: usize, len: usize): bool {
  let i: usize = 0
  for (; i + 8 <= len; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false
  for (; i < len; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false
  return true
}

/** Lexicographic byte order of two strings: negative, zero or positive. */
export function bytesCompare(a: usize, alen: usize, b: usize, blen: usize): i32 {
  let n = min(alen, blen)
  let c = memory.compare(a, b, n)
  if (c != 0) return c
  return alen < blen ? -1 : alen > blen ? 1 : 0
}

/** The longest prefix of `[p, p + len)` of at most `limit` bytes that ends on a character boundary. */
export function cutAtBoundary(p: usize, len: usize, limit: usize): usize {
  if (len <= limit) return len
  let n = limit
  while (n > 0 && (load<u8>(p + n) & 0xc0) == 0x80) n--
  return n
}

// Eight bytes at a time (SWAR): a mask with the high bit of every byte of `w` that
// is `b` / below `b`. Only the lowest flagged byte is exact (a borrow can flag the
// bytes above it), which is the one the scanners need.
export const ONES: u64 = 0x0101010101010101
export const HIGHS: u64 = 0x8080808080808080

// @ts-ignore: decorator
@inline export function bytesEqualTo(w: u64, b: u64): u64 {
  let x = w ^ (ONES * b)
  return (x - ONES) & ~x & HIGHS
}

// @ts-ignore: decorator
@inline export function bytesBelow(w: u64, b: u64): u64 {
  return (w - ONES * b) & ~w & HIGHS
}

/** Offset of the lowest flagged byte of a nonzero mask. */
// @ts-ignore: decorator
@inline export function firstFlagged(mask: u64): usize {
  return <usize>(ctz(mask) >> 3)
}
