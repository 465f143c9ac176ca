// JSON value equality for FieldEquals: same type; strings by unescaped bytes;
// numbers by double value; arrays element by element; objects by key set and
// values, key order ignored, the last of repeated keys counting.
// Objects are compared as member lists sorted by key, so n keys cost n log n.

import { keyHasEscape, nextMember, keyEnd, keyStart, valueEnd, valueStart } from './json'
import { mark, release, scratch } from './memory'
import { parseNumber } from './number'
import { bytesCompare, bytesEqual } from './text'
import { hasEscape, unescapeInto, unescapedEquals } from './unescape'

const enum Kind {
  Object,
  Array,
  String,
  Number,
  Literal,
}

function kindOf(c: u32): Kind {
  if (c == 0x7b) return Kind.Object
  if (c == 0x5b) return Kind.Array
  if (c == 0x22) return Kind.String
  if (c == 0x2d || c - 0x30 < 10) return Kind.Number
  return Kind.Literal
}

/** Equality of two valid JSON values given by their spans. */
export function jsonEquals(a: usize, aEnd: usize, b: usize, bEnd: usize): bool {
  let len = aEnd - a
  if (len == bEnd - b && bytesEqual(a, b, len)) return true
  let kind = kindOf(load<u8>(a))
  if (kind != kindOf(load<u8>(b))) return false
  switch (kind) {
    case Kind.Number:
      return parseNumber(a, aEnd) == parseNumber(b, bEnd)
    case Kind.String:
      return stringsEqual(a + 1, aEnd - 1, b + 1, bEnd - 1)
    case Kind.Array:
      return arraysEqual(a, aEnd, b, bEnd)
    case Kind.Object:
      return objectsEqual(a, aEnd, b, bEnd)
    default:
      // true, false and null: equal texts were caught above.
      return false
  }
}

/** Equality of two string contents (between the quotes), after unescaping. */
export function stringsEqual(a: usize, aEnd: usize, b: usize, bEnd: usize): bool {
  if (!hasEscape(b, bEnd)) return unescapedEquals(a, aEnd, b, bEnd - b)
  if (!hasEscape(a, aEnd)) return unescapedEquals(b, bEnd, a, aEnd - a)
  let top = mark()
  let plain = scratch(<u64>(aEnd - a))
  let equal = plain != 0 && unescapedEquals(b, bEnd, plain, unescapeInto(plain, a, aEnd))
  release(top)
  return equal
}

function arraysEqual(a: usize, aEnd: usize, b: usize, bEnd: usize): bool {
  let pa = a + 1
  let pb = b + 1
  while (true) {
    pa = nextMember(pa, aEnd, false)
    let itemA = valueStart
    let itemAEnd = valueEnd
    pb = nextMember(pb, bEnd, false)
    if (pa == 0 || pb == 0) return pa == pb
    if (!jsonEquals(itemA, itemAEnd, valueStart, valueEnd)) return false
  }
  return false
}

// A member record: u32 key_ptr, u32 key_len, u32 value_start, u32 value_end, u32 position.
const RECORD: usize = 20

function objectsEqual(a: usize, aEnd: usize, b: usize, bEnd: usize): bool {
  let top = mark()
  let membersA = members(a, aEnd)
  let countA = memberCount
  let membersB = members(b, bEnd)
  let countB = memberCount
  let equal = membersA != 0 && membersB != 0 && countA == countB
  for (let i: usize = 0; equal && i < countA; i++) {
    let ra = membersA + i * RECORD
    let rb = membersB + i * RECORD
    equal =
      bytesCompare(load<u32>(ra), load<u32>(ra, 4), load<u32>(rb), load<u32>(rb, 4)) == 0 &&
      jsonEquals(load<u32>(ra, 8), load<u32>(ra, 12), load<u32>(rb, 8), load<u32>(rb, 12))
  }
  release(top)
  return equal
}

let memberCount: usize = 0

/**
 * The object's members in scratch, sorted by unescaped key, one record per
 * distinct key (its last occurrence); count in `memberCount`. 0 when scratch ran out.
 */
function members(object: usize, end: usize): usize {
  let n: usize = 0
  for (let p = nextMember(object + 1, end, true); p != 0; p = nextMember(p, end, true)) n++
  let records = scratch(<u64>(n == 0 ? 1 : n) * RECORD)
  if (records == 0) return 0
  let i: usize = 0
  for (let p = nextMember(object + 1, end, true); p != 0; p = nextMember(p, end, true)) {
    let r = records + i * RECORD
    let key = keyStart
    let keyLen = keyEnd - keyStart
    if (keyHasEscape()) {
      let plain = scratch(<u64>keyLen)
      if (plain == 0) return 0
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
  // Keep the last record of each run of equal keys.
  let kept: usize = 0
  for (let j: usize = 0; j < n; j++) {
    let r = records + j * RECORD
    if (j + 1 < n && sameKey(r, r + RECORD)) continue
    if (kept != j) memory.copy(records + kept * RECORD, r, RECORD)
    kept++
  }
  memberCount = kept
  return records
}

function sameKey(r: usize, s: usize): bool {
  return bytesCompare(load<u32>(r), load<u32>(r, 4), load<u32>(s), load<u32>(s, 4)) == 0
}

/** Order by key bytes, then by position in the object. */
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
