// Where a decision's time goes inside the runtime: builds the runtime once per
// phase with `--stop-after` (scripts/build-runtime.js), so that `evaluate`
// answers `{}` right after that phase, links each build with the CRM policy,
// and times every build on the engine's cases (scenarios.js ENGINE_SCENARIOS)
// in interleaved, calibrated rounds. A phase's cost is the difference between
// the build that stops after it and the one that stops before; the last row
// is the shipped runtime, so the response's cost is the remainder.
//
//   npm run bench:phases          (BENCH_ROUNDS, BENCH_BATCH as for bench:engine)

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resident } from './engine.js'
import { compareRounds, printTable } from './measure.js'
import { ENGINE_SCENARIOS } from './scenarios.js'

const root = new URL('..', import.meta.url)
const PHASES = [
  ['inputs', 'bounds, arena, tool name'],
  ['arguments', 'validate arguments'],
  ['context', 'validate context'],
  ['role', 'find role and attribute objects'],
  ['probe', 'table probe'],
  ['reads', "find the condition's fields"],
  ['condition', 'condition'],
]

const { check } = await import(new URL('dist/src/compiler/compile.js', root).href)
const { emit } = await import(new URL('dist/src/compiler/emit.js', root).href)
const { program } = check(readFileSync(new URL('fixtures/crm.json', root)), { filename: 'fixtures/crm.json' })
if (program === undefined) throw new Error('fixtures/crm.json did not compile')

const dir = mkdtempSync(join(tmpdir(), 'perso-phases-'))
const builds = []
try {
  for (const [phase, label] of PHASES) {
    const out = join(dir, `${phase}.wasm`)
    execFileSync(process.execPath, ['scripts/build-runtime.js', '--out', out, '--stop-after', phase], { cwd: root, stdio: 'inherit' })
    builds.push({ label, module: new WebAssembly.Module(emit(program, readFileSync(out))) })
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
builds.push({ label: 'response', module: new WebAssembly.Module(emit(program)) })

const candidates = {}
for (const scenario of ENGINE_SCENARIOS) {
  for (const [i, build] of builds.entries()) candidates[`${scenario.name}|${i}`] = resident(build.module, scenario).call
}
const { stats, discarded, rounds } = compareRounds(candidates, {
  rounds: Number(process.env.BENCH_ROUNDS ?? 15),
  batch: Number(process.env.BENCH_BATCH ?? 10000),
  warmup: 2,
  calibrate: true,
})

console.log('\n## Phases of evaluate inside the runtime (median ns/call; each row: its build minus the one before)\n')
const rows = builds.map((build, i) => [
  build.label,
  ...ENGINE_SCENARIOS.map((scenario) => {
    const now = stats[`${scenario.name}|${i}`].median
    const before = i === 0 ? 0 : stats[`${scenario.name}|${i - 1}`].median
    return (now - before).toFixed(0)
  }),
])
rows.push(['total', ...ENGINE_SCENARIOS.map((scenario) => stats[`${scenario.name}|${builds.length - 1}`].median.toFixed(0))])
printTable(['phase', ...ENGINE_SCENARIOS.map((s) => s.name.replace(/ \(.*/, ''))], rows)
console.log(
  `\n${rounds - discarded} of ${rounds} rounds kept. A phase a case never reaches (no condition, an early Deny) shows ~0;` +
    ' differences of a few ns are noise.',
)
