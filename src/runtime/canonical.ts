// Canonical JSON (docs/design.md "Canonical JSON"): the one text of a value
// whatever its spelling — keys sorted, repeated keys dropped but the last,
// strings re-escaped, numbers as their exact decimal value. Two values are
// equal (FieldEquals) when their canonical texts are, and `init` recognises its
// policy by the SHA-256 of this text. Input is always text `validate` accepted.
//
// Each function writes at the text position, which is the scratch top; scratch
// it takes for itself lies above and is given back with the text moved down.

import { keyHasEscape, keyEnd, keyStart, nextMember, valueEnd, valueStart } from './json'
import { rewind, scratch } from './scratch'
import { keepWritten, putByte, putBytes, putDecimal, putEscaped, startText, textEnd } from './response'
import { bytesCompare } from './text'
import { decodeEscape, encodeUtf8, escapeEnd, unescapeInto } from './unescape'

/** Writes the canonical text of the valid JSON value `[p, end)`. */
export function canonical(p: usize, end: usize): void {
  let c = <u32>load<u8>(p)
  if (c == 0x7b) canonicalObject(p, end)
  else if (c == 0x5b) canonicalArray(p, end)
  else if (c == 0x22) canonicalString(p + 1, end - 1)
  else if (c == 0x2d || c - 0x30 < 10) canonicalNumber(p, end)
  else putBytes(p, end - p) // true, false, null
}

function canonicalArray(p: usize, end: usize): void {
  putByte(0x5b)
  let first = true
  for (let q = nextMember(p + 1, end, false); q != 0; q = nextMember(q, end, false)) {
    if (!first) putByte(0x2c)
    first = false
    // nextMember's spans are overwritten by the nested walk: take them first.
    canonical(valueStart, valueEnd)
  }
  putByte(0x5d)
}

/**
 * String contents `[p, end)` (between the quotes): each escape decoded and the
 * character written as every response escapes it; other bytes need no escaping.
 */
function canonicalString(p: usize, end: usize): void {
  putByte(0x22)
  let run = p
  while (p < end) {
    if (load<u8>(p) != 0x5c) {
      p++
      continue
    }
    putBytes(run, p - run)
    let n = encodeUtf8(CHARACTER, decodeEscape(p))
    putEscaped(CHARACTER, n)
    p = escapeEnd()
    run = p
  }
  putBytes(run, end - run)
  putByte(0x22)
}

/** One decoded character's UTF-8 bytes. */
const CHARACTER: usize = memory.data(4)

// A member record: u32 key ptr, u32 key length (unescaped), u32 value start, u32 value end, u32 position.
const RECORD: usize = 20

function canonicalObject(p: usize, end: usize): void {
  let start = textEnd()
  let n: usize = 0
  for (let q = nextMember(p + 1, end, true); q != 0; q = nextMember(q, end, true)) n++
  let records = scratch(<u64>(n == 0 ? 1 : n) * RECORD)
  if (records == 0) return
  let i: usize = 0
  for (let q = nextMember(p + 1, end, true); q != 0; q = nextMember(q, end, true)) {
    let r = records + i * RECORD
    let key = keyStart
    let keyLen = keyEnd - keyStart
    if (keyHasEscape()) {
      let plain = scratch(<u64>keyLen)
      if (plain == 0) return
      keyLen = unescapeInto(plain, keyStart, keyEnd)
      key = plain
    }
    store<u32>(r, key)
    store<u32>(r, keyLen, 4)
    store<u32>(r, valueStart, 8)
    store<u32>(r, valueEnd, 12)
    store<u32>(r, i, 16)
    i++
  }
  heapSort(records, n)
  // The text goes above the records and unescaped keys, then moves down to `start`.
  let text = startText()
  putByte(0x7b)
  let first = true
  for (let j: usize = 0; j < n; j++) {
    let r = records + j * RECORD
    // Of repeated keys the last counts: it sorts last in its run.
    if (j + 1 < n && sameKey(r, r + RECORD)) continue
    if (!first) putByte(0x2c)
    first = false
    putByte(0x22)
    putEscaped(load<u32>(r), load<u32>(r, 4))
    putByte(0x22)
    putByte(0x3a)
    canonical(load<u32>(r, 8), load<u32>(r, 12))
  }
  putByte(0x7d)
  moveText(text, start)
}

/** Moves the text written from `from` on down to `to`, where it then ends. */
function moveText(from: usize, to: usize): void {
  let length = textEnd() - from
  memory.copy(to, from, length)
  rewind(to)
  startText()
  keepWritten(length)
}

// ---- Numbers: D × 10^Q exactly

function isDigit(c: u32): bool {
  return c - 0x30 < 10
}

/** Digits of an exponent up to which it is read into an i64 (10^17 − 1 at most). */
const SMALL_EXPONENT_DIGITS: usize = 17

function canonicalNumber(p: usize, end: usize): void {
  let negative = load<u8>(p) == 0x2d
  if (negative) p++
  let mantissaEnd = p
  let dot: usize = 0
  while (mantissaEnd < end) {
    let c = <u32>load<u8>(mantissaEnd)
    if (c == 0x2e) dot = mantissaEnd
    else if (!isDigit(c)) break
    mantissaEnd++
  }
  let first = p
  while (first < mantissaEnd && (load<u8>(first) == 0x30 || load<u8>(first) == 0x2e)) first++
  if (first == mantissaEnd) {
    putByte(0x30) // zero, whatever its sign and exponent
    return
  }
  let last = mantissaEnd - 1
  while (load<u8>(last) == 0x30 || load<u8>(last) == 0x2e) last--
  // value = digits[first..last] × 10^(exponent − fraction digits + trailing zeros dropped)
  let fractionDigits: i64 = dot != 0 ? <i64>(mantissaEnd - dot - 1) : 0
  let dropped = <i64>(mantissaEnd - 1 - last) - (dot > last ? 1 : 0)
  let adjust = dropped - fractionDigits
  if (negative) putByte(0x2d)
  for (let q = first; q <= last; q++) if (load<u8>(q) != 0x2e) putByte(load<u8>(q))

  let exponentNegative = false
  let digits = end
  if (mantissaEnd < end) {
    digits = mantissaEnd + 1 // past `e` or `E`
    let sign = load<u8>(digits)
    if (sign == 0x2b || sign == 0x2d) {
      exponentNegative = sign == 0x2d
      digits++
    }
    while (digits < end - 1 && load<u8>(digits) == 0x30) digits++
  }
  if (end - digits <= SMALL_EXPONENT_DIGITS) {
    let exponent: i64 = 0
    for (let q = digits; q < end; q++) exponent = exponent * 10 + <i64>(load<u8>(q) - 0x30)
    let q = (exponentNegative ? -exponent : exponent) + adjust
    if (q == 0) return
    putByte(0x65)
    if (q < 0) putByte(0x2d)
    putDecimal(<u64>(q < 0 ? -q : q))
    return
  }
  // |exponent| ≥ 10^17 is far beyond |adjust| (< 2^32): Q has the exponent's sign
  // and |Q| = |exponent| ± adjust, worked out on the digits themselves.
  putByte(0x65)
  if (exponentNegative) putByte(0x2d)
  putShiftedDigits(digits, end, exponentNegative ? -adjust : adjust)
}

/** Writes the decimal digits of (the number `[digits, end)`) + `add`, where the number is far larger than |add|. */
function putShiftedDigits(digits: usize, end: usize, add: i64): void {
  let at = textEnd()
  putByte(0x30) // room for a carry out of the top digit
  putBytes(digits, end - digits)
  let carry = add
  for (let q = textEnd() - 1; carry != 0 && q >= at; q--) {
    let t = <i64>(load<u8>(q) - 0x30) + carry
    let digit = t % 10
    if (digit < 0) digit += 10
    store<u8>(q, <u8>(0x30 + digit))
    carry = (t - digit) / 10
  }
  // Drop the leading zeros (the carry room, or digits a borrow emptied).
  let lead = at
  while (load<u8>(lead) == 0x30) lead++
  moveText(lead, at)
}

// ---- Sorting member records by unescaped key bytes, then by position

function sameKey(r: usize, s: usize): bool {
  return bytesCompare(load<u32>(r), load<u32>(r, 4), load<u32>(s), load<u32>(s, 4)) == 0
}

function before(r: usize, s: usize): bool {
  let c = bytesCompare(load<u32>(r), load<u32>(r, 4), load<u32>(s), load<u32>(s, 4))
  return c < 0 || (c == 0 && load<u32>(r, 16) < load<u32>(s, 16))
}

function swap(r: usize, s: usize): void {
  for (let k: usize = 0; k < RECORD; k += 4) {
    let t = load<u32>(r + k)
    store<u32>(r + k, load<u32>(s + k))
    store<u32>(s + k, t)
  }
}

/** In-place heap sort: n log n whatever the input, no recursion. */
function heapSort(records: usize, n: usize): void {
  if (n < 2) return
  for (let start = n / 2; start > 0; start--) siftDown(records, start - 1, n)
  for (let end = n - 1; end > 0; end--) {
    swap(records, records + end * RECORD)
    siftDown(records, 0, end)
  }
}

function siftDown(records: usize, root: usize, n: usize): void {
  while (true) {
    let child: usize = 2 * root + 1
    if (child >= n) return
    let c = records + child * RECORD
    if (child + 1 < n && before(c, c + RECORD)) {
      child++
      c += RECORD
    }
    let r = records + root * RECORD
    if (!before(r, c)) return
    swap(r, c)
    root = child
  }
}
