// `perso guard <policy> --role R -- <command…>`: puts a policy in front of an
// MCP server that speaks stdio (docs/guard.md). The guard's own lines go to
// stderr; stdout carries MCP messages only.

import { Option, type Command } from 'commander'
import type { AuditEvent, Transport } from '@perso/sdk'
import { EXIT_CODES_HELP, type Io, UsageError, UserError, readInput } from './io.js'
import type { VerbContext } from './verb.js'
import { readLock } from './lock.js'
import type { Pin } from '../guard/core.js'

interface GuardOptions {
  role?: string
  agent?: string
  resource?: string
  mode: 'enforce' | 'shadow'
  denyAs: 'result' | 'error'
  audit?: string
  auditArgs?: boolean
  pin?: string
}

const HELP = `
The caller's identity comes from whoever starts the guard, never from the model:
--role (or PERSO_ROLE) is required; --agent and --resource (or PERSO_AGENT,
PERSO_RESOURCE) are JSON objects, inline or @file. The client sees only the
tools the policy could allow for that role; each tools/call is decided on the
exact arguments that are forwarded, and a denied call never reaches the server.
Example (a Claude Desktop or VS Code "mcpServers" entry runs the same):
  perso guard policy.json --role reader -- npx -y @modelcontextprotocol/server-filesystem /srv/docs
`

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('<policy>', 'the policy (.json, compiled in memory) or its artifact (.wasm)')
    .argument('<command...>', 'the MCP server to guard and its arguments, after --')
    .option('--role <role>', "the caller's role (default: PERSO_ROLE)")
    .option('--agent <json>', 'agent_attrs: a JSON object or @file (default: PERSO_AGENT)')
    .option('--resource <json>', 'resource_attrs: a JSON object or @file (default: PERSO_RESOURCE)')
    .addOption(new Option('--mode <mode>', 'enforce, or shadow: decide and audit every call, but forward everything and list every tool').choices(['enforce', 'shadow']).default('enforce'))
    .addOption(new Option('--deny-as <shape>', 'a denied call answers a tool result with isError, or a JSON-RPC error').choices(['result', 'error']).default('result'))
    .option('--audit <file>', 'one JSONL record per decision, to a file or - (stderr)')
    .option('--audit-args', 'put argument values in audit records (default: their SHA-256 only)')
    .option('--pin <lock>', 'hide and deny every upstream tool whose definition does not match its hash in this tools.lock.json (perso scan writes it)')
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (policy: string, argv: string[], options: GuardOptions) => exit(await runGuard(io, policy, argv, options)))
}

/** A JSON object given inline or as @file; undefined when absent. */
async function objectOption(io: Io, name: string, value: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (value === undefined || value === '') return undefined
  const text = value.startsWith('@') ? new TextDecoder().decode(await readInput(io, value.slice(1))) : value
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new UsageError(`${name} is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${name} must be a JSON object`)
  return parsed as Record<string, unknown>
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]

export async function runGuard(io: Io, policyPath: string, argv: string[], options: GuardOptions): Promise<number> {
  const role = options.role ?? io.env.PERSO_ROLE
  if (role === undefined || role === '') throw new UsageError('perso guard needs the caller\'s role: --role R (or PERSO_ROLE); it never picks one itself')
  const [command, ...args] = argv
  if (command === undefined) throw new UsageError('perso guard needs the server to run, after --: perso guard policy.json --role R -- <command> [args…]')
  const identity = {
    role,
    ...(await objectOption(io, '--agent', options.agent ?? io.env.PERSO_AGENT).then((agent) => (agent ? { agent } : {}))),
    ...(await objectOption(io, '--resource', options.resource ?? io.env.PERSO_RESOURCE).then((resource) => (resource ? { resource } : {}))),
  }
  const log = (line: string): void => io.stderr(`perso guard: ${line}\n`)

  const bytes = await readInput(io, policyPath)
  let wasm: Uint8Array = bytes
  if (!WASM_MAGIC.every((b, i) => bytes[i] === b)) {
    const { compile } = await import('../compiler/compile.js')
    const { reportDiagnostics } = await import('./report.js')
    const compiled = await compile(bytes, { filename: policyPath })
    await reportDiagnostics(io, io.stderr, compiled.diagnostics, bytes, policyPath, 'human')
    if (compiled.wasm === undefined) throw new UserError(`the policy \`${policyPath}\` has errors; the guard does not start`)
    wasm = compiled.wasm
  }
  const { Perso, fileTransport } = await import('@perso/sdk')
  const transport: Transport | undefined =
    options.audit === undefined ? undefined : options.audit === '-' ? { emit: (event: AuditEvent) => io.stderr(`${JSON.stringify(event)}\n`) } : fileTransport(options.audit)
  let perso
  try {
    perso = await Perso.load(wasm, transport ? { audit: { transport, hashArgs: options.auditArgs !== true } } : {})
    perso.mayAllow('', role)
  } catch (e) {
    throw new UserError(`\`${policyPath}\` is not a usable perso artifact: ${e instanceof Error ? e.message : String(e)}`)
  }
  const lock = options.pin === undefined ? undefined : await readLock(io, options.pin)
  const pin: Pin | undefined = lock && { path: options.pin!, tools: new Map(lock.tools.map((t) => [t.name, t.hash])) }
  const { GuardCore } = await import('../guard/core.js')
  const { runStdioGuard } = await import('../guard/stdio.js')
  const core = new GuardCore({ policy: { current: perso }, mode: options.mode, denyAs: options.denyAs, log, ...(pin ? { pin } : {}) })
  log(`${options.mode === 'shadow' ? 'shadow mode: deciding without enforcing' : 'enforcing'} policy ${perso.policyVersion} for role \`${role}\` in front of \`${[command, ...args].join(' ')}\`${pin ? `, tools pinned to ${pin.path} (${pin.tools.size})` : ''}`)
  const code = await runStdioGuard(core, { identity, command, args, log })
  await perso.close()
  return code
}
