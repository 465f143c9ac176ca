// `perso check <policy.json>`: validate a policy and print every diagnostic,
// then a one-line summary. Loads the compiler's front end only, never binaryen.

import type { Command } from 'commander'
import type { ToolsLock } from '../guard/lock.js'
import type { Diagnostic } from '../compiler/diagnostics.js'
import type { Policy } from '../compiler/policy.js'
import { unnamedTools } from '../compiler/tools.js'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, plural, readInput } from './io.js'
import { readLock } from './lock.js'
import type { VerbContext } from './verb.js'
import { type Format, errorCount, formatOption, reportDiagnostics } from './report.js'

interface CheckOptions {
  strict?: boolean
  tools?: string
  format: Format
}

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<policy>', 'the policy JSON file, or - for stdin')
    .option('--strict', 'treat warnings as errors')
    .option('--tools <lock>', "check the policy against the server's tools in a tools.lock.json (perso scan writes it)")
    .addOption(formatOption('how to print diagnostics (json: the array of diagnostics)'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (file: string, options: CheckOptions) => {
      if (options.format === 'json') json()
      exit(await runCheck(io, file, options))
    })
}

export async function runCheck(io: Io, file: string, options: CheckOptions): Promise<number> {
  const source = await readInput(io, file)
  const name = file === STDIN ? STDIN_NAME : file
  const lock = options.tools === undefined ? undefined : await readLock(io, options.tools)
  const { check } = await import('../compiler/compile.js')
  const result = check(source, { filename: name, strict: options.strict === true, ...(lock ? { tools: lock.tools } : {}) })
  const { diagnostics } = result
  const failed = await reportDiagnostics(io, io.stdout, diagnostics, source, name, options.format)
  if (options.format === 'human') {
    io.stdout(`${name}: ${summary(diagnostics, result.policy?.rules.length, result.table?.size)}\n`)
    if (lock !== undefined && result.policy !== undefined) io.stdout(`${options.tools}: ${toolsSummary(result.policy, lock)}\n`)
  }
  return failed ? EXIT.invalid : EXIT.ok
}


/** `14 server tools, 4 named by the policy; 10 hidden and denied to every role: …` */
function toolsSummary(policy: Policy, lock: ToolsLock): string {
  const unnamed = unnamedTools(policy, lock.tools)
  const head = `${plural(lock.tools.length, 'server tool')}, ${lock.tools.length - unnamed.length} named by the policy`
  if (unnamed.length === 0) return head
  return `${head}; ${unnamed.length} ${policy.default_action === 'Deny' ? 'hidden and denied to every role' : 'allowed to every role by default_action Allow'}: ${unnamed.join(', ')}`
}

/** `ok (7 rules, 21 table entries, 2 warnings)` or `3 errors, 1 warning`. */
function summary(diagnostics: readonly Diagnostic[], rules: number | undefined, entries: number | undefined): string {
  const errors = errorCount(diagnostics)
  const warnings = diagnostics.length - errors
  if (errors > 0) return [plural(errors, 'error'), ...(warnings > 0 ? [plural(warnings, 'warning')] : [])].join(', ')
  const facts = [
    ...(rules !== undefined ? [plural(rules, 'rule')] : []),
    ...(entries !== undefined ? [`${entries} table ${entries === 1 ? 'entry' : 'entries'}`] : []),
    ...(warnings > 0 ? [plural(warnings, 'warning')] : []),
  ]
  return facts.length > 0 ? `ok (${facts.join(', ')})` : 'ok'
}
