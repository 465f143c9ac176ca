// Reads the policy blob that `emit` places at `__perso_policy` (layout in
// src/layout.ts and docs/design.md "The policy blob"). Nothing here trusts the
// blob: verify.ts checks all of it once, and every export answers an error
// until it has passed.

import { BLOB_FORMAT, BLOB_MAGIC, Header } from './layout'
import { inMemory, memoryBytes } from './heap'

/** Address of the blob; `emit` sets it in the artifact (0 in the bare template). */
export let __perso_policy: u32 = 0

// @ts-ignore: decorator
@inline export function blob(): usize {
  return <usize>__perso_policy
}

// @ts-ignore: decorator
@inline export function header(field: Header): u32 {
  return load<u32>(blob() + <usize>field)
}

/** True when a blob header of this format is compiled in (its content is verify.ts's to judge). */
export function hasHeader(): bool {
  let p = blob()
  return p >= 1024 && inMemory(p, Header.Size) && header(Header.Magic) == BLOB_MAGIC && header(Header.Format) == BLOB_FORMAT
}

/**
 * First heap address: after the blob, or after the template's static data
 * without one. A header whose end is not inside memory is corrupt (verify.ts
 * says so to every call); the heap then starts past all of memory as the
 * module began, so that no buffer is ever placed over the blob.
 */
export function heapStart(): usize {
  if (!hasHeader()) return __heap_base
  let end = <usize>header(Header.BlobEnd)
  if (end > blob() && end >= __heap_base && inMemory(blob(), end - blob())) return end
  return <usize>memoryBytes()
}

/** Where the template's own static data ends (zeroed tables included): `emit` places the blob past it, then un-exports this. */
export const __perso_static_end: u32 = <u32>__heap_base
