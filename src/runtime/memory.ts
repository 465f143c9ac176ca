// The bounded allocator (docs/design.md "Memory model"): an input arena the host
// fills through `alloc`, and per-call scratch above it; nothing else ever grows memory.

import { heapStart } from './blob'

/** Largest buffer `alloc` hands out: 256 MiB. Bigger requests answer 0. */
export const INPUT_LIMIT: u32 = 256 << 20

const PAGE_BITS: u64 = 16
/** wasm32 linear memory can never exceed 4 GiB. */
const MEMORY_LIMIT: u64 = <u64>1 << 32

let arenaTop: usize = 0
/** Set by `evaluate` and `init`: the next `alloc` starts the arena afresh. */
let arenaStale: bool = true
let scratchTop: usize = 0

/** Set when scratch could not grow; the call then answers an error. */
export let outOfMemory: bool = false

export function align16(x: u64): u64 {
  return (x + 15) & ~<u64>15
}

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

function grow(end: u64): bool {
  let have = memoryBytes()
  if (end <= have) return true
  if (end > MEMORY_LIMIT) return false
  let pages = <i32>((end - have + 0xFFFF) >> PAGE_BITS)
  return memory.grow(pages) >= 0
}

/** True when `[ptr, ptr + len)` lies inside memory. */
// @ts-ignore: decorator
export function inMemory(ptr: usize, len: usize): bool {
  let end = <u64>ptr + <u64>len
  return end <= knownBytes || end <= memoryBytes()
}

export function alloc(len: i32): usize {
  if (len < 0 || <u32>len > INPUT_LIMIT) return 0
  if (arenaStale) {
    arenaTop = heapStart()
    arenaStale = false
  }
  let ptr = arenaTop
  let end = align16(<u64>ptr + <u64>len)
  if (!reserve(end)) return 0
  arenaTop = <usize>end
  return ptr
}

/**
 * Starts a call's scratch just past the arena and past `floor` (the end of the
 * highest input buffer), so scratch never overlaps what the host wrote.
 * The arena is reset by the next `alloc`.
 */
export function beginCall(floor: u64): void {
  // The arena top is past the heap start once anything was allocated: no blob lookup then.
  let base = align16(max<u64>(arenaTop != 0 ? <u64>arenaTop : <u64>heapStart(), floor))
  // An in-memory floor is below 4 GiB; clamp anyway so the cast cannot wrap.
  scratchTop = <usize>min<u64>(base, MEMORY_LIMIT - 16)
  arenaStale = true
  outOfMemory = false
}

/** `len` bytes of scratch (16-aligned), or 0 with `outOfMemory` set. */
export function scratch(len: u64): usize {
  let ptr = scratchTop
  let end = align16(<u64>ptr + len)
  if (!reserve(end)) {
    outOfMemory = true
    return 0
  }
  scratchTop = <usize>end
  return ptr
}

/** The current scratch top, to hand back with `release` when a nested use is done. */
export function mark(): usize {
  return scratchTop
}

export function release(top: usize): void {
  scratchTop = top
}

/** End of a host buffer, to keep scratch above it; 0 for a buffer outside memory. */
export function endIfInMemory(ptr: usize, len: usize): u64 {
  return inMemory(ptr, len) ? <u64>ptr + <u64>len : 0
}
