// The condition interpreter: resolves a condition's reads against the three
// source objects, runs the node bytecode with short-circuit, and on failure
// finds the first failing check and writes its account (docs/design.md "Reasons").

import { keyEquals, nextMember, valueEnd, valueStart } from './json'
import { scratch } from './memory'
import { parseNumber } from './number'
import { putEllipsis, putEscaped, putText } from './response'
import { cutAtBoundary } from './text'
import { jsonEquals } from './equals'
import { unescapedEquals } from './unescape'

const enum Op {
  All = 0x01,
  Any = 0x02,
  Not = 0x03,
  Numeric = 0x04,
  In = 0x05,
  NotIn = 0x06,
  Present = 0x07,
  Equals = 0x08,
}

/** Why a node does not hold; `Holds` when it does. */
export const enum Failure {
  Holds = 0,
  MissingA,
  NullA,
  MissingB,
  NullB,
  NotNumber,
  NotString,
  Compared,
  Differ,
  Label,
}

const READ_BYTES: usize = 12
const RAW_LIMIT: usize = 64

// The value spans of the three sources; end 0 = absent.
let sourceSpans: usize = 0
let reads: usize = 0
let readCount: u32 = 0
/** Per read: u32 value_start, u32 value_end (0 = absent). */
let values: usize = 0

/**
 * Resolves every read of the condition at `cond` against the sources
 * (`spans`: three (start, end) u32 pairs, end 0 when the source is absent);
 * returns the root node, or 0 when scratch ran out.
 */
export function resolveReads(cond: usize, spans: usize): usize {
  sourceSpans = spans
  let root = startReads(cond)
  if (root != 0) for (let source: u32 = 0; source < 3; source++) resolveSource(source)
  return root
}

/**
 * Takes the reads of the condition at `cond`, every value absent until
 * `setValue`; returns the root node, or 0 when scratch ran out.
 */
export function startReads(cond: usize): usize {
  readCount = load<u32>(cond)
  reads = cond + 4
  values = scratch(<u64>readCount * 8 + 8)
  if (values == 0) return 0
  memory.fill(values, 0, <usize>readCount * 8)
  return reads + <usize>readCount * READ_BYTES
}

/** The value of read `read` is the JSON text `[start, end)`. */
export function setValue(read: u32, start: usize, end: usize): void {
  store<u32>(values + read * 8, start)
  store<u32>(values + read * 8, end, 4)
}

function resolveSource(source: u32): void {
  let start = <usize>load<u32>(sourceSpans + source * 8)
  let end = <usize>load<u32>(sourceSpans + source * 8, 4)
  if (end == 0 || load<u8>(start) != 0x7b) return
  let wanted = false
  for (let r: u32 = 0; r < readCount; r++) wanted = wanted || load<u32>(reads + <usize>r * READ_BYTES) == source
  if (!wanted) return
  for (let p = nextMember(start + 1, end, true); p != 0; p = nextMember(p, end, true)) {
    for (let r: u32 = 0; r < readCount; r++) {
      let read = reads + <usize>r * READ_BYTES
      if (load<u32>(read) != source) continue
      if (keyEquals(load<u32>(read, 4), load<u32>(read, 8))) setValue(r, valueStart, valueEnd)
    }
  }
}

// @ts-ignore: decorator
@inline function readAt(node: usize, offset: usize): u32 {
  return <u32>load<u16>(node + offset)
}

// @ts-ignore: decorator
@inline function valueOf(read: u32): usize {
  return read < readCount ? <usize>load<u32>(values + read * 8) : 0
}

// @ts-ignore: decorator
@inline function valueEndOf(read: u32): usize {
  return read < readCount ? <usize>load<u32>(values + read * 8, 4) : 0
}

function nodeSize(node: usize): usize {
  switch (<i32>load<u8>(node)) {
    case Op.All:
    case Op.Any:
      return load<u32>(node, 5)
    case Op.Not:
      return load<u32>(node, 1)
    case Op.Numeric:
      return 16
    case Op.In:
    case Op.NotIn:
      return 15
    case Op.Present:
      return 3
    case Op.Equals:
      return 5
  }
  return 0
}

/** The check whose account reports a failure, and why; set by `holds`. */
export let failedNode: usize = 0
export let failure: Failure = Failure.Holds

/**
 * Whether the condition at `root` (0 when scratch ran out: `outOfMemory` is
 * set, and the answer is not to be trusted) holds; when not, `failedNode` and
 * `failure` say which check its account reports.
 */
export function judge(root: usize): bool {
  failedNode = 0
  return root != 0 && holds(root)
}

/**
 * Whether `node` holds, with short-circuit. When it does not, `failedNode`
 * and `failure` name the check its account reports (design.md "Reasons"):
 * for ALL its first failing child's, for ANY its first child's, for an empty
 * ANY and a NOT their label. One pass: nothing is evaluated again to explain.
 */
function holds(node: usize): bool {
  let op = <i32>load<u8>(node)
  if (op == Op.All || op == Op.Any) {
    let count = load<u32>(node, 1)
    let child = node + 13
    let firstNode = node
    let firstFailure = Failure.Label
    for (let i: u32 = 0; i < count; i++) {
      if (holds(child) != (op == Op.All)) return op == Op.Any
      if (i == 0) {
        firstNode = failedNode
        firstFailure = failure
      }
      child += nodeSize(child)
    }
    // ALL: every child held. ANY: none did, so the first one's account (or the label of an empty ANY).
    failedNode = firstNode
    failure = firstFailure
    return op == Op.All
  }
  if (op == Op.Not) {
    if (!holds(node + 9)) return true
    failedNode = node
    failure = Failure.Label
    return false
  }
  failedNode = node
  failure = check(node)
  return failure == Failure.Holds
}

/** A leaf node: Holds, or why it fails. An unknown op fails closed. */
function check(node: usize): Failure {
  let op = <i32>load<u8>(node)
  let a = readAt(node, 1)
  let end = valueEndOf(a)
  if (end == 0) return Failure.MissingA
  let start = valueOf(a)
  let first = <u32>load<u8>(start)
  switch (op) {
    case Op.Numeric: {
      if (first != 0x2d && first - 0x30 >= 10) return Failure.NotNumber
      let actual = parseNumber(start, end)
      let limit = load<f64>(node, 4)
      let cmp = load<u8>(node, 3)
      let ok = cmp == 0 ? actual < limit : cmp == 1 ? actual <= limit : cmp == 2 ? actual > limit : cmp == 3 ? actual >= limit : cmp == 4 && actual == limit
      return ok ? Failure.Holds : Failure.Compared
    }
    case Op.In:
    case Op.NotIn: {
      if (first != 0x22) return Failure.NotString
      let count = load<u32>(node, 3)
      let list = <usize>load<u32>(node, 7)
      let found = false
      for (let i: u32 = 0; !found && i < count; i++) {
        let item = list + <usize>i * 8
        found = unescapedEquals(start + 1, end - 1, load<u32>(item), load<u32>(item, 4))
      }
      return found == (op == Op.In) ? Failure.Holds : Failure.Compared
    }
    case Op.Present:
      return first == 0x6e ? Failure.NullA : Failure.Holds
    case Op.Equals: {
      if (first == 0x6e) return Failure.NullA
      let b = readAt(node, 3)
      let bEnd = valueEndOf(b)
      if (bEnd == 0) return Failure.MissingB
      let bStart = valueOf(b)
      if (load<u8>(bStart) == 0x6e) return Failure.NullB
      return jsonEquals(start, end, bStart, bEnd) ? Failure.Holds : Failure.Differ
    }
  }
  return Failure.Label
}

/** Writes the account of `failedNode`/`failure` into the response. */
export function writeAccount(): void {
  let node = failedNode
  let op = <i32>load<u8>(node)
  let a = readAt(node, 1)
  switch (failure) {
    case Failure.Label:
      putTextRef(node + (op == Op.Not ? 5 : 9))
      putText(utf8(' did not hold'))
      return
    case Failure.MissingA:
      putRead(a)
      putText(utf8(' is missing'))
      return
    case Failure.NullA:
      putRead(a)
      putText(utf8(' is null'))
      return
    case Failure.MissingB:
      putRead(readAt(node, 3))
      putText(utf8(' is missing'))
      return
    case Failure.NullB:
      putRead(readAt(node, 3))
      putText(utf8(' is null'))
      return
    case Failure.NotNumber:
      putReadValue(a)
      putText(utf8(' is not a number'))
      return
    case Failure.NotString:
      putReadValue(a)
      putText(utf8(' is not a string'))
      return
    case Failure.Compared:
      putReadValue(a)
      putText(utf8(' is not '))
      putTextRef(node + (op == Op.Numeric ? 12 : 11))
      return
    case Failure.Differ:
      putReadValue(a)
      putText(utf8(' does not equal '))
      putReadValue(readAt(node, 3))
      return
  }
}

/** `<Source>.<field>` */
function putRead(read: u32): void {
  if (read >= readCount) {
    putText(utf8('?'))
    return
  }
  let r = reads + <usize>read * READ_BYTES
  let source = load<u32>(r)
  putText(source == 0 ? utf8('Arguments') : source == 1 ? utf8('AgentAttributes') : utf8('ResourceAttributes'))
  putText(utf8('.'))
  putEscaped(load<u32>(r, 4), load<u32>(r, 8))
}

/** `<Source>.<field> = <raw>`, the raw text cut to 64 bytes with `…`. */
function putReadValue(read: u32): void {
  putRead(read)
  putText(utf8(' = '))
  let start = valueOf(read)
  let len = valueEndOf(read) - start
  let cut = cutAtBoundary(start, len, RAW_LIMIT)
  putEscaped(start, cut)
  if (cut < len) putEllipsis()
}

/** The text behind a string ref: a (u32 ptr, u32 len) pair at the ref's address. */
function putTextRef(at: usize): void {
  let ref = <usize>load<u32>(at)
  if (ref == 0) return
  putEscaped(load<u32>(ref), load<u32>(ref, 4))
}
