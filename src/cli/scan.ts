// `perso scan -- <command…>` or `perso scan --url URL`: connects to an MCP
// server as a client, lists its tools (every page) and writes them, each with
// the hash of its definition, to tools.lock.json (guard/lock.ts). A
// re-scan says which tools were added, removed or changed since the last one.

import type { Command } from 'commander'
import { type LockedTool, LockError, type ToolsLock, lockOf, parseLock } from '../guard/lock.js'
import { EXIT, EXIT_CODES_HELP, type Io, UsageError, UserError, headersOf, plural, urlOption, writeOutput } from './io.js'
import type { VerbContext } from './verb.js'

interface ScanOptions {
  output: string
  url?: string
  header: string[]
}

const HELP = `
Examples:
  perso scan -- npx @modelcontextprotocol/server-filesystem /srv/docs
  perso scan --url https://mcp.example.com/mcp --header 'Authorization: Bearer $TOKEN'
Then: perso check policy.json --tools tools.lock.json, and perso guard … --pin tools.lock.json.
`

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('[command...]', 'the MCP server to start (stdio) and its arguments, after --')
    .option('-o, --output <file>', 'where to write the lock', 'tools.lock.json')
    .option('--url <url>', 'scan a server over Streamable HTTP instead of starting one')
    .option('--header <header>', "an HTTP header for --url, 'Name: value' ($VAR is read from the environment); repeatable", (h: string, all: string[]) => [...all, h], [])
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (argv: string[], options: ScanOptions) => exit(await runScan(io, argv, options)))
}

export async function runScan(io: Io, argv: string[], options: ScanOptions): Promise<number> {
  if ((options.url === undefined) === (argv.length === 0)) {
    throw new UsageError('perso scan needs a server: either -- <command> [args…] or --url URL')
  }
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js')
  let transport
  let stderr = ''
  let where: string
  if (options.url !== undefined) {
    const url = urlOption('--url', options.url)
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js')
    transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: headersOf(io, '--header', options.header) } })
    where = url.href
  } else {
    const { StdioClientTransport, getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js')
    const [command, ...args] = argv
    transport = new StdioClientTransport({ command: command!, args, env: { ...getDefaultEnvironment(), ...(io.env as Record<string, string>) }, stderr: 'pipe' })
    transport.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)))
    where = `\`${argv.join(' ')}\``
  }

  const client = new Client({ name: 'perso-scan', version: '1.0.0' })
  const tools: Record<string, unknown>[] = []
  try {
    await client.connect(transport)
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor })
      tools.push(...(page.tools as Record<string, unknown>[]))
      cursor = page.nextCursor
    } while (cursor !== undefined)
  } catch (e) {
    const said = stderr.trim() === '' ? '' : `\nthe server said:\n${stderr.trim()}`
    throw new UserError(`could not list the tools of ${where}: ${e instanceof Error ? e.message : String(e)}${said}`)
  } finally {
    await client.close().catch(() => {})
  }

  const info = client.getServerVersion()
  const lock = lockOf(tools, info ? { name: info.name, version: info.version } : undefined)
  const before = previous(io, options.output)
  writeOutput(io, options.output, new TextEncoder().encode(JSON.stringify(lock, null, 2) + '\n'))
  io.stdout(`${options.output}: ${plural(lock.tools.length, 'tool')} of ${info ? `${info.name} ${info.version}` : where}\n`)
  if (before !== undefined) for (const line of changes(before, lock)) io.stdout(`  ${line}\n`)
  return EXIT.ok
}

/** The lock already at `path`, if one is there and readable (a re-scan reports against it). */
function previous(io: Io, path: string): ToolsLock | undefined {
  try {
    return parseLock(new TextDecoder().decode(io.readFile(path)), path)
  } catch (e) {
    if (e instanceof LockError) io.stderr(`perso: the previous ${path} is replaced: ${e.message}\n`)
    return undefined
  }
}

/** What a re-scan changed: tools added, removed, and whose definition changed. */
export function changes(before: ToolsLock, after: ToolsLock): string[] {
  const old = new Map<string, LockedTool>(before.tools.map((t) => [t.name, t]))
  const now = new Map<string, LockedTool>(after.tools.map((t) => [t.name, t]))
  const added = after.tools.filter((t) => !old.has(t.name)).map((t) => t.name)
  const removed = before.tools.filter((t) => !now.has(t.name)).map((t) => t.name)
  const changed = after.tools.filter((t) => old.has(t.name) && old.get(t.name)!.hash !== t.hash).map((t) => t.name)
  const lines = [
    ...(added.length ? [`added: ${added.join(', ')}`] : []),
    ...(removed.length ? [`removed: ${removed.join(', ')}`] : []),
    ...(changed.length ? [`changed since the last scan (review them before you commit the lock): ${changed.join(', ')}`] : []),
  ]
  return lines.length > 0 ? lines : ['no tool changed since the last scan']
}
