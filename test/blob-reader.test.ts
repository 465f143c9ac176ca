// src/host/blob.ts reads back what codegen wrote: for seeded random policies,
// compile → read the blob out of the artifact's bytes → the lowered Program's
// entries and conditions (tool, role, reads, node trees), default action,
// version and digest. Blobs that memory-packing split into several segments,
// segments that overlap, and corrupt blobs, which it refuses exactly when the
// runtime's own check does, with a reason — never a throw.
// Reproduce a failure with PERSO_SEED=<seed>.

import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { check, compile } from '../src/compiler/compile.js'
import { codegen } from '../src/compiler/codegen.js'
import type { Program } from '../src/compiler/ir.js'
import { BlobFormatError, type PolicyBlob, readBlob } from '../src/host/blob.js'
import { readModule } from '../src/host/wasm-data.js'
import { Header } from '../packages/sdk/src/layout.js'
import { policyArb, policySource } from './support/arbitraries.js'
import { linkInMemory } from './support/host.js'
import { prng } from './support/json-text.js'
import { leb } from './support/wasm-sections.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_251_212)
const PAGE = 65536
const template = new WebAssembly.Module(readFileSync(new URL('../dist/runtime/runtime.wasm', import.meta.url)))
const crm = readFileSync(new URL('../fixtures/crm.json', import.meta.url))

/** What the blob must say of a program: all of it the blob holds. */
const expected = (p: Program) => ({
  version: p.version,
  defaultAction: p.defaultAction,
  digest: p.digest,
  entries: p.entries.map(({ tool, role, condition }) => ({ tool, role, condition })),
  conditions: p.conditions.map(({ reads, root }) => ({ reads, root })),
})
const said = (b: PolicyBlob) => ({ version: b.version, defaultAction: b.defaultAction, digest: b.digest, entries: b.entries, conditions: b.conditions })

function read(wasm: Uint8Array): PolicyBlob {
  const blob = readBlob(wasm)
  if (blob instanceof Error) throw blob
  return blob
}

/** Seeded random policy sources that check without errors, with their Programs. */
function sources(count: number, seed: number): { source: string; program: Program }[] {
  return fc.sample(policyArb, { numRuns: count, seed }).flatMap((policy) => {
    const source = policySource(policy)
    const { program } = check(source)
    return program === undefined ? [] : [{ source, program }]
  })
}

// ---------------------------------------------------------------------------
// A module with only memory and data, built by hand: no binaryen, so hundreds of layouts are cheap

type Segment = { offset: number; data: Uint8Array }
function sleb(n: number): number[] {
  const out: number[] = []
  for (let v = n | 0; ;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b]
    out.push(b | 0x80)
  }
}
const section = (id: number, payload: number[]): number[] => [id, ...leb(payload.length), ...payload]

/** A wasm module whose memory has `pages` pages and holds `segments`, in this order. */
function moduleWith(segments: readonly Segment[], pages: number): Uint8Array {
  const data = segments.flatMap((s) => [0, 0x41, ...sleb(s.offset), 0x0b, ...leb(s.data.length), ...s.data])
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(5, [1, 0, ...leb(pages)]), ...section(11, [...leb(segments.length), ...data])])
}

/** The blob cut at some of its runs of four or more zeros, which are dropped, as binaryen's memory-packing does. */
function packed(blob: Uint8Array, base: number, rng: () => number): Segment[] {
  const out: Segment[] = []
  let start = 0
  for (let i = 0; i < blob.length;) {
    if (blob[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < blob.length && blob[j] === 0) j++
    if (j - i >= 4 && rng() < 0.7) {
      if (i > start) out.push({ offset: base + start, data: blob.subarray(start, i) })
      start = j
    }
    i = j
  }
  if (start < blob.length) out.push({ offset: base + start, data: blob.subarray(start) })
  return out
}

function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('the blob of a compiled artifact reads back as its Program', () => {
  it('the CRM and file-ops policies', async () => {
    for (const name of ['crm', 'file-ops']) {
      const result = await compile(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url)))
      expect(said(read(result.wasm!)), name).toEqual(expected(result.program!))
    }
  })

  it(`seeded random policies through the real compiler, memory-packing included (seed ${SEED})`, async () => {
    let split = 0
    for (const { source } of sources(24, SEED)) {
      const result = await compile(source)
      const blob = read(result.wasm!)
      expect(said(blob)).toEqual(expected(result.program!))
      expect(blob.slots).toBeGreaterThan(blob.entries.length)
      const pieces = readModule(result.wasm!).segments.filter((s) => s.offset >= blob.address && s.offset < blob.address + blob.size)
      if (pieces.length > 1) split++
    }
    // The path that reassembles memory from several segments is taken.
    expect(split).toBeGreaterThan(0)
  })

  it(`seeded random policies at random addresses, cut at zero runs, in any order, over older data (seed ${SEED})`, () => {
    const rng = prng(SEED)
    for (const { program } of sources(150, SEED + 1)) {
      const base = 1024 + Math.floor(rng() * 4096) * 16
      const blob = codegen(program, base)
      const pieces = packed(blob, base, rng)
      // A segment of garbage where the blob's first piece goes: the later segment wins, as at instantiation.
      const first = pieces[0]!
      const garbage = { offset: first.offset, data: Uint8Array.from(first.data, () => 1 + Math.floor(rng() * 255)) }
      const wasm = moduleWith([{ offset: 16, data: new Uint8Array([1, 2, 3]) }, garbage, ...shuffle(pieces, rng)], Math.ceil((base + blob.length) / PAGE))
      const got = read(wasm)
      expect(said(got)).toEqual(expected(program))
      expect([got.address, got.size]).toEqual([base, blob.length])
    }
  })
})

// ---------------------------------------------------------------------------
// Corrupt blobs: refused exactly when the runtime's verify.ts refuses them

/** The runtime's verdict on `blob` at `base`: a corrupt policy answers an error to `init`. */
function runtimeRefuses(blob: (base: number) => Uint8Array): { refuses: boolean; base: number; bytes: Uint8Array } {
  let base = 0
  let bytes: Uint8Array = new Uint8Array()
  const host = linkInMemory(template, (b) => {
    base = b
    bytes = blob(b)
    return bytes
  })
  const answer = host.init()
  return { refuses: /corrupt/.test(String(answer.error)), base, bytes }
}

describe('a corrupt blob is an Error with a reason, never a throw, and only when the runtime refuses it too', () => {
  const program = check(crm).program!

  it(`seeded corruptions of the CRM blob: bytes and words flipped anywhere in it (seed ${SEED})`, () => {
    const rng = prng(SEED + 2)
    const differ: string[] = []
    let refused = 0
    for (let run = 0; run < 300; run++) {
      const flips: [number, number][] = []
      const { refuses, base, bytes } = runtimeRefuses((b) => {
        const out = codegen(program, b)
        for (let n = 1 + Math.floor(rng() * 3); n > 0; n--) {
          const at = Math.floor(rng() * out.length)
          const value = rng() < 0.5 ? Math.floor(rng() * 256) : out[at]! ^ (1 << Math.floor(rng() * 8))
          flips.push([at, value])
          out[at] = value
        }
        return out
      })
      const wasm = moduleWith([{ offset: base, data: bytes }], Math.ceil((base + bytes.length) / PAGE) + 1)
      const got = readBlob(wasm)
      if (got instanceof Error) {
        expect(got.message).toMatch(/^[a-z`]/)
        refused++
      }
      // The reader is stricter in two ways only: names must be UTF-8 (inspect prints them), and the blob must end inside memory.
      const stricter = got instanceof Error && /not UTF-8|past the module's memory/.test(got.message)
      if ((got instanceof Error) !== refuses && !stricter) differ.push(`flips ${JSON.stringify(flips)}: runtime ${refuses ? 'refuses' : 'accepts'}, reader ${got instanceof Error ? got.message : 'accepts'}`)
    }
    expect(differ).toEqual([])
    expect(refused).toBeGreaterThan(50)
  })

  it('every kind of damage the runtime refuses has a reason', () => {
    const at = (field: number, value: number) => (b: number): Uint8Array => {
      const out = codegen(program, b)
      new DataView(out.buffer).setUint32(field, value, true)
      return out
    }
    const cases: [RegExp, (base: number) => Uint8Array][] = [
      [/format 1; this perso reads format 2/, at(Header.Format, 1)],
      [/default action is 2/, at(Header.DefaultAction, 2)],
      [/ends before its header/, at(Header.BlobEnd, 8)],
      [/version lies outside the blob/, at(Header.VersionLen, 1 << 20)],
      [/the table has 3 slots/, at(Header.TableMask, 2)],
      [/slot \d+ of the table is not an entry/, at(Header.EntryCount, 16)],
      [/entry 17 lies outside the blob|of entry 17/, at(Header.EntryCount, 18)],
      [/conditions lie outside the blob|condition \d+/, at(Header.ConditionCount, 1000)],
    ]
    for (const [reason, blob] of cases) {
      const { refuses, base, bytes } = runtimeRefuses(blob)
      expect(refuses, String(reason)).toBe(true)
      const got = readBlob(moduleWith([{ offset: base, data: bytes }], Math.ceil((base + bytes.length) / PAGE) + 1))
      expect(got, String(reason)).toBeInstanceOf(Error)
      expect((got as Error).message).toMatch(reason)
    }
    const format = readBlob(moduleWith([{ offset: 4096, data: at(Header.Format, 1)(4096) }], 1))
    expect(format).toBeInstanceOf(BlobFormatError)
    expect((format as BlobFormatError).format).toBe(1)
  })

  it(`seeded damage to a whole artifact's bytes, and every truncation of it: an Error or a blob, never a throw (seed ${SEED})`, async () => {
    const wasm = (await compile(crm)).wasm!
    const rng = prng(SEED + 3)
    for (let run = 0; run < 400; run++) {
      const bytes = wasm.slice()
      for (let n = 1 + Math.floor(rng() * 8); n > 0; n--) bytes[Math.floor(rng() * bytes.length)] = Math.floor(rng() * 256)
      expect(() => readBlob(bytes)).not.toThrow()
    }
    for (let n = 0; n < wasm.length; n += 97) {
      const got = readBlob(wasm.subarray(0, n))
      expect(got, `cut at ${n}`).toBeInstanceOf(Error)
    }
    const garbage = Uint8Array.from({ length: 4096 }, () => Math.floor(rng() * 256))
    expect(readBlob(garbage)).toBeInstanceOf(Error)
    expect(readBlob(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...garbage]))).toBeInstanceOf(Error)
  })

  it('names what is not a perso artifact', () => {
    expect((readBlob(readFileSync(new URL('../dist/runtime/runtime.wasm', import.meta.url))) as Error).message)
      .toBe('not a perso artifact: no data segment holds a policy blob')
    expect((readBlob(new TextEncoder().encode('{"version": "1"}')) as Error).message).toBe('not a WebAssembly module (version 1)')
    expect((readBlob(readFileSync(new URL('../bench/baseline/crm-d8a7d26.wasm', import.meta.url))) as Error).message)
      .toBe('its policy blob is format 1; this perso reads format 2')
    // A blob whose memory would not hold it.
    const blob = codegen(check(crm).program!, 4096)
    expect((readBlob(moduleWith([{ offset: 4096, data: blob }], 0)) as Error).message).toMatch(/lies past the module's memory/)
  })
})
