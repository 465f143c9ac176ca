// `perso compile <policy.json>`: check the policy, then write its artifact
// (or its text form, or its IR).

import { type Command, Option } from 'commander'
import { EXIT, EXIT_CODES_HELP, type Io, plural, readInput, writeOutput } from './io.js'
import type { VerbContext } from './main.js'
import { type Format, reportDiagnostics } from './report.js'

interface CompileOptions {
  out?: string
  emit: 'wasm' | 'wat' | 'ir'
  strict?: boolean
  format: Format
  test?: string[]
}

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('<policy>', 'the policy JSON file')
    .option('-o, --out <file>', 'where to write the output (default: the policy path with .wasm; stdout for wat and ir)')
    .addOption(new Option('--emit <kind>', 'what to produce').choices(['wasm', 'wat', 'ir']).default('wasm'))
    .option('--strict', 'treat warnings as errors')
    .addOption(new Option('--format <format>', 'how to print diagnostics').choices(['human', 'json']).default('human'))
    .option('--test <suites...>', 'run these test suites (files or directories) on the built artifact; write nothing unless all pass')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (file: string, options: CompileOptions) => exit(await runCompile(io, file, options)))
}

/** `crm.json` → `crm.wasm`; any other name gets `.wasm` appended. */
export const defaultOutput = (file: string): string => (/\.json$/i.test(file) ? file.replace(/\.json$/i, '.wasm') : `${file}.wasm`)

export async function runCompile(io: Io, file: string, options: CompileOptions): Promise<number> {
  const source = await readInput(io, file)
  const { compile } = await import('../compiler/compile.js')
  const result = await compile(source, { filename: file, strict: options.strict === true })
  const failed = await reportDiagnostics(io, io.stderr, result.diagnostics, source, file, options.format)
  if (failed || result.wasm === undefined || result.program === undefined) return EXIT.invalid
  if (options.test !== undefined) {
    const { runTests } = await import('../testing/command.js')
    const built = { paths: [file, options.out ?? defaultOutput(file)], wasm: result.wasm, result }
    const write = options.emit !== 'wasm' && options.out === undefined ? io.stderr : io.stdout
    const code = await runTests(io, options.test, { reporter: 'human', strict: options.strict === true }, { built, write })
    if (code !== EXIT.ok) {
      io.stderr(`perso: nothing written: the tests did not pass\n`)
      return code
    }
  }

  const output = (text: string): void => {
    if (options.out === undefined) io.stdout(text)
    else writeOutput(io, options.out, new TextEncoder().encode(text))
  }
  switch (options.emit) {
    case 'ir': {
      const { printProgram } = await import('../compiler/ir-print.js')
      output(printProgram(result.program))
      return EXIT.ok
    }
    case 'wat': {
      const { disassemble } = await import('../host/wat.js')
      output(await disassemble(result.wasm))
      return EXIT.ok
    }
    case 'wasm': {
      const out = options.out ?? defaultOutput(file)
      writeOutput(io, out, result.wasm)
      const entries = result.program.entries.length
      io.stdout(`${out}: ${result.wasm.length} bytes, ${entries} table ${entries === 1 ? 'entry' : 'entries'}` +
        `${result.diagnostics.length > 0 ? `, ${plural(result.diagnostics.length, 'warning')}` : ''}\n`)
      return EXIT.ok
    }
  }
}
