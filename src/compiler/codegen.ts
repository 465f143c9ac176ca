// codegen: lays a Program out as the policy blob the runtime reads (layout in
// docs/design.md "The policy blob"). Pure bytes; no binaryen here.

import { createHash } from 'node:crypto'
import type { Condition, Entry, Node, Program } from './ir.js'
import { BLOB_FORMAT, BLOB_MAGIC, Cmp, Condition as ConditionLayout, Entry as EntryLayout, Header, Op, Slot, Source } from '@perso/sdk/internal/layout'
import { label, listText, numericText } from './texts.js'

const encoder = new TextEncoder()

/** FNV-1a 32 over tool, 0xFF, role: the table key the runtime computes the same way. */
export function entryHash(tool: Uint8Array, role: Uint8Array): number {
  let h = 0x811c9dc5
  const step = (byte: number): void => {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0
  }
  tool.forEach(step)
  step(0xff)
  role.forEach(step)
  return h
}

/** Where something in the blob will live; resolved to an address once everything is sized. */
type Target = { kind: 'string' | 'ref' | 'list' | 'condition'; key: string }

/** A growable little-endian byte buffer whose pointer fields are patched at the end. */
class Section {
  private bytes = new Uint8Array(256)
  private view = new DataView(this.bytes.buffer)
  length = 0
  readonly relocations: { at: number; target: Target }[] = []

  private reserve(n: number): number {
    const at = this.length
    if (at + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, at + n))
      grown.set(this.bytes)
      this.bytes = grown
      this.view = new DataView(grown.buffer)
    }
    this.length += n
    return at
  }
  // Each writer reserves before touching this.view/this.bytes: reserve may replace them.
  u8(v: number): void {
    const at = this.reserve(1)
    this.view.setUint8(at, v)
  }
  u16(v: number): void {
    const at = this.reserve(2)
    this.view.setUint16(at, v, true)
  }
  u32(v: number): number {
    const at = this.reserve(4)
    this.view.setUint32(at, v, true)
    return at
  }
  f64(v: number): void {
    const at = this.reserve(8)
    this.view.setFloat64(at, v, true)
  }
  raw(data: Uint8Array): void {
    const at = this.reserve(data.length)
    this.bytes.set(data, at)
  }
  pointer(target: Target): void { this.relocations.push({ at: this.u32(0), target }) }
  patch(at: number, v: number): void { this.view.setUint32(at, v, true) }
  align(n: number): void { while (this.length % n !== 0) this.u8(0) }
  contents(): Uint8Array { return this.bytes.subarray(0, this.length) }
}

/** Every text and list, stored once however many nodes use it. */
class Pool {
  readonly strings = new Map<string, Uint8Array>()
  readonly refs = new Set<string>()
  readonly lists = new Map<string, string[]>()

  string(s: string): Target {
    if (!this.strings.has(s)) this.strings.set(s, encoder.encode(s))
    return { kind: 'string', key: s }
  }
  length(s: string): number {
    return this.bytes(s).length
  }
  bytes(s: string): Uint8Array {
    return this.strings.get(s) ?? encoder.encode(s)
  }
  ref(s: string): Target {
    this.string(s)
    this.refs.add(s)
    return { kind: 'ref', key: s }
  }
  list(values: string[]): Target {
    const key = JSON.stringify(values)
    values.forEach((v) => this.string(v))
    this.lists.set(key, values)
    return { kind: 'list', key }
  }
}

function encodeNode(out: Section, pool: Pool, node: Node, condition: Condition): void {
  switch (node.kind) {
    case 'all':
    case 'any': {
      const start = out.length
      out.u8(node.kind === 'all' ? Op.All : Op.Any)
      out.u32(node.children.length)
      const size = out.u32(0)
      out.pointer(pool.ref(label(node, condition.reads)))
      node.children.forEach((child) => encodeNode(out, pool, child, condition))
      out.patch(size, out.length - start)
      return
    }
    case 'not': {
      const start = out.length
      out.u8(Op.Not)
      const size = out.u32(0)
      out.pointer(pool.ref(label(node, condition.reads)))
      encodeNode(out, pool, node.child, condition)
      out.patch(size, out.length - start)
      return
    }
    case 'numeric':
      out.u8(Op.Numeric)
      out.u16(node.read)
      out.u8(Cmp[node.op])
      out.f64(node.value)
      out.pointer(pool.ref(numericText(node.op, node.value)))
      return
    case 'string_in':
      out.u8(node.negate ? Op.NotIn : Op.In)
      out.u16(node.read)
      out.u32(node.values.length)
      out.pointer(pool.list(node.values))
      out.pointer(pool.ref(listText(node.negate ? 'NotIn' : 'In', node.values)))
      return
    case 'present':
      out.u8(Op.Present)
      out.u16(node.read)
      return
    case 'equals':
      out.u8(Op.Equals)
      out.u16(node.a)
      out.u16(node.b)
      return
    default:
      throw new Error(`internal: unknown node ${(node satisfies never as Node).kind}`)
  }
}

/** A condition: its size, its reads, its nodes (src/layout.ts `Condition`). */
function encodeCondition(out: Section, pool: Pool, condition: Condition): void {
  const start = out.length
  const size = out.u32(0)
  out.u32(condition.reads.length)
  for (const read of condition.reads) {
    out.u32(Source[read.source])
    out.pointer(pool.string(read.field))
    out.u32(pool.length(read.field))
  }
  encodeNode(out, pool, condition.root, condition)
  out.patch(size, out.length - start)
  if (size !== start + ConditionLayout.Size) throw new Error('internal: condition header drifted')
}

/** Smallest power of two that keeps the load factor at or under one half. */
export const tableCapacity = (entries: number): number => {
  let capacity = 2
  while (capacity < entries * 2) capacity *= 2
  return capacity
}

function encodeTable(entries: readonly Entry[], pool: Pool, entryAddress: (i: number) => number): Uint32Array {
  const capacity = tableCapacity(entries.length)
  const slots = new Uint32Array(capacity * 2)
  entries.forEach((entry, i) => {
    // The pool already holds every tool's and role's bytes: no encoding per entry.
    const hash = entryHash(pool.bytes(entry.tool), pool.bytes(entry.role))
    let slot = hash & (capacity - 1)
    while (slots[slot * 2 + 1] !== 0) slot = (slot + 1) & (capacity - 1)
    slots[slot * 2] = hash
    slots[slot * 2 + 1] = entryAddress(i)
  })
  return slots
}

/** The blob for `program`, to be placed at absolute address `base` (16-aligned). */
export function codegen(program: Program, base: number): Uint8Array {
  const pool = new Pool()
  const conditions = new Section()
  const conditionOffsets = program.conditions.map((condition) => {
    const at = conditions.length
    encodeCondition(conditions, pool, condition)
    return at
  })

  const entries = new Section()
  for (const entry of program.entries) {
    entries.pointer(pool.string(entry.tool))
    entries.u32(pool.length(entry.tool))
    entries.pointer(pool.string(entry.role))
    entries.u32(pool.length(entry.role))
    if (entry.condition === null) entries.u32(0)
    else entries.pointer({ kind: 'condition', key: String(entry.condition) })
  }
  pool.string(program.version)

  // Sized sections, in address order: header, entries, table, conditions, refs, lists, strings.
  // One map per kind: a key built per relocation (`kind:key`) cost a string concatenation each, hundreds of thousands at scale.
  const addresses: Record<Target['kind'], Map<string, number>> = { string: new Map(), ref: new Map(), list: new Map(), condition: new Map() }
  const addressOf = (target: Target): number => {
    const address = addresses[target.kind].get(target.key)
    if (address === undefined) throw new Error(`internal: unplaced ${target.kind} ${target.key}`)
    return address
  }
  let cursor = base + Header.Size
  const entriesAt = cursor
  cursor += entries.length
  cursor = align(cursor, Slot.Size)
  const tableAt = cursor
  const capacity = tableCapacity(program.entries.length)
  cursor += capacity * Slot.Size
  const conditionsAt = cursor
  conditionOffsets.forEach((offset, i) => addresses.condition.set(String(i), conditionsAt + offset))
  cursor = align(cursor + conditions.length, 4)
  for (const key of pool.refs) {
    addresses.ref.set(key, cursor)
    cursor += 8
  }
  for (const [key, values] of pool.lists) {
    addresses.list.set(key, cursor)
    cursor += 8 * values.length
  }
  for (const [key, bytes] of pool.strings) {
    addresses.string.set(key, cursor)
    cursor += bytes.length
  }
  const end = cursor

  // The header, field by field in src/layout.ts order; each offset is checked as it is written.
  const out = new Section()
  const field = (offset: number, write: () => void): void => {
    if (out.length !== offset) throw new Error(`internal: blob header field at ${out.length}, layout says ${offset}`)
    write()
  }
  field(Header.Magic, () => out.u32(BLOB_MAGIC))
  field(Header.Format, () => out.u32(BLOB_FORMAT))
  field(Header.DefaultAction, () => out.u32(program.defaultAction === 'Allow' ? 1 : 0))
  field(Header.EntryCount, () => out.u32(program.entries.length))
  field(Header.EntriesPtr, () => out.u32(entriesAt))
  field(Header.TablePtr, () => out.u32(tableAt))
  field(Header.TableMask, () => out.u32(capacity - 1))
  field(Header.ConditionCount, () => out.u32(program.conditions.length))
  field(Header.ConditionsPtr, () => out.u32(conditionsAt))
  field(Header.VersionPtr, () => out.pointer(pool.string(program.version)))
  field(Header.VersionLen, () => out.u32(pool.length(program.version)))
  field(Header.Digest, () => out.raw(Buffer.from(program.digest, 'hex')))
  field(Header.BlobEnd, () => out.u32(end))
  field(Header.Size, () => undefined)
  for (const { at, target } of out.relocations) out.patch(at, addressOf(target))

  const place = (section: Section, at: number): void => {
    for (const { at: offset, target } of section.relocations) section.patch(offset, addressOf(target))
    out.raw(section.contents())
    if (base + out.length !== at + section.length) throw new Error('internal: section misplaced')
  }
  place(entries, entriesAt)
  out.align(Slot.Size)
  const table = encodeTable(program.entries, pool, (i) => entriesAt + i * EntryLayout.Size)
  out.raw(new Uint8Array(table.buffer))
  place(conditions, conditionsAt)
  out.align(4)
  const refs = new Section()
  for (const key of pool.refs) {
    refs.pointer({ kind: 'string', key })
    refs.u32(pool.length(key))
  }
  for (const values of pool.lists.values()) {
    for (const v of values) {
      refs.pointer({ kind: 'string', key: v })
      refs.u32(pool.length(v))
    }
  }
  place(refs, base + out.length)
  for (const bytes of pool.strings.values()) out.raw(bytes)
  if (base + out.length !== end) throw new Error('internal: blob size drifted')
  return out.contents().slice()
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to

/** Hex SHA-256: of the policy source for the metadata, of its canonical text for the blob (what `init` compares). */
export const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex')
