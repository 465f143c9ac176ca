// Loud failure (docs/design.md): a corpus of deliberately corrupt blobs — an
// unknown op, a node size past the blob, a read index past the read table, a
// string pointer outside the blob, counts and pointers that lie — each answers
// `{"error"}` to every request, under `Not` as anywhere, never a decision; and
// a big number past the bignum's limbs (in a runtime built with few limbs) is an
// error, never a comparison that fails.

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { check } from '../src/compiler/compile.js'
import { codegen } from '../src/compiler/codegen.js'
import type { Program } from '../src/compiler/ir.js'
import { CompositeNode, Condition, Entry, Header, InNode, NotNode, NumericNode, Read, Slot, TextRef } from '../packages/sdk/src/layout.js'
import { linkInMemory, type Host } from './support/host.js'
import { tempDir } from './support/temp.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const template = new WebAssembly.Module(readFileSync(TEMPLATE))

/** Deny by default would hide a corrupt entry behind the default: Allow, so that any decision at all is suspect. */
const POLICY = {
  version: 'corrupt-corpus',
  default_action: 'Allow',
  tools: ['t', 'u'],
  roles: ['r'],
  rules: [
    {
      tool_name: 't',
      roles: ['r'],
      condition: {
        Not: {
          All: [
            { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Gt', value: 500 } },
            {
              Any: [
                { StringCheck: { source: 'Arguments', field: 'path', op: 'In', value: ['/etc', '/root'] } },
                { FieldPresent: { source: 'AgentAttributes', field: 'x' } },
                { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'ResourceAttributes', field_b: 'b' } },
              ],
            },
          ],
        },
      },
    },
    { tool_name: 'u', roles: ['r'] },
  ],
}

const program: Program = check(JSON.stringify(POLICY)).program!

/** Requests that reach every part of the policy: the corrupt entry and the sound ones, the default, an input error. */
const REQUESTS: [string, string, string][] = [
  ['t', '{"amount":900,"path":"/etc"}', '{"role":"r"}'],
  ['t', '{"amount":100}', '{"role":"r"}'],
  ['t', '{"amount":900,"a":1}', '{"role":"r","agent_attrs":{"x":1},"resource_attrs":{"b":1}}'],
  ['t', '{}', '{"role":"r"}'],
  ['u', '{}', '{"role":"r"}'],
  ['nope', '{}', '{"role":"r"}'],
  ['t', '{}', '{"role":"nobody"}'],
]

/** The blob for `base`, with `corrupt` applied to it through a view addressed as memory is. */
function corrupted(corrupt: (blob: BlobView) => void): (base: number) => Uint8Array {
  return (base) => {
    const bytes = codegen(program, base)
    corrupt(new BlobView(bytes, base))
    return bytes
  }
}

/** The blob's bytes, addressed as they will lie in memory. */
class BlobView {
  private readonly view: DataView
  constructor(readonly bytes: Uint8Array, readonly base: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  u8(at: number): number { return this.view.getUint8(at - this.base) }
  u32(at: number): number { return this.view.getUint32(at - this.base, true) }
  setU8(at: number, v: number): void { this.view.setUint8(at - this.base, v) }
  setU16(at: number, v: number): void { this.view.setUint16(at - this.base, v, true) }
  setU32(at: number, v: number): void { this.view.setUint32(at - this.base, v, true) }
  setF64(at: number, v: number): void { this.view.setFloat64(at - this.base, v, true) }
  header(field: number): number { return this.u32(this.base + field) }
  get end(): number { return this.header(Header.BlobEnd) }
  /** The only condition: the Not at its root, the All under it, its first leaf (NUMERIC), then the Any and its IN. */
  get condition(): number { return this.header(Header.ConditionsPtr) }
  get root(): number { return this.condition + Condition.Reads + this.u32(this.condition + Condition.ReadCount) * Read.Size }
  get all(): number { return this.root + NotNode.Header }
  get numeric(): number { return this.all + CompositeNode.Header }
  get any(): number { return this.numeric + NumericNode.Size }
  get stringIn(): number { return this.any + CompositeNode.Header }
  get present(): number { return this.stringIn + InNode.Size }
  get equals(): number { return this.present + 3 }
  get readCount(): number { return this.u32(this.condition + Condition.ReadCount) }
}

const CORPUS: [string, (b: BlobView) => void][] = [
  ['unknown op in place of the All under the Not', (b) => b.setU8(b.all, 0x09)],
  ['unknown op 0 in place of a leaf', (b) => b.setU8(b.present, 0)],
  ['unknown op 0xFF at the root', (b) => b.setU8(b.root, 0xff)],
  ['node size past the blob (All)', (b) => b.setU32(b.all + CompositeNode.Size, b.end)],
  ['node size past the blob (Not)', (b) => b.setU32(b.root + NotNode.Size, 0xffffffff)],
  ['node size that does not add up (Any one byte short)', (b) => b.setU32(b.any + CompositeNode.Size, b.u32(b.any + CompositeNode.Size) - 1)],
  ['child count past the node (All)', (b) => b.setU32(b.all + CompositeNode.Count, 3)],
  ['read index past the read table (NUMERIC)', (b) => b.setU16(b.numeric + NumericNode.Read, b.readCount)],
  ['read index past the read table (EQUALS side b)', (b) => b.setU16(b.equals + 3, 0xffff)],
  ['read count past the condition', (b) => b.setU32(b.condition + Condition.ReadCount, 0x10000)],
  ['condition size past the blob', (b) => b.setU32(b.condition + Condition.Size, b.end)],
  ['string pointer outside the blob (a label)', (b) => b.setU32(b.u32(b.root + NotNode.Label) + TextRef.Ptr, b.end + 100)],
  ['string length past the blob (a NUMERIC text)', (b) => b.setU32(b.u32(b.numeric + NumericNode.Text) + TextRef.Len, 1 << 30)],
  ['text ref outside the blob (IN)', (b) => b.setU32(b.stringIn + InNode.Text, 8)],
  ['value list outside the blob (IN)', (b) => b.setU32(b.stringIn + InNode.List, 0)],
  ['a read’s field outside the blob', (b) => b.setU32(b.condition + Condition.Reads + Read.FieldPtr, 1024)],
  ['a read of an unknown source', (b) => b.setU32(b.condition + Condition.Reads + Read.Source, 3)],
  ['unknown comparison', (b) => b.setU8(b.numeric + NumericNode.Cmp, 5)],
  ['NaN constant', (b) => b.setF64(b.numeric + NumericNode.Value, NaN)],
  ['entry count one more than the entries', (b) => b.setU32(b.base + Header.EntryCount, b.header(Header.EntryCount) + 1)],
  ['entry count one less', (b) => b.setU32(b.base + Header.EntryCount, b.header(Header.EntryCount) - 1)],
  ['an entry’s condition pointer inside a condition', (b) => {
    const entries = b.header(Header.EntriesPtr)
    for (let e = entries; e < entries + b.header(Header.EntryCount) * Entry.Size; e += Entry.Size) {
      if (b.u32(e + Entry.CondPtr) !== 0) b.setU32(e + Entry.CondPtr, b.u32(e + Entry.CondPtr) + Condition.Reads)
    }
  }],
  ['a slot pointing between entries', (b) => {
    const slots = b.header(Header.TablePtr)
    for (let s = slots; ; s += Slot.Size) {
      if (b.u32(s + Slot.EntryPtr) !== 0) return b.setU32(s + Slot.EntryPtr, b.u32(s + Slot.EntryPtr) + 4)
    }
  }],
  ['a slot whose hash is not its entry’s', (b) => {
    const slots = b.header(Header.TablePtr)
    for (let s = slots; ; s += Slot.Size) {
      if (b.u32(s + Slot.EntryPtr) !== 0) return b.setU32(s + Slot.Hash, b.u32(s + Slot.Hash) ^ 1)
    }
  }],
  ['table mask not a power of two less one', (b) => b.setU32(b.base + Header.TableMask, 2)],
  ['condition count past the blob', (b) => b.setU32(b.base + Header.ConditionCount, 1000)],
  ['default action neither Deny nor Allow', (b) => b.setU32(b.base + Header.DefaultAction, 2)],
  ['version outside the blob', (b) => b.setU32(b.base + Header.VersionLen, 1 << 20)],
  ['blob end before the header’s end', (b) => b.setU32(b.base + Header.BlobEnd, b.base + 8)],
  ['another format', (b) => b.setU32(b.base + Header.Format, 1)],
  ['no magic', (b) => b.setU32(b.base + Header.Magic, 0)],
]

const CORRUPT = /^\{"error":"(evaluate|init): the policy in this artifact is corrupt; recompile it with perso compile"\}$/

describe('a corrupt blob answers an error to every request, never a decision', () => {
  it('the sound blob decides (the corpus starts from a policy that works)', () => {
    const host = linkInMemory(template, corrupted(() => undefined))
    const answers = REQUESTS.map(([t, a, c]) => JSON.parse(host.evaluateText(t, a, c)) as { decision?: string })
    expect(answers.map((x) => x.decision)).toEqual(['Deny', 'Allow', 'Deny', 'Allow', 'Allow', 'Allow', 'Allow'])
  })

  for (const [name, corrupt] of CORPUS) {
    it(name, () => {
      const host = linkInMemory(template, corrupted(corrupt))
      for (const [tool, args, ctx] of REQUESTS) expect(host.evaluateText(tool, args, ctx), `${tool} ${args} ${ctx}`).toMatch(CORRUPT)
      expect(JSON.stringify(host.init())).toMatch(/corrupt/)
      // And again: the verdict stands, whatever was asked first.
      expect(host.evaluateText(...REQUESTS[1]!)).toMatch(CORRUPT)
    })
  }
})

describe('a big number past the bignum’s limbs is an error, never a comparison that fails', () => {
  let small: WebAssembly.Module
  beforeAll(() => {
    // The real runtime's 160 limbs are never reached (number.ts needs ~3,800 bits at most); 4 limbs are at once.
    const out = join(tempDir('limbs-'), 'runtime.wasm')
    execFileSync(process.execPath, ['scripts/build-runtime.js', '--out', out, '--limit', 'BignumLimbs=4'], { cwd: new URL('..', import.meta.url) })
    small = new WebAssembly.Module(readFileSync(out))
  }, 60_000)

  // Thirty significant digits and an exponent: past Clinger's fast path, so the exact division runs.
  const LONG = '123456789012345678901234567890e-27'

  it('under Not, a number the runtime cannot read exactly is an error; the full runtime decides it', () => {
    const limited: Host = linkInMemory(small, (base) => codegen(program, base))
    const full: Host = linkInMemory(template, (base) => codegen(program, base))
    const args = `{"amount":${LONG},"path":"/etc"}`
    expect(limited.evaluateText('t', args, '{"role":"r"}')).toBe('{"error":"evaluate: a number is too long to read exactly"}')
    // 123.45… > 500 fails, so the All fails and the Not holds: Allow, with the full runtime.
    expect(JSON.parse(full.evaluateText('t', args, '{"role":"r"}'))).toMatchObject({ decision: 'Allow' })
    // Short numbers take the fast path on both, and the limited runtime still decides them.
    expect(JSON.parse(limited.evaluateText('t', '{"amount":900,"path":"/etc"}', '{"role":"r"}'))).toMatchObject({ decision: 'Deny' })
  })
})
