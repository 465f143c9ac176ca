// `npm run bench:scale`: how perso scales with the size of the table. For
// generated policies (scripts/gen-policy.js) of 10 to 100,000 entries: compile
// time, artifact size and bytes per entry, and evaluate time through the raw
// ABI hitting random entries (through RawArtifact, and resident: the evaluate
// export alone on inputs already in memory), all sizes measured side by side.
// Targets: compile of 100k entries under 5 s; evaluate at 100k within 1.3× of
// 10 entries (one table probe, O(1)); size linear in entries.
// Needs the build (`npm run build`): it imports dist/.
//
//   npm run bench:scale [-- --sizes 10,100,1000 --compile-runs 3]

import { compareMedians, median, printTable } from './measure.js'
import { generatePolicy, prng } from '../scripts/gen-policy.js'

const root = new URL('..', import.meta.url)
const { compile, check } = await import(new URL('dist/src/compiler/compile.js', root).href)
const { RawArtifact } = await import(new URL('packages/sdk/dist/esm/abi.js', root).href)

const argv = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : fallback
}
const SIZES = flag('--sizes', '10,100,1000,10000,100000').split(',').map(Number)
const COMPILE_RUNS = Number(flag('--compile-runs', 3))
/** Distinct requests per size, each aimed at a random entry; cycled through while timing. */
const REQUESTS = 1024

const enc = new TextEncoder()
/** One request that gets past every condition form's reads (values vary nothing about the probe). */
const ARGS = enc.encode(JSON.stringify({ amount: 120, path: '/tmp/report.csv', ids: [1, 2, 3] }))
const agentAttrs = { user_id: 'u-17', mfa_verified_at: '2026-11-21T09:00:00Z' }
const resourceAttrs = { owner_id: 'u-17', env: 'production' }


const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6

async function measureSize(entries) {
  const policy = generatePolicy(entries)
  const source = enc.encode(JSON.stringify(policy, null, 1))
  let wasm
  const compileTimes = []
  const checkTimes = []
  for (let run = 0; run < COMPILE_RUNS; run++) {
    let start = process.hrtime.bigint()
    const checked = check(source)
    checkTimes.push(ms(start))
    start = process.hrtime.bigint()
    const compiled = await compile(source)
    compileTimes.push(ms(start))
    if (compiled.wasm === undefined || checked.program === undefined) throw new Error(`generated policy of ${entries} entries did not compile`)
    wasm = compiled.wasm
  }
  const tableEntries = check(source).program.entries.length
  const artifact = RawArtifact.loadSync(wasm)
  const rng = prng(entries)
  const requests = Array.from({ length: REQUESTS }, () => {
    const tool = policy.tools[Math.floor(rng() * policy.tools.length)]
    const role = policy.roles[Math.floor(rng() * policy.roles.length)]
    return [enc.encode(tool), enc.encode(JSON.stringify({ role, agent_attrs: agentAttrs, resource_attrs: resourceAttrs }))]
  })
  // Every request must reach its entry: a decision, and never the default's "no rule matched".
  for (const [tool, context] of requests) {
    const answer = artifact.evaluateBytes(tool, ARGS, context)
    if (!answer.includes('"rule matched')) throw new Error(`a request missed its entry: ${answer}`)
  }
  let i = 0
  const evaluate = () => {
    const [tool, context] = requests[i]
    i = (i + 1) & (REQUESTS - 1)
    artifact.evaluateBytes(tool, ARGS, context)
  }
  // Resident: every request written once into one buffer, then only the `evaluate` export is timed
  // (no copying in or decoding out), which shows the table probe's share more sharply.
  const { memory, alloc, evaluate: evaluateExport } = artifact.exports
  const total = requests.reduce((n, [tool, context]) => n + tool.length + ARGS.length + context.length, 0)
  let at = alloc(total)
  const resident = requests.map(([tool, context]) => {
    const call = []
    for (const bytes of [tool, ARGS, context]) {
      new Uint8Array(memory.buffer, at, bytes.length).set(bytes)
      call.push(at, bytes.length)
      at += bytes.length
    }
    return call
  })
  let k = 0
  const evaluateResident = () => {
    const c = resident[k]
    k = (k + 1) & (REQUESTS - 1)
    evaluateExport(c[0], c[1], c[2], c[3], c[4], c[5])
  }
  return {
    evaluateResident,
    entries: tableEntries,
    rules: policy.rules.length,
    sourceBytes: source.length,
    checkMs: median(checkTimes),
    compileMs: median(compileTimes),
    wasmBytes: wasm.length,
    evaluate,
  }
}

console.log(`perso bench:scale — sizes ${SIZES.join(', ')}; node ${process.version}; compile: median of ${COMPILE_RUNS} in-process runs (binaryen loaded)\n`)
// Load binaryen once before any timing: its ~0.5 s import is the same at every size (bench/artifact.js measures it).
await compile(enc.encode(JSON.stringify(generatePolicy(10))))
const results = []
for (const entries of SIZES) results.push(await measureSize(entries))

const evaluateNs = compareMedians(Object.fromEntries(results.map((r) => [r.entries, r.evaluate])), { rounds: 31, batch: 20_000 })
const residentNs = compareMedians(Object.fromEntries(results.map((r) => [r.entries, r.evaluateResident])), { rounds: 31, batch: 20_000 })
const base = evaluateNs[results[0].entries]
const residentBase = residentNs[results[0].entries]
const kb = (bytes) => (bytes / 1024).toFixed(1)
printTable(
  ['entries', 'rules', 'policy KB', 'check ms', 'compile ms', 'artifact KB', 'bytes/entry', 'evaluate ns', `vs ${results[0].entries}`, 'resident ns', `vs ${results[0].entries}`],
  results.map((r) => [
    r.entries, r.rules, kb(r.sourceBytes), r.checkMs.toFixed(1), r.compileMs.toFixed(0), kb(r.wasmBytes),
    (r.wasmBytes / r.entries).toFixed(1), evaluateNs[r.entries].toFixed(0), (evaluateNs[r.entries] / base).toFixed(2) + '×',
    residentNs[r.entries].toFixed(0), (residentNs[r.entries] / residentBase).toFixed(2) + '×',
  ]),
)

const largest = results.at(-1)
const second = results.at(-2)
console.log(`
targets:
  compile of ${largest.entries} entries under 5 s: ${largest.compileMs.toFixed(0)} ms ${largest.compileMs < 5000 ? 'ok' : 'MISSED'}
  evaluate at ${largest.entries} within 1.3× of ${results[0].entries}: ${(evaluateNs[largest.entries] / base).toFixed(2)}× ${evaluateNs[largest.entries] / base <= 1.3 ? 'ok' : 'MISSED'} (resident: ${(residentNs[largest.entries] / residentBase).toFixed(2)}×)
  size linear: bytes/entry ${(second.wasmBytes / second.entries).toFixed(1)} at ${second.entries}, ${(largest.wasmBytes / largest.entries).toFixed(1)} at ${largest.entries}`)
