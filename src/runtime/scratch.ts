// A call's scratch (docs/design.md "Memory model"): its working memory in the
// wilderness, above the heap's top and above every input it declared, dead
// when the call returns but for the response, which heap.ts keeps in a block.

import { beginBuffers, settle, useBuffers } from './buffers'
import { Fault, clearFault, raise } from './fault'
import { Block, MEMORY_LIMIT, align16, grow, inMemory, knownBytes, reserve, top } from './heap'

let scratchFloor: usize = 0
let scratchTop: usize = 0

/** Starts a call: its inputs are then declared with `input`, and scratch starts with `startScratch`. */
export function beginCall(): void {
  beginBuffers()
  scratchFloor = top
  clearFault()
}

/**
 * Declares that the call reads `[ptr, ptr + len)`: false when that is outside
 * memory (as the host left it). Otherwise the buffers it lies in count as used,
 * and scratch will start above it.
 */
export function input(ptr: usize, len: usize): bool {
  if (!inMemory(ptr, len)) return false
  if (len == 0) return true
  useBuffers(ptr, ptr + len)
  if (ptr + len > scratchFloor) scratchFloor = ptr + len
  return true
}

/** After the inputs: their buffers count as used, and scratch starts above the heap and every input, one header's room higher so the response block can sit at the top. */
export function startScratch(): void {
  settle()
  scratchTop = <usize>min<u64>(align16(<u64>scratchFloor) + Block.Header, MEMORY_LIMIT - 16)
}

/** `len` bytes of scratch (16-aligned), or 0 with the call's fault raised. */
export function scratch(len: u64): usize {
  let ptr = scratchTop
  let end = align16(<u64>ptr + len)
  if (!reserve(end)) {
    raise(Fault.OutOfMemory)
    return 0
  }
  scratchTop = <usize>end
  return ptr
}

/** The scratch top, to hand back to `rewind` when a nested use is done. */
export function scratchMark(): usize {
  return scratchTop
}

export function rewind(mark: usize): void {
  scratchTop = mark
}

/** Moves the scratch top to `end` (a text being written claims its bytes), false when memory cannot grow. */
// @ts-ignore: decorator
@inline export function claimTo(end: u64): bool {
  if (end <= knownBytes) {
    scratchTop = <usize>end
    return true
  }
  return claimGrowing(end)
}

function claimGrowing(end: u64): bool {
  if (!grow(end)) {
    raise(Fault.OutOfMemory)
    return false
  }
  scratchTop = <usize>end
  return true
}

