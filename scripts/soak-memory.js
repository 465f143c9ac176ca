// Memory soak: millions of evaluate calls through the raw ABI in each host
// pattern of spec §6 "Lifetimes", inputs from ~30 B to 1 MB interleaved, a
// sample of answers checked, memory.buffer.byteLength at warm-up and at the end
// (memory never shrinks: the end is the most it reached). Exit 1 when a pattern
// that releases what it allocs grows after warm-up, when the keep pattern passes
// the bound, or when an answer is wrong. The short version is
// test/host-patterns.test.ts. Needs the build: it imports dist/.
//
//   npm run soak -- [--calls 10000000] [--pattern release|keep|reuse|batch|mixed|all] [--wasm crm.wasm]
//
// --wasm soaks a CRM artifact built elsewhere (e.g. bench/baseline/crm-d8a7d26.wasm,
// whose older lifetimes fail batch) instead of compiling fixtures/crm.json with dist/.

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const PATTERNS = ['release', 'keep', 'reuse', 'batch', 'mixed']
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '10000000' }, pattern: { type: 'string', default: 'all' }, wasm: { type: 'string' } },
})
const calls = Number(values.calls)
const patterns = values.pattern === 'all' ? PATTERNS : [values.pattern]
if (!patterns.every((p) => PATTERNS.includes(p)) || !(calls > 0)) {
  console.error(`usage: npm run soak -- [--calls N] [--pattern ${PATTERNS.join('|')}|all] [--wasm crm.wasm]`)
  process.exit(2)
}

const { Limit } = await import('../packages/sdk/dist/esm/layout.js')
async function crmArtifact() {
  const { compile } = await import('../dist/src/compiler/compile.js')
  return (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm
}
const wasm = values.wasm === undefined ? await crmArtifact() : readFileSync(values.wasm)
const module = new WebAssembly.Module(wasm)
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const MiB = 1 << 20

/**
 * The bound a host that never releases its inputs must stay within. Written
 * once in test/support/patterns.ts (memoryBound); repeated here because this
 * script is plain JS on dist/. Change both together.
 */
const memoryBound = (heapEnd, largestCallInputBytes) => heapEnd + 3 * (Limit.BufferBudget + largestCallInputBytes) + MiB

// ---------------------------------------------------------------------------
// Requests: the CRM policy's, each with the decision it must get

const pad = (n) => 'x'.repeat(n)
const KINDS = [
  { want: 'Allow', text: ['view_customer', '{}', '{"role":"agent"}'] },
  { want: 'Deny', text: ['process_refund', `{"amount":800,"note":"${pad(10_000)}"}`, '{"role":"agent"}'] },
  { want: 'Allow', text: ['delete_customer', '{}', `{"role":"manager","agent_attrs":{"user_id":"m1","blob":"${pad(1_000)}"},"resource_attrs":{"owner_id":"m1"}}`] },
  { want: 'Allow', text: ['view_customer', `{"fields":[${Array(2000).fill('"name"').join(',')}]}`, '{"role":"agent"}'] },
]
/** The 1 MB request, only now and then, or the soak measures memcpy. */
const LARGE = { want: 'Allow', text: ['bulk_update', `{"rows":"${pad(MiB)}"}`, '{"role":"admin","agent_attrs":{"mfa_verified_at":"t"},"resource_attrs":{"env":"production"}}'] }
const LARGE_EVERY = 997
/** Argument padding of the mixed pattern, in turn: every size from the bare request to 30 KB. */
const MIXED_PADS = [0, 30, 300, 3_000, 30_000]
/** Batches of 1, 2, …, 24 calls in turn: 300 calls a cycle. */
const BATCH_SIZES = Array.from({ length: 24 }, (_, i) => i + 1)
/**
 * Every schedule below repeats after this many calls (kinds 4, mixed pads 4 × 5,
 * gaps 3 and batches 300 all divide 300; the large request 997): warm-up is one
 * period, so a host that releases everything replays it exactly afterwards.
 */
const PERIOD = 300 * LARGE_EVERY
/** Every SAMPLE-th answer is read in full and compared. */
const SAMPLE = 1009

/** `{"~pad":"…",` + the rest of `args` (an object). */
const padded = (args, n) => (n === 0 ? args : `{"~pad":"${pad(n)}"${args === '{}' ? '' : ','}${args.slice(1)}`)
const request = ({ want, text: [tool, args, context] }, padding = 0) => {
  const bytes = [tool, padded(args, padding), context].map((t) => encoder.encode(t))
  return { want, bytes, size: bytes[0].length + bytes[1].length + bytes[2].length }
}
const plain = KINDS.map((k) => request(k))
const large = request(LARGE)
const mixed = KINDS.map((k) => MIXED_PADS.map((n) => request(k, n)))

/** The request of call `i`; `mix` picks the mixed pattern's padded variants. */
const requestAt = (i, mix) => (i % LARGE_EVERY === 0 ? large : mix ? mixed[i % 4][(i >> 2) % 5] : plain[i % 4])
const allRequests = [...plain, large, ...mixed.flat()]
const largestCall = Math.max(...allRequests.map((r) => r.size))

// The answer each request must give, byte for byte: its first answer from a fresh instance,
// which must carry the decision the policy gives (fixtures/crm.json).
for (const r of allRequests) {
  const ex = new WebAssembly.Instance(module, {}).exports
  const ptrs = r.bytes.map((b) => {
    const p = ex.alloc(b.length)
    new Uint8Array(ex.memory.buffer, p, b.length).set(b)
    return p
  })
  const resp = ex.evaluate(ptrs[0], r.bytes[0].length, ptrs[1], r.bytes[1].length, ptrs[2], r.bytes[2].length)
  const n = new DataView(ex.memory.buffer).getUint32(resp, true)
  r.answer = decoder.decode(new Uint8Array(ex.memory.buffer, resp + 4, n))
  const decision = JSON.parse(r.answer).decision
  if (decision !== r.want) throw new Error(`the build answers ${r.answer} to ${decoder.decode(r.bytes[0])} (${r.size} B); fixtures/crm.json says ${r.want}`)
}

// ---------------------------------------------------------------------------
// The host

function soak(pattern) {
  const ex = new WebAssembly.Instance(module, {}).exports
  const heapEnd = ex.memory.buffer.byteLength
  const problems = []
  const fail = (i, what) => {
    if (problems.length < 10) problems.push(`call ${i}: ${what}`)
  }
  let view = new Uint8Array(ex.memory.buffer)
  /** The memory view, remade after growth detached the old one. */
  const bytes = () => (view.length === 0 ? (view = new Uint8Array(ex.memory.buffer)) : view)
  const alloc = (i, len) => {
    const ptr = ex.alloc(len)
    if (ptr < 1024) fail(i, `alloc(${len}) answered ${ptr}`)
    return ptr
  }
  const put = (i, b) => {
    const ptr = alloc(i, b.length)
    bytes().set(b, ptr)
    return ptr
  }
  const lengthAt = (resp) => {
    const m = bytes()
    return (m[resp] | (m[resp + 1] << 8) | (m[resp + 2] << 16) | (m[resp + 3] << 24)) >>> 0
  }
  /** Reads the answer at `resp` (in full when `check`), then releases it. */
  const take = (i, resp, r, check) => {
    const n = lengthAt(resp)
    if (resp < 1024 || resp + 4 + n > bytes().length) return fail(i, `answer at ${resp} of ${n} bytes runs past memory`)
    if (check) {
      const text = decoder.decode(bytes().subarray(resp + 4, resp + 4 + n))
      if (text !== r.answer) fail(i, `answered ${text.slice(0, 300)}, want ${r.answer.slice(0, 300)}`)
    }
    ex.dealloc(resp, 4 + n)
  }
  const evaluate = (t, a, c, r) => ex.evaluate(t, r.bytes[0].length, a, r.bytes[1].length, c, r.bytes[2].length)

  /** One call (batch: one call, and at a batch's end the reading of its answers). */
  let step
  if (pattern === 'release' || pattern === 'keep') {
    step = (i) => {
      const r = requestAt(i, false)
      const [t, a, c] = r.bytes.map((b) => put(i, b))
      take(i, evaluate(t, a, c, r), r, i % SAMPLE === 0)
      if (pattern === 'release') [t, a, c].forEach((p, k) => ex.dealloc(p, r.bytes[k].length))
    }
  } else if (pattern === 'reuse') {
    // Contexts written once; one tool and one arguments buffer of the largest size, rewritten per call.
    const contexts = new Map()
    for (const r of allRequests) if (!contexts.has(r.bytes[2])) contexts.set(r.bytes[2], put(-1, r.bytes[2]))
    const tool = alloc(-1, Math.max(...allRequests.map((r) => r.bytes[0].length)))
    const args = alloc(-1, Math.max(...allRequests.map((r) => r.bytes[1].length)))
    step = (i) => {
      const r = requestAt(i, false)
      bytes().set(r.bytes[0], tool)
      bytes().set(r.bytes[1], args)
      take(i, evaluate(tool, args, contexts.get(r.bytes[2]), r), r, i % SAMPLE === 0)
    }
  } else if (pattern === 'batch') {
    // Answers read (newest first) only after the whole batch; inputs released after each call.
    const pending = []
    let left = 0
    let b = 0
    step = (i) => {
      if (left === 0) left = BATCH_SIZES[b++ % BATCH_SIZES.length]
      const r = requestAt(i, false)
      const [t, a, c] = r.bytes.map((b) => put(i, b))
      pending.push([i, evaluate(t, a, c, r), r])
      ;[t, a, c].forEach((p, k) => ex.dealloc(p, r.bytes[k].length))
      if (--left > 0) return
      // A whole batch is checked when any of its calls is sampled: the early answers are the ones at risk.
      const check = pending.some(([j]) => j % SAMPLE === 0)
      while (pending.length > 0) {
        const [j, resp, rj] = pending.pop()
        take(j, resp, rj, check)
      }
    }
  } else {
    // mixed: sizes from ~30 B to 1 MB; the three inputs in one buffer at odd offsets, junk between them.
    const JUNK = encoder.encode('}]",:{[\\')
    step = (i) => {
      const r = requestAt(i, true)
      const gap = i % 3
      const len = r.size + 3 * gap + 1
      const ptr = alloc(i, len)
      const m = bytes()
      // [gap] tool [gap] args [gap] context [1]: junk in every gap and after the context.
      const at = []
      let p = ptr
      for (const b of r.bytes) {
        for (let k = 0; k < gap; k++) m[p++] = JUNK[k]
        at.push(p)
        m.set(b, p)
        p += b.length
      }
      m[p] = JUNK[gap]
      take(i, evaluate(at[0], at[1], at[2], r), r, i % SAMPLE === 0)
      ex.dealloc(ptr, len)
    }
  }

  for (let i = 0; i < PERIOD; i++) step(i)
  const warm = ex.memory.buffer.byteLength
  const start = process.hrtime.bigint()
  for (let i = PERIOD; i < PERIOD + calls; i++) step(i)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const end = ex.memory.buffer.byteLength
  const bound = memoryBound(heapEnd, largestCall)

  const flat = end === warm
  const verdicts = []
  if (pattern === 'keep') verdicts.push(end <= bound ? `within the bound (${(bound / MiB).toFixed(1)} MiB)` : `PAST THE BOUND (${(bound / MiB).toFixed(1)} MiB)`)
  else verdicts.push(flat ? 'flat after warm-up' : `GREW by ${end - warm} bytes after warm-up`)
  if (problems.length > 0) verdicts.push(`${problems.length}${problems.length === 10 ? '+' : ''} WRONG`)
  const mib = (b) => (b / MiB).toFixed(1)
  console.log(
    `${pattern.padEnd(8)} ${calls} calls in ${seconds.toFixed(1)} s (${((seconds / calls) * 1e9).toFixed(0)} ns/call): ` +
      `memory ${mib(heapEnd)} MiB at start, ${mib(warm)} after warm-up, ${mib(end)} max; ${verdicts.join('; ')}`,
  )
  for (const p of problems) console.log(`  ${p}`)
  return problems.length === 0 && (pattern === 'keep' ? end <= bound : flat)
}

console.log(
  `soak: ${calls} calls per pattern after ${PERIOD} warm-up calls; request sizes ${plain.map((r) => r.size).join(', ')} B, ` +
    `${large.size} B every ${LARGE_EVERY} calls; mixed pads ${MIXED_PADS.join(', ')} B; every ${SAMPLE}th answer compared`,
)
const ok = patterns.map(soak).every(Boolean)
process.exit(ok ? 0 : 1)
