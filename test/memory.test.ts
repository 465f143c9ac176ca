// The memory model of spec §6 "Lifetimes" (docs/design.md "Memory model"),
// through the raw ABI: answers that last until released, buffers that are the
// host's until released, alloc that never answers 0 or data, reclaiming past
// the budget (oldest first, never the latest call's), dealloc that ignores what
// it was not given. A model of every live buffer and response checks random
// sequences of calls against all of it.
//
// seed: PERSO_SEED=<seed> npx vitest run test/memory.test.ts

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { ArtifactExports } from '../packages/sdk/src/abi.js'
import { BLOB_MAGIC, Header, Limit } from '../packages/sdk/src/layout.js'
import { prng } from './support/json-text.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const STEPS = Number(process.env.PERSO_MEMORY_STEPS ?? 3000)
const MiB = 1 << 20
const BUDGET = Limit.BufferBudget

const crm = readFileSync(new URL('../fixtures/crm.json', import.meta.url))
const wasm = (await compile(crm)).wasm!
const module = new WebAssembly.Module(wasm)

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A fresh instance with small helpers over its raw exports. */
function host() {
  const ex = new WebAssembly.Instance(module, {}).exports as unknown as ArtifactExports
  const bytes = (): Uint8Array => new Uint8Array(ex.memory.buffer)
  const put = (text: string | Uint8Array): [number, number] => {
    const data = typeof text === 'string' ? encoder.encode(text) : text
    const ptr = ex.alloc(data.length)
    bytes().set(data, ptr)
    return [ptr, data.length]
  }
  const length = (resp: number): number => new DataView(ex.memory.buffer).getUint32(resp, true)
  const text = (resp: number): string => decoder.decode(bytes().subarray(resp + 4, resp + 4 + length(resp)))
  const release = (resp: number): void => ex.dealloc(resp, 4 + length(resp))
  const evaluate = (tool: [number, number], args: [number, number], ctx: [number, number]): number =>
    ex.evaluate(tool[0], tool[1], args[0], args[1], ctx[0], ctx[1])
  return { ex, bytes, put, length, text, release, evaluate }
}

/** The blob's extent, found by its magic and header (the artifact's own data ends there). */
function blobExtent(bytes: Uint8Array): { start: number; end: number } {
  const view = new DataView(bytes.buffer)
  for (let at = 1024; at + Header.Size < bytes.length; at += 16) {
    if (view.getUint32(at, true) === BLOB_MAGIC) return { start: at, end: view.getUint32(at + Header.BlobEnd, true) }
  }
  throw new Error('no blob in memory')
}

const decision = (text: string): string => (JSON.parse(text) as { decision?: string; error?: string }).decision ?? `error: ${text}`

describe('answers last until released (spec §6)', () => {
  it('two answers read after both calls are each their own', () => {
    const h = host()
    const tool = h.put('process_refund')
    const ctx = h.put('{"role":"agent"}')
    const over = h.evaluate(tool, h.put('{"amount":800}'), ctx)
    const within = h.evaluate(tool, h.put('{"amount":200}'), ctx)
    expect(over).not.toBe(within)
    expect(decision(h.text(over))).toBe('Deny')
    expect(decision(h.text(within))).toBe('Allow')
  })

  it('a batch of answers read after many later calls, allocs and releases', () => {
    const h = host()
    const tool = h.put('process_refund')
    const ctx = h.put('{"role":"agent"}')
    const kept = Array.from({ length: 200 }, (_, i) => ({ amount: i * 7, resp: h.evaluate(tool, h.put(`{"amount":${i * 7}}`), ctx) }))
    // Churn: other calls whose answers are released at once, and buffers taken and given back.
    for (let i = 0; i < 500; i++) {
      const args = h.put(`{"amount":${i},"pad":"${'x'.repeat(i % 300)}"}`)
      h.release(h.evaluate(tool, args, ctx))
      h.ex.dealloc(args[0], args[1])
    }
    for (const { amount, resp } of kept) expect(decision(h.text(resp)), `amount ${amount}`).toBe(amount <= 500 ? 'Allow' : 'Deny')
  })
})

describe('a buffer is the host’s until released (spec §6)', () => {
  it('a context written once and passed to every call is never overwritten', () => {
    const h = host()
    const context = '{"role":"manager","agent_attrs":{"user_id":"mgr-001"},"resource_attrs":{"owner_id":"mgr-001"}}'
    const ctx = h.put(context)
    const tool = h.put('delete_customer')
    for (let i = 0; i < 2000; i++) {
      const args = h.put(`{"customer_id":"C-${i}","note":"${'n'.repeat(i % 97)}"}`)
      const resp = h.evaluate(tool, args, ctx)
      expect(decision(h.text(resp))).toBe('Allow')
      h.release(resp)
    }
    expect(decoder.decode(h.bytes().subarray(ctx[0], ctx[0] + ctx[1]))).toBe(context)
  })

  it('several inputs inside one buffer (interior pointers) stay the host’s', () => {
    const h = host()
    const texts = ['process_refund', '{"amount":100}', '{"role":"agent"}'].map((t) => encoder.encode(t))
    const whole = h.put(new Uint8Array([...texts[0]!, ...texts[1]!, ...texts[2]!]))
    const tool: [number, number] = [whole[0], texts[0]!.length]
    const args: [number, number] = [whole[0] + texts[0]!.length, texts[1]!.length]
    const ctx: [number, number] = [whole[0] + texts[0]!.length + texts[1]!.length, texts[2]!.length]
    const snapshot = h.bytes().slice(whole[0], whole[0] + whole[1])
    for (let i = 0; i < 300; i++) {
      h.put('x'.repeat(64 * 1024)) // never released: the budget must spare the buffer the calls use
      h.release(h.evaluate(tool, args, ctx))
    }
    expect(h.bytes().subarray(whole[0], whole[0] + whole[1])).toEqual(snapshot)
  })
})

describe('alloc (spec §6)', () => {
  it('never answers 0 or an address inside the module’s data; alloc(0) is a buffer too', () => {
    const h = host()
    const { end } = blobExtent(h.bytes())
    for (const len of [0, 1, 15, 16, 17, 4096, 65536, 3 * MiB]) {
      const ptr = h.ex.alloc(len)
      expect(ptr, `alloc(${len})`).toBeGreaterThanOrEqual(end)
      expect(ptr + len).toBeLessThanOrEqual(h.ex.memory.buffer.byteLength)
    }
  })

  it('traps when memory cannot grow, and the instance goes on deciding', () => {
    const h = host()
    const tool = h.put('process_refund')
    const ctx = h.put('{"role":"agent"}')
    for (const len of [2 ** 31 - 1, -1, Limit.MemoryPages * 65536]) {
      expect(() => h.ex.alloc(len), `alloc(${len})`).toThrow(WebAssembly.RuntimeError)
    }
    expect(decision(h.text(h.evaluate(tool, h.put('{"amount":1}'), ctx)))).toBe('Allow')
  })
})

describe('hosts that never release their inputs (spec §6, the budget)', () => {
  it('an old buffer is reclaimed past the budget; one used by every call never is', () => {
    const h = host()
    // Twice an argument buffer's size, so that its memory, once free, fits the next one.
    const old = h.put('o'.repeat(2 * MiB))
    const ctx = h.put('{"role":"agent"}')
    const tool = h.put('process_refund')
    const taken: [number, number][] = []
    for (let i = 0; i < 40; i++) {
      const args = h.put(`{"amount":1,"pad":"${'p'.repeat(MiB)}"}`)
      taken.push(args)
      h.release(h.evaluate(tool, args, ctx))
    }
    const overlaps = (a: [number, number], b: [number, number]): boolean => a[0] < b[0] + b[1] && b[0] < a[0] + a[1]
    // The 40 MiB of arguments passed the 16 MiB budget: the oldest buffer's memory was handed out again...
    expect(taken.some((t) => overlaps(t, old))).toBe(true)
    // ...but never the context or the tool name, which every call used.
    expect(taken.some((t) => overlaps(t, ctx) || overlaps(t, tool))).toBe(false)
    // Memory holds the budget and the latest call's buffers, not 40 MiB.
    expect(h.ex.memory.buffer.byteLength).toBeLessThan(2 * (BUDGET + 2 * MiB))
  })

  it('the latest call’s buffers and those allocated since are never reclaimed, even past the budget', () => {
    const h = host()
    // Larger than each of the next call's buffers, so that its memory, once free, takes one of them.
    const unused = h.put('u'.repeat(8 * MiB))
    const tool = h.put('process_refund')
    const args = h.put(`{"amount":900,"pad":"${'a'.repeat(10 * MiB)}"}`)
    const ctx = h.put(`{"role":"agent","agent_attrs":{"pad":"${'c'.repeat(10 * MiB)}"}}`)
    const snapshot = (b: [number, number]): Buffer => Buffer.from(h.bytes().slice(b[0], b[0] + b[1]))
    const [argsBytes, ctxBytes] = [snapshot(args), snapshot(ctx)]
    h.release(h.evaluate(tool, args, ctx))
    // 24 MiB held, past the budget. Buffers for the next call: the latest call's inputs must stay, and so must these.
    const next = [h.put('n'.repeat(6 * MiB)), h.put('m'.repeat(6 * MiB)), h.put('k'.repeat(6 * MiB))]
    expect(snapshot(args).equals(argsBytes)).toBe(true)
    expect(snapshot(ctx).equals(ctxBytes)).toBe(true)
    expect(next.map((b) => h.bytes()[b[0] + b[1] - 1])).toEqual([0x6e, 0x6d, 0x6b])
    expect(decision(h.text(h.evaluate(tool, args, ctx)))).toBe('Deny')
    // The buffer no call used was the one to go: its memory went to the next call's buffers.
    expect(next.some((b) => b[0] < unused[0] + unused[1] && unused[0] < b[0] + b[1])).toBe(true)
  })
})

describe('dealloc ignores what it was not given', () => {
  it('double release, wrong lengths, interior, foreign and static pointers change nothing', () => {
    const h = host()
    const tool = h.put('process_refund')
    const ctx = h.put('{"role":"agent"}')
    const args = h.put('{"amount":800}')
    const resp = h.evaluate(tool, args, ctx)
    const n = h.length(resp)
    const kept = h.put('keep me')
    const before = h.bytes().slice(kept[0], kept[0] + kept[1])
    for (const [ptr, len] of [
      [resp, n], [resp, 4 + n + 16], [resp + 16, 4], [args[0] + 1, args[1]], [args[0], args[1] + 1],
      [0, 0], [0, 100], [1024, 16], [h.ex.memory.buffer.byteLength, 1], [2 ** 31, 1], [-16, 16],
    ]) {
      h.ex.dealloc(ptr!, len!)
    }
    h.release(resp)
    h.release(resp) // the second release of the same answer
    for (let i = 0; i < 50; i++) h.release(h.evaluate(tool, h.put(`{"amount":${i}}`), ctx))
    expect(h.bytes().subarray(kept[0], kept[0] + kept[1])).toEqual(before)
  })
})

/**
 * The host buffers as docs/design.md "Memory model" says the runtime keeps them:
 * a recency list, the budget over their blocks' sizes, and the first buffer used
 * since the latest call began, from which on nothing is reclaimed.
 */
class BufferModel {
  /** Oldest first. */
  list: { ptr: number; len: number; size: number; data: Uint8Array | undefined }[] = []
  sinceCall: (typeof this.list)[number] | undefined
  total = 0

  static blockSize = (len: number): number => Math.max((16 + len + 15) & ~15, 32)

  alloc(ptr: number, len: number, data: Uint8Array | undefined): void {
    const size = BufferModel.blockSize(len)
    while (this.total + size > BUDGET && this.list.length > 0 && this.list[0] !== this.sinceCall) this.remove(this.list[0]!)
    const buffer = { ptr, len, size, data }
    this.list.push(buffer)
    this.total += size
    this.sinceCall ??= buffer
  }

  remove(buffer: (typeof this.list)[number]): void {
    const i = this.list.indexOf(buffer)
    if (this.sinceCall === buffer) this.sinceCall = this.list[i + 1]
    this.list.splice(i, 1)
    this.total -= buffer.size
  }

  /** A call that reads `inputs`: the buffers they lie in move to the end, in order. */
  call(inputs: [number, number][]): void {
    this.sinceCall = undefined
    for (const [ptr, len] of inputs) {
      if (len === 0) continue
      const newest = this.list.at(-1)
      if (newest !== undefined && ptr >= newest.ptr - 16 && ptr + len <= newest.ptr - 16 + newest.size) {
        this.sinceCall ??= newest
        continue
      }
      const touched = this.list.filter((b) => b.ptr - 16 < ptr + len && ptr < b.ptr - 16 + b.size).sort((a, b) => a.ptr - b.ptr)
      for (const b of touched) {
        this.remove(b)
        this.list.push(b)
        this.total += b.size
        this.sinceCall ??= b
      }
    }
  }
}

describe(`random hosts against a model of what they own (seed ${SEED})`, () => {
  it(`${STEPS} steps of alloc, write, evaluate, read late, release and stray releases`, { timeout: 60_000 }, () => {
    console.log(`memory seed ${SEED}`)
    const rng = prng(SEED)
    const h = host()
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!
    const model = new BufferModel()
    /** Every answer the host has not read yet, with what it must say. */
    const answers: { resp: number; want: string }[] = []
    let step = 0
    let reclaimed = 0
    const fail = (what: string): never => {
      throw new Error(`step ${step}: ${what} (PERSO_SEED=${SEED} reproduces)`)
    }
    const sizes = [0, 1, 7, 30, 100, 1000, 5000, 70_000, 300_000, 1_500_000]
    /** A buffer of `len` bytes holding `data` (a random letter, marked at both ends, when not given); `kept`: the host will check it later. */
    const write = (len: number, kept: boolean, data?: Uint8Array): [number, number] => {
      const bytes = data ?? new Uint8Array(len).fill(0x61 + Math.floor(rng() * 26))
      if (data === undefined && len > 1) bytes[0] = bytes[len - 1] = 0x30 + (step % 10)
      const ptr = h.ex.alloc(bytes.length)
      if (ptr < 1024) fail(`alloc(${bytes.length}) answered ${ptr}`)
      const before = model.list.length
      model.alloc(ptr, bytes.length, kept ? bytes : undefined)
      reclaimed += before + 1 - model.list.length
      for (const b of model.list) {
        if (b.ptr !== ptr && bytes.length > 0 && b.len > 0 && ptr < b.ptr + b.len && b.ptr < ptr + bytes.length) fail(`alloc(${bytes.length}) = ${ptr} overlaps a live buffer at ${b.ptr}`)
      }
      h.bytes().set(bytes, ptr)
      return [ptr, bytes.length]
    }
    // A context written once and passed again now and then, as an interior pointer too.
    const session = write(0, true, encoder.encode('  {"role":"agent"}  '))
    for (step = 0; step < STEPS; step++) {
      const r = rng()
      if (r < 0.25) write(pick(sizes), true)
      else if (r < 0.6) {
        const a = Math.floor(rng() * 1000)
        const tool = write(0, false, encoder.encode('process_refund'))
        const args = write(0, false, encoder.encode(`{"amount":${a},"pad":"${'z'.repeat(pick(sizes) >> 2)}"}`))
        const ctx: [number, number] = rng() < 0.5 ? [session[0] + 2, session[1] - 4] : write(0, false, encoder.encode('{"role":"agent"}'))
        model.call([tool, args, ctx])
        const resp = h.evaluate(tool, args, ctx)
        const want = a <= 500 ? 'Allow' : 'Deny'
        if (rng() < 0.5) {
          if (decision(h.text(resp)) !== want) fail(`answer read at once: ${h.text(resp)}, want ${want}`)
          h.release(resp)
        } else answers.push({ resp, want })
        // Half the time the request's buffers are released, else the host forgets them (like the published Python SDK).
        if (rng() < 0.5) {
          for (const input of [tool, args, ctx]) {
            const b = model.list.find((x) => x.ptr === input[0] && x.len === input[1])
            if (b === undefined) continue // the session, or already reclaimed
            model.remove(b)
            h.ex.dealloc(input[0], input[1])
          }
        }
      } else if (r < 0.75 && answers.length > 0) {
        const { resp, want } = answers.splice(Math.floor(rng() * answers.length), 1)[0]!
        if (decision(h.text(resp)) !== want) fail(`answer read late: ${h.text(resp)}, want ${want}`)
        h.release(resp)
      } else if (r < 0.9) {
        const held = model.list.filter((b) => b.data !== undefined && b.ptr !== session[0])
        if (held.length === 0) continue
        const b = pick(held)
        model.remove(b)
        h.ex.dealloc(b.ptr, b.len)
      } else {
        // Stray releases: none of these may free anything.
        const b = model.list.length > 0 ? pick(model.list) : undefined
        if (b !== undefined) h.ex.dealloc(b.ptr + 16, b.len)
        if (b !== undefined) h.ex.dealloc(b.ptr, b.len + 1)
        h.ex.dealloc(Math.floor(rng() * h.ex.memory.buffer.byteLength) & ~15, Math.floor(rng() * 100))
      }
      // Every buffer the host still holds is intact, and so is the session while the model keeps it.
      if (step % 97 === 0 || step === STEPS - 1) {
        for (const b of model.list) {
          if (b.data === undefined) continue
          const now = h.bytes().subarray(b.ptr, b.ptr + b.len)
          if (!now.every((x, i) => x === b.data![i])) fail(`a held buffer of ${b.len} bytes at ${b.ptr} changed`)
        }
      }
    }
    for (const { resp, want } of answers) if (decision(h.text(resp)) !== want) fail(`answer read at the end: ${h.text(resp)}`)
    console.log(`memory: ${STEPS} steps, ${reclaimed} buffers reclaimed past the budget, ${model.list.length} held at the end, memory ${h.ex.memory.buffer.byteLength >> 20} MiB`)
    // The run must have passed the budget, or the reclaiming went untested.
    expect(reclaimed).toBeGreaterThan(0)
  })
})
