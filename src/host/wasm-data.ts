// The memory an artifact's data segments lay out, read from the wasm binary
// itself (no instance, no binaryen): the memory's initial size, the active
// segments with their `i32.const` offsets, and a sparse image of memory in
// which a later segment wins where segments overlap, as at instantiation, and
// memory no segment writes is zero (memory-packing drops a blob's zero runs).
// Every read of the binary is checked: a malformed one is `Unreadable`.

/** Why reading stopped, in words for the user. */
export class Unreadable extends Error {}
export const fail = (reason: string): never => {
  throw new Unreadable(reason)
}

export interface Segment {
  offset: number
  data: Uint8Array
}

export interface ModuleData {
  memoryBytes: number
  segments: Segment[]
}

const PAGE = 65536
const SECTION = { Memory: 5, Data: 11 } as const

/** Bytes read front to back, each read checked against the end. */
class Cursor {
  constructor(private readonly bytes: Uint8Array, public at: number, private readonly end: number) {}
  get done(): boolean { return this.at >= this.end }
  byte(): number {
    if (this.at >= this.end) fail('the module is truncated')
    return this.bytes[this.at++]!
  }
  /** Unsigned LEB128, at most 32 bits. */
  u32(): number {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte()
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value <= 0xffffffff ? value : fail('a number in the module is past 32 bits')
    }
    return fail('a number in the module is too long')
  }
  /** Signed LEB128, 32 bits, as the unsigned address it stands for. */
  i32(): number {
    let value = 0
    let shift = 0
    let b: number
    do {
      if (shift >= 35) fail('a number in the module is too long')
      b = this.byte()
      value += (b & 0x7f) * 2 ** shift
      shift += 7
    } while (b & 0x80)
    if (b & 0x40) value -= 2 ** shift
    return value >>> 0
  }
  take(length: number): Uint8Array {
    if (length > this.end - this.at) fail('the module is truncated')
    const out = this.bytes.subarray(this.at, this.at + length)
    this.at += length
    return out
  }
}

export function readModule(wasm: Uint8Array): ModuleData {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
  if (wasm.length < 8 || header.some((b, i) => wasm[i] !== b)) fail('not a WebAssembly module (version 1)')
  const file = new Cursor(wasm, 8, wasm.length)
  let memoryBytes: number | undefined
  const segments: Segment[] = []
  while (!file.done) {
    const id = file.byte()
    const size = file.u32()
    const section = new Cursor(wasm, file.at, file.at + size)
    file.take(size)
    if (id === SECTION.Memory && section.u32() > 0) {
      const limits = section.byte()
      if (limits > 1) fail('the module\'s memory is shared or 64-bit, which perso never writes')
      memoryBytes = section.u32() * PAGE
    }
    if (id === SECTION.Data) segments.push(...dataSegments(section))
  }
  // An imported memory (perso never writes one) leaves no memory section: its data is not all in the file.
  if (memoryBytes === undefined) fail('the module has no memory of its own')
  for (const s of segments) if (s.offset + s.data.length > memoryBytes!) fail(`a data segment at ${s.offset} lies past the module's memory`)
  return { memoryBytes: memoryBytes!, segments }
}

/** The active segments; passive ones place nothing. */
function dataSegments(section: Cursor): Segment[] {
  const segments: Segment[] = []
  for (let n = section.u32(), i = 0; i < n; i++) {
    const flags = section.u32()
    if (flags === 1) {
      section.take(section.u32())
      continue
    }
    if (flags === 2 && section.u32() !== 0) fail(`data segment ${i} is for another memory`)
    if (flags > 2) fail(`data segment ${i} has flags ${flags}, which WebAssembly 2.0 does not define`)
    if (section.byte() !== 0x41) fail(`data segment ${i} is placed by an expression other than \`i32.const\``)
    const offset = section.i32()
    if (section.byte() !== 0x0b) fail(`data segment ${i} is placed by an expression other than \`i32.const\``)
    segments.push({ offset, data: section.take(section.u32()) })
  }
  return segments
}

/** Memory as the segments leave it: sparse, zero where no segment writes. */
export class Image {
  /** Non-overlapping, sorted by start; a later segment wins where segments overlap, as at instantiation. */
  private readonly pieces: Segment[] = []
  private last = 0

  constructor(segments: readonly Segment[]) {
    for (const s of segments) if (s.data.length > 0) this.place(s)
  }

  private place(s: Segment): void {
    const end = s.offset + s.data.length
    const top = this.pieces.at(-1)
    if (top === undefined || top.offset + top.data.length <= s.offset) return void this.pieces.push(s)
    const kept: Segment[] = []
    for (const p of this.pieces) {
      const pEnd = p.offset + p.data.length
      if (pEnd <= s.offset || p.offset >= end) kept.push(p)
      else {
        if (p.offset < s.offset) kept.push({ offset: p.offset, data: p.data.subarray(0, s.offset - p.offset) })
        if (pEnd > end) kept.push({ offset: end, data: p.data.subarray(end - p.offset) })
      }
    }
    kept.push(s)
    kept.sort((a, b) => a.offset - b.offset)
    this.pieces.splice(0, this.pieces.length, ...kept)
  }

  /** The pieces that overlap [start, end), in order. */
  *within(start: number, end: number): Generator<Segment> {
    for (let i = this.find(start); i < this.pieces.length && this.pieces[i]!.offset < end; i++) {
      if (this.pieces[i]!.offset + this.pieces[i]!.data.length > start) yield this.pieces[i]!
    }
  }

  /** Index of the first piece that ends after `address`. */
  private find(address: number): number {
    const cached = this.pieces[this.last]
    if (cached !== undefined && cached.offset <= address && address < cached.offset + cached.data.length) return this.last
    let lo = 0
    let hi = this.pieces.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const p = this.pieces[mid]!
      if (p.offset + p.data.length <= address) lo = mid + 1
      else hi = mid
    }
    this.last = Math.min(lo, Math.max(0, this.pieces.length - 1))
    return lo
  }

  bytes(address: number, length: number): Uint8Array {
    const i = this.find(address)
    const p = this.pieces[i]
    if (p !== undefined && p.offset <= address && address + length <= p.offset + p.data.length) {
      return p.data.subarray(address - p.offset, address - p.offset + length)
    }
    const out = new Uint8Array(length)
    for (const q of this.within(address, address + length)) {
      const from = Math.max(address, q.offset)
      const to = Math.min(address + length, q.offset + q.data.length)
      out.set(q.data.subarray(from - q.offset, to - q.offset), from - address)
    }
    return out
  }

  private view(address: number, length: number): DataView {
    const b = this.bytes(address, length)
    return new DataView(b.buffer, b.byteOffset, length)
  }
  u8(address: number): number { return this.bytes(address, 1)[0]! }
  u16(address: number): number { return this.view(address, 2).getUint16(0, true) }
  u32(address: number): number { return this.view(address, 4).getUint32(0, true) }
  f64(address: number): number { return this.view(address, 8).getFloat64(0, true) }
}
