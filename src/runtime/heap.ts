// The heap (docs/design.md "Memory model"): blocks behind 16-byte headers —
// host buffers, responses, free blocks on size-class lists — and above the last
// block the wilderness, where calls keep their scratch (scratch.ts). Host
// buffers are buffers.ts's to track; this file only places and frees blocks.

import { Limit } from './layout'

const PAGE_BITS: u64 = 16
/** wasm32 linear memory can never exceed 4 GiB. */
export const MEMORY_LIMIT: u64 = <u64>1 << 32

// ---- Memory size

/**
 * Memory size last seen. Memory never shrinks, so a check that fits under it
 * needs no `memory.size`; one that does not looks again (the host may have grown it).
 */
export let knownBytes: u64 = 0

/** Bytes of linear memory currently addressable. */
export function memoryBytes(): u64 {
  knownBytes = <u64>memory.size() << PAGE_BITS
  return knownBytes
}

/** Grows memory, if needed, so that `[0, end)` is addressable; false when it cannot. */
// @ts-ignore: decorator
@inline export function reserve(end: u64): bool {
  return end <= knownBytes || grow(end)
}

export function grow(end: u64): bool {
  let have = memoryBytes()
  if (end <= have) return true
  if (end > MEMORY_LIMIT) return false
  let pages = <i32>((end - have + 0xffff) >> PAGE_BITS)
  if (memory.grow(pages) < 0) return false
  memoryBytes()
  return true
}

/** True when `[ptr, ptr + len)` lies inside memory. */
export function inMemory(ptr: usize, len: usize): bool {
  let end = <u64>ptr + <u64>len
  return end <= knownBytes || end <= memoryBytes()
}

export function align16(x: u64): u64 {
  return (x + 15) & ~<u64>15
}

// ---- Blocks

/** A block's header, 16 bytes before its data. */
export const enum Block {
  /** The block's whole size (a multiple of 16), or-ed with its kind and PREV_FREE. */
  Size = 0,
  /** The length `alloc` was asked for, or a response's 4 + n: what `dealloc` must be given. */
  Length = 4,
  /** Links: a free block's place in its size class list, a host buffer's in the recency list. */
  Prev = 8,
  Next = 12,
  Header = 16,
}

export const FREE: u32 = 1
export const BUFFER: u32 = 2
export const RESPONSE: u32 = 4
/** Kept for the module's life (answers.ts). Kinds are values of the low three bits. */
export const KEPT: u32 = 3
const KIND: u32 = 7
/** Set in a block whose predecessor is free: that block's last word is its size. */
const PREV_FREE: u32 = 8
const FLAGS: u32 = 15
export const MIN_BLOCK: usize = 32
/** Free blocks of size [2^c, 2^(c+1)) are on list c. */
const CLASSES: u32 = 32

const HEADS: usize = memory.data(CLASSES * 4)
/** Bit c: list c is not empty. */
let freeLists: u32 = 0
/**
 * Per 64 KiB page of memory, the block that covers the page's first byte,
 * so that the block holding any address is found by walking one page at most.
 */
const PAGES: usize = memory.data(<i32>Limit.MemoryPages * 4)

/** The first block, 0 until the heap is started. */
export let heapBase: usize = 0
/** The end of the last block: the wilderness starts here. */
export let top: usize = 0

// @ts-ignore: decorator
@inline export function sizeOf(b: usize): usize {
  return <usize>(load<u32>(b) & ~FLAGS)
}

// @ts-ignore: decorator
@inline export function kindOf(b: usize): u32 {
  return load<u32>(b) & KIND
}

/** The block size that holds `len` bytes of data; past memory's limit for lengths no memory holds. */
export function blockSize(len: u64): u64 {
  return max<u64>(align16(<u64>Block.Header + len), MIN_BLOCK)
}

export function heapStarted(): bool {
  return heapBase != 0
}

/** The heap begins at `base` (past the blob); called once, before anything is allocated. */
export function startHeap(base: usize): void {
  heapBase = <usize>align16(<u64>base)
  top = heapBase
  memoryBytes()
}

/** Points every page whose first byte `[b, b + size)` covers at `b`. */
function claimPages(b: usize, size: usize): void {
  let end = <u64>b + <u64>size
  for (let page = (<u64>b + 0xffff) >> PAGE_BITS; page << PAGE_BITS < end && page < <u64>Limit.MemoryPages; page++) {
    store<u32>(PAGES + <usize>page * 4, b)
  }
}

/** The block holding `address`, which lies in `[heapBase, top)`; 0 if a header was overwritten. */
export function blockAt(address: usize): usize {
  let b = <usize>load<u32>(PAGES + (address >> <usize>PAGE_BITS) * 4)
  if (b < heapBase || b > address) b = heapBase
  while (true) {
    let size = sizeOf(b)
    // Only a host writing past its buffers can make a size 0; never loop on it.
    if (size < MIN_BLOCK) return 0
    if (b + size > address) return b
    b += size
  }
  return 0
}

/** Tells the block after `b` (ending at `end`) whether its predecessor is free. */
function flagNext(end: usize, free: bool): void {
  if (end >= top) return
  let word = load<u32>(end)
  store<u32>(end, free ? word | PREV_FREE : word & ~PREV_FREE)
}

function classOf(size: usize): u32 {
  return 31 - <u32>clz(<u32>size)
}

function pushFree(b: usize, size: usize): void {
  store<u32>(b, <u32>size | FREE)
  store<u32>(b + size - 4, <u32>size)
  let c = classOf(size)
  let head = load<u32>(HEADS + c * 4)
  store<u32>(b, 0, Block.Prev)
  store<u32>(b, head, Block.Next)
  if (head != 0) store<u32>(head, b, Block.Prev)
  store<u32>(HEADS + c * 4, b)
  freeLists |= 1 << c
  flagNext(b + size, true)
  claimPages(b, size)
}

function unlinkFree(b: usize): void {
  let prev = <usize>load<u32>(b, Block.Prev)
  let next = <usize>load<u32>(b, Block.Next)
  if (prev != 0) store<u32>(prev, next, Block.Next)
  else {
    let c = classOf(sizeOf(b))
    store<u32>(HEADS + c * 4, next)
    if (next == 0) freeLists &= ~(1 << c)
  }
  if (next != 0) store<u32>(next, prev, Block.Prev)
}

/**
 * A block of `size` bytes (a multiple of 16, at least 32) of `kind`: the first
 * free block of a size class that surely fits, split when the rest is a
 * block's worth, else new from the wilderness. 0 when memory cannot grow.
 */
export function take(size: u64, kind: u32): usize {
  if (size > <u64>Limit.MemoryPages << PAGE_BITS) return 0
  let need = <usize>size
  let c = classOf(need)
  if ((need & (need - 1)) != 0) c++
  let fits = c < CLASSES ? freeLists & (<u32>0xffffffff << c) : 0
  let b: usize
  if (fits != 0) {
    b = <usize>load<u32>(HEADS + <usize>ctz(fits) * 4)
    unlinkFree(b)
    let have = sizeOf(b)
    if (have - need >= MIN_BLOCK) {
      store<u32>(b, <u32>need | kind)
      pushFree(b + need, have - need)
    } else {
      store<u32>(b, <u32>have | kind)
      flagNext(b + have, false)
    }
  } else {
    b = top
    if (!reserve(<u64>b + size)) return 0
    top = b + need
    // The block below the top is never free (a free one returns to the wilderness): no PREV_FREE.
    store<u32>(b, <u32>need | kind)
    claimPages(b, need)
  }
  return b
}

/** Frees `b`, merged with its free neighbours; at the top it returns to the wilderness. */
export function free(b: usize): void {
  let size = sizeOf(b)
  let next = b + size
  if (next < top && kindOf(next) == FREE) {
    unlinkFree(next)
    size += sizeOf(next)
  }
  if ((load<u32>(b) & PREV_FREE) != 0) {
    let before = <usize>load<u32>(b - 4)
    b -= before
    unlinkFree(b)
    size += before
  }
  if (b + size == top) top = b
  else pushFree(b, size)
}

// ---- Responses

/** The most recent response: most hosts release it next, and then no page is walked. */
export let lastResponse: usize = 0

/** True when a block starts at `b` (so no pointer into a buffer's data is taken for a header). */
export function isBlockStart(b: usize): bool {
  if ((b & 15) != 0 || b < heapBase || b >= top) return false
  return b == lastResponse || blockAt(b) == b
}

/** Frees a response block. */
export function freeResponse(b: usize): void {
  if (b == lastResponse) lastResponse = 0
  free(b)
}

/**
 * Keeps a response written in scratch (`length` bytes at `at`: the u32 length,
 * then the text) in a block of its own, intact until the host deallocs it;
 * its address, or 0 when memory cannot hold it.
 */
export function keepResponse(at: usize, length: usize): usize {
  let b = take(blockSize(<u64>length), RESPONSE)
  if (b == 0) return 0
  store<u32>(b, <u32>length, Block.Length)
  lastResponse = b
  let to = b + Block.Header
  // A response written first in the call's scratch starts a header's room above the top: carved there, it stays.
  if (to == at) return to
  // Else a block carved at the top sits below the text, so copying upward in address order never overwrites
  // what is still to be read. Eight bytes at a time: for a response's few hundred bytes, V8's `memory.copy`
  // (a call out of the compiled code) costs more.
  let end = to + length
  for (; to + 8 <= end; to += 8, at += 8) store<u64>(to, load<u64>(at))
  for (; to < end; to++, at++) store<u8>(to, load<u8>(at))
  return b + Block.Header
}

// ---- Kept for the module's life

/** `length` zeroed bytes that no export ever frees (16-aligned), or 0 when memory cannot hold them. */
export function keepZeroed(length: usize): usize {
  let b = take(blockSize(<u64>length), KEPT)
  if (b == 0) return 0
  store<u32>(b, <u32>length, Block.Length)
  memory.fill(b + Block.Header, 0, length)
  return b + Block.Header
}
