// `perso guard <policy> --role R -- <command…>`: puts a policy in front of an
// MCP server that speaks stdio (docs/guard.md). The guard's own lines go to
// stderr; stdout carries MCP messages only.

import { Option, type Command } from 'commander'
import type { AuditEvent, AuditOptions, Perso, Transport } from '@perso/sdk'
import { EXIT_CODES_HELP, type Io, UsageError, UserError, headersOf, isWasm, notAnArtifact, readInput, urlOption } from './io.js'
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
  // Over HTTP (docs/guard.md "Over HTTP").
  listen?: string
  path: string
  allowOrigin: string[]
  insecureNoAuth?: boolean
  upstream?: string
  upstreamHeader: string[]
  maxSessions: string
  idleTimeout: string
  maxBody: string
  auth: 'jwt' | 'none'
  jwks?: string
  issuer?: string
  audience?: string
  alg: string
  clockSkew: string
  roleClaim: string
  agentClaims?: string
  publicUrl?: string
  watch?: boolean
  metrics?: string
}

const HELP = `
Over stdio, the caller's identity comes from whoever starts the guard, never
from the model: --role (or PERSO_ROLE) is required; --agent and --resource (or
PERSO_AGENT, PERSO_RESOURCE) are JSON objects, inline or @file. The client sees
only the tools the policy could allow for that role; each tools/call is decided
on the exact arguments that are forwarded, and a denied call never reaches the
server. Example (a Claude Desktop or VS Code "mcpServers" entry runs the same):
  perso guard policy.json --role reader -- npx -y @modelcontextprotocol/server-filesystem /srv/docs

With --listen, the guard serves Streamable HTTP: every request carries a JWT
verified against --jwks, --issuer and --audience (or --auth none --role R, on
loopback only unless --insecure-no-auth), each session has its own upstream
(the command, one child per session, or --upstream URL), and --watch or SIGHUP
reloads the policy without a window:
  perso guard policy.json --listen 127.0.0.1:8080 --jwks https://idp.example/jwks.json \\
    --issuer https://idp.example --audience https://mcp.example/mcp --upstream http://127.0.0.1:3001/mcp
`

const collect = (value: string, all: string[]): string[] => [...all, value]

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('<policy>', 'the policy (.json, compiled in memory) or its artifact (.wasm)')
    .argument('[command...]', 'the MCP server to guard and its arguments, after -- (or --upstream URL with --listen)')
    .option('--role <role>', "the caller's role (default: PERSO_ROLE); over HTTP only with --auth none")
    .option('--agent <json>', 'agent_attrs: a JSON object or @file (default: PERSO_AGENT)')
    .option('--resource <json>', 'resource_attrs: a JSON object or @file (default: PERSO_RESOURCE)')
    .addOption(new Option('--mode <mode>', 'enforce, or shadow: decide and audit every call, but forward everything and list every tool').choices(['enforce', 'shadow']).default('enforce'))
    .addOption(new Option('--deny-as <shape>', 'a denied call answers a tool result with isError, or a JSON-RPC error').choices(['result', 'error']).default('result'))
    .option('--audit <file>', 'one JSONL record per decision, to a file or - (stderr)')
    .option('--audit-args', 'put argument values in audit records (default: their SHA-256 only)')
    .option('--pin <lock>', 'hide and deny every upstream tool whose definition does not match its hash in this tools.lock.json (perso scan writes it)')
    .option('--listen <host:port>', 'serve MCP over Streamable HTTP here instead of stdio (host 127.0.0.1 unless given)')
    .option('--path <path>', 'the MCP endpoint', '/mcp')
    .option('--allow-origin <origin>', 'an Origin a browser may call from; repeatable (others are refused)', collect, [])
    .option('--insecure-no-auth', 'with --auth none, listen beyond loopback anyway')
    .option('--upstream <url>', 'the upstream MCP server over Streamable HTTP (one upstream session per client session)')
    .option('--upstream-header <header>', "a header for the upstream, 'Name: value' ($VAR from the environment); repeatable", collect, [])
    .option('--max-sessions <n>', 'sessions at once', '100')
    .option('--idle-timeout <seconds>', 'a session idle this long ends, and its upstream with it', '900')
    .option('--max-body <bytes>', 'larger request bodies are refused with 413 before they are parsed', String(4 * 1024 * 1024))
    .addOption(new Option('--auth <kind>', 'jwt: a bearer JWT on every request; none: every caller is --role').choices(['jwt', 'none']).default('jwt'))
    .option('--jwks <file|url>', 'the identity provider\'s key set (JWKS), a file or an https URL')
    .option('--issuer <iss>', 'the issuer every token must name')
    .option('--audience <aud>', 'the audience every token must name (this gateway)')
    .option('--alg <list>', 'signature algorithms accepted, comma-separated (asymmetric only)', 'RS256,ES256,EdDSA')
    .option('--clock-skew <seconds>', 'clock difference tolerated for exp and nbf', '60')
    .option('--role-claim <path>', 'the claim holding the role (a dotted path; a list picks the first role the policy declares)', 'role')
    .option('--agent-claims <list>', 'claims copied into agent_attrs, comma-separated (sub always is)')
    .option('--public-url <url>', 'the URL clients reach this gateway at, for the resource metadata (default: http://<listen>)')
    .option('--watch', 'reload the policy when its file changes (SIGHUP always reloads)')
    .option('--metrics <host:port>', 'serve decision counters in Prometheus text format here, at /metrics')
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

/** The artifact of `policyPath`: loaded as is, or compiled from JSON in memory (its diagnostics on stderr); a user error when it cannot be. */
async function loadPolicy(io: Io, policyPath: string, audit: AuditOptions | undefined): Promise<Perso> {
  const bytes = await readInput(io, policyPath)
  const notWasm = notAnArtifact(policyPath, bytes)
  if (notWasm !== undefined) throw new UserError(notWasm)
  let wasm: Uint8Array = bytes
  if (!isWasm(bytes)) {
    const { compile } = await import('../compiler/compile.js')
    const { reportDiagnostics } = await import('./report.js')
    const compiled = await compile(bytes, { filename: policyPath })
    await reportDiagnostics(io, io.stderr, compiled.diagnostics, bytes, policyPath, 'human')
    if (compiled.wasm === undefined) throw new UserError(`the policy \`${policyPath}\` has errors`)
    wasm = compiled.wasm
  }
  const { Perso } = await import('@perso/sdk')
  try {
    const perso = await Perso.load(wasm, audit ? { audit } : {})
    perso.mayAllow('', '')
    return perso
  } catch (e) {
    throw new UserError(`\`${policyPath}\` is not a usable perso artifact: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** A whole number option, or a usage error naming it. */
function count(name: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${name} must be a whole number (got \`${value}\`)`)
  return n
}

/** `host:port` (host 127.0.0.1 when only a port is given; [::1]:8080 for IPv6). */
function hostPort(name: string, value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value)
  if (match === null) throw new UsageError(`${name} must be host:port (got \`${value}\`)`)
  return { host: match[1] || match[2] || '127.0.0.1', port: count(name, match[3]!) }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export async function runGuard(io: Io, policyPath: string, argv: string[], options: GuardOptions): Promise<number> {
  const [command, ...args] = argv
  if (options.listen === undefined && command === undefined) throw new UsageError('perso guard needs the server to run, after --: perso guard policy.json --role R -- <command> [args…]')
  if (options.listen !== undefined && (command === undefined) === (options.upstream === undefined)) {
    throw new UsageError('perso guard --listen needs one upstream: -- <command> [args…] (a child per session) or --upstream URL')
  }
  const role = options.role ?? io.env.PERSO_ROLE
  const fixedRole = options.listen === undefined || options.auth === 'none'
  if (fixedRole && (role === undefined || role === '')) throw new UsageError("perso guard needs the caller's role: --role R (or PERSO_ROLE); it never picks one itself")
  if (!fixedRole && options.role !== undefined) throw new UsageError('--role is for --auth none: with JWT auth the role comes from the token (--role-claim)')
  const agent = await objectOption(io, '--agent', options.agent ?? io.env.PERSO_AGENT)
  const resource = await objectOption(io, '--resource', options.resource ?? io.env.PERSO_RESOURCE)
  const identity = { role: role ?? '', ...(agent ? { agent } : {}), ...(resource ? { resource } : {}) }
  const log = (line: string): void => io.stderr(`perso guard: ${line}\n`)

  const { fileTransport } = await import('@perso/sdk')
  const transport: Transport | undefined =
    options.audit === undefined ? undefined : options.audit === '-' ? { emit: (event: AuditEvent) => io.stderr(`${JSON.stringify(event)}\n`) } : fileTransport(options.audit)
  const audit: AuditOptions | undefined = transport && { transport, hashArgs: options.auditArgs !== true }
  const perso = await loadPolicy(io, policyPath, audit)
  const lock = options.pin === undefined ? undefined : await readLock(io, options.pin)
  const pin: Pin | undefined = lock && { path: options.pin!, tools: new Map(lock.tools.map((t) => [t.name, t.hash])) }
  const mode = options.mode === 'shadow' ? 'shadow mode: deciding without enforcing' : 'enforcing'
  const pinned = pin ? `, tools pinned to ${pin.path} (${pin.tools.size})` : ''

  if (options.listen === undefined) {
    const { GuardCore } = await import('../guard/core.js')
    const { runStdioGuard } = await import('../guard/stdio.js')
    const core = new GuardCore({ policy: { current: perso }, mode: options.mode, denyAs: options.denyAs, log, ...(pin ? { pin } : {}) })
    log(`${mode} policy ${perso.policyVersion} for role \`${identity.role}\` in front of \`${argv.join(' ')}\`${pinned}`)
    const code = await runStdioGuard(core, { identity, command: command!, args, log })
    await perso.close()
    return code
  }

  const { host, port } = hostPort('--listen', options.listen)
  if (options.auth === 'none' && !LOOPBACK.has(host) && options.insecureNoAuth !== true) {
    throw new UsageError(`--auth none on ${host} would let anyone who reaches it act as \`${identity.role}\`: listen on 127.0.0.1, use JWT auth, or say --insecure-no-auth`)
  }
  const [{ Gateway }, auth, upstreams] = await Promise.all([import('../guard/http.js'), import('../guard/auth.js'), import('../guard/upstream.js')])
  let authenticate
  if (options.auth === 'none') authenticate = auth.fixedAuthenticator(identity)
  else {
    if (options.jwks === undefined || options.issuer === undefined || options.audience === undefined) {
      throw new UsageError('JWT auth needs --jwks, --issuer and --audience (or --auth none --role R for local use)')
    }
    let jwks: URL | { keys: unknown[] }
    if (/^https?:\/\//.test(options.jwks)) jwks = urlOption('--jwks', options.jwks)
    else {
      try {
        jwks = JSON.parse(new TextDecoder().decode(await readInput(io, options.jwks))) as { keys: unknown[] }
      } catch (e) {
        if (e instanceof UserError) throw e
        throw new UserError(`--jwks ${options.jwks} is not JSON: ${e instanceof Error ? e.message : String(e)}`)
      }
      if (!Array.isArray(jwks.keys)) throw new UserError(`--jwks ${options.jwks} has no "keys" array`)
    }
    try {
      authenticate = auth.jwtAuthenticator({
        jwks,
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.alg.split(',').map((a) => a.trim()).filter(Boolean),
        clockSkew: count('--clock-skew', options.clockSkew),
        roleClaim: options.roleClaim,
        roles: perso.metadata.roles,
        agentClaims: options.agentClaims?.split(',').map((c) => c.trim()).filter(Boolean) ?? [],
        ...(resource ? { resource } : {}),
      })
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e))
    }
  }
  const upstreamUrl = options.upstream === undefined ? undefined : urlOption('--upstream', options.upstream)
  const upstreamHeaders = headersOf(io, '--upstream-header', options.upstreamHeader)
  const policy = { current: perso }
  const gateway = new Gateway({
    host,
    port,
    path: options.path,
    allowOrigins: options.allowOrigin,
    authenticate,
    ...(options.auth === 'jwt' ? { authorizationServer: options.issuer! } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    upstream: () => (upstreamUrl ? upstreams.httpUpstream(upstreamUrl, upstreamHeaders) : upstreams.childUpstream(command!, args)),
    probe: () => (upstreamUrl ? upstreams.probeUrl(upstreamUrl, upstreamHeaders) : upstreams.probeCommand(command!)),
    maxSessions: count('--max-sessions', options.maxSessions),
    idleTimeoutMs: count('--idle-timeout', options.idleTimeout) * 1000,
    maxBody: count('--max-body', options.maxBody),
    policy,
    mode: options.mode,
    denyAs: options.denyAs,
    ...(pin ? { pin } : {}),
    log,
    load: () => loadPolicy(io, policyPath, audit),
  })
  const address = await gateway.start()
  log(`${mode} policy ${perso.policyVersion} at http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${options.path}, in front of \`${upstreamUrl?.href ?? argv.join(' ')}\`${pinned}`)
  let metrics: import('node:http').Server | undefined
  if (options.metrics !== undefined) {
    const { createServer } = await import('node:http')
    const at = hostPort('--metrics', options.metrics)
    metrics = createServer((req, res) => {
      if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(gateway.metrics())
      else res.writeHead(404).end()
    }).listen(at.port, at.host)
  }
  const reload = (): void => void gateway.reload()
  process.on('SIGHUP', reload)
  let watcher: import('node:fs').FSWatcher | undefined
  if (options.watch) {
    const { watch } = await import('node:fs')
    let timer: NodeJS.Timeout | undefined
    // Editors write a file in several steps: reload once it has been quiet a moment.
    watcher = watch(policyPath, () => {
      clearTimeout(timer)
      timer = setTimeout(reload, 200)
    })
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  log('stopping')
  process.off('SIGHUP', reload)
  watcher?.close()
  metrics?.close()
  await gateway.close()
  await policy.current.close()
  return 0
}
