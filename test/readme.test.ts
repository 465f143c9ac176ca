// The README's examples run as written: every fenced block is either run here
// (the one-minute policy under --strict, the suite and the CI recipe, the
// install commands after the install, the SDK snippet, the commands shown
// with their output) or named below with the reason it is not — so a new
// example cannot slip in untested. The install from the registry itself is
// the packaging test's (scripts/packaging-test.js).

import { spawn, spawnSync } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { root } from './support/cli.js'

interface Block {
  lang: string
  text: string
  line: number
}

const README = readFileSync(join(root, 'README.md'), 'utf8')
const blocks: Block[] = [...README.matchAll(/^```(\w*)\n([^]*?)^```$/gm)].map((m) => ({
  lang: m[1]!,
  text: m[2]!,
  line: README.slice(0, m.index).split('\n').length,
}))

/** Blocks that are not run, by their first line, and why. */
const NOT_RUN: Record<string, string> = {
  'npm ci && npm run demo': 'the fresh-clone command: .ci/run runs it on a clean clone',
  'npm ci && npm test': 'the fresh-clone command: .ci/run runs it on a clean clone',
  'npm install @perso/sdk': 'a registry install: the packaging test installs the packed SDK the same way',
  'import json, struct, wasmtime': 'needs wasmtime for Python, from PyPI, which CI cannot reach; test/host-patterns.test.ts drives the same ABI calls',
  'perso check   <policy.json|-> [--strict] [--tools tools.lock.json] [--format human|json]': 'a synopsis, not a command',
  'parse → validate → expand → lower → codegen → emit': 'a picture of the pipeline',
  'npm ci            # installs and builds (the SDK, the runtime template, the CLI)': 'the repository’s own scripts, run by .ci/run',
}

/** A project directory inside the repository, so that `perso` and `@perso/sdk` resolve as installed. */
const work = join(root, 'tmp', `readme-${process.pid}`)
rmSync(work, { recursive: true, force: true })
mkdirSync(work, { recursive: true })
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** `npx perso …` as the README writes it, run with this checkout's perso. */
function perso(line: string, cwd: string): { status: number | null; out: string } {
  const args = line.replace(/#.*$/, '').trim().split(/\s+/).slice(2)
  const run = spawnSync(process.execPath, [join(root, 'bin/perso.js'), ...args], { cwd, encoding: 'utf8' })
  return { status: run.status, out: run.stdout + run.stderr }
}

const first = (b: Block): string => b.text.split('\n')[0]!
const find = (predicate: (b: Block) => boolean, what: string): Block => {
  const found = blocks.find(predicate)
  if (found === undefined) throw new Error(`the README has no ${what}`)
  return found
}

const policyBlock = find((b) => b.lang === 'json' && b.text.includes('"default_action"') && b.text.includes('"$schema"'), 'one-minute policy')
const mcpBlock = find((b) => b.lang === 'json' && b.text.includes('"mcpServers"'), 'guard mcpServers entry')
const guardPolicyBlock = find((b) => b.lang === 'json' && b.text.includes('"default_action"') && b.text.includes('"writer"'), 'guard policy')
const suiteBlock = find((b) => b.lang === 'yaml' && first(b) === '# tests/policy.test.yaml', 'test suite')
const workflowBlock = find((b) => b.lang === 'yaml' && first(b).startsWith('# .github/workflows/'), 'CI workflow')
const installBlock = find((b) => b.lang === 'sh' && b.text.includes('npm install --save-dev perso'), 'install commands')
const sdkBlock = find((b) => b.lang === 'ts' && b.text.includes('Perso.load'), 'SDK snippet')
const httpBlock = find((b) => b.lang === 'sh' && b.text.includes('perso guard') && b.text.includes('--listen'), 'HTTP guard command')
const shownBlocks = blocks.filter((b) => first(b).startsWith('$ perso '))

describe('the README’s examples run as written', () => {
  it('every block is run here or named with the reason it is not', () => {
    const run = new Set([policyBlock, suiteBlock, workflowBlock, installBlock, sdkBlock, mcpBlock, guardPolicyBlock, httpBlock, ...shownBlocks])
    const unaccounted = blocks.filter((b) => !run.has(b) && NOT_RUN[first(b)] === undefined).map((b) => `README.md:${b.line}: ${first(b)}`)
    expect(unaccounted).toEqual([])
    // And every reason names a block that is still there.
    expect(Object.keys(NOT_RUN).filter((line) => !blocks.some((b) => first(b) === line))).toEqual([])
  })

  it('the one-minute policy checks clean under --strict; its suite and the CI recipe pass', () => {
    const dir = join(work, 'ci')
    mkdirSync(join(dir, 'tests'), { recursive: true })
    writeFileSync(join(dir, 'policy.json'), policyBlock.text)
    writeFileSync(join(dir, 'tests', 'policy.test.yaml'), suiteBlock.text)
    const steps = [...workflowBlock.text.matchAll(/- run: (npx perso .*)$/gm)].map((m) => m[1]!)
    expect(steps.length).toBeGreaterThanOrEqual(2)
    // The workflow's steps check the policy under --strict themselves (the one-minute promise).
    expect(steps).toContain('npx perso check policy.json --strict')
    for (const step of steps) {
      const { status, out } = perso(step, dir)
      expect(status, `${step}\n${out}`).toBe(0)
      expect(out, step).not.toMatch(/warning/)
    }
  })

  it('the install commands work after the install (perso init, check, compile --test)', () => {
    const dir = join(work, 'install')
    mkdirSync(dir, { recursive: true })
    const lines = installBlock.text.split('\n').filter((l) => l.startsWith('npx perso '))
    expect(lines.length).toBeGreaterThanOrEqual(3)
    for (const line of lines) {
      const { status, out } = perso(line, dir)
      expect(status, `${line}\n${out}`).toBe(0)
    }
  })

  it('the SDK snippet runs and prints what its comments say', () => {
    const dir = join(work, 'sdk')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'policy.json'), policyBlock.text)
    expect(perso('npx perso compile policy.json -o policy.wasm', dir).status).toBe(0)
    // The snippet is JavaScript as well as TypeScript.
    writeFileSync(join(dir, 'snippet.mjs'), sdkBlock.text)
    const run = spawnSync(process.execPath, ['snippet.mjs'], { cwd: dir, encoding: 'utf8' })
    expect(run.status, run.stderr).toBe(0)
    const promised = /^\/\/ (\{ decision: .*\})$/m.exec(sdkBlock.text)![1]!
    expect(run.stdout).toContain(promised.replace(/\{ (.*) \}/, '{\n  $1\n}').replace(/, reason/, ',\n  reason'))
    expect(run.stdout.trim().split('\n').at(-1)).toBe('Allow')
    expect(readFileSync(join(dir, 'decisions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2)
  })

  it('the guard example: the mcpServers entry runs the guard in front of the filesystem server, and a reader cannot write', async () => {
    const dir = join(work, 'guard')
    mkdirSync(join(dir, 'docs'), { recursive: true })
    writeFileSync(join(dir, 'docs', 'readme.txt'), 'hello\n')
    writeFileSync(join(dir, 'guard-policy.json'), guardPolicyBlock.text)
    const entry = Object.values((JSON.parse(mcpBlock.text) as { mcpServers: Record<string, { command: string; args: string[] }> }).mcpServers)[0]!
    expect(entry.command).toBe('npx')
    expect(entry.args[0]).toBe('perso')
    // `npx perso` is this checkout's perso; `npx @modelcontextprotocol/server-filesystem` resolves to the installed package.
    const transport = new StdioClientTransport({ command: process.execPath, args: [join(root, 'bin/perso.js'), ...entry.args.slice(1)], cwd: dir, stderr: 'pipe', env: { ...process.env } as Record<string, string> })
    const client = new Client({ name: 'readme', version: '1' })
    await client.connect(transport)
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name)
      expect(tools).toContain('read_text_file')
      expect(tools).not.toContain('write_file')
      const denied = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'docs', 'x.txt'), content: 'x' } })
      const text = (denied.content as { text: string }[])[0]!.text
      // The README quotes the denial word for word (its lines wrap).
      expect(README.replace(/\s+/g, ' ')).toContain(text)
      expect(text).toBe("perso denied write_file: no rule matched tool 'write_file' for role 'reader'; applying default_action")
      expect(existsSync(join(dir, 'docs', 'x.txt'))).toBe(false)
    } finally {
      await client.close()
    }
  })

  it('the HTTP guard example serves the guard over Streamable HTTP, and a reader cannot write', async () => {
    const dir = join(work, 'guard-http')
    mkdirSync(join(dir, 'docs'), { recursive: true })
    writeFileSync(join(dir, 'guard-policy.json'), guardPolicyBlock.text)
    const line = httpBlock.text.trim()
    expect(line.startsWith('npx perso guard ')).toBe(true)
    // As written, but for the port: 0 lets the system pick a free one, which the guard prints.
    const args = line.replace(/^npx perso /, '').replace(':8080', ':0').split(/\s+/)
    const child = spawn(process.execPath, [join(root, 'bin/perso.js'), ...args], { cwd: dir, env: { ...process.env }, stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      let stderr = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the guard did not start: ${stderr}`)), 30_000)
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8')
          const match = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr)
          if (match) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
      })
      const client = new Client({ name: 'readme-http', version: '1' })
      await client.connect(new StreamableHTTPClientTransport(new URL(url)))
      const tools = (await client.listTools()).tools.map((t) => t.name)
      expect(tools).toContain('read_text_file')
      expect(tools).not.toContain('write_file')
      const denied = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'docs', 'x.txt'), content: 'x' } })
      expect((denied.content as { text: string }[])[0]!.text).toBe("perso denied write_file: no rule matched tool 'write_file' for role 'reader'; applying default_action")
      expect(existsSync(join(dir, 'docs', 'x.txt'))).toBe(false)
      await client.close()
    } finally {
      child.kill('SIGTERM')
    }
  })

  it.each(shownBlocks.map((b) => [first(b), b] as const))('%s prints what the README shows', (_, block) => {
    const [command, ...shown] = block.text.split('\n')
    const { out } = perso(`npx ${command!.slice(2)}`, root)
    expect(out).toBe(shown.join('\n'))
  })
})
