// `perso eval <policy.json|artifact.wasm> --tool T --role R`: one decision,
// answered by the artifact itself. Given a .wasm it never loads the compiler.

import { type Command, Option } from 'commander'
import { Chalk } from 'chalk'
import { EXIT, EXIT_CODES_HELP, type Io, UserError, readInput, wantsColor } from './io.js'
import type { VerbContext } from './main.js'
import { reportDiagnostics } from './report.js'

interface EvalOptions {
  tool: string
  role: string
  args: string
  agent: string
  resource: string
  format: 'human' | 'json'
  strict?: boolean
}

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('<artifact>', 'a compiled .wasm artifact, or a policy .json (compiled first)')
    .requiredOption('--tool <name>', 'the tool being called')
    .requiredOption('--role <role>', "the caller's role")
    .option('--args <json>', 'the call arguments as JSON text, or @file', '{}')
    .option('--agent <json>', 'agent_attrs as JSON text, or @file', '{}')
    .option('--resource <json>', 'resource_attrs as JSON text, or @file', '{}')
    .addOption(new Option('--format <format>', 'how to print the decision').choices(['human', 'json']).default('human'))
    .option('--strict', 'when compiling a policy, treat warnings as errors')
    .addHelpText('after', `\nThe exit code tells the decision: 0 Allow, 1 Deny, 2 input error or invalid policy.\n${EXIT_CODES_HELP}`)
    .action(async (file: string, options: EvalOptions) => exit(await runEval(io, file, options)))
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]
const isWasm = (bytes: Uint8Array): boolean => WASM_MAGIC.every((b, i) => bytes[i] === b)

/** JSON text given inline or as `@file`; spliced into the request as written, so nothing is re-encoded. */
async function jsonText(io: Io, value: string): Promise<string> {
  return value.startsWith('@') ? new TextDecoder().decode(await readInput(io, value.slice(1))) : value
}

async function artifactBytes(io: Io, file: string, options: EvalOptions): Promise<Uint8Array | undefined> {
  const bytes = await readInput(io, file)
  if (isWasm(bytes)) return bytes
  const { compile } = await import('../compiler/compile.js')
  const result = await compile(bytes, { filename: file, strict: options.strict === true })
  const failed = await reportDiagnostics(io, io.stderr, result.diagnostics, bytes, file, 'human')
  return failed ? undefined : result.wasm
}

export async function runEval(io: Io, file: string, options: EvalOptions): Promise<number> {
  const wasm = await artifactBytes(io, file, options)
  if (wasm === undefined) return EXIT.invalid
  const { RawArtifact } = await import('../host/abi.js')
  let artifact
  try {
    artifact = await RawArtifact.load(wasm)
  } catch (e) {
    throw new UserError(`\`${file}\` is not a usable perso artifact: ${e instanceof Error ? e.message : String(e)}`)
  }
  const context = `{"role":${JSON.stringify(options.role)},"agent_attrs":${await jsonText(io, options.agent)},"resource_attrs":${await jsonText(io, options.resource)}}`
  const text = artifact.evaluateStrings(options.tool, await jsonText(io, options.args), context)
  const answer = JSON.parse(text) as { decision?: 'Allow' | 'Deny'; reason?: string; error?: string }

  if (options.format === 'json') io.stdout(text + '\n')
  else {
    const chalk = new Chalk({ level: wantsColor(io) ? 1 : 0 })
    if (answer.error !== undefined) io.stdout(`${chalk.red('Error')}  ${answer.error}\n`)
    else io.stdout(`${answer.decision === 'Allow' ? chalk.green('Allow') : chalk.red('Deny')}  ${answer.reason}\n`)
  }
  if (answer.error !== undefined) return EXIT.invalid
  return answer.decision === 'Allow' ? EXIT.ok : EXIT.deny
}
