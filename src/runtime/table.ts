// The flat (tool, role) table: FNV-1a over `tool 0xFF role`, then linear probing
// (docs/design.md "Table").

import { Entry, Header, Slot } from './layout'
import { header } from './blob'
import { bytesEqual } from './text'

const FNV_OFFSET: u32 = 0x811c9dc5
const FNV_PRIME: u32 = 0x01000193

function fnv1a(h: u32, p: usize, len: usize): u32 {
  for (let i: usize = 0; i < len; i++) h = (h ^ <u32>load<u8>(p + i)) * FNV_PRIME
  return h
}

export function tableHash(tool: usize, toolLen: usize, role: usize, roleLen: usize): u32 {
  let h = fnv1a(FNV_OFFSET, tool, toolLen)
  h = (h ^ 0xff) * FNV_PRIME
  return fnv1a(h, role, roleLen)
}

/** The entry for (tool, role), or 0 when the table has none. */
export function probe(tool: usize, toolLen: usize, role: usize, roleLen: usize): usize {
  let slots = <usize>header(Header.TablePtr)
  let mask = header(Header.TableMask)
  let hash = tableHash(tool, toolLen, role, roleLen)
  let i = hash & mask
  // The load factor keeps an empty slot, but bound the walk anyway: never loop forever.
  for (let seen: u32 = 0; seen <= mask; seen++) {
    let slot = slots + (<usize>i << 3)
    let entry = <usize>load<u32>(slot, Slot.EntryPtr)
    if (entry == 0) return 0
    if (load<u32>(slot, Slot.Hash) == hash && matches(entry, tool, toolLen, role, roleLen)) return entry
    i = (i + 1) & mask
  }
  return 0
}

function matches(entry: usize, tool: usize, toolLen: usize, role: usize, roleLen: usize): bool {
  return (
    <usize>load<u32>(entry, Entry.ToolLen) == toolLen &&
    <usize>load<u32>(entry, Entry.RoleLen) == roleLen &&
    bytesEqual(<usize>load<u32>(entry, Entry.ToolPtr), tool, toolLen) &&
    bytesEqual(<usize>load<u32>(entry, Entry.RolePtr), role, roleLen)
  )
}
