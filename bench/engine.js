// Engine only: the evaluate export of today's build next to the runtime before
// the memory-model rewrite (bench/baseline/, commit d8a7d26), on the engine's
// cases (scenarios.js ENGINE_SCENARIOS). Inputs are written into module memory
// once; the timed loop is evaluate + reading the response's length + dealloc,
// no encoding or copying, so the ratio is what the runtime itself costs per
// call. Rounds are interleaved and calibrated (measure.js compareRounds).
//
//   node bench/engine.js          (also a section of `npm run bench`)

import { readFileSync } from 'node:fs'
import { compareRounds, printTable } from './measure.js'
import { ENGINE_SCENARIOS } from './scenarios.js'

const root = new URL('..', import.meta.url)
const BASELINE = { name: 'd8a7d26', url: new URL('bench/baseline/crm-d8a7d26.wasm', root) }
/** The current artifact may grow to this many bytes (24 KB, and 32 KB where measured speed needs it: docs/design.md); the baseline was 16 KB. */
const SIZE_BUDGET = 32 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The inputs of `scenario` written once into a fresh instance of `module`: `call()` decides once and releases the answer. */
export function resident(module, scenario) {
  const ex = new WebAssembly.Instance(module, {}).exports
  const [[tool, toolLen], [args, argsLen], [ctx, ctxLen]] = [scenario.tool, JSON.stringify(scenario.args), JSON.stringify(scenario.context)].map((text) => {
    const bytes = encoder.encode(text)
    const ptr = ex.alloc(bytes.length)
    if (ptr === 0) throw new Error(`alloc(${bytes.length}) answered 0`)
    new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes)
    return [ptr, bytes.length]
  })
  const { evaluate, dealloc } = ex
  // Growth detaches the old buffer (its views read length 0); only then is the view remade.
  let bytes = new Uint8Array(ex.memory.buffer)
  const lengthAt = (resp) => {
    if (bytes.length === 0) bytes = new Uint8Array(ex.memory.buffer)
    return (bytes[resp] | (bytes[resp + 1] << 8) | (bytes[resp + 2] << 16) | (bytes[resp + 3] << 24)) >>> 0
  }
  return {
    call() {
      const resp = evaluate(tool, toolLen, args, argsLen, ctx, ctxLen)
      const n = lengthAt(resp)
      dealloc(resp, 4 + n)
      return n
    },
    answer() {
      const resp = evaluate(tool, toolLen, args, argsLen, ctx, ctxLen)
      const n = lengthAt(resp)
      const text = decoder.decode(bytes.subarray(resp + 4, resp + 4 + n))
      dealloc(resp, 4 + n)
      return text
    },
  }
}

const decisionOf = (text, who) => {
  const answer = JSON.parse(text)
  if (answer.decision === undefined) throw new Error(`${who} answered ${text}`)
  return answer.decision
}

/** Today's CRM artifact, compiled by dist/ (the build). */
async function currentArtifact() {
  const { compile } = await import(new URL('dist/src/compiler/compile.js', root).href)
  const { wasm } = await compile(readFileSync(new URL('fixtures/crm.json', root)), { filename: 'fixtures/crm.json' })
  if (wasm === undefined) throw new Error('fixtures/crm.json did not compile')
  return wasm
}

export async function engineSection(context = {}) {
  const artifacts = {
    baseline: readFileSync(BASELINE.url),
    current: context.wasm ?? (await currentArtifact()),
  }
  const modules = Object.fromEntries(Object.entries(artifacts).map(([side, wasm]) => [side, new WebAssembly.Module(wasm)]))

  const candidates = {}
  const rows = []
  for (const scenario of ENGINE_SCENARIOS) {
    const deciders = Object.fromEntries(Object.entries(modules).map(([side, module]) => [side, resident(module, scenario)]))
    const first = Object.fromEntries(Object.entries(deciders).map(([side, d]) => [side, d.answer()]))
    const [baseline, current] = [decisionOf(first.baseline, `baseline on ${scenario.name}`), decisionOf(first.current, `current on ${scenario.name}`)]
    if (baseline !== current) throw new Error(`${scenario.name}: the baseline decides ${baseline}, the current artifact ${current}`)
    for (const [side, d] of Object.entries(deciders)) candidates[`${scenario.name} · ${side}`] = () => d.call()
    rows.push({ scenario, decision: current, deciders, first })
  }

  const { stats, discarded, rounds } = compareRounds(candidates, {
    rounds: Number(process.env.BENCH_ROUNDS ?? 31),
    batch: Number(process.env.BENCH_BATCH ?? 20000),
    warmup: 3,
    calibrate: true,
  })
  const medians = Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, s.median]))

  // Thousands of calls later the inputs written once must still give the same answer.
  for (const { scenario, deciders, first } of rows) {
    for (const [side, d] of Object.entries(deciders)) {
      const again = d.answer()
      if (again !== first[side]) throw new Error(`${scenario.name} (${side}): the answer changed during timing: ${first[side]} → ${again}`)
    }
  }

  const ratios = []
  const table = rows.map(({ scenario, decision }) => {
    const base = stats[`${scenario.name} · baseline`]
    const now = stats[`${scenario.name} · current`]
    ratios.push(now.median / base.median)
    const ns = (s) => `${s.p25.toFixed(0)} / ${s.median.toFixed(0)}`
    return [scenario.name, decision, ns(base), ns(now), (now.median / base.median).toFixed(2) + '×']
  })
  const geomean = Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length)
  const mean = ratios.reduce((sum, r) => sum + r, 0) / ratios.length
  table.push(['all cases (geometric mean)', '', '', '', geomean.toFixed(2) + '×'])

  console.log(`\n## Engine only: evaluate on inputs written once, current vs ${BASELINE.name} (ns/call p25 / median, interleaved rounds)\n`)
  printTable(['case', 'decision', `${BASELINE.name} ns`, 'current ns', 'current/baseline'], table)
  console.log(`\nmean ratio ${mean.toFixed(2)}×; ${rounds - discarded} of ${rounds} rounds kept (calibration discards rounds run while the machine was slow)`)
  const size = artifacts.current.length
  console.log(
    `\nartifact size: ${BASELINE.name} ${artifacts.baseline.length} bytes, current ${size} bytes ` +
      `(budget ≤ ${SIZE_BUDGET}: ${size <= SIZE_BUDGET ? 'ok' : 'OVER'})`,
  )
  console.log('loop = evaluate(...) + the response length read from memory + dealloc(resp, 4 + n); no alloc, no copy.')
  return { medians, stats, geomean, sizes: { baseline: artifacts.baseline.length, current: size } }
}

if (import.meta.url === `file://${process.argv[1]}`) await engineSection()
