// The condition interpreter: the values of a condition's reads (found in the
// request's source objects, or handed in by the host), and whether a node holds.
// Why a node fails is account.ts's to write.

import { Fault, raise } from './fault'
import { firstMember, followingMember, keyEquals, valueEnd, valueStart } from './json'
import { CompositeNode, Condition, EqualsNode, InNode, NotNode, NumericNode, Op, PresentNode, Read, TextRef } from './layout'
import { scratch } from './scratch'
import { parseNumber } from './number'
import { jsonEquals } from './equals'
import { unescapedEquals } from './unescape'

/** Why a leaf does not hold; `Holds` when it does. */
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
}

let reads: usize = 0
let readCount: u32 = 0
/** Per read: u32 value start, u32 value end (0 = absent). */
let values: usize = 0

/**
 * Room for the values of a condition's first few reads outside scratch: most
 * calls then take no scratch before their response, which can stay where it is
 * written (heap.ts `keepResponse`).
 */
const STATIC_READS: u32 = 32
const STATIC_VALUES: usize = memory.data(<i32>STATIC_READS * 8)

/** Takes the reads of the condition at `cond`, every value absent until set; the root node, or 0 when scratch ran out. */
export function startReads(cond: usize): usize {
  lastLeaf = 0
  readCount = load<u32>(cond, Condition.ReadCount)
  reads = cond + Condition.Reads
  values = readCount <= STATIC_READS ? STATIC_VALUES : scratch(<u64>readCount * 8)
  if (values == 0) return 0
  memory.fill(values, 0, <usize>readCount * 8)
  return reads + <usize>readCount * Read.Size
}

export function readCountOf(): u32 {
  return readCount
}

/** The read's record in the blob: source, field pointer, field length. */
export function readAt(read: u32): usize {
  return reads + <usize>read * Read.Size
}

/** The value of read `read` is the JSON text `[start, end)`. */
export function setValue(read: u32, start: usize, end: usize): void {
  store<u32>(values + <usize>read * 8, start)
  store<u32>(values + <usize>read * 8, end, 4)
}

/**
 * For every read of `source`, the value of the last member of the object
 * `[start, end)` whose unescaped key is the field; a source that is not an
 * object (or absent: end 0) leaves its reads absent. `index` is the object's
 * member index (json.ts `firstMember`), or 0.
 */
export function readSource(source: u32, start: usize, end: usize, index: usize): void {
  if (end == 0 || load<u8>(start) != 0x7b) return
  let wanted = false
  for (let r: u32 = 0; r < readCount; r++) wanted = wanted || load<u32>(readAt(r), Read.Source) == source
  if (!wanted) return
  for (let m = firstMember(index, start, end); m != 0; m = followingMember(index, m, end)) {
    for (let r: u32 = 0; r < readCount; r++) {
      let read = readAt(r)
      if (load<u32>(read, Read.Source) != source) continue
      if (keyEquals(load<u32>(read, Read.FieldPtr), load<u32>(read, Read.FieldLen))) setValue(r, valueStart, valueEnd)
    }
  }
}

// @ts-ignore: decorator
@inline export function valueOf(read: u32): usize {
  return <usize>load<u32>(values + <usize>read * 8)
}

// @ts-ignore: decorator
@inline export function valueEndOf(read: u32): usize {
  return <usize>load<u32>(values + <usize>read * 8, 4)
}

// @ts-ignore: decorator
@inline export function readOf(node: usize, offset: usize): u32 {
  return <u32>load<u16>(node + offset)
}

/** The size of a node (its children included). */
export function nodeSize(node: usize): usize {
  switch (<i32>load<u8>(node)) {
    case Op.All:
    case Op.Any:
      return load<u32>(node, CompositeNode.Size)
    case Op.Not:
      return load<u32>(node, NotNode.Size)
    case Op.Numeric:
      return NumericNode.Size
    case Op.In:
    case Op.NotIn:
      return InNode.Size
    case Op.Present:
      return PresentNode.Size
    case Op.Equals:
      return EqualsNode.Size
  }
  // verify.ts refused any other op; should one appear, the answer is an error.
  raise(Fault.Corrupt)
  return 0
}

/** The last leaf `holds` checked, and why it failed: the account of a leaf that just failed needs no second check. */
export let lastLeaf: usize = 0
export let lastFailure: Failure = Failure.Holds

/** Whether `node` holds, with short-circuit. */
export function holds(node: usize): bool {
  let op = <i32>load<u8>(node)
  if (op == Op.All || op == Op.Any) {
    let count = load<u32>(node, CompositeNode.Count)
    let child = node + CompositeNode.Header
    for (let i: u32 = 0; i < count; i++) {
      if (holds(child) != (op == Op.All)) return op == Op.Any
      let size = nodeSize(child)
      if (size == 0) return false
      child += size
    }
    return op == Op.All
  }
  if (op == Op.Not) return !holds(node + NotNode.Header)
  lastLeaf = node
  lastFailure = check(node)
  return lastFailure == Failure.Holds
}

/** A leaf: Holds, or why it fails. */
export function check(node: usize): Failure {
  let op = <i32>load<u8>(node)
  let a = readOf(node, 1)
  let end = valueEndOf(a)
  if (end == 0) return Failure.MissingA
  let start = valueOf(a)
  let first = <u32>load<u8>(start)
  switch (op) {
    case Op.Numeric: {
      if (first != 0x2d && first - 0x30 >= 10) return Failure.NotNumber
      let actual = parseNumber(start, end)
      let limit = load<f64>(node, NumericNode.Value)
      let cmp = load<u8>(node, NumericNode.Cmp)
      let ok = cmp == 0 ? actual < limit : cmp == 1 ? actual <= limit : cmp == 2 ? actual > limit : cmp == 3 ? actual >= limit : actual == limit
      return ok ? Failure.Holds : Failure.Compared
    }
    case Op.In:
    case Op.NotIn: {
      if (first != 0x22) return Failure.NotString
      let count = load<u32>(node, InNode.Count)
      let list = <usize>load<u32>(node, InNode.List)
      let found = false
      for (let i: u32 = 0; !found && i < count; i++) {
        let item = list + <usize>i * TextRef.Size
        found = unescapedEquals(start + 1, end - 1, load<u32>(item, TextRef.Ptr), load<u32>(item, TextRef.Len))
      }
      return found == (op == Op.In) ? Failure.Holds : Failure.Compared
    }
    case Op.Present:
      return first == 0x6e ? Failure.NullA : Failure.Holds
    case Op.Equals: {
      if (first == 0x6e) return Failure.NullA
      let b = readOf(node, EqualsNode.B)
      let bEnd = valueEndOf(b)
      if (bEnd == 0) return Failure.MissingB
      let bStart = valueOf(b)
      if (load<u8>(bStart) == 0x6e) return Failure.NullB
      return jsonEquals(start, end, bStart, bEnd) ? Failure.Holds : Failure.Differ
    }
  }
  raise(Fault.Corrupt)
  return Failure.Compared
}
