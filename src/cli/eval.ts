// `perso eval <policy.json|artifact.wasm> --tool T --role R`: one decision,
// answered by the artifact itself. Given a .wasm it never loads the compiler.

import type { Command } from 'commander'
import { Chalk } from 'chalk'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, UserError, claimStdin, plural, readInput, wantsColor } from './io.js'
import type { VerbContext } from './main.js'
import { type Format, diagnosticsJson, formatOption, hasError, reportDiagnostics } from './report.js'

interface EvalOptions {
  tool: string
  role: string
  args: string
  agent: string
  resource: string
  format: Format
  strict?: boolean
}

const HELP = `
The exit code tells the decision: 0 Allow, 1 Deny, 2 input error or invalid policy.
With --format json, stdout holds the artifact's answer as it wrote it
({"decision", "reason"} or {"error"}), with "diagnostics" added when a policy
was compiled with warnings. The artifact or policy may be read from stdin (-),
or one of --args, --agent, --resource (@-): stdin is read once.
`

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<artifact>', 'a compiled .wasm artifact, or a policy .json (compiled first); - for stdin')
    .requiredOption('--tool <name>', 'the tool being called')
    .requiredOption('--role <role>', "the caller's role")
    .option('--args <json>', 'the call arguments as JSON text, @file, or @- for stdin', '{}')
    .option('--agent <json>', 'agent_attrs as JSON text, @file, or @- for stdin', '{}')
    .option('--resource <json>', 'resource_attrs as JSON text, @file, or @- for stdin', '{}')
    .addOption(formatOption('how to print the decision'))
    .option('--strict', 'when compiling a policy, treat warnings as errors')
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (file: string, options: EvalOptions) => {
      if (options.format === 'json') json()
      exit(await runEval(io, file, options))
    })
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]
const isWasm = (bytes: Uint8Array): boolean => WASM_MAGIC.every((b, i) => bytes[i] === b)

/** JSON text given inline, as `@file` or as `@-`; spliced into the request as written, so nothing is re-encoded. */
async function jsonText(io: Io, value: string): Promise<string> {
  return value.startsWith('@') ? new TextDecoder().decode(await readInput(io, value.slice(1))) : value
}

interface Artifact {
  wasm?: Uint8Array
  /** The policy's diagnostics, as JSON, when it was compiled here and had some. */
  diagnostics?: unknown[]
}

async function artifactOf(io: Io, file: string, options: EvalOptions): Promise<Artifact> {
  const bytes = await readInput(io, file)
  if (isWasm(bytes)) return { wasm: bytes }
  const name = file === STDIN ? STDIN_NAME : file
  const { compile } = await import('../compiler/compile.js')
  const result = await compile(bytes, { filename: name, strict: options.strict === true })
  if (options.format === 'human') {
    await reportDiagnostics(io, io.stderr, result.diagnostics, bytes, name, 'human')
    return result.wasm === undefined ? {} : { wasm: result.wasm }
  }
  const diagnostics = await diagnosticsJson(result.diagnostics, bytes, name)
  if (hasError(result.diagnostics) || result.wasm === undefined) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error').length
    io.stdout(JSON.stringify({ error: `the policy \`${name}\` has ${plural(errors, 'error')}`, diagnostics }, null, 2) + '\n')
    return {}
  }
  return diagnostics.length > 0 ? { wasm: result.wasm, diagnostics } : { wasm: result.wasm }
}

export async function runEval(io: Io, file: string, options: EvalOptions): Promise<number> {
  claimStdin([
    file === STDIN && '-',
    ...(['args', 'agent', 'resource'] as const).map((o) => options[o] === '@-' && `--${o} @-`),
  ])
  const { wasm, diagnostics } = await artifactOf(io, file, options)
  if (wasm === undefined) return EXIT.invalid
  const { RawArtifact } = await import('../host/abi.js')
  let artifact
  try {
    artifact = await RawArtifact.load(wasm)
  } catch (e) {
    throw new UserError(`\`${file === STDIN ? STDIN_NAME : file}\` is not a usable perso artifact: ${e instanceof Error ? e.message : String(e)}`)
  }
  const context = `{"role":${JSON.stringify(options.role)},"agent_attrs":${await jsonText(io, options.agent)},"resource_attrs":${await jsonText(io, options.resource)}}`
  const text = artifact.evaluateStrings(options.tool, await jsonText(io, options.args), context)
  const answer = JSON.parse(text) as { decision?: 'Allow' | 'Deny'; reason?: string; error?: string }

  if (options.format === 'json') {
    // The artifact's own bytes, so a machine sees exactly what a host would.
    io.stdout(`${diagnostics === undefined ? text : `${text.slice(0, -1)},"diagnostics":${JSON.stringify(diagnostics)}}`}\n`)
  } else {
    const chalk = new Chalk({ level: wantsColor(io) ? 1 : 0 })
    if (answer.error !== undefined) io.stdout(`${chalk.red('Error')}  ${answer.error}\n`)
    else io.stdout(`${answer.decision === 'Allow' ? chalk.green('Allow') : chalk.red('Deny')}  ${answer.reason}\n`)
  }
  if (answer.error !== undefined) return EXIT.invalid
  return answer.decision === 'Allow' ? EXIT.ok : EXIT.deny
}
