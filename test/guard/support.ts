// Driving `perso guard` as an MCP client does: the SDK's Client over stdio,
// the guard started as `node bin/perso.js guard …` in front of a server.

import { type ChildProcess, spawn } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const PERSO = join(root, 'bin', 'perso.js')
export const FILESYSTEM = join(root, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js')
export const EVERYTHING = join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js')
export const RECORDING = join(root, 'test/guard/recording-server.mjs')

/** Whether process `pid` still exists. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const temp = (prefix: string): string => mkdtempSync(join(tmpdir(), `perso-guard-${prefix}`))

/** Writes `policy` as JSON in a fresh directory; its path. */
export function policyFile(policy: object): string {
  const path = join(temp('policy-'), 'policy.json')
  writeFileSync(path, JSON.stringify(policy, null, 2))
  return path
}

export interface Connected {
  client: Client
  /** What the guard (and the server) wrote on stderr so far. */
  stderr: () => string
  close: () => Promise<void>
}

/** A client connected to `server` (command and arguments), through the guard when `guard` gives its arguments, else directly. */
export async function connect(server: string[], guard: string[] | undefined, capabilities: Record<string, unknown> = {}): Promise<Connected> {
  const [command, args] = guard === undefined ? [server[0]!, server.slice(1)] : [process.execPath, [PERSO, 'guard', ...guard, '--', ...server]]
  // The whole environment: the test servers read their settings from it.
  const transport = new StdioClientTransport({ command, args, stderr: 'pipe', env: { ...process.env } as Record<string, string> })
  let stderr = ''
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const client = new Client({ name: 'perso-guard-test', version: '1.0.0' }, { capabilities })
  await client.connect(transport)
  return { client, stderr: () => stderr, close: () => client.close() }
}

export const textOf = (result: unknown): string =>
  ((result as { content?: { type: string; text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('')

/** A process started with `args`; resolves once a line of its output matches `ready`, with the match. */
export function start(args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 20 s: ${args.join(' ')}\n${output}`)), 20_000)
    const seen = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const match = ready.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, match, output: () => output })
      }
    }
    child.stdout!.on('data', seen)
    child.stderr!.on('data', seen)
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${args.join(' ')}\n${output}`)))
  })
}
