// perso guard in front of the reference filesystem server
// (@modelcontextprotocol/server-filesystem), driven by the SDK's Client over
// real stdio: a reader sees no write tools and its writes are denied with the
// disk unchanged; a writer writes inside the allowed directory but not to a
// forbidden path; deny shapes, shadow mode, audit, and the guard's start-up
// and upstream failures.

import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, type Connected, FILESYSTEM, PERSO, policyFile, temp, textOf } from './support.js'

const WRITE_TOOLS = ['write_file', 'edit_file', 'create_directory', 'move_file']

/** A directory with one file in it, and the policy: readers read; writers also write, except to `secret.txt`. */
function setup(): { dir: string; policy: string } {
  const dir = temp('fs-')
  writeFileSync(join(dir, 'notes.txt'), 'original\n')
  const policy = policyFile({
    version: 'fs-1',
    default_action: 'Deny',
    tools: ['read_text_file', 'read_file', 'list_directory', 'list_allowed_directories', 'get_file_info', 'search_files', 'directory_tree', ...WRITE_TOOLS],
    roles: ['reader', 'writer'],
    rules: [
      { tool_name: 'read_*', roles: ['reader', 'writer'] },
      { tool_name: 'list_*', roles: ['reader', 'writer'] },
      { tool_name: 'get_file_info', roles: ['reader', 'writer'] },
      {
        tool_name: 'write_file',
        roles: ['writer'],
        condition: { Not: { StringCheck: { source: 'Arguments', field: 'path', op: 'In', value: [join(dir, 'secret.txt')] } } },
      },
    ],
  })
  return { dir, policy }
}

/** Every file under `dir` with its content: the disk as a value. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((f) => [f, existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '']))

let open: Connected[] = []
afterEach(async () => {
  await Promise.allSettled(open.map((c) => c.close()))
  open = []
})

async function guarded(dir: string, policy: string, ...options: string[]): Promise<Connected> {
  const c = await connect(['node', FILESYSTEM, dir], [policy, ...options])
  open.push(c)
  return c
}

describe('perso guard in front of server-filesystem', () => {
  it('a reader sees no write tools, and its writes are denied with the disk unchanged', async () => {
    const { dir, policy } = setup()
    const before = snapshot(dir)
    const { client, stderr } = await guarded(dir, policy, '--role', 'reader')
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toContain('read_text_file')
    for (const tool of WRITE_TOOLS) expect(names).not.toContain(tool)
    const attempts = [
      { name: 'write_file', arguments: { path: join(dir, 'notes.txt'), content: 'overwritten' } },
      { name: 'edit_file', arguments: { path: join(dir, 'notes.txt'), edits: [{ oldText: 'original', newText: 'edited' }] } },
      { name: 'move_file', arguments: { source: join(dir, 'notes.txt'), destination: join(dir, 'moved.txt') } },
      { name: 'create_directory', arguments: { path: join(dir, 'new-dir') } },
    ]
    for (const attempt of attempts) {
      const result = await client.callTool(attempt)
      expect(result.isError, attempt.name).toBe(true)
      expect(textOf(result)).toBe(`perso denied ${attempt.name}: no rule matched tool '${attempt.name}' for role 'reader'; applying default_action`)
      expect((result._meta as Record<string, unknown>)['perso/decision']).toMatchObject({ decision: 'Deny', policyVersion: 'fs-1' })
    }
    expect(snapshot(dir)).toEqual(before)
    // Reading still works, through the guard.
    expect(textOf(await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'notes.txt') } }))).toBe('original\n')
    expect(stderr()).toContain('upstream tools hidden from role `reader`')
  })

  it('a writer writes inside the allowed directory, and is denied for the forbidden path', async () => {
    const { dir, policy } = setup()
    const { client } = await guarded(dir, policy, '--role', 'writer')
    const ok = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'new.txt'), content: 'written' } })
    expect(ok.isError ?? false).toBe(false)
    expect(readFileSync(join(dir, 'new.txt'), 'utf8')).toBe('written')
    const denied = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'secret.txt'), content: 'x' } })
    expect(denied.isError).toBe(true)
    expect(textOf(denied)).toMatch(/^perso denied write_file: rule matched tool 'write_file' for role 'writer'; condition failed/)
    expect(existsSync(join(dir, 'secret.txt'))).toBe(false)
  })

  it('--deny-as error answers a JSON-RPC error with the decision as data', async () => {
    const { dir, policy } = setup()
    const { client } = await guarded(dir, policy, '--role', 'reader', '--deny-as', 'error')
    const error = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'x'), content: 'x' } }).then(
      () => undefined,
      (e: unknown) => e as { code: number; data: unknown },
    )
    expect(error?.code).toBe(-32003)
    expect(error?.data).toMatchObject({ decision: 'Deny', policyVersion: 'fs-1' })
    expect(existsSync(join(dir, 'x'))).toBe(false)
  })

  it('shadow mode lists and forwards everything, and says what enforcing would have denied', async () => {
    const { dir, policy } = setup()
    const { client, stderr } = await guarded(dir, policy, '--role', 'reader', '--mode', 'shadow')
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('write_file')
    const result = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'shadow.txt'), content: 'through' } })
    expect(result.isError ?? false).toBe(false)
    expect(readFileSync(join(dir, 'shadow.txt'), 'utf8')).toBe('through')
    expect(stderr()).toMatch(/shadow: would deny write_file \(request \d+\): no rule matched tool 'write_file' for role 'reader'/)
  })

  it('--audit writes one record per decision, with the request id; argument values only with --audit-args', async () => {
    for (const withArgs of [false, true]) {
      const { dir, policy } = setup()
      const audit = join(temp('audit-'), 'audit.jsonl')
      const c = await guarded(dir, policy, '--role', 'writer', '--audit', audit, ...(withArgs ? ['--audit-args'] : []))
      await c.client.callTool({ name: 'write_file', arguments: { path: join(dir, 'a.txt'), content: 'secret content' } })
      await c.client.callTool({ name: 'write_file', arguments: { path: join(dir, 'secret.txt'), content: 'x' } })
      await c.close()
      open = open.filter((o) => o !== c)
      // The transport flushes on close: wait for the guard to exit.
      for (let i = 0; i < 50 && (!existsSync(audit) || readFileSync(audit, 'utf8').split('\n').length < 3); i++) await new Promise((r) => setTimeout(r, 100))
      const records = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(records.map((r) => r.decision)).toEqual(['Allow', 'Deny'])
      expect(records.every((r) => typeof r.traceId === 'string' && r.role === 'writer' && r.tool === 'write_file')).toBe(true)
      expect(JSON.stringify(records).includes('secret content')).toBe(withArgs)
    }
  })
})

describe('perso guard refuses to start without what it needs', () => {
  it('no role: a usage error before anything starts', () => {
    const { dir, policy } = setup()
    const run = spawnSync(process.execPath, [PERSO, 'guard', policy, '--', 'node', FILESYSTEM, dir], { encoding: 'utf8', input: '', env: { ...process.env, PERSO_ROLE: '' } })
    expect(run.status).toBe(64)
    expect(run.stderr).toContain("perso guard needs the caller's role: --role R (or PERSO_ROLE)")
    expect(run.stdout).toBe('')
  })

  it('an upstream that exits: in-flight calls get an error, and the guard exits non-zero naming its status', async () => {
    const { policy } = setup()
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
    const guard = spawn(process.execPath, [PERSO, 'guard', policy, '--role', 'reader', '--', 'node', '-e', 'setTimeout(() => process.exit(3), 300)'], { timeout: 20_000 })
    let stdout = ''
    let stderr = ''
    guard.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    guard.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    // The client stays (its stdin open): one whose stdin ends has gone away first (eof.test.ts).
    guard.stdin.write(`${init}\n`)
    const [status] = await once(guard, 'close')
    expect(status).toBe(1)
    expect(stderr).toMatch(/the upstream server `node` exited \(exit status 3\)/)
    const answers = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number; error?: { message: string } })
    expect(answers).toEqual([expect.objectContaining({ id: 1, error: expect.objectContaining({ message: 'perso guard: the upstream server exited before answering' }) })])
  })
})
