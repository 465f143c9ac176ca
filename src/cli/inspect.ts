// `perso inspect <artifact.wasm>`: what an artifact says about itself (its
// `perso` section), and with --wat its disassembly.

import type { Command } from 'commander'
import { EXIT, EXIT_CODES_HELP, type Io, UserError, readInput } from './io.js'
import type { VerbContext } from './main.js'

interface InspectOptions {
  wat?: boolean
  format?: 'human' | 'json'
}

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('<artifact>', 'a compiled .wasm artifact')
    .option('--wat', 'also print the disassembly (WebAssembly text)')
    .option('--json', 'print the metadata as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (file: string, options: InspectOptions & { json?: boolean }) =>
      exit(await runInspect(io, file, { ...options, format: options.json ? 'json' : 'human' })))
}

export async function runInspect(io: Io, file: string, options: InspectOptions): Promise<number> {
  const bytes = await readInput(io, file)
  let module: WebAssembly.Module
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>)
  } catch (e) {
    throw new UserError(`\`${file}\` is not a WebAssembly module: ${e instanceof Error ? e.message : String(e)}`)
  }
  const { readMetadata } = await import('../host/metadata.js')
  const metadata = readMetadata(module)
  if (metadata instanceof Error) throw new UserError(`\`${file}\` is ${metadata.message}`)

  if (options.format === 'json') io.stdout(JSON.stringify(metadata, null, 2) + '\n')
  else {
    const exports = WebAssembly.Module.exports(module).map((e) => `${e.name} (${e.kind})`).join(', ')
    const imports = WebAssembly.Module.imports(module).length
    io.stdout(
      [
        `artifact   ${file} (${bytes.length} bytes)`,
        `policy     version ${JSON.stringify(metadata.version)}, sha256 ${metadata.sha256}`,
        `compiler   ${metadata.compiler}, abi ${metadata.abi}`,
        `default    ${metadata.defaultAction}`,
        `counts     ${metadata.counts.tools} tools, ${metadata.counts.roles} roles, ${metadata.counts.rules} rules, ${metadata.counts.entries} table entries`,
        `exports    ${exports}`,
        `imports    ${imports === 0 ? 'none' : imports}`,
        'entries',
        ...metadata.entries.map(([tool, role, rule, condition]) => {
          const reads = condition === null ? 'no condition' : `reads ${metadata.conditions[condition]!.reads.map((r) => `${r.source}.${r.field}`).join(', ') || 'nothing'}`
          return `  ${JSON.stringify(metadata.tools[tool])} × ${JSON.stringify(metadata.roles[role])}  rules[${rule}]  ${reads}`
        }),
      ].join('\n') + '\n',
    )
  }
  if (options.wat) {
    const { disassemble } = await import('../host/wat.js')
    io.stdout(await disassemble(bytes))
  }
  return EXIT.ok
}
