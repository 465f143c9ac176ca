// Answers kept once built (docs/design.md "Kept answers"). The answer to a
// request that an entry allows names only the entry's own tool and role, so
// it is the same bytes on every call: it is written on the entry's first Allow
// and kept for the module's life, in an arena taken at the heap's start (so it
// never splits the heap). `evaluate_values` answers the kept bytes themselves
// (its one host reads answers and never writes them); `evaluate` answers a
// copy, a response like any other. A Deny for a failed condition is the same
// bytes up to its account, so that head is kept too, on the entry's first
// such Deny, and only the account is written per call. Answers whose bytes
// vary from call to call (an entry's Denies for a failed condition, and the
// answers of pairs without an entry) are kept for `evaluate_values` too, the
// first few distinct ones of each entry (of all pairs without one), so that
// the same answer is the same address. Answers that find no room in the arena
// are written on every call, as any response.

import { header } from './blob'
import { keepZeroed } from './heap'
import { Entry, Header, KeptAnswer } from './layout'
import { bytesEqual } from './text'

/** The arena's bytes at most: the answers of a thousand or so entries. */
const ARENA_LIMIT: u64 = 64 * 1024
/** The fixed part of an Allow answer, long reasons and length word included, over-counted. */
const ANSWER_FIXED: u64 = 96
/** Room for the account of a kept failed condition's Deny (a longer one takes it from the others' room). */
const ACCOUNT_ROOM: u64 = 128
/** Varying answers kept per entry (and for all pairs without one): the first distinct ones met. */
const VARYING: usize = 2

/** Per entry, in the blob's order, a `Slot`: the addresses of what is kept for it, 0 until it is built; then one `Slot` for the pairs without an entry. */
let table: usize = 0

const enum Slot {
  /** The Allow answer (a response: u32 length, then the text). */
  Allow = 0,
  /** The head of a Deny for a failed condition, up to its account (u32 length, then the text). */
  DenyHead = 4,
  /** `VARYING` whole answers whose bytes vary by call, in the order first met (0: none yet). */
  Varying = 8,
  Size = 16,
}
/** The arena: the next free byte (16-aligned) and its end. */
let next: usize = 0
let end: usize = 0

/**
 * Takes the table and the arena, once the blob is sound and before any
 * call's scratch: the arena holds every entry's answer when that is under
 * ARENA_LIMIT. Without memory for them, answers are written on every call.
 */
export function startKept(): void {
  let count = <usize>header(Header.EntryCount)
  let need: u64 = 0
  // Past the limit the arena is the limit: the rest of a large table need not be read.
  for (let i: usize = 0; i < count && need < ARENA_LIMIT; i++) {
    let entry = <usize>header(Header.EntriesPtr) + i * Entry.Size
    // A name of n bytes escapes to at most 6n; an entry with a condition keeps a Deny's head and whole Denies too.
    let one = (ANSWER_FIXED + 6 * (<u64>load<u32>(entry, Entry.ToolLen) + <u64>load<u32>(entry, Entry.RoleLen)) + 31) & ~<u64>15
    need += load<u32>(entry, Entry.CondPtr) == 0 ? one : (2 + <u64>VARYING) * one + <u64>VARYING * ACCOUNT_ROOM
  }
  // The answers of pairs without an entry, with names of a usual length.
  need += <u64>VARYING * (ANSWER_FIXED + ACCOUNT_ROOM)
  if (need > ARENA_LIMIT) need = ARENA_LIMIT
  table = keepZeroed((count + 1) * Slot.Size)
  next = table == 0 ? 0 : keepZeroed(<usize>need)
  end = next == 0 ? 0 : next + <usize>need
}

/** The slot of `entry`, or of the pairs without an entry for 0. */
function slotOf(entry: usize): usize {
  let index = entry == 0 ? <usize>header(Header.EntryCount) : (entry - <usize>header(Header.EntriesPtr)) / Entry.Size
  return table + index * Slot.Size
}

/** The kept Allow answer of `entry` (a response address), or 0 when it is not built. */
export function keptAnswer(entry: usize): usize {
  return table == 0 ? 0 : <usize>load<u32>(slotOf(entry), Slot.Allow)
}

/** The kept head of `entry`'s Deny for a failed condition (u32 length, then the text), or 0 when it is not built. */
export function keptDenyHead(entry: usize): usize {
  return table == 0 ? 0 : <usize>load<u32>(slotOf(entry), Slot.DenyHead)
}

/**
 * Keeps the response at `response` (the u32 length, then the text) as
 * `entry`'s Allow answer, at an address `KeptAnswer.Remainder` past a multiple
 * of `KeptAnswer.Modulus`, which no response of its own has; its address, or 0
 * when the arena has no room left for it.
 */
export function keepAnswer(entry: usize, response: usize): usize {
  return keep(slotOf(entry) + Slot.Allow, response)
}

/** Keeps the text at `head` (the u32 length, then the text) as `entry`'s Deny head; its address, or 0 without room. */
export function keepDenyHead(entry: usize, head: usize): usize {
  return keep(slotOf(entry) + Slot.DenyHead, head)
}

/**
 * The kept answer of `entry` (0: of a pair without an entry) whose bytes are
 * the response at `response` (the u32 length, then the text) and vary by call:
 * one kept before, or this one, kept now when it is one of the first
 * `VARYING` distinct ones. Its address (a kept answer's, as `keepAnswer`'s),
 * or 0 when it is not kept.
 */
export function keptVarying(entry: usize, response: usize): usize {
  if (table == 0) return 0
  let length = 4 + <usize>load<u32>(response)
  let slot = slotOf(entry) + Slot.Varying
  for (let i: usize = 0; i < VARYING; i++, slot += 4) {
    let kept = <usize>load<u32>(slot)
    if (kept == 0) return keep(slot, response)
    if (bytesEqual(kept, response, length)) return kept
  }
  return 0
}

function keep(slot: usize, text: usize): usize {
  let length = 4 + <usize>load<u32>(text)
  let at = next + KeptAnswer.Remainder
  if (table == 0 || next == 0 || <u64>at + <u64>length > <u64>end) return 0
  memory.copy(at, text, length)
  next = (at + length + KeptAnswer.Modulus - 1) & ~(<usize>KeptAnswer.Modulus - 1)
  store<u32>(slot, <u32>at)
  return at
}
