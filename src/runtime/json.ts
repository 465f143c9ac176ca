// Strict JSON (RFC 8259) over bytes: a validator that keeps its container stack in
// two u64 bit sets (nesting is capped below 128 levels, so no recursion and no
// stack growth), and skip helpers that walk text the validator has already accepted.

import { HIGHS, bytesBelow, bytesEqual, bytesEqualTo, firstFlagged, utf8Sequence } from './text'
import { EXPONENT_CAP, parseNumber } from './number'
import { unescapedEquals } from './unescape'


export const enum JsonError {
  None = 0,
  Empty,
  UnexpectedEnd,
  ExpectedValue,
  ExpectedKey,
  ExpectedColon,
  ExpectedCommaOrBrace,
  ExpectedCommaOrBracket,
  Trailing,
  InvalidEscape,
  LoneSurrogate,
  InvalidUtf8,
  ControlCharacter,
  InvalidNumber,
  NumberOutOfRange,
  TooDeep,
}

/** The first error of the last `validate`, and its byte offset in the text. */
export let errorCode: JsonError = JsonError.None
export let errorAt: usize = 0
/** Span of the root value of the last successful `validate`. */
export let rootStart: usize = 0
export let rootEnd: usize = 0

let textStart: usize = 0
/** Bit i set: the container at depth i is an object. */
let objectsLow: u64 = 0
let objectsHigh: u64 = 0

function fail(code: JsonError, at: usize): usize {
  errorCode = code
  errorAt = at - textStart
  return 0
}

// @ts-ignore: decorator
@inline export function isSpace(c: u32): bool {
  // Bits 0x20, 0x0d, 0x0a and 0x09.
  return c <= 0x20 && ((<u64>0x100002600 >> <u64>c) & 1) != 0
}

/** Past white space; most tokens have none before them, so that case costs one load. */
// @ts-ignore: decorator
@inline export function skipSpace(p: usize, end: usize): usize {
  return p < end && load<u8>(p) > 0x20 ? p : skipSpaceRun(p, end)
}

function skipSpaceRun(p: usize, end: usize): usize {
  while (p < end && isSpace(load<u8>(p))) p++
  return p
}

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool {
  return c - 0x30 < 10
}

// @ts-ignore: decorator
@inline function setObject(depth: i32, object: bool): void {
  let bit: u64 = <u64>1 << (<u64>depth & 63)
  if (depth < 64) objectsLow = object ? objectsLow | bit : objectsLow & ~bit
  else objectsHigh = object ? objectsHigh | bit : objectsHigh & ~bit
}

// @ts-ignore: decorator
@inline function isObject(depth: i32): bool {
  let bit: u64 = <u64>1 << (<u64>depth & 63)
  return ((depth < 64 ? objectsLow : objectsHigh) & bit) != 0
}

/**
 * Checks that `[start, start + len)` is exactly one JSON text nested fewer than
 * `levels` deep (spec §5: 128 for a whole input; less for a value that sits
 * inside one). On success sets `rootStart`/`rootEnd`; on failure sets
 * `errorCode`/`errorAt` (first error wins). When `index` is not 0, the members
 * of a root object, and with `indexLevels` 2 those of the objects that are its
 * members' values, are recorded there in the same pass (see `MemberIndex`).
 */
export function validate(start: usize, len: usize, levels: i32, index: usize = 0, indexLevels: i32 = 1): bool {
  let end = start + len
  textStart = start
  errorCode = JsonError.None
  let p = skipSpace(start, end)
  if (p == end) return fail(JsonError.Empty, p) != 0
  rootStart = p
  if (index != 0) startIndex(index, p)
  // The depths whose members are recorded: none without an index.
  let indexed = index == 0 ? 0 : indexLevels
  let depth: i32 = 0
  // Whether the innermost open container is an object (the bit sets keep the outer ones).
  let inObject = false
  while (true) {
    // p is at the start of a value.
    if (p >= end) return fail(JsonError.UnexpectedEnd, p) != 0
    let c = <u32>load<u8>(p)
    if (c == 0x7b || c == 0x5b) {
      if (depth + 1 >= levels) return fail(JsonError.TooDeep, p) != 0
      let object = c == 0x7b
      setObject(depth, object)
      inObject = object
      depth++
      p = skipSpace(p + 1, end)
      if (p >= end) return fail(JsonError.UnexpectedEnd, p) != 0
      let d = <u32>load<u8>(p)
      if (object && d != 0x7d) {
        p = depth <= indexed ? indexKey(p, end, depth) : scanKeyAndColon(p, end)
        if (p == 0) return false
        continue
      }
      if (!object && d != 0x5d) continue
      p++
      depth--
      inObject = depth > 0 && isObject(depth - 1)
    } else if (c == 0x22) {
      p = scanStringAt(p, end)
    } else if (c == 0x2d || isDigit(c)) {
      if (c != 0x2d && c != 0x30) {
        // Most numbers are short integers: their digits are read here, and an integer
        // of fewer than 309 digits (below 10^308) always fits a double.
        let q = digitsEnd(p + 1, end)
        let plain = (q >= end || (load<u8>(q) != 0x2e && (load<u8>(q) | 0x20) != 0x65)) && q - p < 309
        p = plain ? q : scanNumberTail(p, p, q, end)
      } else p = scanNumber(p, end)
    } else {
      p = scanLiteral(p, end)
    }
    if (p == 0) return false
    // After a value: close containers until a separator starts the next value.
    let next = false
    while (!next) {
      if (depth == 0) {
        rootEnd = p
        p = skipSpace(p, end)
        return p == end || fail(JsonError.Trailing, p) != 0
      }
      if (depth <= indexed) indexValueEnd(p, depth)
      p = skipSpace(p, end)
      if (p >= end) return fail(JsonError.UnexpectedEnd, p) != 0
      let d = <u32>load<u8>(p)
      if (d == 0x2c) {
        p = skipSpace(p + 1, end)
        if (inObject) {
          p = depth <= indexed ? indexKey(p, end, depth) : scanKeyAndColon(p, end)
          if (p == 0) return false
        }
        next = true
      } else if (d == (inObject ? 0x7d : 0x5d)) {
        p++
        depth--
        inObject = depth > 0 && isObject(depth - 1)
      } else {
        return fail(inObject ? JsonError.ExpectedCommaOrBrace : JsonError.ExpectedCommaOrBracket, p) != 0
      }
    }
  }
  return false
}

/** Where the key `scanKeyAndColon` last scanned ends (past its closing quote). */
let scannedKeyEnd: usize = 0

/** At a member's key: scans `"key"`, white space, `:`, white space; returns the value's start. */
function scanKeyAndColon(p: usize, end: usize): usize {
  if (p >= end) return fail(JsonError.UnexpectedEnd, p)
  if (load<u8>(p) != 0x22) return fail(JsonError.ExpectedKey, p)
  p = scanStringAt(p, end)
  if (p == 0) return 0
  scannedKeyEnd = p
  p = skipSpace(p, end)
  if (p >= end) return fail(JsonError.UnexpectedEnd, p)
  if (load<u8>(p) != 0x3a) return fail(JsonError.ExpectedColon, p)
  return skipSpace(p + 1, end)
}

function scanLiteral(p: usize, end: usize): usize {
  let c = <u32>load<u8>(p)
  let word: u32 = 0
  let n: usize = 4
  if (c == 0x74) word = 0x65757274 // "true"
  else if (c == 0x6e) word = 0x6c6c756e // "null"
  else if (c == 0x66) {
    // "false": "fals" then "e"
    if (p + 5 <= end && load<u32>(p) == 0x736c6166 && load<u8>(p, 4) == 0x65) return p + 5
    return fail(JsonError.ExpectedValue, p)
  } else return fail(JsonError.ExpectedValue, p)
  if (p + n <= end && load<u32>(p) == word) return p + n
  return fail(JsonError.ExpectedValue, p)
}

/** Value of 4 hex digits at p, or -1. */
function hex4(p: usize, end: usize): i32 {
  if (p + 4 > end) return -1
  let v: i32 = 0
  for (let i: usize = 0; i < 4; i++) {
    let c = <i32>load<u8>(p + i)
    let d: i32
    if (c >= 0x30 && c <= 0x39) d = c - 0x30
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37
    else return -1
    v = (v << 4) | d
  }
  return v
}

/** Flags the bytes of `w` that end a plain run inside a string: `"`, `\`, control characters and non-ASCII bytes. */
// @ts-ignore: decorator
@inline function stringStops(w: u64): u64 {
  return bytesEqualTo(w, 0x22) | bytesEqualTo(w, 0x5c) | bytesBelow(w, 0x20) | (w & HIGHS)
}

/** The end of the digits that start at `p`. */
// @ts-ignore: decorator
@inline function digitsEnd(p: usize, end: usize): usize {
  while (p < end && isDigit(load<u8>(p))) p++
  return p
}

/**
 * `scanString` for the common case inline: a string whose closing quote comes
 * within the next eight bytes, none of them needing a check, ends there.
 */
// @ts-ignore: decorator
@inline function scanStringAt(p: usize, end: usize): usize {
  if (p + 9 <= end) {
    let w = load<u64>(p, 1)
    let stop = stringStops(w)
    if (stop != 0) {
      let q = p + 1 + firstFlagged(stop)
      if (load<u8>(q) == 0x22) {
        stringEscaped = false
        return q + 1
      }
    }
  }
  return scanString(p, end)
}

/** At an opening quote: checks the string and returns the position after its closing quote. */
function scanString(p: usize, end: usize): usize {
  p++
  stringEscaped = false
  while (true) {
    // Skip plain printable ASCII eight bytes at a time.
    while (p + 8 <= end) {
      let w = load<u64>(p)
      let stop = stringStops(w)
      if (stop != 0) {
        p += firstFlagged(stop)
        break
      }
      p += 8
    }
    if (p >= end) return fail(JsonError.UnexpectedEnd, p)
    let c = <u32>load<u8>(p)
    if (c == 0x22) return p + 1
    if (c == 0x5c) {
      stringEscaped = true
      if (p + 1 >= end) return fail(JsonError.UnexpectedEnd, p + 1)
      let e = <u32>load<u8>(p, 1)
      if (e == 0x75) {
        let u = hex4(p + 2, end)
        if (u < 0) return fail(JsonError.InvalidEscape, p)
        if (u >= 0xdc00 && u <= 0xdfff) return fail(JsonError.LoneSurrogate, p)
        if (u >= 0xd800 && u <= 0xdbff) {
          let q = p + 6
          if (q + 1 >= end || load<u8>(q) != 0x5c || load<u8>(q, 1) != 0x75) return fail(JsonError.LoneSurrogate, p)
          let low = hex4(q + 2, end)
          if (low < 0) return fail(JsonError.InvalidEscape, q)
          if (low < 0xdc00 || low > 0xdfff) return fail(JsonError.LoneSurrogate, p)
          p += 12
        } else p += 6
      } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        p += 2
      } else return fail(JsonError.InvalidEscape, p)
    } else if (c < 0x20) {
      return fail(JsonError.ControlCharacter, p)
    } else if (c < 0x80) {
      p++
    } else {
      let n = utf8Sequence(p, end)
      if (n == 0) return fail(JsonError.InvalidUtf8, p)
      p += n
    }
  }
  return 0
}

/** At `-` or a digit: checks the number grammar and that the value fits a double. */
function scanNumber(start: usize, end: usize): usize {
  let p = start
  if (load<u8>(p) == 0x2d) p++
  if (p >= end || !isDigit(load<u8>(p))) return fail(JsonError.InvalidNumber, p)
  let intStart = p
  if (load<u8>(p) == 0x30) p++
  else p = digitsEnd(p, end)
  return scanNumberTail(start, intStart, p, end)
}

/**
 * The rest of the number at `start` whose integer digits are `[intStart, p)`:
 * its fraction and exponent, and that its value fits a double.
 */
function scanNumberTail(start: usize, intStart: usize, p: usize, end: usize): usize {
  let intDigits = p - intStart
  // Decimal position of the first significant digit, for the cheap overflow check.
  let leadingFractionZeros: i64 = 0
  let zero = load<u8>(intStart) == 0x30
  if (p < end && load<u8>(p) == 0x2e) {
    p++
    if (p >= end || !isDigit(load<u8>(p))) return fail(JsonError.InvalidNumber, p)
    while (p < end && isDigit(load<u8>(p))) {
      if (zero) {
        if (load<u8>(p) == 0x30) leadingFractionZeros++
        else zero = false
      }
      p++
    }
  }
  let exponent: i64 = 0
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++
    let negative = false
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) {
      negative = load<u8>(p) == 0x2d
      p++
    }
    if (p >= end || !isDigit(load<u8>(p))) return fail(JsonError.InvalidNumber, p)
    while (p < end && isDigit(load<u8>(p))) {
      if (exponent < EXPONENT_CAP) exponent = exponent * 10 + <i64>(load<u8>(p) - 0x30)
      p++
    }
    if (negative) exponent = -exponent
  }
  if (zero) return p
  // The value lies in [10^(m-1), 10^m).
  let magnitude: i64 = load<u8>(intStart) == 0x30 ? exponent - leadingFractionZeros : <i64>intDigits + exponent
  // The largest double is about 1.8e308: below 10^308 always fits, from 10^309 never;
  // only [10^308, 10^309) needs the full conversion.
  if (magnitude > 309) return fail(JsonError.NumberOutOfRange, start)
  if (magnitude == 309 && !isFinite(parseNumber(start, p))) return fail(JsonError.NumberOutOfRange, start)
  return p
}

// ---- Walking text that `validate` accepted: no checks needed, every token is closed.

/** Set by `skipString`: the string it skipped has an escape. */
export let stringEscaped: bool = false

/** At an opening quote: the position after the closing quote (`end` bounds the wide loads). */
export function skipString(p: usize, end: usize): usize {
  p++
  stringEscaped = false
  while (true) {
    while (p + 8 <= end) {
      let w = load<u64>(p)
      let stop = bytesEqualTo(w, 0x22) | bytesEqualTo(w, 0x5c)
      if (stop != 0) {
        p += firstFlagged(stop)
        break
      }
      p += 8
    }
    let c = load<u8>(p)
    if (c == 0x22) return p + 1
    if (c == 0x5c) {
      stringEscaped = true
      p += 2
    } else p++
  }
  return p
}

/** The end of the valid value starting at `p`; `end` bounds a scalar at the end of the text. */
export function skipValue(p: usize, end: usize): usize {
  let c = <u32>load<u8>(p)
  if (c == 0x22) return skipString(p, end)
  if (c == 0x7b || c == 0x5b) {
    let depth: i32 = 0
    while (true) {
      c = load<u8>(p)
      if (c == 0x22) {
        p = skipString(p, end)
        continue
      }
      if (c == 0x7b || c == 0x5b) depth++
      else if (c == 0x7d || c == 0x5d) {
        depth--
        if (depth == 0) return p + 1
      }
      p++
    }
  }
  while (p < end) {
    c = load<u8>(p)
    if (c == 0x2c || c == 0x7d || c == 0x5d || isSpace(c)) break
    p++
  }
  return p
}

/** Span of the current member's key (inside the quotes) and value, set by `nextMember`. */
export let keyStart: usize = 0
export let keyEnd: usize = 0
let keyEscaped: bool = false
export let valueStart: usize = 0
export let valueEnd: usize = 0

/**
 * Iterates an object or array: start with `p` just after `{` or `[`; each call
 * reads one member (for objects key and value, for arrays the value) and returns
 * where the next starts, or 0 after the closing bracket.
 */
export function nextMember(p: usize, end: usize, object: bool): usize {
  p = skipSpace(p, end)
  let c = load<u8>(p)
  if (c == 0x7d || c == 0x5d) return 0
  if (object) {
    keyStart = p + 1
    p = skipString(p, end)
    keyEnd = p - 1
    keyEscaped = stringEscaped
    p = skipSpace(p, end) + 1
    p = skipSpace(p, end)
  }
  valueStart = p
  p = skipValue(p, end)
  valueEnd = p
  p = skipSpace(p, end)
  if (load<u8>(p) == 0x2c) p++
  return p
}

/** True when the current member's key, unescaped, is the `len` bytes at `bytes`. */
export function keyEquals(bytes: usize, len: usize): bool {
  if (keyEscaped) return unescapedEquals(keyStart, keyEnd, bytes, len)
  return keyEnd - keyStart == len && bytesEqual(keyStart, bytes, len)
}

/** True when the current member's key has an escape (so its bytes are not its text). */
export function keyHasEscape(): bool {
  return keyEscaped
}

// ---- The member index: an object's members, recorded by `validate` in its one pass

/**
 * An index (`validate`'s `index`): a header, then up to `Capacity` records in
 * text order, one per member of the root object and, when `validate` is asked
 * for two levels, one per member of each object that is a root member's value
 * (the context's attribute objects). Past the capacity the count is
 * `Unindexed`, and every object of that text is walked instead.
 */
export const enum MemberIndex {
  Count = 0,
  /** Where the root value starts: the object whose members have no parent. */
  Root = 4,
  Records = 8,
  Capacity = 32,
  Unindexed = 0xffffffff,
  Bytes = Records + Capacity * MemberRecord.Size,
}

const enum MemberRecord {
  KeyStart = 0,
  KeyEnd = 4,
  ValueStart = 8,
  ValueEnd = 12,
  KeyEscaped = 16,
  /** Whether a string value has an escape (as `stringEscaped` after `nextMember`). */
  ValueEscaped = 20,
  /** The ordinal of the root member whose value holds this member, or `NoParent` for a root member. */
  Parent = 24,
  Size = 28,
}

const NO_PARENT: u32 = 0xffffffff

/** The index `validate` is filling, and the records of the members open at depth 1 and 2 (0: none). */
let filling: usize = 0
let open1: usize = 0
let open2: usize = 0

function startIndex(index: usize, root: usize): void {
  filling = index
  open1 = 0
  open2 = 0
  store<u32>(index, 0, MemberIndex.Count)
  store<u32>(index, root, MemberIndex.Root)
}

/**
 * `scanKeyAndColon` for a member at `depth` 1 (of the root object) or 2 (of an
 * object that is a root member's value), which it records while there is room.
 */
function indexKey(p: usize, end: usize, depth: i32): usize {
  let valueAt = scanKeyAndColon(p, end)
  if (valueAt == 0) return 0
  let count = load<u32>(filling, MemberIndex.Count)
  // Unindexed already, or a member of an object inside an array root: no record.
  if (count == MemberIndex.Unindexed || (depth == 2 && open1 == 0)) return valueAt
  if (count >= <u32>MemberIndex.Capacity) {
    store<u32>(filling, MemberIndex.Unindexed, MemberIndex.Count)
    return valueAt
  }
  let record = filling + MemberIndex.Records + <usize>count * MemberRecord.Size
  store<u32>(record, p + 1, MemberRecord.KeyStart)
  store<u32>(record, scannedKeyEnd - 1, MemberRecord.KeyEnd)
  store<u32>(record, valueAt, MemberRecord.ValueStart)
  store<u32>(record, stringEscaped ? 1 : 0, MemberRecord.KeyEscaped)
  if (depth == 1) {
    store<u32>(record, NO_PARENT, MemberRecord.Parent)
    open1 = record
  } else {
    store<u32>(record, <u32>((open1 - filling - MemberIndex.Records) / MemberRecord.Size), MemberRecord.Parent)
    open2 = record
  }
  store<u32>(filling, count + 1, MemberIndex.Count)
  return valueAt
}

/** A value at `depth` (1 or 2) ends at `p`: the member it belongs to, if it has a record, gets the end. */
function indexValueEnd(p: usize, depth: i32): void {
  if (load<u32>(filling, MemberIndex.Count) == MemberIndex.Unindexed) return
  // No record: the root is an array, or this is an element of an array at depth 1.
  let record = depth == 1 ? open1 : open2
  if (record == 0) return
  store<u32>(record, p, MemberRecord.ValueEnd)
  store<u32>(record, stringEscaped ? 1 : 0, MemberRecord.ValueEscaped)
  if (depth == 2) open2 = 0
}

/** Whether the iteration under way walks the text (the object has no records in its index). */
let walking: bool = true

/**
 * Iterates the members of the object `[start, end)` as `nextMember` does (each
 * call makes one member current and returns a cursor for the next call, 0 after
 * the last), from `index` when it records them (`index` is the one `validate`
 * filled for the text the object is in, or 0), walking the text otherwise.
 * One iteration at a time, as with `nextMember`.
 */
export function firstMember(index: usize, start: usize, end: usize): usize {
  walking = index == 0 || load<u32>(index, MemberIndex.Count) == MemberIndex.Unindexed
  let parent = NO_PARENT
  if (!walking && <usize>load<u32>(index, MemberIndex.Root) != start) {
    parent = parentOf(index, start)
    walking = parent == NO_PARENT
  }
  if (walking) return nextMember(start + 1, end, true)
  return selectFrom(index, index + MemberIndex.Records, parent)
}

export function followingMember(index: usize, cursor: usize, end: usize): usize {
  if (walking) return nextMember(cursor, end, true)
  return selectFrom(index, cursor + MemberRecord.Size, load<u32>(cursor, MemberRecord.Parent))
}

/** The ordinal of the root member whose value is the object at `start`, or `NO_PARENT` when no record says so. */
function parentOf(index: usize, start: usize): u32 {
  let count = load<u32>(index, MemberIndex.Count)
  for (let i: u32 = 0; i < count; i++) {
    let record = index + MemberIndex.Records + <usize>i * MemberRecord.Size
    if (load<u32>(record, MemberRecord.Parent) == NO_PARENT && <usize>load<u32>(record, MemberRecord.ValueStart) == start) return i
  }
  return NO_PARENT
}

/** Makes the first record at or after `from` whose parent is `parent` the current member; its address, or 0 when there is none. */
function selectFrom(index: usize, from: usize, parent: u32): usize {
  let end = index + MemberIndex.Records + <usize>load<u32>(index, MemberIndex.Count) * MemberRecord.Size
  for (let record = from; record < end; record += MemberRecord.Size) {
    if (load<u32>(record, MemberRecord.Parent) != parent) continue
    keyStart = load<u32>(record, MemberRecord.KeyStart)
    keyEnd = load<u32>(record, MemberRecord.KeyEnd)
    keyEscaped = load<u32>(record, MemberRecord.KeyEscaped) != 0
    valueStart = load<u32>(record, MemberRecord.ValueStart)
    valueEnd = load<u32>(record, MemberRecord.ValueEnd)
    stringEscaped = load<u32>(record, MemberRecord.ValueEscaped) != 0
    return record
  }
  return 0
}
