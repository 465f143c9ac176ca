// `perso check` in-process: exit codes, formats, usage errors, robustness
// against hostile files, and that it never loads binaryen.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'
import type { Io } from '../src/cli/io.js'

const loaded = vi.hoisted(() => ({ binaryen: false }))
vi.mock('binaryen', () => {
  loaded.binaryen = true
  return { default: {} }
})

async function perso(argv: string[], files: Record<string, Uint8Array | string> = {}, extra: Partial<Io> = {}): Promise<Run> {
  const run = await runCli(argv, { files, io: extra })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  expect(run.written.size, 'check writes nothing').toBe(0)
  return run
}

describe('perso check', () => {
  it('accepts the CRM policy with a summary line', async () => {
    const { code, stdout, stderr } = await perso(['check', 'fixtures/crm.json'])
    expect(code).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toMatch(/^fixtures\/crm\.json: ok \(9 rules, 17 table entries\)\n$/)
  })

  it('accepts the file-ops policy', async () => {
    const { code, stdout } = await perso(['check', 'fixtures/file-ops.json'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/: ok \(5 rules, \d+ table entries\)\n$/)
  })

  it('passes with warnings, fails with --strict', async () => {
    const lax = await perso(['check', 'fixtures/warnings/01-unknown-keys.json'])
    expect(lax.code).toBe(0)
    expect(lax.stdout).toContain('warning[W001]')
    expect(lax.stdout).toMatch(/ok \(2 rules, 2 table entries, 2 warnings\)\n$/)
    const strict = await perso(['check', '--strict', 'fixtures/warnings/01-unknown-keys.json'])
    expect(strict.code).toBe(2)
    expect(strict.stdout).toContain('error[W001]')
    expect(strict.stdout).toMatch(/: 2 errors\n$/)
  })

  it('prints JSON diagnostics with --format json', async () => {
    const { code, stdout } = await perso(['check', '--format', 'json', 'fixtures/invalid/01-wrong-op.json'])
    expect(code).toBe(2)
    expect(JSON.parse(stdout)).toEqual([{
      code: 'E024', severity: 'error', message: 'unknown op `Lteq`', file: 'fixtures/invalid/01-wrong-op.json',
      line: 10, column: 88, endLine: 10, endColumn: 94, help: 'did you mean `Lte`?',
    }])
    expect(JSON.parse((await perso(['check', '--format', 'json', 'fixtures/crm.json'])).stdout)).toEqual([])
  })

  it('colours output on a terminal unless NO_COLOR is set', async () => {
    const file = 'fixtures/invalid/01-wrong-op.json'
    expect((await perso(['check', file], {}, { isTTY: true })).stdout).toContain('\u001b[')
    expect((await perso(['check', file], {}, { isTTY: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\u001b[')
    expect((await perso(['check', file])).stdout).not.toContain('\u001b[')
  })

  it('reports an unreadable file in one line, exit 2', async () => {
    const { code, stderr } = await perso(['check', 'no/such/policy.json'])
    expect(code).toBe(2)
    expect(stderr).toBe('perso: cannot read `no/such/policy.json`: no such file\n')
  })

  it('turns a bug into one line and exit 70', async () => {
    const broken = { readFile: () => null as unknown as Uint8Array }
    const { code, stderr } = await perso(['check', 'x.json'], {}, broken)
    expect(code).toBe(70)
    expect(stderr).toMatch(/^perso: internal error: .+ \(this is a bug in perso; please report it\)\n$/)
  })

  it.each([
    [[]], [['check']], [['check', 'a.json', 'b.json']], [['check', '--format', 'xml', 'a.json']],
    [['check', '--bogus', 'a.json']], [['frobnicate']],
  ])('exits 64 on usage error %j', async (argv) => {
    const { code, stderr } = await perso(argv)
    expect(code).toBe(64)
    expect(stderr).not.toBe('')
  })

  it('documents the exit codes in --help, for perso and for check', async () => {
    for (const argv of [['--help'], ['check', '--help'], ['help', 'check']]) {
      const { code, stdout } = await perso(argv)
      expect(code).toBe(0)
      expect(stdout).toContain('Exit codes:')
      expect(stdout).toMatch(/64\s+usage error/)
    }
    expect((await perso(['--help'])).stdout).toMatch(/check\s+validate a policy/)
    expect((await perso(['check', '--help'])).stdout).toContain('--strict')
  })

  it('never loads binaryen', async () => {
    await perso(['check', 'fixtures/crm.json'])
    await perso(['check', 'fixtures/invalid/13-several-errors.json'])
    expect(loaded.binaryen).toBe(false)
    // The probe works: importing binaryen does trip it.
    await import('binaryen')
    expect(loaded.binaryen).toBe(true)
  })
})

describe('perso check on hostile files: a diagnostic and exit 2, never a stack trace', () => {
  const crm = readFileSync(join(root, 'fixtures/crm.json'))

  it('every truncation of a valid policy', async () => {
    for (let n = 0; n < crm.length; n += 7) {
      const { code, stdout } = await perso(['check', 't.json'], { 't.json': crm.subarray(0, n) })
      expect(code, `cut at byte ${n}`).toBe(2)
      expect(stdout).toMatch(/error\[E\d{3}\]/)
    }
  })

  it('binary garbage', async () => {
    let seed = 42
    const garbage = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24)
    const { code, stdout } = await perso(['check', 'g.bin'], { 'g.bin': garbage })
    expect(code).toBe(2)
    expect(stdout).toMatch(/error\[E001\]: file is not valid UTF-8 text/)
  })

  it('a 50 MB file', async () => {
    const big = new Uint8Array(50 * 1024 * 1024).fill(0x20)
    big[0] = 0x5b
    const { code, stdout } = await perso(['check', 'big.json'], { 'big.json': big })
    expect(code).toBe(2)
    expect(stdout).toMatch(/error\[E017\]: policy file is too large/)
    expect(stdout.length).toBeLessThan(2000)
  })

  it('a 10 MB one-line policy with an error at its end', async () => {
    const tools = Array.from({ length: 500_000 }, (_, i) => `"t${i}"`).join(',')
    const src = `{"version":"1","default_action":"Deny","tools":[${tools}],"roles":[],"rules":[],"x":}`
    const { code, stdout } = await perso(['check', 'wide.json'], { 'wide.json': src })
    expect(code).toBe(2)
    expect(stdout).toMatch(/wide\.json:1:\d+: error\[E003\]/)
    expect(stdout.length).toBeLessThan(2000)
  })

  it.each([
    ['1,000,000-deep arrays', '['.repeat(1_000_000) + ']'.repeat(1_000_000), 'E015'],
    ['1,000,000-deep objects', '{"a":'.repeat(1_000_000), 'E015'],
    ['a top-level array', '[]', 'E020'],
    ['a top-level number', '42', 'E020'],
    ['a top-level string', '"policy"', 'E020'],
    ['a top-level null', 'null', 'E020'],
    ['only white space', ' \n\t ', 'E002'],
    ['NUL bytes', '\u0000\u0000', 'E003'],
  ])('%s', async (_, src, code) => {
    const run = await perso(['check', 'h.json'], { 'h.json': src })
    expect(run.code).toBe(2)
    expect(run.stdout).toContain(`error[${code}]`)
  })
})
