// The three ways to print a run: human (one line per case, grouped by file),
// json (everything, for tools), junit (XML that CI systems display).

import { Chalk } from 'chalk'
import { diagnosticsToJson, renderDiagnostics } from '../compiler/render.js'
import { type Coverage, coverageLines } from './coverage.js'
import { isInvalid, type RunResult, type SuiteResult } from './run.js'

export type Reporter = 'human' | 'json' | 'junit'

export interface Report {
  run: RunResult
  /** Paths that named no suite (missing file, directory without suites). */
  problems: string[]
  /** Present with --coverage. */
  coverage?: Coverage[]
  /** `coverage of x is 72.2%, below --min-coverage 90%` lines. */
  gates: string[]
  filter?: string
}

/** `N passed, M failed`, alone on its line, as CI log readers expect; `, K skipped` when --filter left cases out. */
export const summaryLine = (run: RunResult): string =>
  `${run.passed} passed, ${run.failed} failed${run.filteredOut > 0 ? `, ${run.filteredOut} skipped` : ''}`

export function human(report: Report, color: boolean): string {
  const paint = new Chalk({ level: color ? 1 : 0 })
  const out: string[] = []
  for (const problem of report.problems) out.push(`${paint.red.bold('error')}: ${problem}`, '')
  for (const suite of report.run.suites) {
    if (suite.otherPolicy !== undefined) {
      out.push(`${paint.bold(suite.file)}: not run: ${suite.otherPolicy}`, '')
      continue
    }
    out.push(paint.bold(suite.file))
    if (suite.unreadable !== undefined) out.push(`${paint.red.bold('error')}: ${suite.unreadable}`)
    const blocks = diagnosticsText(suite, color)
    if (blocks.length > 0) out.push(blocks.map((block) => block.trimEnd()).join('\n\n'))
    for (const c of suite.cases) {
      if (c.passed) {
        out.push(`  ${paint.green('✓')} ${c.name}`)
        continue
      }
      out.push(`  ${paint.red('✗')} ${paint.bold(c.name)}`, `      ${c.failure}`, `      reason: ${c.reason}`)
      for (const line of c.explanation ?? []) out.push(`      ${line}`)
    }
    out.push('')
  }
  if (report.run.bailed) out.push('stopped at the first failure (--bail)')
  if (report.run.invalid > 0) {
    out.push(paint.red(`${report.run.invalid} ${report.run.invalid === 1 ? 'suite is' : 'suites are'} invalid; ${report.run.invalid === 1 ? 'its' : 'their'} cases did not run`))
  }
  if (report.filter !== undefined && report.run.passed + report.run.failed === 0) out.push(`no case matches --filter \`${report.filter}\``)
  out.push(summaryLine(report.run))
  for (const coverage of report.coverage ?? []) out.push('', ...coverageLines(coverage))
  if (report.gates.length > 0) out.push('', ...report.gates.map((g) => paint.red(g)))
  return out.join('\n') + '\n'
}

/** The suite's own diagnostics, then (once per run) those of the policy it names: its errors, or its warnings. */
function diagnosticsText(suite: SuiteResult, color: boolean): string[] {
  const blocks: string[] = []
  if (suite.diagnostics.length > 0) blocks.push(renderDiagnostics(suite.diagnostics, suite.source!, suite.file, { color }))
  const policy = suite.policyDiagnostics
  if (policy !== undefined) blocks.push(renderDiagnostics(policy.diagnostics, policy.source, policy.path, { color }))
  return blocks
}

const warningsOf = (s: SuiteResult): number =>
  [...s.diagnostics, ...(s.policyDiagnostics?.diagnostics ?? [])].filter((d) => d.severity === 'warning').length

export function json(report: Report): string {
  const { run } = report
  return JSON.stringify({
    passed: run.passed,
    failed: run.failed,
    skipped: run.filteredOut,
    invalid: run.invalid,
    warnings: run.suites.reduce((n, s) => n + warningsOf(s), 0),
    bailed: run.bailed,
    problems: report.problems,
    suites: run.suites.map((s) => ({
      file: s.file,
      ...(s.policy !== undefined ? { policy: s.policy } : {}),
      ...(s.unreadable !== undefined ? { unreadable: s.unreadable } : {}),
      ...(s.otherPolicy !== undefined ? { notRun: s.otherPolicy } : {}),
      diagnostics: [
        ...(s.diagnostics.length > 0 ? diagnosticsToJson(s.diagnostics, s.source!, s.file) : []),
        ...(s.policyDiagnostics ? diagnosticsToJson(s.policyDiagnostics.diagnostics, s.policyDiagnostics.source, s.policyDiagnostics.path) : []),
      ],
      cases: s.cases,
    })),
    ...(report.coverage !== undefined ? { coverage: report.coverage } : {}),
    gates: report.gates,
  }, null, 2) + '\n'
}

/**
 * JUnit XML as Jenkins, GitLab and the GitHub test-report actions read it: one
 * `<testsuite>` per suite file, one `<testcase>` per case, a `<failure>` for
 * each failed case; an invalid suite is one `<testcase>` with an `<error>`;
 * a suite that names another policy than `perso compile --test`'s is left out.
 */
export function junit(report: Report): string {
  // A suite of another policy (`perso compile --test`) is no test of this run.
  const suites = report.run.suites.filter((s) => s.otherPolicy === undefined).map((s) => {
    const broken = isInvalid(s)
    const tests = broken ? 1 : s.cases.length
    const failures = s.cases.filter((c) => !c.passed).length
    const head = `  <testsuite name="${xml(s.file)}" tests="${tests}" failures="${failures}" errors="${broken ? 1 : 0}" skipped="0">`
    const cases = s.cases.map((c) => {
      const open = `    <testcase name="${xml(c.name)}" classname="${xml(s.file)}"`
      if (c.passed) return `${open}/>`
      return [`${open}>`,
        `      <failure message="${xml(c.failure ?? '')}" type="WrongDecision">${xml(`${c.failure ?? ''}\nreason: ${c.reason}`, true)}</failure>`,
        '    </testcase>'].join('\n')
    })
    if (broken) {
      const text = s.unreadable ?? diagnosticsText(s, false).join('\n')
      const errors = s.diagnostics.filter((d) => d.severity === 'error').length
      const message = s.unreadable ?? `${errors} ${errors === 1 ? 'error' : 'errors'} in the suite`
      cases.push(`    <testcase name="(suite is invalid)" classname="${xml(s.file)}">\n` +
        `      <error message="${xml(message)}" type="InvalidSuite">${xml(text, true)}</error>\n    </testcase>`)
    }
    // Warnings (the suite's, and the policy's own) where JUnit readers show a suite's diagnostics.
    if (!broken && warningsOf(s) > 0) cases.push(`    <system-err>${xml(diagnosticsText(s, false).join('\n'), true)}</system-err>`)
    return [head, ...cases, '  </testsuite>'].join('\n')
  })
  const tests = report.run.suites.reduce((n, s) => n + (isInvalid(s) ? 1 : s.cases.length), 0)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="perso test" tests="${tests}" failures="${report.run.failed}" errors="${report.run.invalid}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n')
}

/** Escapes for attributes and text (line breaks kept in attributes too); characters XML 1.0 cannot carry become U+FFFD. */
function xml(text: string, inText = false): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    .replace(/\n/g, inText ? '\n' : '&#10;')
}
