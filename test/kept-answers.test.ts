// Kept answers (docs/design.md "Kept answers"): an entry's Allow answer is
// written once and kept for the module's life. `evaluate_values` answers the
// kept bytes at an address 8 past a multiple of 16, which no response of its
// own has; `evaluate` answers a fresh copy; answers whose bytes vary by call
// (a failed condition's Deny, a pair without an entry) are kept for
// `evaluate_values` too, the first two distinct ones of each entry (and of the
// pairs without one); what does not fit the arena is written on every call;
// and the bytes are always the ones `evaluate` answers.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import { KeptAnswer, Limit, Source, ValueRecord, ValuesTable } from '../packages/sdk/src/layout.js'
import { Perso } from '../src/index.js'
import type { ValuesExports } from './support/values-host.js'
import type { Policy } from '../src/compiler/policy.js'
import { referenceEvaluateText, responseJson } from './support/reference.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const MiB = 1 << 20

const crmWasm = (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm!

/** A raw host that keeps every response's address: kept answers are told by theirs. */
function rawHost(wasm: Uint8Array) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), {}).exports as unknown as ValuesExports
  const put = (data: string | Uint8Array): [number, number] => {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data
    const ptr = ex.alloc(bytes.length)
    new Uint8Array(ex.memory.buffer).set(bytes, ptr)
    return [ptr, bytes.length]
  }
  const length = (resp: number): number => new DataView(ex.memory.buffer).getUint32(resp, true)
  const text = (resp: number): string => decoder.decode(new Uint8Array(ex.memory.buffer, resp + 4, length(resp)))
  /** `evaluate`'s response address (inputs released). */
  const evaluate = (tool: string | Uint8Array, args: string, ctx: string): number => {
    const ins = [put(tool), put(args), put(ctx)]
    const resp = ex.evaluate(ins[0]![0], ins[0]![1], ins[1]![0], ins[1]![1], ins[2]![0], ins[2]![1])
    for (const [p, n] of ins) ex.dealloc(p, n)
    return resp
  }
  /** `evaluate_values`' response address, claiming `claims` ([source, field, value text]); inputs released. */
  const values = (tool: string | Uint8Array, role: string, claims: [number, string, string][] = []): number => {
    const t = put(tool)
    const r = put(role)
    const table = ex.alloc(ValuesTable.Records + claims.length * ValueRecord.Size)
    const owned: [number, number][] = [t, r, [table, ValuesTable.Records + claims.length * ValueRecord.Size]]
    const view = new DataView(ex.memory.buffer)
    view.setUint32(table + ValuesTable.Count, claims.length, true)
    claims.forEach(([source, field, value], i) => {
      const name = put(field)
      const v = put(value)
      owned.push(name, v)
      const at = table + ValuesTable.Records + i * ValueRecord.Size
      const words = [source, name[0], name[1], v[0], v[1]]
      const offsets = [ValueRecord.Source, ValueRecord.NamePtr, ValueRecord.NameLen, ValueRecord.ValuePtr, ValueRecord.ValueLen]
      offsets.forEach((o, k) => new DataView(ex.memory.buffer).setUint32(at + o, words[k]!, true))
    })
    const resp = ex.evaluate_values(t[0], t[1], r[0], r[1], table)
    for (const [p, n] of owned) ex.dealloc(p, n)
    return resp
  }
  const release = (resp: number): void => ex.dealloc(resp, 4 + length(resp))
  return { ex, put, length, text, evaluate, values, release }
}

const isKept = (resp: number): boolean => resp % KeptAnswer.Modulus === KeptAnswer.Remainder
const ctx = (role: string): string => JSON.stringify({ role, agent_attrs: {}, resource_attrs: {} })

describe('an entry’s Allow answer is kept', () => {
  it('evaluate_values answers one kept address per entry, with evaluate’s bytes; evaluate answers a fresh copy', () => {
    const h = rawHost(crmWasm)
    const cases: [string, string, [number, string, string][], string][] = [
      ['view_customer', 'agent', [], '{}'],
      ['process_refund', 'agent', [[Source.Arguments, 'amount', '120']], '{"amount":120}'],
    ]
    for (const [tool, role, claims, args] of cases) {
      const first = h.values(tool, role, claims)
      const second = h.values(tool, role, claims)
      expect(isKept(first), `${tool}: ${first}`).toBe(true)
      expect(second).toBe(first)
      const fresh = h.evaluate(tool, args, ctx(role))
      expect(fresh % 16).toBe(0)
      expect(h.text(fresh)).toBe(h.text(first))
      expect(JSON.parse(h.text(first))).toMatchObject({ decision: 'Allow' })
      h.release(fresh)
    }
  })

  it('evaluate answers a fresh copy of a Deny and of a pair without an entry too', () => {
    const h = rawHost(crmWasm)
    h.values('process_refund', 'agent', [[Source.Arguments, 'amount', '800']])
    h.values('drop_database', 'admin')
    for (const resp of [h.evaluate('process_refund', '{"amount":800}', ctx('agent')), h.evaluate('drop_database', '{}', ctx('admin'))]) {
      expect(resp % 16).toBe(0)
      expect(JSON.parse(h.text(resp))).toMatchObject({ decision: 'Deny' })
      h.release(resp)
    }
  })

  it('a kept answer is intact after deallocs of it, memory growth and a thousand other calls', () => {
    const h = rawHost(crmWasm)
    const kept = h.values('view_customer', 'agent')
    const text = h.text(kept)
    // dealloc of a kept answer, with its length or any other, is ignored.
    for (const len of [4 + h.length(kept), 0, 1, 16]) h.ex.dealloc(kept, len)
    const big = h.ex.alloc(64 * MiB)
    new Uint8Array(h.ex.memory.buffer, big, 64 * MiB).fill(0x5a)
    for (let i = 0; i < 1000; i++) {
      const resp = i % 2 === 0 ? h.evaluate('process_refund', `{"amount":${i}}`, ctx('agent')) : h.values('process_refund', 'agent', [[Source.Arguments, 'amount', String(i)]])
      h.release(resp)
    }
    h.ex.dealloc(big, 64 * MiB)
    expect(h.text(kept)).toBe(text)
    expect(h.values('view_customer', 'agent')).toBe(kept)
  })
})

describe('answers that vary by call: the first two distinct ones are kept for evaluate_values', () => {
  /** evaluate_values' answer to each call ([tool, role, amount]: a refund's amount), checked against evaluate's bytes; the ones not kept are released. */
  function answers(h: ReturnType<typeof rawHost>, calls: [string, string, string][]): number[] {
    return calls.map(([tool, role, amount]) => {
      const refund = tool === 'process_refund'
      const resp = h.values(tool, role, refund ? [[Source.Arguments, 'amount', amount]] : [])
      const fresh = h.evaluate(tool, refund ? `{"amount":${amount}}` : '{}', ctx(role))
      expect(h.text(resp), `${tool} ${role} ${amount}`).toBe(h.text(fresh))
      h.release(fresh)
      if (!isKept(resp)) h.release(resp)
      return resp
    })
  }

  it('a failed condition’s Denies, per entry: the same Deny is the same address, a third distinct one a response of its own', () => {
    const h = rawHost(crmWasm)
    const [a, b, c, a2, b2, c2, allow] = answers(h, [
      ['process_refund', 'agent', '800'],
      ['process_refund', 'agent', '900'],
      ['process_refund', 'agent', '1000'],
      ['process_refund', 'agent', '800'],
      ['process_refund', 'agent', '900'],
      ['process_refund', 'agent', '1000'],
      ['process_refund', 'agent', '120'],
    ])
    expect([a!, b!].map(isKept)).toEqual([true, true])
    expect(a).not.toBe(b)
    expect([a2, b2]).toEqual([a, b])
    expect(c! % 16).toBe(0)
    expect(c2! % 16).toBe(0)
    // The entry's Allow is kept as before, at an address of its own.
    expect(isKept(allow!)).toBe(true)
    expect([a, b]).not.toContain(allow)
    // The entry's slots are its own: a pair without an entry still has room.
    const [other] = answers(h, [['drop_database', 'admin', '']])
    expect(isKept(other!)).toBe(true)
  })

  it('pairs without an entry share two slots: the first two distinct answers are kept, others are responses of their own', () => {
    const h = rawHost(crmWasm)
    const [a, b, c, a2, b2] = answers(h, [
      ['drop_database', 'admin', ''],
      ['no_such_tool', 'agent', ''],
      ['view_customer', 'no_such_role', ''],
      ['drop_database', 'admin', ''],
      ['no_such_tool', 'agent', ''],
    ])
    expect([a!, b!].map(isKept)).toEqual([true, true])
    expect([a2, b2]).toEqual([a, b])
    expect(c! % 16).toBe(0)
  })
})

describe('past the arena', () => {
  // 600 tools of 120 bytes: some 130 KiB of Allow answers, twice the arena.
  const tools = Array.from({ length: 600 }, (_, i) => `tool_${String(i).padStart(4, '0')}_${'x'.repeat(110)}`)
  const policy = JSON.stringify({ version: 'kept-1', default_action: 'Deny', tools, roles: ['r'], rules: [{ tool_name: '*', roles: ['r'] }] })

  it('the first answers are kept, the rest written on every call, every one with evaluate’s bytes; memory stays flat', async () => {
    const h = rawHost((await compile(policy)).wasm!)
    const first = tools.map((tool) => h.values(tool, 'r'))
    const kept = first.filter(isKept).length
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThan(tools.length)
    const memory = h.ex.memory.buffer.byteLength
    for (let pass = 0; pass < 3; pass++) {
      tools.forEach((tool, i) => {
        const resp = h.values(tool, 'r')
        if (isKept(first[i]!)) expect(resp).toBe(first[i])
        else expect(resp % 16).toBe(0)
        const fresh = h.evaluate(tool, '{}', ctx('r'))
        expect(h.text(resp)).toBe(h.text(fresh))
        h.release(fresh)
        h.release(resp)
      })
    }
    expect(h.ex.memory.buffer.byteLength).toBe(memory)
  })
})

describe('the head of a Deny for a failed condition is kept; its account is written per call', () => {
  // 600 tools of 120 bytes under one condition: Allow answers and Deny heads twice past the arena.
  const tools = Array.from({ length: 600 }, (_, i) => `tool_${String(i).padStart(4, '0')}_${'x'.repeat(110)}`)
  const policy = {
    version: 'kept-2',
    default_action: 'Deny',
    tools,
    roles: ['r'],
    rules: [{ tool_name: '*', roles: ['r'], condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 5 } } }],
  }

  it('kept or not, every answer is the reference’s, whatever failed before it; memory stays flat', async () => {
    const h = rawHost((await compile(JSON.stringify(policy))).wasm!)
    let memory = 0
    let keptSeen = 0
    for (let pass = 0; pass < 3; pass++) {
      tools.forEach((tool, i) => {
        // A different failing value each time, a passing one between: the head is reused, never the account.
        for (const amount of [`${10 + pass}`, '1', `"${i}"`, 'null', '{"a":1}']) {
          const args = `{"amount":${amount}}`
          const want = responseJson(referenceEvaluateText(policy as unknown as Policy, tool, args, ctx('r')))
          const resp = h.evaluate(tool, args, ctx('r'))
          expect(h.text(resp), `${tool} ${args}`).toBe(want)
          h.release(resp)
          // evaluate_values: kept Denies while the arena has room, responses of their own after.
          const viaValues = h.values(tool, 'r', [[Source.Arguments, 'amount', amount]])
          expect(h.text(viaValues), `${tool} ${args} (values)`).toBe(want)
          if (isKept(viaValues)) keptSeen++
          else h.release(viaValues)
        }
      })
      if (pass === 0) memory = h.ex.memory.buffer.byteLength
    }
    expect(h.ex.memory.buffer.byteLength).toBe(memory)
    // Some answers were kept, and not all: the arena ran out.
    expect(keptSeen).toBeGreaterThan(0)
    expect(keptSeen).toBeLessThan(3 * tools.length * 5)
  })
})

describe('an answer that memory cannot hold is an error, never address 0', () => {
  it('a pair without an entry whose names do not fit: out of memory, from both exports', () => {
    const h = rawHost(crmWasm)
    // Fill memory to within ~100 MiB of its limit; the answer to a 20 MiB tool name needs up to 6 × 20 MiB.
    const limit = Limit.MemoryPages * 65536
    h.ex.alloc(limit - h.ex.memory.buffer.byteLength - 100 * MiB)
    const tool = new Uint8Array(20 * MiB).fill(0x61)
    const viaTexts = h.evaluate(tool, '{}', ctx('agent'))
    const viaValues = h.values(tool, 'agent')
    expect(viaTexts).not.toBe(0)
    expect(viaValues).not.toBe(0)
    expect(h.text(viaTexts)).toBe('{"error":"evaluate: out of memory"}')
    expect(h.text(viaValues)).toBe('{"error":"evaluate_values: out of memory"}')
  })
})

describe('the SDK reads a kept answer by its address', () => {
  it('every call gets a decision of its own, and the same one', async () => {
    const perso = await Perso.load(crmWasm)
    const request = { tool: 'view_customer', role: 'agent', args: { customer_id: 'C-1' } }
    const first = perso.evaluateSync(request)
    expect(first.decision).toBe('Allow')
    ;(first as { decision: string }).decision = 'Deny'
    first.reason = 'changed by the caller'
    for (let i = 0; i < 3; i++) {
      expect(perso.evaluateSync(request)).toEqual({ decision: 'Allow', reason: "rule matched tool 'view_customer' for role 'agent'; no condition required" })
    }
    // A kept Deny the same way.
    const denied = { tool: 'process_refund', role: 'agent', args: { amount: 800 } }
    const deny = perso.evaluateSync(denied)
    deny.reason = 'changed by the caller'
    for (let i = 0; i < 3; i++) expect(perso.evaluateSync(denied)).toEqual({ decision: 'Deny', reason: "rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500" })
  })
})
