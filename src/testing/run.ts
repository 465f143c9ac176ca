// Finding suites, and running their cases through the compiled artifact: each
// case is one `evaluateSync` of the SDK (the path hosts take), its answer
// compared with the expectation, and what it exercised (entry, condition
// outcome) recorded for coverage.

import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { explain, explanationLines } from '../analysis/explain.js'
import { type Diagnostic, hasErrors } from '../compiler/diagnostics.js'
import type { Io } from '../cli/io.js'
import type { PolicyCache, PolicyUnderTest } from './policies.js'
import { type Case, checkVocabulary, type Decision, loadSuite } from './suite.js'
import { diagnostic } from './suite-schema.js'

export interface CaseResult {
  name: string
  expect: Decision
  decision: Decision
  reason: string
  /** The SDK or the artifact could not read the request (counted as Deny, the error as reason). */
  inputError: boolean
  passed: boolean
  /** Why it failed: `expected Deny, got Allow` or what the reason should have matched. */
  failure?: string
  /** For a failing case of a policy compiled from its source: which rule decided, and each condition with the value it read. */
  explanation?: string[]
}

export interface SuiteResult {
  file: string
  /** The policy's path (joined to the suite's directory) once the suite named one. */
  policy?: string
  /** The suite's errors and warnings; when there is an error, no case ran. */
  diagnostics: Diagnostic[]
  /** The suite could not be read at all: one line, no source to point into. */
  unreadable?: string
  /** The suite's text, for rendering its diagnostics. */
  source?: Uint8Array
  /** The suite names another policy than the one under test (`perso compile --test`): why it did not run. */
  otherPolicy?: string
  /** The policy's own diagnostics (its errors, or its warnings), the first time a suite names it. */
  policyDiagnostics?: { path: string; diagnostics: Diagnostic[]; source: Uint8Array }
  cases: CaseResult[]
}

/** What cases exercised in one policy: entry indexes (metadata order) and condition outcomes. */
export interface Exercised {
  policy: PolicyUnderTest
  entries: Set<number>
  conditionTrue: Set<number>
  conditionFalse: Set<number>
}

export interface RunResult {
  suites: SuiteResult[]
  passed: number
  failed: number
  /** Suites with errors (their cases did not run). */
  invalid: number
  /** Cases left out by --filter. */
  filteredOut: number
  /** A failure stopped the run early (--bail). */
  bailed: boolean
  exercised: Exercised[]
}

export interface RunOptions {
  filter?: string
  bail?: boolean
  /**
   * Only suites that name this policy run (`perso compile --test`: the policy
   * being compiled, by any of its paths); the others are listed as not run.
   */
  only?: { name: string; paths: readonly string[] }
  /** The suites' warnings (a tool or role the policy never names) are errors. */
  strict?: boolean
}

/** What every suite of a run shares while it is loaded. */
interface Loading {
  io: Io
  cache: PolicyCache
  options: RunOptions
  /** Policies whose own diagnostics were shown already (once per run). */
  reported: Set<PolicyUnderTest>
}

const SUITE_NAME = /\.test\.(ya?ml|json)$/i

/** Files as given; directories searched (recursively, skipping `node_modules` and dot-folders) for `*.test.{yaml,yml,json}`. */
export function discover(paths: readonly string[]): { files: string[]; problems: string[] } {
  const files: string[] = []
  const problems: string[] = []
  const search = (dir: string, found: string[]): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name)
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') search(path, found)
      else if (entry.isFile() && SUITE_NAME.test(entry.name)) found.push(path)
    }
  }
  for (const path of paths) {
    let isDirectory: boolean
    try {
      isDirectory = statSync(path).isDirectory()
    } catch {
      problems.push(`cannot read \`${path}\`: no such file or directory`)
      continue
    }
    if (!isDirectory) {
      files.push(path)
      continue
    }
    const found: string[] = []
    search(path, found)
    if (found.length === 0) problems.push(`no test suites (*.test.yaml, *.test.yml, *.test.json) in \`${path}\``)
    files.push(...found)
  }
  return { files: [...new Set(files)], problems }
}

export async function runSuites(io: Io, files: readonly string[], cache: PolicyCache, options: RunOptions): Promise<RunResult> {
  const result: RunResult = { suites: [], passed: 0, failed: 0, invalid: 0, filteredOut: 0, bailed: false, exercised: [] }
  const exercised = new Map<PolicyUnderTest, Exercised>()
  const loading: Loading = { io, cache, options, reported: new Set() }
  const filter = options.filter?.toLowerCase()
  for (const file of files) {
    const suiteResult = await runSuite(file, loading)
    result.suites.push(suiteResult.result)
    if (suiteResult.result.otherPolicy !== undefined) continue
    if (isInvalid(suiteResult.result)) {
      result.invalid++
      if (options.bail) return { ...result, bailed: true, exercised: [...exercised.values()] }
      continue
    }
    const { cases, policy } = suiteResult
    let seen = exercised.get(policy!)
    if (seen === undefined) {
      seen = { policy: policy!, entries: new Set(), conditionTrue: new Set(), conditionFalse: new Set() }
      exercised.set(policy!, seen)
    }
    for (const c of cases) {
      if (filter !== undefined && !c.name.toLowerCase().includes(filter)) {
        result.filteredOut++
        continue
      }
      const outcome = runCase(c, seen)
      suiteResult.result.cases.push(outcome)
      if (outcome.passed) result.passed++
      else {
        result.failed++
        if (options.bail) return { ...result, bailed: true, exercised: [...exercised.values()] }
      }
    }
  }
  return { ...result, exercised: [...exercised.values()] }
}

/** A suite that could not be read or has an error: none of its cases runs. */
export const isInvalid = (suite: SuiteResult): boolean => suite.unreadable !== undefined || hasErrors(suite.diagnostics)

/** Loads one suite and its policy; the cases to run, or the result that says why none can. */
async function runSuite(file: string, { io, cache, options, reported }: Loading):
Promise<{ result: SuiteResult; cases: Case[]; policy?: PolicyUnderTest }> {
  const only = options.only
  let source: Uint8Array
  try {
    source = io.readFile(file)
  } catch (e) {
    const why = (e as { code?: unknown }).code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e)
    const message = `cannot read \`${file}\`: ${why}`
    return { result: { file, diagnostics: [], unreadable: message, cases: [] }, cases: [] }
  }
  const loaded = loadSuite(file, source)
  const result: SuiteResult = { file, diagnostics: loaded.diagnostics, source, cases: [] }
  const suite = loaded.suite
  if (suite === undefined) return { result, cases: [] }
  result.policy = suite.policy.path
  if (only !== undefined && !names(suite.policy.path, only.paths)) {
    // Not compiled, not run, not counted: it tests something else.
    return { result: { file, policy: suite.policy.path, diagnostics: [], otherPolicy: `it tests \`${suite.policy.path}\`, not \`${only.name}\``, cases: [] }, cases: [] }
  }
  const policy = await cache.get(suite.policy.path)
  const at = suite.locate(['policy'])
  if (policy.failure !== undefined) {
    const { code, message, diagnostics, source: policySource } = policy.failure
    result.diagnostics = [diagnostic(code, message, at, diagnostics ? `run \`perso check ${policy.path}\`` : undefined), ...loaded.diagnostics]
    if (diagnostics !== undefined && policySource !== undefined && !reported.has(policy)) {
      reported.add(policy)
      result.policyDiagnostics = { path: policy.path, diagnostics, source: policySource }
    }
    return { result, cases: [] }
  }
  const vocabulary = checkVocabulary(suite, policy.metadata!)
  result.diagnostics = [...loaded.diagnostics, ...(options.strict ? vocabulary.map(asError) : vocabulary)]
    .sort((a, b) => a.span.start - b.span.start)
  if (policy.warnings !== undefined && !reported.has(policy)) {
    reported.add(policy)
    result.policyDiagnostics = { path: policy.path, ...policy.warnings }
  }
  return { result, cases: suite.cases, policy }
}

const asError = (d: Diagnostic): Diagnostic => ({ ...d, severity: 'error' })

/** Whether a suite's policy path is one of `paths` (compared as absolute paths). */
export const names = (policy: string, paths: readonly string[]): boolean => paths.some((p) => resolve(p) === resolve(policy))

function runCase(c: Case, seen: Exercised): CaseResult {
  // The SDK's own call, as a host makes it: it reads the request, sends the
  // artifact what the matched entry reads, and answers the artifact's decision.
  const { decision, reason } = seen.policy.perso!.evaluateSync({
    tool: c.tool, role: c.role, args: c.args, agentAttributes: c.agentAttributes, resourceAttributes: c.resourceAttributes,
  })
  // Fail closed, as hosts must: a request the SDK or the artifact cannot read is a denial whose reason is the error.
  const inputError = !decided(c, reason)
  if (!inputError) record(c, reason, seen)
  const outcome: CaseResult = { name: c.name, expect: c.expect, decision, reason, inputError, passed: true }
  if (decision !== c.expect) outcome.failure = `expected ${c.expect}, got ${decision}`
  else if (c.reason !== undefined && !c.reason.test(reason)) {
    const wanted = c.reason.text.startsWith('/') ? `to match ${c.reason.text}` : `to contain ${JSON.stringify(c.reason.text)}`
    outcome.failure = `expected ${c.expect} with a reason ${wanted}, got ${decision}`
  }
  outcome.passed = outcome.failure === undefined
  if (!outcome.passed && !inputError) {
    const lines = explanationOf(c, decision, seen.policy)
    if (lines !== undefined) outcome.explanation = lines
  }
  return outcome
}

const encoder = new TextEncoder()

/**
 * The explanation of a case from the policy's source (analysis/explain.ts),
 * when it decides as the artifact did; undefined otherwise (an artifact
 * without its source, or a disagreement, which the artifact's answer outranks).
 */
function explanationOf(c: Case, decision: Decision, policy: PolicyUnderTest): string[] | undefined {
  if (policy.program === undefined) return undefined
  const text = (value: unknown): string => (value === undefined ? '{}' : JSON.stringify(value))
  const context = `{"role":${JSON.stringify(c.role)},"agent_attrs":${text(c.agentAttributes)},"resource_attrs":${text(c.resourceAttributes)}}`
  const e = explain(policy.program, c.tool, encoder.encode(text(c.args)), encoder.encode(context))
  if ('error' in e || e.decision !== decision) return undefined
  return explanationLines(e, (rule) => policy.rules[rule]?.where ?? `rules[${rule}]`)
}

/** Every decision's reason names the case's tool and role first (spec §4); an error's names the input it could not read. */
const decided = (c: Case, reason: string): boolean =>
  reason.startsWith(`rule matched tool '${c.tool}' for role '${c.role}'; `) ||
  reason.startsWith(`no rule matched tool '${c.tool}' for role '${c.role}'; `)

/** The reason says whether the (tool, role) entry matched and how its condition went (spec §4). */
function record(c: Case, reason: string, seen: Exercised): void {
  const prefix = `rule matched tool '${c.tool}' for role '${c.role}'; `
  if (!reason.startsWith(prefix)) return
  const { metadata } = seen.policy
  const index = metadata!.entries.findIndex(([tool, role]) => metadata!.tools[tool] === c.tool && metadata!.roles[role] === c.role)
  if (index === -1) return
  seen.entries.add(index)
  const condition = metadata!.entries[index]![3]
  if (condition === null) return
  const rest = reason.slice(prefix.length)
  if (rest === 'condition passed') seen.conditionTrue.add(condition)
  else if (rest.startsWith('condition failed')) seen.conditionFalse.add(condition)
}
