// `npm run fuzz`: the long run of the runtime fuzzer (test/fuzz/). Same cases,
// oracle and hosts as test/fuzz.test.ts, many more of them, huge inputs
// included, and random policies besides the fixed ones.
//
//   npm run fuzz -- [--seed N] [--cases N] [--seconds S] [--random-policies N] [--huge-rate P] [--oob-rate P] [--max-failures N]
//
// --seconds stops the run early (cleanly, figures printed) once S seconds have passed.
//
// Replaying a seed with the same --cases (and options) replays the same calls in
// the same order. Needs the build (`npm run build`): it compiles with dist/.
// The fuzz code is TypeScript under test/: it is transpiled into
// node_modules/.cache/perso-fuzz/ (so its imports of fast-check resolve) and run from there.

import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

const root = new URL('..', import.meta.url)
const rootPath = fileURLToPath(root)

function parseArgs(argv) {
  const options = { seed: Date.now() % 2 ** 31, cases: 1_000_000, randomPolicies: 4, hugeRate: 1 / 5_000, oobRate: 0.005, maxFailures: 10, seconds: Infinity }
  const names = { '--seed': 'seed', '--cases': 'cases', '--random-policies': 'randomPolicies', '--huge-rate': 'hugeRate', '--oob-rate': 'oobRate', '--max-failures': 'maxFailures', '--seconds': 'seconds' }
  for (let i = 0; i < argv.length; i += 2) {
    const name = names[argv[i]]
    const value = Number(argv[i + 1])
    if (name === undefined || !Number.isFinite(value)) {
      console.error(`usage: npm run fuzz -- [--seed N] [--cases N] [--seconds S] [--random-policies N] [--huge-rate P] [--oob-rate P] [--max-failures N]`)
      process.exit(64)
    }
    options[name] = value
  }
  return options
}

/** Transpiles test/fuzz/*.ts and the test/support files they use; returns the URL of a module in the copy. */
function transpiled() {
  const out = join(rootPath, 'node_modules/.cache/perso-fuzz')
  const files = [
    ...readdirSync(join(rootPath, 'test/fuzz')).map((f) => `test/fuzz/${f}`),
    ...['reference', 'ref-json', 'canonical', 'json-text', 'arbitraries', 'host', 'patterns'].map((f) => `test/support/${f}.ts`),
    // The support code reads the limits (the buffer budget) from the one table of them.
    'packages/sdk/src/layout.ts',
  ]
  for (const file of files) {
    const source = readFileSync(join(rootPath, file), 'utf8')
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    const target = join(out, file.replace(/\.ts$/, '.js'))
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, js)
  }
  return (file) => pathToFileURL(join(out, file)).href
}

const options = parseArgs(process.argv.slice(2))
console.log(`perso fuzz: seed ${options.seed}, ${options.cases} cases, ${options.randomPolicies} random policies, huge rate ${options.hugeRate}`)

const at = transpiled()
const { compile } = await import(new URL('dist/src/compiler/compile.js', root).href)
const { buildTargets } = await import(at('test/fuzz/targets.js'))
const { describeFailure, runFuzz } = await import(at('test/fuzz/run.js'))

const targets = await buildTargets(compile, root, options.seed, options.randomPolicies)
console.log(`targets: ${targets.map((t) => t.name).join(', ')}`)

const rate = (figures) => Math.round(figures.cases / (figures.ms / 1000))
const figures = runFuzz(targets, {
  ...options,
  timeLimitMs: options.seconds * 1000,
  onProgress: (f) => {
    if (f.cases % 100_000 === 0) console.log(`  ${f.cases} cases, ${rate(f)} cases/s, ${f.failures.length} findings`)
  },
})

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
const byInput = Object.entries(figures.errorsByInput).map(([input, n]) => `${input} ${n}`).join(', ')
console.log(`
cases            ${figures.cases}
decisions        ${figures.decisions}
errors           ${figures.errors} (${byInput})
exact compares   ${figures.exact} (valid inputs, compared byte for byte with the reference)
huge inputs      ${figures.huge}
out of bounds    ${figures.outOfBounds}
time             ${(figures.ms / 1000).toFixed(1)} s, ${rate(figures)} cases/s
max memory       ${mib(figures.maxMemory)} (largest instance), node rss ${mib(process.memoryUsage().rss)}
findings         ${figures.failures.length}`)
if (figures.failures.length > 0) {
  for (const failure of figures.failures) console.log(`\n${describeFailure(failure)}`)
  const last = figures.failures.at(-1).index
  console.log(`\nseed ${options.seed}; replay with: npm run fuzz -- --seed ${options.seed} --cases ${last + 1} --random-policies ${options.randomPolicies} --huge-rate ${options.hugeRate} --oob-rate ${options.oobRate}`)
  process.exitCode = 1
}
