// Host buffers (spec §6 "Lifetimes"): each is the host's until it releases
// it. They sit on a recency list; a call moves the buffers its inputs lie in
// to the end, and past the budget `alloc` reclaims the least recently used,
// never one used since the latest call began (docs/design.md "Memory model").

import { BUFFER, Block, MIN_BLOCK, RESPONSE, blockAt, blockSize, free, freeResponse, heapBase, isBlockStart, kindOf, sizeOf, take, top } from './heap'
import { Limit } from './layout'

let oldest: usize = 0
let newest: usize = 0
/** The first buffer used (passed or allocated) since the latest call began, or 0: from it on, nothing is reclaimed. */
let sinceCall: usize = 0
/** Bytes the host buffers take together: header and length of each, rounded to 16 (as `blockSize`). */
let bufferBytes: u64 = 0

function bufferSize(b: usize): u64 {
  return blockSize(<u64>load<u32>(b, Block.Length))
}

function append(b: usize): void {
  store<u32>(b, newest, Block.Prev)
  store<u32>(b, 0, Block.Next)
  if (newest != 0) store<u32>(newest, b, Block.Next)
  else oldest = b
  newest = b
  if (sinceCall == 0) sinceCall = b
}

function unlink(b: usize): void {
  let prev = <usize>load<u32>(b, Block.Prev)
  let next = <usize>load<u32>(b, Block.Next)
  if (prev != 0) store<u32>(prev, next, Block.Next)
  else oldest = next
  if (next != 0) store<u32>(next, prev, Block.Prev)
  else newest = prev
  if (sinceCall == b) sinceCall = next
}

/** Frees the least recently used host buffers until `need` more bytes fit the budget, never one used since the latest call began. */
function reclaim(need: u64): void {
  while (bufferBytes + need > <u64>Limit.BufferBudget && oldest != 0 && oldest != sinceCall) {
    let b = oldest
    unlink(b)
    bufferBytes -= bufferSize(b)
    free(b)
  }
}

/** Spec §6 `alloc`: a buffer of `len` bytes, the host's until it deallocs it. Traps when memory cannot grow. */
export function allocBuffer(len: i32): usize {
  let size = blockSize(<u64><u32>len)
  reclaim(size)
  let b = take(size, BUFFER)
  if (b == 0) unreachable()
  store<u32>(b, len, Block.Length)
  append(b)
  bufferBytes += size
  return b + Block.Header
}

/** Spec §6 `dealloc`: frees a host buffer or a response given with its length; ignores anything else. */
export function release(ptr: usize, len: usize): void {
  let b = ptr - Block.Header
  if (ptr < <usize>Block.Header || !((b == newest && b != 0) || isBlockStart(b))) return
  if (<usize>load<u32>(b, Block.Length) != len) return
  let kind = kindOf(b)
  if (kind == BUFFER) {
    unlink(b)
    bufferBytes -= bufferSize(b)
    free(b)
  } else if (kind == RESPONSE) freeResponse(b)
}

/** How many of the newest host buffers a call's input is looked for in before the pages are walked. */
const RECENT: i32 = 4

/** The host buffers `[from, to)` lies in are met by the call. */
export function useBuffers(from: usize, to: usize): void {
  if (from < heapBase) from = heapBase
  if (to > top) to = top
  if (from >= to) return
  // Inputs of one call often share a buffer: the one met last.
  let b = metCount > 0 ? <usize>load<u32>(MET + <usize>(metCount - 1) * 4) : 0
  if (b != 0 && from >= b && to <= b + sizeOf(b)) return
  // Hosts pass what they allocated for the call, or buffers the previous calls used: the newest few.
  b = newest
  for (let i = 0; i < RECENT && b != 0; i++) {
    if (from >= b && to <= b + sizeOf(b)) return meet(b)
    b = <usize>load<u32>(b, Block.Prev)
  }
  for (b = blockAt(from); b != 0 && b < to; ) {
    let size = sizeOf(b)
    if (kindOf(b) == BUFFER) meet(b)
    // Only a host writing past its buffers can make a size 0; never loop on it.
    if (size < MIN_BLOCK) return
    b += size
  }
}

/**
 * The buffers the call's inputs lie in, in the order last met. They go last in
 * the recency list when the inputs are all declared (`settle`); most calls
 * meet the buffers that are last already, and then nothing moves.
 */
const MET_CAPACITY: i32 = 8
const MET: usize = memory.data(MET_CAPACITY * 4)
let metCount: i32 = 0

function meet(b: usize): void {
  for (let i = 0; i < metCount; i++) {
    if (<usize>load<u32>(MET + <usize>i * 4) != b) continue
    memory.copy(MET + <usize>i * 4, MET + <usize>(i + 1) * 4, <usize>(metCount - i - 1) * 4)
    metCount--
    break
  }
  if (metCount == MET_CAPACITY) settle()
  store<u32>(MET + <usize>metCount * 4, b)
  metCount++
}

/** The met buffers go last in the recency list, in the order met; the first of them is where the call's buffers begin. */
export function settle(): void {
  let b = newest
  let inPlace = true
  for (let i = metCount - 1; inPlace && i >= 0; i--) {
    inPlace = b == <usize>load<u32>(MET + <usize>i * 4)
    if (inPlace) b = <usize>load<u32>(b, Block.Prev)
  }
  if (inPlace) {
    if (metCount > 0 && sinceCall == 0) sinceCall = <usize>load<u32>(MET)
  } else {
    for (let i = 0; i < metCount; i++) use(<usize>load<u32>(MET + <usize>i * 4))
  }
  metCount = 0
}

/** Host buffer `b` was used: it goes last in the recency list. */
function use(b: usize): void {
  if (b != newest) {
    unlink(b)
    append(b)
  } else if (sinceCall == 0) sinceCall = b
}


/** A call begins: no buffer is used since yet. */
export function beginBuffers(): void {
  sinceCall = 0
  metCount = 0
}
