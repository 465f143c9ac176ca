// Checks the whole policy blob once, before the first decision (docs/design.md
// "Loud failure"): every pointer, count and size stays inside the blob, every op,
// comparison, source and read index is one the runtime knows, node sizes add up,
// and every entry is found by probing its own tool and role. A blob that fails
// any of it is corrupt: every decision then answers an error, never a guess.

import { blob, hasHeader, header } from './blob'
import { Condition, CompositeNode, Entry, EqualsNode, Header, InNode, Limit, NotNode, NumericNode, Op, PresentNode, Read, SOURCES_COUNT, Slot, TextRef } from './layout'
import { rewind, scratch, scratchMark } from './scratch'
import { probe } from './table'

const enum Verdict {
  Unchecked,
  Sound,
  Corrupt,
  /** The bare template: no blob is compiled in. */
  Absent,
}

let verdict: Verdict = Verdict.Unchecked

/** The blob's extent, while it is being checked. */
let first: u64 = 0
let end: u64 = 0

/** True when a sound policy blob is compiled in; checks it on first use. */
export function policySound(): bool {
  if (verdict == Verdict.Unchecked) verdict = check()
  return verdict == Verdict.Sound
}

/** True when the module has no blob at all (rather than a corrupt one). */
export function policyAbsent(): bool {
  return verdict == Verdict.Absent
}

function within(ptr: u64, len: u64): bool {
  return ptr >= first && ptr + len <= end
}

/** A (u32 ptr, u32 len) pair at `at`, and the bytes it points at, inside the blob. */
function textWithin(at: u64): bool {
  return within(at, TextRef.Size) && within(<u64>load<u32>(<usize>at, TextRef.Ptr), <u64>load<u32>(<usize>at, TextRef.Len))
}

/** A node's text ref field at `field`: the address of a (ptr, len) pair, which must be sound. */
function refWithin(field: u64): bool {
  return textWithin(<u64>load<u32>(<usize>field))
}

function check(): Verdict {
  if (blob() == 0) return Verdict.Absent
  if (!hasHeader()) return Verdict.Corrupt
  first = <u64>blob()
  end = <u64>header(Header.BlobEnd)
  if (end < first + Header.Size || !within(first, Header.Size)) return Verdict.Corrupt
  if (header(Header.DefaultAction) > 1) return Verdict.Corrupt
  if (!within(<u64>header(Header.VersionPtr), <u64>header(Header.VersionLen))) return Verdict.Corrupt
  let mark = scratchMark()
  let sound = conditionsSound() && entriesSound()
  rewind(mark)
  return sound ? Verdict.Sound : Verdict.Corrupt
}

/** Condition starts, in blob order, kept while checking so that entries can be matched to them. */
let starts: usize = 0
let startCount: u32 = 0

/** Walks the conditions one after the other; each must be sound and end where the next begins. */
function conditionsSound(): bool {
  startCount = header(Header.ConditionCount)
  let at = <u64>header(Header.ConditionsPtr)
  if (!within(at, 0)) return false
  starts = scratch(<u64>startCount * 4)
  if (starts == 0 && startCount != 0) return false
  for (let i: u32 = 0; i < startCount; i++) {
    store<u32>(starts + <usize>i * 4, <u32>at)
    let size = conditionSize(at)
    if (size == 0) return false
    at += size
  }
  return true
}

/** The size of the sound condition at `c`, or 0. */
function conditionSize(c: u64): u64 {
  if (!within(c, Condition.Reads)) return 0
  let size = <u64>load<u32>(<usize>c, Condition.Size)
  let reads = load<u32>(<usize>c, Condition.ReadCount)
  let root = c + Condition.Reads + <u64>reads * Read.Size
  if (!within(c, size) || reads > 0xffff || root > c + size) return 0
  for (let r: u64 = c + Condition.Reads; r < root; r += Read.Size) {
    if (load<u32>(<usize>r, Read.Source) >= SOURCES_COUNT) return 0
    if (!within(<u64>load<u32>(<usize>r, Read.FieldPtr), <u64>load<u32>(<usize>r, Read.FieldLen))) return 0
  }
  return nodeEnd(root, c + size, reads, 0) == c + size ? size : 0
}

/** Where the sound node at `n` (inside `[n, limit)`) ends, or 0. */
function nodeEnd(n: u64, limit: u64, reads: u32, depth: u32): u64 {
  if (depth >= <u32>Limit.ConditionDepth || n >= limit) return 0
  let node = <usize>n
  switch (<i32>load<u8>(node)) {
    case Op.All:
    case Op.Any: {
      if (n + CompositeNode.Header > limit) return 0
      let last = n + <u64>load<u32>(node, CompositeNode.Size)
      if (last > limit || !refWithin(n + CompositeNode.Label)) return 0
      let count = load<u32>(node, CompositeNode.Count)
      let child = n + CompositeNode.Header
      for (let i: u32 = 0; i < count && child != 0; i++) child = nodeEnd(child, last, reads, depth + 1)
      return child == last ? last : 0
    }
    case Op.Not: {
      if (n + NotNode.Header > limit) return 0
      let last = n + <u64>load<u32>(node, NotNode.Size)
      if (last > limit || !refWithin(n + NotNode.Label)) return 0
      return nodeEnd(n + NotNode.Header, last, reads, depth + 1) == last ? last : 0
    }
    case Op.Numeric: {
      if (n + NumericNode.Size > limit || <u32>load<u16>(node, NumericNode.Read) >= reads) return 0
      let value = load<f64>(node, NumericNode.Value)
      if (load<u8>(node, NumericNode.Cmp) > 4 || isNaN(value)) return 0
      return refWithin(n + NumericNode.Text) ? n + NumericNode.Size : 0
    }
    case Op.In:
    case Op.NotIn: {
      if (n + InNode.Size > limit || <u32>load<u16>(node, InNode.Read) >= reads) return 0
      let list = <u64>load<u32>(node, InNode.List)
      let count = <u64>load<u32>(node, InNode.Count)
      if (!within(list, count * TextRef.Size)) return 0
      for (let i: u64 = 0; i < count; i++) if (!textWithin(list + i * TextRef.Size)) return 0
      return refWithin(n + InNode.Text) ? n + InNode.Size : 0
    }
    case Op.Present:
      if (n + PresentNode.Size > limit || <u32>load<u16>(node, PresentNode.Read) >= reads) return 0
      return n + PresentNode.Size
    case Op.Equals:
      if (n + EqualsNode.Size > limit) return 0
      if (<u32>load<u16>(node, EqualsNode.A) >= reads || <u32>load<u16>(node, EqualsNode.B) >= reads) return 0
      return n + EqualsNode.Size
  }
  return 0
}

/** True when `c` is the start of one of the conditions. */
function isCondition(c: u32): bool {
  let lo: u32 = 0
  let hi = startCount
  while (lo < hi) {
    let mid = (lo + hi) >> 1
    let at = load<u32>(starts + <usize>mid * 4)
    if (at == c) return true
    if (at < c) lo = mid + 1
    else hi = mid
  }
  return false
}

/** The table: every slot empty or one of the entries, each entry sound and found by its own probe. */
function entriesSound(): bool {
  let count = <u64>header(Header.EntryCount)
  let entries = <u64>header(Header.EntriesPtr)
  let slots = <u64>header(Header.TablePtr)
  let capacity = <u64>header(Header.TableMask) + 1
  if (!within(entries, count * Entry.Size)) return false
  // A power of two with room to spare, so that every probe meets an empty slot.
  if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity <= count || !within(slots, capacity * Slot.Size)) return false
  let used: u64 = 0
  for (let s: u64 = 0; s < capacity; s++) {
    let e = <u64>load<u32>(<usize>(slots + s * Slot.Size), Slot.EntryPtr)
    if (e == 0) continue
    if (e < entries || e >= entries + count * Entry.Size || (e - entries) % Entry.Size != 0) return false
    used++
  }
  if (used != count) return false
  for (let i: u64 = 0; i < count; i++) {
    let e = <usize>(entries + i * Entry.Size)
    let tool = load<u32>(e, Entry.ToolPtr)
    let toolLen = load<u32>(e, Entry.ToolLen)
    let role = load<u32>(e, Entry.RolePtr)
    let roleLen = load<u32>(e, Entry.RoleLen)
    if (!within(<u64>tool, <u64>toolLen) || !within(<u64>role, <u64>roleLen)) return false
    let cond = load<u32>(e, Entry.CondPtr)
    if (cond != 0 && !isCondition(cond)) return false
    if (probe(tool, toolLen, role, roleLen) != e) return false
  }
  return true
}
