// `-` is stdin for the policy or artifact of every verb that reads one, and
// `@-` for --args, --agent and --resource; stdin is read once, so two readers
// of it are a usage error (exit 64) before anything is read.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'

const crm = readFileSync(join(root, 'fixtures/crm.json'))
const wrongOp = readFileSync(join(root, 'fixtures/invalid/01-wrong-op.json'))
let wasm: Uint8Array

beforeAll(async () => {
  wasm = (await compile(crm)).wasm!
})

/** The CLI with `input` on stdin; counts how often stdin was read. */
async function perso(argv: string[], input?: Uint8Array | string): Promise<Run & { reads: number }> {
  let reads = 0
  const readStdin = input === undefined ? undefined : async (): Promise<Uint8Array> => {
    reads++
    return typeof input === 'string' ? new TextEncoder().encode(input) : input
  }
  const run = await runCli(argv, { files: { 'crm.wasm': wasm }, io: readStdin === undefined ? {} : { readStdin } })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  expect(reads).toBeLessThanOrEqual(1)
  return { ...run, reads }
}

describe('`-` for the policy', () => {
  it('check -: the summary and diagnostics name <stdin>', async () => {
    const ok = await perso(['check', '-'], crm)
    expect(ok).toMatchObject({ code: 0, stdout: '<stdin>: ok (9 rules, 17 table entries)\n', reads: 1 })
    const bad = await perso(['check', '-'], wrongOp)
    expect(bad.code).toBe(2)
    expect(bad.stdout).toMatch(/^<stdin>:10:88: error\[E024\]: unknown op `Lteq`/)
    const json = await perso(['check', '-', '--format', 'json'], wrongOp)
    expect(JSON.parse(json.stdout)).toMatchObject([{ code: 'E024', file: '<stdin>', line: 10 }])
  })

  it('compile - -o: the same artifact as from the file', async () => {
    const run = await perso(['compile', '-', '-o', 'out.wasm'], crm)
    expect(run.code).toBe(0)
    expect(Buffer.from(run.written.get('out.wasm')!).equals(Buffer.from(wasm))).toBe(true)
    expect(run.stdout).toBe(`out.wasm: ${wasm.length} bytes, 17 table entries\n`)
  })

  it('compile - needs -o for an artifact (exit 64, stdin not read); --emit ir|wat print without it', async () => {
    const run = await perso(['compile', '-'], crm)
    expect(run).toMatchObject({ code: 64, stdout: '', reads: 0 })
    expect(run.stderr).toMatch(/^perso: a policy read from stdin has no path to name its artifact after: give -o <file>\n/)
    expect((await perso(['compile', '-', '--emit', 'ir', '--test', 'fixtures/crm.test.yaml'], crm)).code).toBe(64)
    const ir = await perso(['compile', '-', '--emit', 'ir'], crm)
    expect(ir.code).toBe(0)
    expect(ir.stdout).toBe(readFileSync(join(root, 'fixtures/crm.ir'), 'utf8'))
  })

  it('eval - with a policy or an artifact on stdin', async () => {
    const refund = ['--tool', 'process_refund', '--role', 'agent', '--args', '{"amount": 800}']
    for (const input of [crm, wasm]) {
      const run = await perso(['eval', '-', ...refund], input)
      expect(run.code).toBe(1)
      expect(run.stdout).toMatch(/^Deny {2}.*is not Lte 500\n$/)
    }
  })

  it('inspect - with an artifact on stdin', async () => {
    const run = await perso(['inspect', '-'], wasm)
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^artifact {3}<stdin> \(\d+ bytes\)/)
  })

  it('no stdin to read: exit 2, one line', async () => {
    const run = await perso(['check', '-'])
    expect(run).toMatchObject({ code: 2, stderr: 'perso: cannot read stdin: there is none\n' })
  })
})

describe('`@-` for --args, --agent, --resource', () => {
  it('reads the JSON text from stdin', async () => {
    const args = await perso(['eval', 'crm.wasm', '--tool', 'process_refund', '--role', 'agent', '--args', '@-'], '{"amount": 120}')
    expect(args).toMatchObject({ code: 0, reads: 1 })
    const agent = await perso(['eval', 'crm.wasm', '--tool', 'delete_customer', '--role', 'manager', '--agent', '@-', '--resource', '{"owner_id":"m1"}'], '{"user_id":"m1"}')
    expect(agent.code).toBe(0)
  })

  it.each([
    [['--args', '@-', '--agent', '@-'], '`--args @-` and `--agent @-`'],
    [['--agent', '@-', '--resource', '@-'], '`--agent @-` and `--resource @-`'],
  ])('two of them read stdin: exit 64 before anything is read (%j)', async (flags, named) => {
    const run = await perso(['eval', 'crm.wasm', '--tool', 't', '--role', 'r', ...flags], '{}')
    expect(run).toMatchObject({ code: 64, stdout: '', reads: 0 })
    expect(run.stderr).toContain(`perso: stdin can be read only once, but ${named} both read it\n`)
  })

  it('the policy on stdin and an @-: exit 64', async () => {
    const run = await perso(['eval', '-', '--tool', 't', '--role', 'r', '--resource', '@-'], crm)
    expect(run).toMatchObject({ code: 64, reads: 0 })
    expect(run.stderr).toContain('`-` and `--resource @-` both read it')
  })
})

describe('the installed command', () => {
  it('reads a policy piped to `perso check -`', () => {
    const out = execFileSync(process.execPath, ['bin/perso.js', 'check', '-'], { cwd: root, input: crm })
    expect(String(out)).toBe('<stdin>: ok (9 rules, 17 table entries)\n')
  })
})
