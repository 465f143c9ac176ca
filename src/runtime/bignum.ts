// Fixed-capacity natural numbers for the exact slow path of number.ts.
// A bignum at `x` is a u32 limb count followed by little-endian u32 limbs.
// A result that would not fit raises the Limit fault: the call then answers an
// error, never a number with bits silently dropped.

import { Fault, raise } from './fault'
import { Limit } from './layout'

/** number.ts never needs more than about 3800 bits of the 5120 that 160 limbs hold. */
const MAX_LIMBS: u32 = Limit.BignumLimbs
export const BIGNUM_BYTES: usize = 4 + 4 * MAX_LIMBS

function limbs(x: usize): u32 {
  return load<u32>(x)
}

function limb(x: usize, i: u32): u32 {
  return load<u32>(x + 4 + (<usize>i << 2))
}

function setLimb(x: usize, i: u32, v: u32): void {
  store<u32>(x + 4 + (<usize>i << 2), v)
}

/** Drops leading zero limbs so the count is exact. */
function normalize(x: usize): void {
  let n = limbs(x)
  while (n > 0 && limb(x, n - 1) == 0) n--
  store<u32>(x, n)
}

export function setSmall(x: usize, v: u32): void {
  store<u32>(x, 1)
  setLimb(x, 0, v)
  normalize(x)
}

export function isZero(x: usize): bool {
  return limbs(x) == 0
}

/** x = x * m + add */
export function mulAdd(x: usize, m: u32, add: u32): void {
  let n = limbs(x)
  let carry: u64 = add
  for (let i: u32 = 0; i < n; i++) {
    let v = <u64>limb(x, i) * m + carry
    setLimb(x, i, <u32>v)
    carry = v >> 32
  }
  if (carry == 0) return
  if (n == MAX_LIMBS) {
    raise(Fault.Limit)
    return
  }
  setLimb(x, n, <u32>carry)
  store<u32>(x, n + 1)
}

export function mulPow10(x: usize, k: u32): void {
  while (k >= 9) {
    mulAdd(x, 1000000000, 0)
    k -= 9
  }
  let m: u32 = 1
  while (k > 0) {
    m *= 10
    k--
  }
  if (m != 1) mulAdd(x, m, 0)
}

export function bitLength(x: usize): u32 {
  let n = limbs(x)
  if (n == 0) return 0
  return (n - 1) * 32 + (32 - <u32>clz(limb(x, n - 1)))
}

export function shiftLeft(x: usize, bits: u32): void {
  let n = limbs(x)
  if (n == 0) return
  if (<u64>bitLength(x) + <u64>bits > <u64>MAX_LIMBS * 32) {
    raise(Fault.Limit)
    return
  }
  let whole = bits >> 5
  let part = bits & 31
  let top = min(n + whole + 1, MAX_LIMBS)
  for (let i = <i32>top - 1; i >= 0; i--) {
    let src = i - <i32>whole
    let hi: u32 = src >= 0 && src < <i32>n ? limb(x, <u32>src) : 0
    let lo: u32 = src - 1 >= 0 && src - 1 < <i32>n ? limb(x, <u32>(src - 1)) : 0
    setLimb(x, <u32>i, part == 0 ? hi : (hi << part) | (lo >> (32 - part)))
  }
  store<u32>(x, top)
  normalize(x)
}

export function shiftRightOne(x: usize): void {
  let n = limbs(x)
  for (let i: u32 = 0; i < n; i++) {
    let next: u32 = i + 1 < n ? limb(x, i + 1) : 0
    setLimb(x, i, (limb(x, i) >> 1) | (next << 31))
  }
  normalize(x)
}

export function compare(a: usize, b: usize): i32 {
  let n = limbs(a)
  let m = limbs(b)
  if (n != m) return n < m ? -1 : 1
  for (let i = <i32>n - 1; i >= 0; i--) {
    let x = limb(a, <u32>i)
    let y = limb(b, <u32>i)
    if (x != y) return x < y ? -1 : 1
  }
  return 0
}

/** a = a - b, for a >= b. */
export function subtract(a: usize, b: usize): void {
  let n = limbs(a)
  let m = limbs(b)
  let borrow: i64 = 0
  for (let i: u32 = 0; i < n; i++) {
    let v = <i64>limb(a, i) - <i64>(i < m ? limb(b, i) : 0) - borrow
    borrow = v < 0 ? 1 : 0
    setLimb(a, i, <u32>(v + (borrow << 32)))
  }
  normalize(a)
}
