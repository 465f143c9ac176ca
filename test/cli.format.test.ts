// `--format json` on every verb: one JSON document on stdout, diagnostics
// included, nothing else there — also when the verb fails with a user error
// (`{"error": …}`, its line on stderr as well). Humans' text stays the default.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Io } from '../src/cli/io.js'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'

let wasm: Uint8Array
beforeAll(async () => {
  wasm = (await compile(readFileSync(join(root, 'fixtures/crm.json')))).wasm!
})

/** Runs perso; stdout must be exactly one JSON document. */
async function json(argv: string[], io: Partial<Io> = {}): Promise<Run & { doc: Record<string, unknown> & unknown[] }> {
  const run = await runCli(argv, { files: { 'crm.wasm': wasm }, io })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  return { ...run, doc: JSON.parse(run.stdout) as Record<string, unknown> & unknown[] }
}

const refund800 = ['--tool', 'process_refund', '--role', 'agent', '--args', '{"amount": 800}']

describe('--format json', () => {
  it('is offered by every verb, and documented in its --help', async () => {
    for (const verb of ['check', 'compile', 'eval', 'inspect', 'test']) {
      const { stdout } = await runCli([verb, '--help'])
      expect(stdout, verb).toMatch(/--format <format>/)
    }
  })

  it('check: the array of diagnostics, no summary line', async () => {
    const { code, doc, stderr } = await json(['check', '--strict', '--format', 'json', 'fixtures/warnings/01-unknown-keys.json'])
    expect(code).toBe(2)
    expect(stderr).toBe('')
    expect(doc.map((d) => (d as { code: string }).code)).toEqual(['W001', 'W001'])
  })

  it('compile: what was written, the diagnostics inside, nothing on stderr', async () => {
    const ok = await json(['compile', 'fixtures/crm.json', '-o', 'crm.out.wasm', '--format', 'json'])
    expect(ok.code).toBe(0)
    expect(ok.stderr).toBe('')
    expect(ok.doc).toEqual({ file: 'fixtures/crm.json', diagnostics: [], output: { path: 'crm.out.wasm', bytes: ok.written.get('crm.out.wasm')!.length }, entries: 17 })

    const warned = await json(['compile', 'fixtures/warnings/01-unknown-keys.json', '--format', 'json'])
    expect(warned.code).toBe(0)
    expect(warned.stderr).toBe('')
    expect((warned.doc.diagnostics as { severity: string }[]).map((d) => d.severity)).toEqual(['warning', 'warning'])
    expect(warned.doc.output).toMatchObject({ path: 'fixtures/warnings/01-unknown-keys.wasm' })

    const invalid = await json(['compile', 'fixtures/invalid/01-wrong-op.json', '--format', 'json'])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toBe('')
    expect(invalid.written.size).toBe(0)
    expect(invalid.doc).toEqual({ file: 'fixtures/invalid/01-wrong-op.json', diagnostics: [expect.objectContaining({ code: 'E024', help: 'did you mean `Lte`?' })] })
  })

  it('compile --emit ir|wat without -o: the text inside the document', async () => {
    const ir = await json(['compile', 'fixtures/crm.json', '--emit', 'ir', '--format', 'json'])
    expect(ir.code).toBe(0)
    expect(ir.doc.text).toBe(readFileSync(join(root, 'fixtures/crm.ir'), 'utf8'))
    expect(ir.doc).not.toHaveProperty('output')
  })

  it('compile --test: the suites\' json report inside the document', async () => {
    const run = await json(['compile', 'fixtures/crm.json', '--test', 'fixtures/crm.test.yaml', '-o', 'crm.out.wasm', '--format', 'json'])
    expect(run.code).toBe(0)
    expect(run.doc.tests).toMatchObject({ failed: 0, invalid: 0 })
    expect((run.doc.tests as { passed: number }).passed).toBeGreaterThan(0)
    expect(run.doc.output).toMatchObject({ path: 'crm.out.wasm' })
  })

  it('eval: the artifact\'s answer exactly as it wrote it, with the diagnostics of a policy compiled here', async () => {
    const deny = await json(['eval', 'crm.wasm', ...refund800, '--format', 'json'])
    expect(deny.code).toBe(1)
    expect(deny.stdout).toBe(`{"decision":"Deny","reason":"rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500"}\n`)
    const warned = await json(['eval', 'fixtures/warnings/01-unknown-keys.json', '--tool', 't', '--role', 'r', '--format', 'json'])
    expect(warned.stderr).toBe('')
    expect(warned.doc).toMatchObject({ decision: expect.any(String), diagnostics: [{ code: 'W001' }, { code: 'W001' }] })
    const invalid = await json(['eval', 'fixtures/invalid/01-wrong-op.json', ...refund800, '--format', 'json'])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toBe('')
    expect(invalid.doc).toEqual({ error: 'the policy `fixtures/invalid/01-wrong-op.json` has 1 error', diagnostics: [expect.objectContaining({ code: 'E024' })] })
  })

  it('test: --format json is --reporter json; the two disagreeing is a usage error', async () => {
    const viaFormat = await runCli(['test', 'fixtures/crm.test.yaml', '--format', 'json'])
    const viaReporter = await runCli(['test', 'fixtures/crm.test.yaml', '--reporter', 'json'])
    expect(viaFormat.code).toBe(0)
    expect(JSON.parse(viaFormat.stdout)).toEqual(JSON.parse(viaReporter.stdout))
    const both = await runCli(['test', 'fixtures/crm.test.yaml', '--format', 'json', '--reporter', 'junit'])
    expect(both.code).toBe(64)
    expect(both.stderr).toContain('--format json and --reporter junit disagree')
  })

  it('a user error: {"error"} on stdout, its line on stderr, exit 2', async () => {
    for (const argv of [
      ['check', 'missing.json'], ['compile', 'missing.json'], ['eval', 'missing.json', '--tool', 't', '--role', 'r'], ['inspect', 'missing.wasm'],
    ]) {
      const run = await json([...argv, '--format', 'json'])
      const line = `cannot read \`${argv[1]}\`: no such file`
      expect(run.code, argv[0]).toBe(2)
      expect(run.doc).toEqual({ error: line })
      expect(run.stderr).toBe(`perso: ${line}\n`)
    }
    const unwritable = await json(['compile', 'fixtures/crm.json', '-o', 'x/p.wasm', '--format', 'json'], {
      writeFile: () => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }) },
    })
    expect(unwritable.code).toBe(2)
    // The document the verb would have written is not written: the error is the one document.
    expect(unwritable.doc).toEqual({ error: 'cannot write `x/p.wasm`: no such directory' })
  })

  it('a bug: {"error"} too, exit 70', async () => {
    const run = await json(['check', 'x.json', '--format', 'json'], { readFile: () => null as unknown as Uint8Array })
    expect(run.code).toBe(70)
    expect(run.doc.error).toMatch(/^internal error: .+ \(this is a bug in perso; please report it\)$/)
  })
})
