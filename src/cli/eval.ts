// `perso eval <policy.json|artifact.wasm> --tool T --role R`: one decision,
// answered by the artifact itself. Given a .wasm it never loads the compiler.

import type { Command } from 'commander'
import { Chalk } from 'chalk'
import type { Program } from '../compiler/ir.js'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, UsageError, UserError, claimStdin, isWasm, notAnArtifact, plural, readInput, wantsColor } from './io.js'
import type { VerbContext } from './verb.js'
import { type Format, diagnosticsJson, errorCount, formatOption, hasError, reportDiagnostics } from './report.js'

interface EvalOptions {
  tool: string
  role: string
  args: string
  agent: string
  resource: string
  format: Format
  strict?: boolean
  explain?: boolean
}

const HELP = `
The exit code tells the decision: 0 Allow, 1 Deny, 2 input error or invalid policy.
With --format json, stdout holds the artifact's answer as it wrote it
({"decision", "reason"} or {"error"}), with "diagnostics" added when a policy
was compiled with warnings. The artifact or policy may be read from stdin (-),
or one of --args, --agent, --resource (@-): stdin is read once.
`

export function define(command: Command, context: VerbContext): void {
  defineVerb(command, context, false)
}

/** `perso explain`: `perso eval --explain`, which needs the policy rather than an artifact. */
export function defineExplain(command: Command, context: VerbContext): void {
  defineVerb(command, context, true)
}

function defineVerb(command: Command, { io, exit, json }: VerbContext, explain: boolean): void {
  if (explain) command.argument('<policy>', 'the policy .json the call is decided and explained with (compiled first); - for stdin')
  else command.argument('<artifact>', 'a compiled .wasm artifact, or a policy .json (compiled first); - for stdin')
  command
    .requiredOption('--tool <name>', 'the tool being called')
    .requiredOption('--role <role>', "the caller's role")
    .option('--args <json>', 'the call arguments as JSON text, @file, or @- for stdin', '{}')
    .option('--agent <json>', 'agent_attrs as JSON text, @file, or @- for stdin', '{}')
    .option('--resource <json>', 'resource_attrs as JSON text, @file, or @- for stdin', '{}')
    .addOption(formatOption('how to print the decision'))
    .option('--strict', 'when compiling a policy, treat warnings as errors')
  if (!explain) command.option('--explain', 'with a policy .json: which rule decided, each condition with the value it read and whether it held')
  command.addHelpText('after', `${HELP}${EXIT_CODES_HELP}`).action(async (file: string, options: EvalOptions) => {
    if (options.format === 'json') json()
    exit(await runEval(io, file, explain ? { ...options, explain: true } : options))
  })
}

/** JSON text given inline, as `@file` or as `@-`; spliced into the request as written, so nothing is re-encoded. */
async function jsonText(io: Io, value: string): Promise<string> {
  return value.startsWith('@') ? new TextDecoder().decode(await readInput(io, value.slice(1))) : value
}

interface Artifact {
  wasm?: Uint8Array
  /** The policy's diagnostics, as JSON, when it was compiled here and had some. */
  diagnostics?: unknown[]
  /** The policy, when one was compiled here: what `--explain` explains from. */
  policy?: { program: Program; source: Uint8Array; name: string }
}

async function artifactOf(io: Io, file: string, options: EvalOptions): Promise<Artifact> {
  const bytes = await readInput(io, file)
  const notWasm = notAnArtifact(file, bytes)
  if (notWasm !== undefined) throw new UserError(notWasm)
  if (isWasm(bytes)) {
    if (options.explain === true) throw new UsageError('--explain needs the policy (.json) the artifact was compiled from, not the artifact')
    return { wasm: bytes }
  }
  const name = file === STDIN ? STDIN_NAME : file
  const { compile } = await import('../compiler/compile.js')
  const result = await compile(bytes, { filename: name, strict: options.strict === true })
  const policy = result.program === undefined ? {} : { policy: { program: result.program, source: bytes, name } }
  if (options.format === 'human') {
    await reportDiagnostics(io, io.stderr, result.diagnostics, bytes, name, 'human')
    return result.wasm === undefined ? {} : { wasm: result.wasm, ...policy }
  }
  const diagnostics = await diagnosticsJson(result.diagnostics, bytes, name)
  if (hasError(result.diagnostics) || result.wasm === undefined) {
    const errors = errorCount(result.diagnostics)
    io.stdout(JSON.stringify({ error: `the policy \`${name}\` has ${plural(errors, 'error')}`, diagnostics }, null, 2) + '\n')
    return {}
  }
  return diagnostics.length > 0 ? { wasm: result.wasm, diagnostics, ...policy } : { wasm: result.wasm, ...policy }
}

export async function runEval(io: Io, file: string, options: EvalOptions): Promise<number> {
  claimStdin([
    file === STDIN && '-',
    ...(['args', 'agent', 'resource'] as const).map((o) => options[o] === '@-' && `--${o} @-`),
  ])
  const { wasm, diagnostics, policy } = await artifactOf(io, file, options)
  if (wasm === undefined) return EXIT.invalid
  const { RawArtifact } = await import('@perso/sdk/internal/abi')
  let artifact
  try {
    artifact = await RawArtifact.load(wasm)
  } catch (e) {
    throw new UserError(`\`${file === STDIN ? STDIN_NAME : file}\` is not a usable perso artifact: ${e instanceof Error ? e.message : String(e)}`)
  }
  const context = `{"role":${JSON.stringify(options.role)},"agent_attrs":${await jsonText(io, options.agent)},"resource_attrs":${await jsonText(io, options.resource)}}`
  const args = await jsonText(io, options.args)
  const text = artifact.evaluateStrings(options.tool, args, context)
  const answer = JSON.parse(text) as { decision?: 'Allow' | 'Deny'; reason?: string; error?: string }
  const explanation = options.explain === true && answer.error === undefined && policy !== undefined ? await explanationOf(policy, options.tool, args, context, answer.decision!) : undefined

  if (options.format === 'json') {
    // The artifact's own bytes, so a machine sees exactly what a host would.
    const extra = [...(diagnostics !== undefined ? [`"diagnostics":${JSON.stringify(diagnostics)}`] : []), ...(explanation !== undefined ? [`"explanation":${JSON.stringify(explanation.explanation)}`] : [])]
    io.stdout(`${extra.length === 0 ? text : `${text.slice(0, -1)},${extra.join(',')}}`}\n`)
  } else {
    const chalk = new Chalk({ level: wantsColor(io) ? 1 : 0 })
    if (answer.error !== undefined) io.stdout(`${chalk.red('Error')}  ${answer.error}\n`)
    else io.stdout(`${answer.decision === 'Allow' ? chalk.green('Allow') : chalk.red('Deny')}  ${answer.reason}\n`)
    if (explanation !== undefined) io.stdout(explanation.lines.map((l) => `${l}\n`).join(''))
  }
  if (answer.error !== undefined) return EXIT.invalid
  return answer.decision === 'Allow' ? EXIT.ok : EXIT.deny
}

/** The explanation of the request from the policy, checked against the artifact's decision (a disagreement is a bug in perso). */
async function explanationOf(policy: NonNullable<Artifact['policy']>, tool: string, args: string, context: string, decision: 'Allow' | 'Deny') {
  const { explain, explanationLines } = await import('../analysis/explain.js')
  const { parse } = await import('../compiler/parse.js')
  const { rulePlaces } = await import('../compiler/render.js')
  const encoder = new TextEncoder()
  const explanation = explain(policy.program, tool, encoder.encode(args), encoder.encode(context))
  if ('error' in explanation) throw new Error(`the artifact decided a request the explanation cannot read (${explanation.error})`)
  if (explanation.decision !== decision) throw new Error(`the explanation decides ${explanation.decision} where the artifact decides ${decision}`)
  const where = rulePlaces(policy.source, policy.name, parse(policy.source).locate)
  return { explanation, lines: explanationLines(explanation, where) }
}
