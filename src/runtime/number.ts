// Decimal text → the nearest double (ties to even), exactly what JavaScript's
// Number() gives: Clinger's fast path, else an exact big-integer division.

import { BIGNUM_BYTES, bitLength, compare, isZero, mulAdd, mulPow10, setSmall, shiftLeft, shiftRightOne, subtract } from './bignum'
import { rewind, scratch, scratchMark } from './scratch'

/**
 * Halfway points between doubles have at most 767 significant digits, so
 * keeping 800 and standing a final `1` in for any nonzero rest decides every
 * rounding exactly.
 */
const MAX_DIGITS: i32 = 800

/**
 * Saturation of an exponent being read: past it the number is 0 or out of
 * range whatever else it holds, since inputs are shorter than 2^32 bytes.
 */
export const EXPONENT_CAP: i64 = 1000000000000000

function isDigit(c: u32): bool {
  return c - 0x30 < 10
}

/** 10^k for 0 <= k <= 22, each product exact. */
function pow10(k: i32): f64 {
  let r: f64 = 1
  for (let i = 0; i < k; i++) r *= 10
  return r
}

/** Digits of the significand, first to last significant, and the power of ten they scale by. */
let firstDigit: usize = 0
let lastDigit: usize = 0
let digitCount: i32 = 0
let scale: i64 = 0

/** Parses a number the validator accepted in `[start, end)`. */
export function parseNumber(start: usize, end: usize): f64 {
  let negative = load<u8>(start) == 0x2d
  let value = negative ? -parseMagnitude(negative ? start + 1 : start, end) : parseMagnitude(start, end)
  return value
}

function parseMagnitude(start: usize, end: usize): f64 {
  if (!locateDigits(start, end)) return 0
  if (digitCount <= 19) {
    let fast = clinger()
    if (fast >= 0) return fast
  }
  let magnitude = <i64>digitCount + scale
  if (magnitude > 310) return Infinity
  if (magnitude <= -324) return 0
  return exact()
}

/** Finds the significant digits and the scale; false when the number is zero. */
function locateDigits(start: usize, end: usize): bool {
  let p = start
  while (p < end && isDigit(load<u8>(p))) p++
  let intEnd = p
  let fracStart = p
  let fracEnd = p
  if (p < end && load<u8>(p) == 0x2e) {
    fracStart = ++p
    while (p < end && isDigit(load<u8>(p))) p++
    fracEnd = p
  }
  let exponent: i64 = 0
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++
    let negative = load<u8>(p) == 0x2d
    if (load<u8>(p) == 0x2d || load<u8>(p) == 0x2b) p++
    while (p < end && isDigit(load<u8>(p))) {
      if (exponent < EXPONENT_CAP) exponent = exponent * 10 + <i64>(load<u8>(p) - 0x30)
      p++
    }
    if (negative) exponent = -exponent
  }
  let digitsEnd = fracEnd > fracStart ? fracEnd : intEnd
  let first = start
  while (first < digitsEnd && (load<u8>(first) == 0x30 || load<u8>(first) == 0x2e)) first++
  if (first == digitsEnd) return false
  let last = digitsEnd - 1
  while (load<u8>(last) == 0x30 || load<u8>(last) == 0x2e) last--
  // Digits after `last` are zeros folded into the scale; so is the fraction's length.
  let after = <i64>(digitsEnd - 1 - last)
  if (last < intEnd && fracEnd > fracStart) after -= 1 // the '.' is not a digit
  let count = <i64>(last - first + 1)
  if (first < fracStart && last >= fracStart) count -= 1
  firstDigit = first
  lastDigit = last
  digitCount = <i32>min<i64>(count, 1 << 30)
  scale = exponent - <i64>(fracEnd - fracStart) + after
  return true
}

/** The significand's digits as an integer (at most 19 digits). */
function smallSignificand(): u64 {
  let w: u64 = 0
  for (let p = firstDigit; p <= lastDigit; p++) {
    let c = <u32>load<u8>(p)
    if (c != 0x2e) w = w * 10 + <u64>(c - 0x30)
  }
  return w
}

/** Exact when the significand and the power of ten are both exact doubles; -1 otherwise. */
function clinger(): f64 {
  let w = smallSignificand()
  const LIMIT: u64 = <u64>1 << 53
  if (w > LIMIT || scale < -22 || scale > 22 + 15) return -1
  if (scale < 0) return <f64>w / pow10(<i32>-scale)
  if (scale <= 22) return <f64>w * pow10(<i32>scale)
  // 1234e30 = 1234000000000e22 when the shifted significand is still exact.
  let extra = <i32>scale - 22
  for (let i = 0; i < extra; i++) {
    if (w > LIMIT / 10) return -1
    w *= 10
  }
  return <f64>w * pow10(22)
}

/** Correct rounding by long division: q = floor(N·2^s / D) with q of 55–56 bits. */
function exact(): f64 {
  let top = scratchMark()
  let n = scratch(2 * BIGNUM_BYTES)
  if (n == 0) return NaN
  let d = n + BIGNUM_BYTES
  let exp10 = scale
  // Build N from at most MAX_DIGITS digits, nine at a time.
  setSmall(n, 0)
  let taken: i32 = 0
  let chunk: u32 = 0
  let chunkDigits: u32 = 0
  for (let p = firstDigit; p <= lastDigit && taken < MAX_DIGITS; p++) {
    let c = <u32>load<u8>(p)
    if (c == 0x2e) continue
    chunk = chunk * 10 + (c - 0x30)
    chunkDigits++
    taken++
    if (chunkDigits == 9) {
      mulAdd(n, 1000000000, chunk)
      chunk = 0
      chunkDigits = 0
    }
  }
  if (chunkDigits > 0) mulPow10Add(n, chunkDigits, chunk)
  if (taken < digitCount) {
    // The last digit is nonzero, so dropped digits are never all zero.
    mulPow10Add(n, 1, 1)
    exp10 += <i64>(digitCount - taken - 1)
  }
  setSmall(d, 1)
  if (exp10 >= 0) mulPow10(n, <u32>exp10)
  else mulPow10(d, <u32>-exp10)

  let s = <i32>55 - (<i32>bitLength(n) - <i32>bitLength(d))
  if (s > 0) shiftLeft(n, <u32>s)
  else shiftLeft(d, <u32>-s)
  shiftLeft(d, 56)
  let q: u64 = 0
  for (let i = 55; i >= 0; i--) {
    shiftRightOne(d)
    if (compare(n, d) >= 0) {
      subtract(n, d)
      q |= <u64>1 << <u64>i
    }
  }
  let sticky = !isZero(n)
  rewind(top)
  return round(q, s, sticky)
}

function mulPow10Add(x: usize, digits: u32, add: u32): void {
  let m: u32 = 1
  for (let i: u32 = 0; i < digits; i++) m *= 10
  mulAdd(x, m, add)
}

/** The double nearest (q + sticky fraction) · 2^-s, ties to even. */
function round(q: u64, s: i32, sticky: bool): f64 {
  let bits = <i32>(64 - clz(q))
  // Keep 53 bits, or fewer where the result is subnormal (least bit 2^-1074).
  let shift = max(bits - 53, s - 1074)
  if (shift >= 63) return 0
  let m = q >> <u64>shift
  let rest = q & ((<u64>1 << <u64>shift) - 1)
  let half = <u64>1 << <u64>(shift - 1)
  if (rest > half || (rest == half && (sticky || (m & 1) != 0))) m++
  let lsb = shift - s
  if (m >= <u64>1 << 53) {
    m >>= 1
    lsb++
  }
  if (m < <u64>1 << 52) return reinterpret<f64>(m)
  let biased = lsb + 1075
  if (biased >= 2047) return Infinity
  return reinterpret<f64>((<u64>biased << 52) | (m & ((<u64>1 << 52) - 1)))
}
