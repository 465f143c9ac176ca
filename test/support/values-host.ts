// A raw host for the values export `evaluate_values(tool_ptr, tool_len, role_ptr,
// role_len, values) -> resp` (docs/design.md "The values export"): writes the
// tool, the role and a values table (src/layout.ts `ValuesTable`, `ValueRecord`)
// into module memory, calls, reads the response and releases it.

import type { Read } from '../../src/compiler/ir.js'
import type { Metadata } from '../../packages/sdk/src/metadata.js'
import { Source, ValueRecord, ValuesTable } from '../../packages/sdk/src/layout.js'
import { bytesOf, Host, type Exports, type Input } from './host.js'

export type ValuesExports = Exports & {
  evaluate_values(toolPtr: number, toolLen: number, rolePtr: number, roleLen: number, values: number): number
}

/** One record of a values table: the source code and field name the host claims, and the value's JSON text (absent when undefined). */
export interface Claim {
  source: number
  name: Uint8Array
  value?: Uint8Array | undefined
}

/** A record as it is written: every word chosen by the caller (garbage, pointers outside memory). */
export type RawRecord = [source: number, namePtr: number, nameLen: number, valuePtr: number, valueLen: number]

/**
 * Where the pieces go, all `alloc` buffers: everything in one buffer (table,
 * names, values, tool, role), or one buffer each with the table allocated
 * first or last. An absent value points at the table, at 0, or far past
 * memory, by layout: it is not read, so it may point anywhere.
 */
export type Layout = 'one-buffer' | 'table-first' | 'table-last'
export const LAYOUTS: Layout[] = ['one-buffer', 'table-first', 'table-last']

const ABSENT_AT: Record<Layout, (table: number) => number> = {
  'one-buffer': (table) => table,
  'table-first': () => 0,
  'table-last': () => 0xfffffff0,
}

const encoder = new TextEncoder()

export class ValuesHost extends Host {
  declare readonly exports: ValuesExports

  /** A fresh instance of `module`, or the exports of one made elsewhere (linkInMemory). */
  constructor(source: WebAssembly.Module | Exports) {
    super(source instanceof WebAssembly.Module ? (new WebAssembly.Instance(source, {}).exports as unknown as ValuesExports) : source)
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer)
  }

  view(): DataView {
    return new DataView(this.exports.memory.buffer)
  }

  /** `alloc(len)`, never 0 (a failed alloc traps). */
  alloc(len: number): number {
    const ptr = this.exports.alloc(len)
    if (ptr === 0) throw new Error(`alloc(${len}) answered 0`)
    return ptr
  }

  /** Writes a values table at `table`: `count` (default: the records'), then the records. */
  writeTable(table: number, records: RawRecord[], count = records.length): void {
    const view = this.view()
    view.setUint32(table + ValuesTable.Count, count >>> 0, true)
    records.forEach(([source, namePtr, nameLen, valuePtr, valueLen], r) => {
      const at = table + ValuesTable.Records + r * ValueRecord.Size
      view.setUint32(at + ValueRecord.Source, source >>> 0, true)
      view.setUint32(at + ValueRecord.NamePtr, namePtr >>> 0, true)
      view.setUint32(at + ValueRecord.NameLen, nameLen >>> 0, true)
      view.setUint32(at + ValueRecord.ValuePtr, valuePtr >>> 0, true)
      view.setUint32(at + ValueRecord.ValueLen, valueLen >>> 0, true)
    })
  }

  /** `evaluate_values` on raw words: the response's JSON text, read (UTF-8, strictly) and released. */
  callRaw(toolPtr: number, toolLen: number, rolePtr: number, roleLen: number, table: number): string {
    return this.readResponse(this.exports.evaluate_values(toolPtr >>> 0, toolLen >>> 0, rolePtr >>> 0, roleLen >>> 0, table >>> 0))
  }

  /**
   * Writes tool, role, the claims and their values in `layout`, calls
   * `evaluate_values`, releases every buffer it allocated; the response text.
   * `count` overrides the table's count word (claims written all the same).
   */
  ask(tool: Input, role: Input, claims: Claim[], layout: Layout = 'table-first', count = claims.length): string {
    const toolBytes = bytesOf(tool)
    const roleBytes = bytesOf(role)
    const tableSize = ValuesTable.Records + claims.length * ValueRecord.Size
    const pieces = [toolBytes, roleBytes, ...claims.flatMap((c) => [c.name, c.value ?? new Uint8Array(0)])]
    const buffers: [number, number][] = []
    const own = (len: number): number => {
      const ptr = this.alloc(len)
      buffers.push([ptr, len])
      return ptr
    }
    let table = layout === 'table-first' ? own(tableSize) : 0
    let at: number[]
    if (layout === 'one-buffer') {
      table = own(tableSize + pieces.reduce((n, p) => n + p.length, 0))
      let p = table + tableSize
      at = pieces.map((piece) => {
        this.bytes().set(piece, p)
        p += piece.length
        return p - piece.length
      })
    } else {
      at = pieces.map((piece) => {
        const ptr = own(piece.length)
        this.bytes().set(piece, ptr)
        return ptr
      })
      if (layout === 'table-last') table = own(tableSize)
    }
    const records = claims.map((c, r): RawRecord => {
      const valueLen = c.value?.length ?? 0
      return [c.source, at[2 + 2 * r]!, c.name.length, valueLen === 0 ? ABSENT_AT[layout](table) : at[3 + 2 * r]!, valueLen]
    })
    this.writeTable(table, records, count)
    const text = this.callRaw(at[0]!, toolBytes.length, at[1]!, roleBytes.length, table)
    for (const [ptr, len] of buffers) this.exports.dealloc(ptr, len)
    return text
  }
}

/** The (tool, role) entry's reads per the metadata; undefined when the table has no such entry. */
export function readsOf(metadata: Metadata, tool: string, role: string): Read[] | undefined {
  const entry = metadata.entries.find(([t, r]) => metadata.tools[t] === tool && metadata.roles[r] === role)
  if (entry === undefined) return undefined
  return entry[3] === null ? [] : metadata.conditions[entry[3]]!.reads
}

/** The claim of a read, with the given value. */
export const claimOf = (read: Read, value?: Uint8Array | string): Claim => ({
  source: Source[read.source],
  name: encoder.encode(read.field),
  value: typeof value === 'string' ? encoder.encode(value) : value,
})
