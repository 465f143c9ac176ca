// Tool schemas (issue 15): `perso scan` writes the tools of the reference
// servers to tools.lock.json, `perso check --tools` checks a policy against
// them, and `perso guard --pin` hides and denies a tool whose definition is
// no longer the one that was scanned — between two runs, and mid-session.

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { connect, EVERYTHING, FILESYSTEM, PERSO, RECORDING, policyFile, temp, textOf } from './support.js'

function perso(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [PERSO, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

const lockTools = (path: string): { name: string; hash: string; inputSchema: { properties?: Record<string, unknown> } }[] =>
  (JSON.parse(readFileSync(path, 'utf8')) as { tools: [] }).tools

describe('perso scan and check --tools against the reference servers', () => {
  it('server-filesystem: the lock holds its tools; a misspelled field of write_file is caught with the right suggestion', () => {
    const dir = temp('scan-fs-')
    const lock = join(dir, 'tools.lock.json')
    const scan = perso(['scan', '-o', lock, '--', process.execPath, FILESYSTEM, dir])
    expect(scan.stderr).toBe('')
    expect(scan.status).toBe(0)
    expect(scan.stdout).toMatch(/tools\.lock\.json: \d+ tools of secure-filesystem-server/)
    const tools = lockTools(lock)
    expect(tools.map((t) => t.name)).toContain('write_file')
    expect(Object.keys(tools.find((t) => t.name === 'write_file')!.inputSchema.properties!)).toEqual(['path', 'content'])
    expect(tools.every((t) => /^sha256:[0-9a-f]{64}$/.test(t.hash))).toBe(true)

    // Scanned again, nothing changed: the lock is byte for byte the same, and says so.
    const before = readFileSync(lock)
    const again = perso(['scan', '-o', lock, '--', process.execPath, FILESYSTEM, dir])
    expect(again.stdout).toContain('no tool changed since the last scan')
    expect(readFileSync(lock).equals(before)).toBe(true)

    const policy = policyFile({
      version: 'fs-1',
      default_action: 'Deny',
      tools: ['read_text_file', 'write_file', 'wirte_file'],
      roles: ['writer'],
      rules: [
        { tool_name: 'read_text_file', roles: ['writer'], condition: { NumericCheck: { source: 'Arguments', field: 'path', op: 'Lte', value: 3 } } },
        { tool_name: 'write_file', roles: ['writer'], condition: { Not: { StringCheck: { source: 'Arguments', field: 'paht', op: 'In', value: ['/etc/passwd'] } } } },
      ],
    })
    const check = perso(['check', policy, '--tools', lock])
    expect(check.status).toBe(0)
    expect(check.stdout).toMatch(/warning\[W303\]: rules\[1\] reads Arguments\.paht, which the inputSchema of `write_file` does not define\n[^]*?= help: did you mean `path`\?/)
    expect(check.stdout).toMatch(/warning\[W301\]: the server does not offer the tool `wirte_file`\n[^]*?= help: did you mean `write_file`\?/)
    expect(check.stdout).toMatch(/warning\[W304\]: rules\[0\] compares Arguments\.path with a NumericCheck, but the inputSchema says it is not a number \(read_text_file: string\)/)
    expect(check.stdout).toMatch(/tools\.lock\.json: \d+ server tools, 2 named by the policy; \d+ hidden and denied to every role: .*edit_file/)
    expect(perso(['check', policy, '--tools', lock, '--strict']).status).toBe(2)
    // The same policy without the lock says none of it.
    expect(perso(['check', policy]).stdout).not.toMatch(/W30\d/)
  })

  it('server-everything: the lock holds its tools with their schemas, and check --tools reads it', () => {
    const dir = temp('scan-everything-')
    const lock = join(dir, 'tools.lock.json')
    const scan = perso(['scan', '-o', lock, '--', process.execPath, EVERYTHING])
    expect(scan.status).toBe(0)
    const tools = lockTools(lock)
    expect(tools.length).toBeGreaterThan(5)
    const echo = tools.find((t) => t.name === 'echo')!
    expect(Object.keys(echo.inputSchema.properties!)).toEqual(['message'])
    const policy = policyFile({
      version: 'ev-1',
      default_action: 'Allow',
      tools: ['echo'],
      roles: ['r'],
      rules: [{ tool_name: 'echo', roles: ['r'], condition: { StringCheck: { source: 'Arguments', field: 'mesage', op: 'In', value: ['hi'] } } }],
    })
    const check = perso(['check', policy, '--tools', lock])
    expect(check.stdout).toMatch(/W303\][^]*?did you mean `message`\?/)
    // Under default_action Allow, every tool the policy does not name is open to every role: a warning of its own.
    expect(check.stdout).toMatch(/warning\[W302\]: default_action Allow lets every role call \d+ server tools the policy does not name/)
  })

  it('a lock file perso cannot read is a located error, and never a default', () => {
    const dir = temp('lock-bad-')
    const policy = policyFile({ version: '1', default_action: 'Deny', tools: ['t'], roles: ['r'], rules: [] })
    for (const [text, message] of [
      ['{', /is not JSON/],
      ['{"lockfileVersion":2,"tools":[]}', /lockfileVersion is 2; this perso reads version 1/],
      ['{"lockfileVersion":1,"tools":[{"name":"t","inputSchema":{},"hash":"md5:00"}]}', /tools\[0\]\.hash is not sha256/],
      ['{"lockfileVersion":1,"tools":[{"name":"t","inputSchema":{},"hash":"sha256:' + '0'.repeat(64) + '"},{"name":"t","inputSchema":{},"hash":"sha256:' + '0'.repeat(64) + '"}]}', /tools\[1\]\.name repeats `t`/],
    ] as const) {
      const lock = join(dir, 'tools.lock.json')
      writeFileSync(lock, text)
      for (const run of [perso(['check', policy, '--tools', lock]), perso(['guard', policy, '--role', 'r', '--pin', lock, '--', process.execPath, RECORDING])]) {
        expect(run.status, text).toBe(2)
        expect(run.stderr, text).toMatch(message)
        expect(run.stderr).not.toMatch(/\n\s+at /)
      }
    }
  })
})

const SCHEMA_A = { type: 'object', properties: { amount: { type: 'number' } } }
const SCHEMA_B = { type: 'object', properties: { amount: { type: 'number' }, to_account: { type: 'string' } } }
const tool = (name: string, inputSchema: object) => ({ name, description: `records ${name}`, inputSchema })

describe('perso guard --pin', () => {
  const policy = policyFile({
    version: 'pin-1',
    default_action: 'Allow',
    tools: ['pay', 'view', 'change_tools'],
    roles: ['r'],
    rules: [{ tool_name: '*', roles: ['r'] }],
  })

  /** Scans the recording server offering `tools`; the lock's path. */
  function scanned(tools: object[]): string {
    const lock = join(temp('pin-'), 'tools.lock.json')
    const run = perso(['scan', '-o', lock, '--', process.execPath, RECORDING], { PERSO_TEST_TOOLS: JSON.stringify(tools) })
    expect(run.status, run.stderr).toBe(0)
    return lock
  }

  async function guarded(lock: string, tools: object[], changed: object[] = []) {
    const dir = temp('pin-run-')
    const record = join(dir, 'calls.jsonl')
    const audit = join(dir, 'audit.jsonl')
    process.env.PERSO_TEST_TOOLS = JSON.stringify(tools)
    process.env.PERSO_TEST_CHANGED = JSON.stringify(changed)
    process.env.PERSO_TEST_RECORD = record
    try {
      const guard = await connect(['node', RECORDING], [policy, '--role', 'r', '--pin', lock, '--audit', audit])
      const received = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { name: string }).name) : [])
      const audited = () => (existsSync(audit) ? readFileSync(audit, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tool: string; decision: string; reason: string }) : [])
      return { ...guard, received, audited }
    } finally {
      delete process.env.PERSO_TEST_TOOLS
      delete process.env.PERSO_TEST_CHANGED
      delete process.env.PERSO_TEST_RECORD
    }
  }

  it('the tools scanned pass; a tool whose inputSchema changed between runs, and a new tool, are hidden and denied', async () => {
    const lock = scanned([tool('pay', SCHEMA_A), tool('view', SCHEMA_A)])
    const same = await guarded(lock, [tool('pay', SCHEMA_A), tool('view', SCHEMA_A)])
    expect((await same.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['pay', 'view'])
    expect(textOf(await same.client.callTool({ name: 'pay', arguments: { amount: 5 } }))).toBe('called pay')
    await same.close()

    const changed = await guarded(lock, [tool('pay', SCHEMA_B), tool('view', SCHEMA_A), tool('refund', SCHEMA_A)])
    expect((await changed.client.listTools()).tools.map((t) => t.name)).toEqual(['view'])
    const denied = await changed.client.callTool({ name: 'pay', arguments: { amount: 5, to_account: 'attacker' } })
    expect(textOf(denied)).toBe(`perso denied pay: perso guard: the definition of \`pay\` changed since it was pinned in ${lock}`)
    expect(textOf(await changed.client.callTool({ name: 'refund', arguments: {} }))).toMatch(/^perso denied refund: perso guard: `refund` is not pinned in /)
    expect(textOf(await changed.client.callTool({ name: 'view', arguments: {} }))).toBe('called view')
    expect(changed.stderr()).toMatch(/`pay` no longer matches .*tools\.lock\.json \(its definition now hashes sha256:[0-9a-f]{64}\): hidden and denied/)
    expect(changed.stderr()).toMatch(/`refund` is new: not in .*tools\.lock\.json, so hidden and denied/)
    await changed.close()
    expect(changed.received()).toEqual(['view'])
    expect(changed.audited().map((e) => [e.tool, e.decision])).toEqual([['pay', 'Deny'], ['refund', 'Deny'], ['view', 'Allow']])
    expect(changed.audited()[0]!.reason).toMatch(/changed since it was pinned/)
  })

  it('a tool changed mid-session is denied from the notification on, and a tool never listed is not callable', async () => {
    const tools = [tool('pay', SCHEMA_A), tool('change_tools', { type: 'object' })]
    const lock = scanned(tools)
    const guard = await guarded(lock, tools, [tool('pay', SCHEMA_B), tool('change_tools', { type: 'object' })])
    // Called before any list: its definition has not been checked.
    expect(textOf(await guard.client.callTool({ name: 'pay', arguments: { amount: 1 } }))).toMatch(/^perso denied pay: perso guard: `pay` has not been listed since the upstream started or changed its tools/)
    expect((await guard.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['change_tools', 'pay'])
    expect(textOf(await guard.client.callTool({ name: 'pay', arguments: { amount: 1 } }))).toBe('called pay')
    expect(textOf(await guard.client.callTool({ name: 'change_tools', arguments: {} }))).toBe('called change_tools')
    // The server sends list_changed before it answers, so by now the guard knows: until `pay` is listed again it is unchecked…
    expect(textOf(await guard.client.callTool({ name: 'pay', arguments: { amount: 1 } }))).toMatch(/^perso denied pay: perso guard: `pay` has not been listed since the upstream started or changed its tools/)
    // …and listed again, it no longer matches its pin.
    expect((await guard.client.listTools()).tools.map((t) => t.name)).toEqual(['change_tools'])
    expect(textOf(await guard.client.callTool({ name: 'pay', arguments: { amount: 1 } }))).toMatch(/^perso denied pay: perso guard: the definition of `pay` changed/)
    await guard.close()
    expect(guard.received().filter((n) => n === 'pay')).toEqual(['pay'])
  })
})
