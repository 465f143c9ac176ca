// One test run from paths to exit code, shared by `perso test` and
// `perso compile --test`: find suites, load each policy once, run the cases
// through the artifacts, measure coverage, print, and decide the exit code.

import type { CompileResult } from '../compiler/compile.js'
import { EXIT, type Io, wantsColor } from '../cli/io.js'
import { type Coverage, coverageLines, coverageOf, percentText } from './coverage.js'
import { type Compiler, PolicyCache } from './policies.js'
import { human, json, junit, type Report, type Reporter } from './report.js'
import { discover, names, runSuites, type SuiteResult } from './run.js'

export interface TestOptions {
  reporter: Reporter
  /** Run only the cases whose name contains this text (case-insensitive). */
  filter?: string
  /** Stop at the first failed case or invalid suite. */
  bail?: boolean
  /** Report rules, entries and condition outcomes no case exercised. */
  coverage?: boolean
  /** Fail when a policy's coverage is below this percentage (implies coverage). */
  minCoverage?: number
  /** Warnings are errors: the policies' (they do not compile) and the suites' (they do not run). */
  strict?: boolean
}

export interface TestHooks {
  /** Compiles `.json` policies; tests pass a counting one. */
  compiler?: Compiler
  /** An artifact already built (`perso compile --test`), standing for the policy at each of `paths`. */
  built?: { paths: string[]; wasm: Uint8Array; result?: CompileResult }
  /** Where the report goes; stdout by default. */
  write?: (s: string) => void
}

export async function runTests(io: Io, paths: readonly string[], options: TestOptions, hooks: TestHooks = {}): Promise<number> {
  const write = hooks.write ?? io.stdout
  const cache = new PolicyCache(io, { strict: options.strict === true, ...(hooks.compiler ? { compiler: hooks.compiler } : {}) })
  if (hooks.built !== undefined) cache.provide(hooks.built.paths, hooks.built.wasm, hooks.built.result)

  const { files, problems } = discover(paths)
  // `perso compile --test`: the suites of the policy being compiled are its tests; those of other policies do not count for it.
  const only = hooks.built && { name: hooks.built.paths[0]!, paths: hooks.built.paths }
  const run = await runSuites(io, files, cache, {
    ...(options.filter !== undefined ? { filter: options.filter } : {}),
    bail: options.bail === true,
    strict: options.strict === true,
    ...(only ? { only } : {}),
  })
  if (only && files.length > 0 && !run.bailed && !run.suites.some((s) => s.policy !== undefined && names(s.policy, only.paths))) problems.push(untested(only.name, run.suites))
  const measure = options.coverage === true || options.minCoverage !== undefined
  const coverage = measure ? run.exercised.map(coverageOf) : undefined
  const gates = options.minCoverage === undefined ? [] : below(coverage ?? [], options.minCoverage)
  const report: Report = { run, problems, gates, ...(coverage ? { coverage } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}) }

  switch (options.reporter) {
    case 'human':
      write(human(report, wantsColor(io)))
      break
    case 'json':
      write(json(report))
      break
    case 'junit':
      write(junit(report))
      // JUnit has no place for these; CI logs show stderr.
      for (const problem of problems) io.stderr(`perso: ${problem}\n`)
      for (const c of coverage ?? []) io.stderr(coverageLines(c).join('\n') + '\n')
      for (const gate of gates) io.stderr(`perso: ${gate}\n`)
      break
  }
  if (problems.length > 0 || run.invalid > 0) return EXIT.invalid
  if (run.failed > 0 || gates.length > 0) return EXIT.testsFailed
  return EXIT.ok
}

/** Why a run proves nothing about the policy being compiled. */
function untested(policy: string, suites: readonly SuiteResult[]): string {
  const others = suites.filter((s) => s.otherPolicy !== undefined).length
  const unread = suites.length - others
  const found = [
    ...(others > 0 ? [`${others === 1 ? '1 suite names' : `${others} suites name`} another policy`] : []),
    ...(unread > 0 ? [`${unread === 1 ? '1 suite' : `${unread} suites`} could not be read`] : []),
  ]
  return `no test suite names \`${policy}\`, the policy being compiled${found.length > 0 ? ` (${found.join(', ')})` : ''}; ` +
    `a suite tests the policy its \`policy:\` names`
}

function below(coverage: readonly Coverage[], minimum: number): string[] {
  return coverage
    .filter((c) => c.percent < minimum)
    .map((c) => `coverage of ${c.policy} is ${percentText(c.percent)}, below --min-coverage ${minimum}%`)
}
