// `perso compile <policy.json>`: check the policy, then write its artifact
// (or its text form, or its IR).

import { type Command, Option } from 'commander'
import type { CompileResult } from '../compiler/compile.js'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, UsageError, plural, readInput, writeOutput } from './io.js'
import type { VerbContext } from './verb.js'
import { type Format, diagnosticsJson, errorCount, formatOption, reportDiagnostics, writeJson } from './report.js'

interface CompileOptions {
  out?: string
  emit: 'wasm' | 'wat' | 'ir'
  strict?: boolean
  format: Format
  test?: string[]
}

const FORMAT_HELP = `
With --format json, stdout holds one JSON document: {"file", "diagnostics",
"output": {"path", "bytes"}, "entries"} when a file was written, "text" in
place of "output" for --emit wat|ir without -o, and "tests" (the json report
of perso test) with --test. A policy read from stdin (-) needs -o, unless it
is printed with --emit wat|ir.
`

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<policy>', 'the policy JSON file, or - for stdin')
    .option('-o, --out <file>', 'where to write the output (default: the policy path with .wasm; stdout for wat and ir)')
    .addOption(new Option('--emit <kind>', 'what to produce').choices(['wasm', 'wat', 'ir']).default('wasm'))
    .option('--strict', 'treat warnings as errors')
    .addOption(formatOption('how to print diagnostics and the result'))
    .option('--test <suites...>', 'run these test suites (files or directories) on the built artifact; write nothing unless all pass')
    .addHelpText('after', `${FORMAT_HELP}${EXIT_CODES_HELP}`)
    .action(async (file: string, options: CompileOptions) => {
      if (options.format === 'json') json()
      exit(await runCompile(io, file, options))
    })
}

/** `crm.json` → `crm.wasm`; any other name gets `.wasm` appended. */
export const defaultOutput = (file: string): string => (/\.json$/i.test(file) ? file.replace(/\.json$/i, '.wasm') : `${file}.wasm`)

export async function runCompile(io: Io, file: string, options: CompileOptions): Promise<number> {
  const printed = options.emit !== 'wasm' && options.out === undefined
  if (file === STDIN && options.out === undefined && (!printed || options.test !== undefined)) {
    throw new UsageError('a policy read from stdin has no path to name its artifact after: give -o <file>')
  }
  const source = await readInput(io, file)
  const name = file === STDIN ? STDIN_NAME : file
  const { compile } = await import('../compiler/compile.js')
  const result = await compile(source, { filename: name, strict: options.strict === true })
  const json = options.format === 'json'
  const document: Record<string, unknown> = { file: name, diagnostics: await diagnosticsJson(result.diagnostics, source, name) }
  const finish = (code: number): number => {
    if (json) writeJson(io, document)
    return code
  }
  if (!json) await reportDiagnostics(io, io.stderr, result.diagnostics, source, name, 'human')
  if (result.wasm === undefined || result.program === undefined) {
    // The last line says what the diagnostics above it add up to, as check's summary does.
    const errors = errorCount(result.diagnostics)
    if (!json) io.stderr(`perso: nothing written: \`${name}\` has ${plural(errors, 'error')}\n`)
    return finish(EXIT.invalid)
  }

  if (options.test !== undefined) {
    const code = await runSuites(io, file, options, result, document)
    if (code !== EXIT.ok) {
      io.stderr(`perso: nothing written: the tests did not pass\n`)
      return finish(code)
    }
  }
  const entries = result.program.entries.length
  const output = (bytes: Uint8Array): void => {
    if (options.out === undefined && printed) {
      const text = new TextDecoder().decode(bytes)
      if (json) document.text = text
      else io.stdout(text)
      return
    }
    const path = options.out ?? defaultOutput(file)
    writeOutput(io, path, bytes)
    document.output = { path, bytes: bytes.length }
    if (!json && options.emit === 'wasm') {
      io.stdout(`${path}: ${bytes.length} bytes, ${entries} table ${entries === 1 ? 'entry' : 'entries'}` +
        `${result.diagnostics.length > 0 ? `, ${plural(result.diagnostics.length, 'warning')}` : ''}\n`)
    }
  }
  switch (options.emit) {
    case 'ir': {
      const { printProgram } = await import('../compiler/ir-print.js')
      output(new TextEncoder().encode(printProgram(result.program)))
      break
    }
    case 'wat': {
      const { disassemble } = await import('../host/wat.js')
      output(new TextEncoder().encode(await disassemble(result.wasm)))
      break
    }
    case 'wasm':
      output(result.wasm)
      break
  }
  document.entries = entries
  return finish(EXIT.ok)
}

/** `--test`: the suites on the artifact just built, before anything is written; under json their report goes into `document`. */
async function runSuites(io: Io, file: string, options: CompileOptions, result: CompileResult, document: Record<string, unknown>): Promise<number> {
  const { runTests } = await import('../testing/command.js')
  const paths = file === STDIN ? [options.out!] : [file, options.out ?? defaultOutput(file)]
  const built = { paths, wasm: result.wasm!, result }
  const suites = options.test!
  const strict = options.strict === true
  if (options.format === 'json') {
    let report = ''
    const code = await runTests(io, suites, { reporter: 'json', strict }, { built, write: (s) => (report += s) })
    document.tests = JSON.parse(report) as unknown
    return code
  }
  const write = options.emit !== 'wasm' && options.out === undefined ? io.stderr : io.stdout
  return runTests(io, suites, { reporter: 'human', strict }, { built, write })
}
