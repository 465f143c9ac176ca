// Memory soak (issue 6): tens of millions of evaluate calls through the raw ABI
// in each host pattern, with inputs of very different sizes interleaved, and
// memory.buffer.byteLength checked to stay exactly where warm-up left it.
//
//   npm run soak -- [--calls 10000000] [--pattern release|keep|reuse|all]

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { calls: { type: 'string', default: '10000000' }, pattern: { type: 'string', default: 'all' } } })
const calls = Number(values.calls)
const patterns = values.pattern === 'all' ? ['release', 'keep', 'reuse'] : [values.pattern]

const { compile } = await import('../dist/src/compiler/compile.js')
const { wasm } = await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))
const module = new WebAssembly.Module(wasm)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

// Sizes cycle so large and small buffers interleave (fragmentation pressure).
const pad = (n) => 'x'.repeat(n)
const requests = [
  ['process_refund', '{"amount":120}', '{"role":"agent"}'],
  ['process_refund', `{"amount":800,"note":"${pad(10_000)}"}`, '{"role":"agent"}'],
  ['delete_customer', '{}', `{"role":"manager","agent_attrs":{"user_id":"m1","blob":"${pad(1_000)}"},"resource_attrs":{"owner_id":"m1"}}`],
  ['view_customer', `{"fields":[${Array(2000).fill('"name"').join(',')}]}`, '{"role":"agent"}'],
  ['bulk_update', `{"rows":"${pad(1_000_000)}"}`, '{"role":"admin","agent_attrs":{"mfa_verified_at":"t"},"resource_attrs":{"env":"production"}}'],
].map((r) => r.map((s) => encoder.encode(s)))
const LARGE_EVERY = 997 // the 1 MB request only now and then, or the soak measures memcpy

function soak(pattern) {
  const ex = new WebAssembly.Instance(module, {}).exports
  const fixed = pattern === 'reuse' ? requests.map((r) => r.map((b) => ex.alloc(b.length))) : null
  const call = (i) => {
    const which = i % LARGE_EVERY === 0 ? 4 : i % 4
    const bytes = requests[which]
    const ptrs = fixed ? fixed[which] : bytes.map((b) => ex.alloc(b.length))
    bytes.forEach((b, k) => new Uint8Array(ex.memory.buffer, ptrs[k], b.length).set(b))
    const resp = ex.evaluate(ptrs[0], bytes[0].length, ptrs[1], bytes[1].length, ptrs[2], bytes[2].length)
    const view = new DataView(ex.memory.buffer)
    const n = view.getUint32(resp, true)
    if (i % 100_003 === 0) {
      const answer = JSON.parse(decoder.decode(new Uint8Array(ex.memory.buffer, resp + 4, n)))
      if (answer.decision === undefined) throw new Error(`call ${i}: ${JSON.stringify(answer)}`)
    }
    ex.dealloc(resp, 4 + n)
    if (pattern === 'release') ptrs.forEach((p, k) => ex.dealloc(p, bytes[k].length))
  }
  for (let i = 0; i < 5 * LARGE_EVERY; i++) call(i)
  const warm = ex.memory.buffer.byteLength
  const start = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) call(i)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const after = ex.memory.buffer.byteLength
  const verdict = after === warm ? 'flat' : `GREW by ${after - warm} bytes`
  console.log(`${pattern.padEnd(8)} ${calls} calls in ${seconds.toFixed(1)} s (${((seconds / calls) * 1e9).toFixed(0)} ns/call): memory ${warm} → ${after} bytes, ${verdict}`)
  return after === warm
}

console.log(`soak: ${calls} calls per pattern; request sizes ${requests.map((r) => r[1].length + r[2].length).join(', ')} bytes, the largest every ${LARGE_EVERY} calls`)
const ok = patterns.map(soak).every(Boolean)
process.exit(ok ? 0 : 1)
