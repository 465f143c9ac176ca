// Reads the policy blob back out of an artifact's bytes: the data segments of
// the wasm binary laid out as memory, then the blob's header, entries, table,
// conditions, reads and nodes per src/layout.ts (docs/design.md "The policy
// blob"). What the artifact decides by, as opposed to what its `perso` section
// says. Every pointer, count and size is checked as the runtime's verify.ts
// checks them: a corrupt blob is an Error with a reason, never a throw.

import { entryHash } from '../compiler/codegen.js'
import type { Node, Read } from '../compiler/ir.js'
import type { Action, NumericOp } from '../compiler/policy.js'
import {
  BLOB_FORMAT, BLOB_MAGIC, Cmp, CompositeNode, Condition, Entry, EqualsNode, Header, InNode, Limit, NotNode, NumericNode, Op,
  PresentNode, Read as ReadLayout, SOURCES, Slot, TextRef,
} from '@perso/sdk/internal/layout'
import { Image, type ModuleData, Unreadable, fail, readModule } from './wasm-data.js'

/** One row of the blob's table. */
export interface BlobEntry {
  tool: string
  role: string
  /** Index into `conditions`, or null when the entry allows without condition. */
  condition: number | null
}

/** A condition as the blob holds it: the fields it reads and its node tree (the IR of src/compiler/ir.ts). */
export interface BlobCondition {
  reads: Read[]
  root: Node
}

/** What the blob of an artifact says: the same facts as the compiler's `Program`, less what only the source knows (rules, declarations, hashes of the source). */
export interface PolicyBlob {
  format: number
  /** Where the blob lies in memory, and its size in bytes. */
  address: number
  size: number
  version: string
  defaultAction: Action
  /** Hex SHA-256 of the policy's canonical text: what `init` compares. */
  digest: string
  /** The table's slot count. */
  slots: number
  /** In the blob's order, which is the compiler's: sorted by (tool, role). */
  entries: BlobEntry[]
  conditions: BlobCondition[]
}

/** The artifact holds a blob, but of a format this perso does not read (an older release's, say). */
export class BlobFormatError extends Error {
  constructor(readonly format: number) {
    super(`its policy blob is format ${format}; this perso reads format ${BLOB_FORMAT}`)
  }
}

/** The artifact's policy blob, or an Error that says why it cannot be read. */
export function readBlob(wasm: Uint8Array): PolicyBlob | Error {
  try {
    const module = readModule(wasm)
    return new BlobReader(module).read()
  } catch (e) {
    if (e instanceof Unreadable) return new Error(e.message)
    if (e instanceof BlobFormatError) return e
    throw e
  }
}

const CMP_NAMES = Object.fromEntries(Object.entries(Cmp).map(([name, code]) => [code, name])) as Record<number, NumericOp>
/** No string of a policy is longer than its file (parse.ts refuses more than 16 MiB). */
const POLICY_LIMIT = 16 << 20

class BlobReader {
  private readonly image: Image
  private first = 0
  private end = 0
  private readonly decoder = new TextDecoder('utf-8', { fatal: true })
  private readonly strings = new Map<string, string>()
  /** Bytes decoded so far, against a budget: the pool stores each string once, so sound blobs never need more than they hold. */
  private decoded = 0
  private budget = 0

  constructor(private readonly module: ModuleData) {
    this.image = new Image(module.segments)
  }

  read(): PolicyBlob {
    const first = this.locate()
    this.first = first
    const format = this.image.u32(first + Header.Format)
    if (format !== BLOB_FORMAT) throw new BlobFormatError(format)
    this.end = this.header(Header.BlobEnd)
    if (first < 1024) fail(`the blob lies at ${first}, inside the runtime's own data`)
    if (this.end < first + Header.Size) fail('the blob ends before its header does')
    if (this.end > this.module.memoryBytes) fail('the blob ends past the module\'s memory')
    let present = 0
    for (const p of this.image.within(first, this.end)) present += Math.min(p.offset + p.data.length, this.end) - Math.max(p.offset, first)
    this.budget = present + POLICY_LIMIT
    const action = this.header(Header.DefaultAction)
    if (action > 1) fail(`the default action is ${action}, neither Deny (0) nor Allow (1)`)
    const version = this.string(this.header(Header.VersionPtr), this.header(Header.VersionLen), 'the version')
    const digest = [...this.image.bytes(first + Header.Digest, 32)].map((b) => b.toString(16).padStart(2, '0')).join('')
    const { conditions, starts } = this.conditions()
    const entries = this.entries(starts)
    return {
      format, address: first, size: this.end - first, version, defaultAction: action === 1 ? 'Allow' : 'Deny', digest,
      slots: this.header(Header.TableMask) + 1, entries, conditions,
    }
  }

  /** The address of the one segment whose first word is the magic. */
  private locate(): number {
    // Only the magic need be in the segment: memory-packing may cut the header right after it (Format 2 is followed by zeros).
    const magic = this.module.segments.filter((s) => s.data.length >= 4 && new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, true) === BLOB_MAGIC)
    if (magic.length === 0) fail('not a perso artifact: no data segment holds a policy blob')
    const sound = magic.filter((s) => this.image.u32(s.offset) === BLOB_MAGIC)
    if (sound.length !== 1) fail(sound.length === 0 ? 'the policy blob is overwritten by another data segment' : 'several data segments start like a policy blob')
    return sound[0]!.offset
  }

  private header(field: number): number { return this.image.u32(this.first + field) }

  private within(ptr: number, len: number): boolean { return ptr >= this.first && ptr + len <= this.end }

  private string(ptr: number, len: number, what: string): string {
    if (!this.within(ptr, len)) fail(`${what} lies outside the blob`)
    const key = `${ptr}:${len}`
    let text = this.strings.get(key)
    if (text === undefined) {
      this.decoded += len
      if (this.decoded > this.budget) fail('the blob\'s strings overlap far beyond its size')
      try {
        text = this.decoder.decode(this.image.bytes(ptr, len))
      } catch {
        return fail(`${what} is not UTF-8`)
      }
      this.strings.set(key, text)
    }
    return text
  }

  /** A text ref at `field`'s address: a (ptr, len) pair inside the blob, pointing inside it. */
  private ref(field: number, what: string): void {
    const at = this.image.u32(field)
    if (!this.within(at, TextRef.Size) || !this.within(this.image.u32(at + TextRef.Ptr), this.image.u32(at + TextRef.Len))) fail(`${what} lies outside the blob`)
  }

  private conditions(): { conditions: BlobCondition[]; starts: Map<number, number> } {
    const count = this.header(Header.ConditionCount)
    let at = this.header(Header.ConditionsPtr)
    if (!this.within(at, 0)) fail('the conditions lie outside the blob')
    const conditions: BlobCondition[] = []
    const starts = new Map<number, number>()
    for (let i = 0; i < count; i++) {
      starts.set(at, i)
      const what = `condition ${i}`
      if (!this.within(at, Condition.Reads)) fail(`${what} lies outside the blob`)
      const size = this.image.u32(at + Condition.Size)
      const readCount = this.image.u32(at + Condition.ReadCount)
      const root = at + Condition.Reads + readCount * ReadLayout.Size
      if (!this.within(at, size) || readCount > 0xffff || root > at + size) fail(`${what}'s size or read count lies outside the blob`)
      const reads: Read[] = []
      for (let r = at + Condition.Reads; r < root; r += ReadLayout.Size) {
        const source = SOURCES[this.image.u32(r + ReadLayout.Source)] ?? fail(`${what} reads an unknown source`)
        reads.push({ source, field: this.string(this.image.u32(r + ReadLayout.FieldPtr), this.image.u32(r + ReadLayout.FieldLen), `a field name of ${what}`) })
      }
      const node = this.node(root, at + size, readCount, 0, what)
      if (node.end !== at + size) fail(`${what}'s nodes do not fill it`)
      conditions.push({ reads, root: node.node })
      at += size
    }
    return { conditions, starts }
  }

  /** The node at `n`, inside [n, limit), and where it ends. */
  private node(n: number, limit: number, reads: number, depth: number, what: string): { node: Node; end: number } {
    if (depth >= Limit.ConditionDepth) fail(`${what} is nested ${Limit.ConditionDepth} levels deep or more`)
    if (n >= limit) fail(`${what} has a node past its end`)
    const op = this.image.u8(n)
    const fits = (size: number): void => void (n + size > limit && fail(`${what} has a node past its end`))
    const read = (at: number): number => {
      const index = this.image.u16(at)
      return index < reads ? index : fail(`${what} has a node reading past its reads`)
    }
    switch (op) {
      case Op.All:
      case Op.Any: {
        fits(CompositeNode.Header)
        const last = n + this.image.u32(n + CompositeNode.Size)
        if (last > limit) fail(`${what} has a node past its end`)
        this.ref(n + CompositeNode.Label, `a label of ${what}`)
        const count = this.image.u32(n + CompositeNode.Count)
        const children: Node[] = []
        let child = n + CompositeNode.Header
        for (let i = 0; i < count; i++) {
          const next = this.node(child, last, reads, depth + 1, what)
          children.push(next.node)
          child = next.end
        }
        if (child !== last) fail(`${what} has a node whose size does not add up`)
        return { node: { kind: op === Op.All ? 'all' : 'any', children }, end: last }
      }
      case Op.Not: {
        fits(NotNode.Header)
        const last = n + this.image.u32(n + NotNode.Size)
        if (last > limit) fail(`${what} has a node past its end`)
        this.ref(n + NotNode.Label, `a label of ${what}`)
        const child = this.node(n + NotNode.Header, last, reads, depth + 1, what)
        if (child.end !== last) fail(`${what} has a node whose size does not add up`)
        return { node: { kind: 'not', child: child.node }, end: last }
      }
      case Op.Numeric: {
        fits(NumericNode.Size)
        const index = read(n + NumericNode.Read)
        const cmp = CMP_NAMES[this.image.u8(n + NumericNode.Cmp)] ?? fail(`${what} has an unknown comparison`)
        const value = this.image.f64(n + NumericNode.Value)
        if (Number.isNaN(value)) fail(`${what} compares with NaN`)
        this.ref(n + NumericNode.Text, `a text of ${what}`)
        return { node: { kind: 'numeric', read: index, op: cmp, value }, end: n + NumericNode.Size }
      }
      case Op.In:
      case Op.NotIn: {
        fits(InNode.Size)
        const index = read(n + InNode.Read)
        const list = this.image.u32(n + InNode.List)
        const count = this.image.u32(n + InNode.Count)
        if (!this.within(list, count * TextRef.Size)) fail(`a list of ${what} lies outside the blob`)
        const values: string[] = []
        for (let i = 0; i < count; i++) {
          const at = list + i * TextRef.Size
          values.push(this.string(this.image.u32(at + TextRef.Ptr), this.image.u32(at + TextRef.Len), `a value of ${what}`))
        }
        this.ref(n + InNode.Text, `a text of ${what}`)
        return { node: { kind: 'string_in', read: index, values, negate: op === Op.NotIn }, end: n + InNode.Size }
      }
      case Op.Present:
        fits(PresentNode.Size)
        return { node: { kind: 'present', read: read(n + PresentNode.Read) }, end: n + PresentNode.Size }
      case Op.Equals:
        fits(EqualsNode.Size)
        return { node: { kind: 'equals', a: read(n + EqualsNode.A), b: read(n + EqualsNode.B) }, end: n + EqualsNode.Size }
      default:
        return fail(`${what} has a node of unknown op ${op}`)
    }
  }

  /** The entries, each found by probing its own tool and role, and every slot empty or one of them. */
  private entries(starts: ReadonlyMap<number, number>): BlobEntry[] {
    const count = this.header(Header.EntryCount)
    const base = this.header(Header.EntriesPtr)
    const slots = this.header(Header.TablePtr)
    const capacity = this.header(Header.TableMask) + 1
    if (!this.within(base, count * Entry.Size)) fail('the entries lie outside the blob')
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0 || capacity <= count) fail(`the table has ${capacity} slots for ${count} entries`)
    if (!this.within(slots, capacity * Slot.Size)) fail('the table lies outside the blob')
    const entries: BlobEntry[] = []
    const bytes: [Uint8Array, Uint8Array][] = []
    for (let i = 0; i < count; i++) {
      const e = base + i * Entry.Size
      const what = `entry ${i}`
      const [toolPtr, toolLen, rolePtr, roleLen] = [Entry.ToolPtr, Entry.ToolLen, Entry.RolePtr, Entry.RoleLen].map((f) => this.image.u32(e + f)) as [number, number, number, number]
      const tool = this.string(toolPtr, toolLen, `the tool of ${what}`)
      const role = this.string(rolePtr, roleLen, `the role of ${what}`)
      const cond = this.image.u32(e + Entry.CondPtr)
      const condition = cond === 0 ? null : (starts.get(cond) ?? fail(`${what}'s condition is not one of the conditions`))
      entries.push({ tool, role, condition })
      bytes.push([this.image.bytes(toolPtr, toolLen), this.image.bytes(rolePtr, roleLen)])
    }
    // Only slots some segment writes can be taken: the zero runs memory-packing dropped are empty slots.
    let used = 0
    let next = 0
    const slotOf = new Map<number, number>()
    for (const piece of this.image.within(slots, slots + capacity * Slot.Size)) {
      const last = Math.min(capacity, Math.ceil((piece.offset + piece.data.length - slots) / Slot.Size))
      for (let s = Math.max(next, Math.floor((piece.offset - slots) / Slot.Size)); s < last; s++) {
        const e = this.image.u32(slots + s * Slot.Size + Slot.EntryPtr)
        if (e === 0) continue
        if (e < base || e >= base + count * Entry.Size || (e - base) % Entry.Size !== 0) fail(`slot ${s} of the table is not an entry`)
        slotOf.set(s, (e - base) / Entry.Size)
        used++
      }
      next = Math.max(next, last)
    }
    if (used !== count) fail(`the table holds ${used} entries, the header says ${count}`)
    const mask = capacity - 1
    let steps = 0
    entries.forEach((entry, i) => {
      const [tool, role] = bytes[i]!
      const hash = entryHash(tool, role)
      for (let s = hash & mask; ; s = (s + 1) & mask) {
        // Sound tables keep half their slots empty, so probes are short; a hostile one must not make this slow.
        if (++steps > 64 * capacity) fail('the table\'s probes are too long')
        const found = slotOf.get(s)
        if (found === undefined) fail(`entry ${i} (\`${entry.tool}\` for \`${entry.role}\`) is not found by probing the table`)
        if (this.image.u32(slots + s * Slot.Size + Slot.Hash) === hash && entries[found!]!.tool === entry.tool && entries[found!]!.role === entry.role) {
          if (found !== i) fail(`entry ${i} (\`${entry.tool}\` for \`${entry.role}\`) is hidden by another entry for the same pair`)
          break
        }
      }
    })
    return entries
  }
}
