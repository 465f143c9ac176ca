// Reads the policy blob that `emit` places at `__perso_policy` (layout in
// docs/design.md "The policy blob"): header fields, entries, reads and strings.

import { inMemory } from './memory'

/** Address of the blob; `emit` sets it in the artifact (0 in the bare template). */
export let __perso_policy: u32 = 0

const MAGIC: u32 = 0x4f535250
const FORMAT: u32 = 1

export const enum Header {
  DefaultAction = 8,
  TablePtr = 12,
  TableMask = 16,
  VersionPtr = 20,
  VersionLen = 24,
  Sha256 = 28,
  BlobEnd = 60,
}

export const enum EntryField {
  ToolPtr = 0,
  ToolLen = 4,
  RolePtr = 8,
  RoleLen = 12,
  CondPtr = 16,
}

/** True when a well-formed blob is compiled in. */
export function hasPolicy(): bool {
  let p = <usize>__perso_policy
  if (p < 1024 || !inMemory(p, 64)) return false
  return load<u32>(p) == MAGIC && load<u32>(p, 4) == FORMAT
}

// @ts-ignore: decorator
@inline export function header(field: Header): u32 {
  return load<u32>(<usize>__perso_policy + <usize>field)
}

/** First heap address: after the blob, or after the template's static data without one. */
export function heapStart(): usize {
  let end: usize = hasPolicy() ? <usize>header(Header.BlobEnd) : __heap_base
  return (end + 15) & ~15
}

// @ts-ignore: decorator
@inline export function entryField(entry: usize, field: EntryField): u32 {
  return load<u32>(entry + <usize>field)
}
