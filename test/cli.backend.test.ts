// `perso compile`, `perso eval` and `perso inspect` in-process: outputs, exit
// codes, the IR golden, and that evaluating a .wasm never loads the compiler.

import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'
import { tempDir } from './support/temp.js'


const tmp = tempDir('cli-')
const prebuilt = join(tmp, 'prebuilt.wasm')

async function perso(argv: string[]): Promise<Run> {
  const run = await runCli(argv)
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  return run
}

const refund800 = ['--tool', 'process_refund', '--role', 'agent', '--args', '{"amount": 800}']

beforeAll(() => {
  // Built by the real command in another process, so this one has not loaded binaryen yet.
  execFileSync(process.execPath, ['bin/perso.js', 'compile', 'fixtures/crm.json', '-o', prebuilt], { cwd: root })
})

describe('perso eval', () => {
  it('answers from a .wasm without loading binaryen (and the probe trips when it is loaded)', () => {
    // A process where importing binaryen fails: eval of an artifact must not notice.
    const withoutBinaryen = (argv: string[]) =>
      spawnSync(process.execPath, ['--import', './test/support/no-binaryen.mjs', 'bin/perso.js', ...argv], { cwd: root, encoding: 'utf8' })
    const deny = withoutBinaryen(['eval', prebuilt, ...refund800])
    expect(deny.stderr).toBe('')
    expect(deny.status).toBe(1)
    expect(deny.stdout).toBe("Deny  rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500\n")
    // The probe trips when the compiler is needed (a .json policy is compiled there).
    const compiled = withoutBinaryen(['eval', 'fixtures/crm.json', ...refund800])
    expect(compiled.status).not.toBe(1)
    expect(compiled.stdout + compiled.stderr).toMatch(/binaryen was loaded/)
  })

  it('exit 0 for Allow, 1 for Deny, 2 for an input error; --format json prints the response', async () => {
    const allow = await perso(['eval', prebuilt, '--tool', 'delete_customer', '--role', 'manager',
      '--agent', '{"user_id":"m1"}', '--resource', '{"owner_id":"m1"}'])
    expect(allow.code).toBe(0)
    expect(allow.stdout).toMatch(/^Allow {2}rule matched/)
    const json = await perso(['eval', prebuilt, ...refund800, '--format', 'json'])
    expect(JSON.parse(json.stdout)).toEqual({ decision: 'Deny', reason: expect.stringContaining('is not Lte 500') })
    const error = await perso(['eval', prebuilt, '--tool', 'view_customer', '--role', 'agent', '--args', '{"amount": }'])
    expect(error.code).toBe(2)
    expect(error.stdout).toMatch(/^Error {2}arguments JSON: /)
  })

  it('reads --args, --agent and --resource from @files', async () => {
    const file = join(tmp, 'args.json')
    writeFileSync(file, '{"amount": 120}')
    expect((await perso(['eval', prebuilt, '--tool', 'process_refund', '--role', 'agent', '--args', `@${file}`])).code).toBe(0)
  })

  it('usage errors exit 64; a file that is not an artifact exits 2 with one line', async () => {
    expect((await perso(['eval', prebuilt, '--role', 'agent'])).code).toBe(64)
    const notWasm = join(tmp, 'bogus.wasm')
    writeFileSync(notWasm, Uint8Array.from([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]))
    const bogus = await perso(['eval', notWasm, '--tool', 't', '--role', 'r'])
    expect(bogus.code).toBe(2)
    expect(bogus.stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('perso compile', () => {
  it('writes the artifact next to the policy and says what it wrote', async () => {
    const run = await perso(['compile', 'fixtures/crm.json'])
    expect(run.code).toBe(0)
    const wasm = run.written.get('fixtures/crm.wasm')!
    expect(WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)).toBe(true)
    expect(run.stdout).toBe(`fixtures/crm.wasm: ${wasm.length} bytes, 17 table entries\n`)
  })

  it('refuses an invalid policy: diagnostics on stderr, exit 2, nothing written', async () => {
    const run = await perso(['compile', 'fixtures/invalid/01-wrong-op.json'])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/error\[E\d{3}\]/)
    expect(run.written.size).toBe(0)
    // The last line adds them up: as many errors as the diagnostics above it.
    const count = run.stderr.match(/error\[E\d{3}\]/g)!.length
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(`perso: nothing written: \`fixtures/invalid/01-wrong-op.json\` has ${count === 1 ? '1 error' : `${count} errors`}`)
    expect(run.stdout).toBe('')
  })

  it('--strict fails on warnings, and counts them as the errors they became', async () => {
    const run = await perso(['compile', 'fixtures/warnings/01-unknown-keys.json', '--strict'])
    expect(run.code).toBe(2)
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(/^perso: nothing written: `fixtures\/warnings\/01-unknown-keys\.json` has \d+ errors?$/)
    expect(run.stderr.trimEnd().split('\n').at(-1)).not.toMatch(/has 0 errors/)
  })

  it('--emit wat prints the text form with the ABI exports', async () => {
    const run = await perso(['compile', 'fixtures/crm.json', '--emit', 'wat'])
    expect(run.code).toBe(0)
    for (const name of ['memory', 'alloc', 'dealloc', 'init', 'evaluate']) expect(run.stdout).toContain(`(export "${name}"`)
    expect(run.stdout).not.toContain('(import')
  })

  for (const policy of ['crm', 'file-ops']) {
    it(`--emit ir of ${policy}.json matches fixtures/${policy}.ir`, async () => {
      const run = await perso(['compile', `fixtures/${policy}.json`, '--emit', 'ir'])
      expect(run.code).toBe(0)
      const golden = join(root, 'fixtures', `${policy}.ir`)
      if (process.env.PERSO_UPDATE_GOLDEN) writeFileSync(golden, run.stdout)
      expect(run.stdout).toBe(readFileSync(golden, 'utf8'))
    })
  }
})

describe('perso inspect', () => {
  it('prints the metadata, exports and entries', async () => {
    const run = await perso(['inspect', prebuilt])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/version "crm-1.0.0", sha256 [0-9a-f]{64}/)
    expect(run.stdout).toContain('imports    none')
    expect(run.stdout).toContain('"process_refund" × "agent"  rules[2]  reads Arguments.amount')
    const json = await perso(['inspect', prebuilt, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ version: 'crm-1.0.0', counts: { entries: 17 } })
  })

  it('--wat adds the disassembly; a non-artifact exits 2', async () => {
    expect((await perso(['inspect', prebuilt, '--wat'])).stdout).toContain('(module')
    const run = await perso(['inspect', 'fixtures/crm.json'])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^perso: .*not a WebAssembly module/)
  })
})

describe('a file named .wasm that is not WebAssembly', () => {
  // Read as a policy, it would answer with JSON syntax errors about a file the user meant as an artifact.
  const junk = join(tmp, 'junk.wasm')
  const NOT_WASM = /`[^`]*junk\.wasm` is not a WebAssembly module: it does not start with the bytes 00 61 73 6d/
  beforeAll(() => writeFileSync(junk, 'garbage\n'))

  it('eval, explain and guard exit 2 saying so, in JSON too, never with a JSON syntax error', async () => {
    for (const argv of [
      ['eval', junk, '--tool', 'x', '--role', 'y'],
      ['explain', junk, '--tool', 'x', '--role', 'y'],
      ['guard', junk, '--role', 'y', '--', process.execPath, '-e', ''],
    ]) {
      const run = await perso(argv)
      expect(run.code, argv.join(' ')).toBe(2)
      expect(run.stderr).toMatch(NOT_WASM)
      expect(run.stderr).not.toMatch(/E003|expected a JSON value/)
    }
    const json = await perso(['eval', junk, '--tool', 'x', '--role', 'y', '--format', 'json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatch(NOT_WASM)
  })

  it('perso test reports it as the suite policy’s failure (E212)', async () => {
    const suite = join(tmp, 'junk.test.yaml')
    writeFileSync(suite, 'policy: junk.wasm\ncases:\n  - { name: any, tool: x, role: y, expect: Deny }\n')
    const run = await perso(['test', suite])
    expect(run.code).not.toBe(0)
    expect(run.stdout + run.stderr).toMatch(/E212/)
    expect(run.stdout + run.stderr).toMatch(NOT_WASM)
  })

  it('a real artifact, and a policy whatever its name, are read as before', async () => {
    expect((await perso(['eval', prebuilt, ...refund800])).code).toBe(1)
    const policyNamedOtherwise = join(tmp, 'policy.txt')
    writeFileSync(policyNamedOtherwise, readFileSync(join(root, 'fixtures/crm.json')))
    expect((await perso(['eval', policyNamedOtherwise, ...refund800])).code).toBe(1)
  })
})

describe('help texts', () => {
  it('asks for the policy it explains with, and offers no --explain of its own', async () => {
    const help = await perso(['explain', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: perso explain \[options\] <policy>/)
    expect(help.stdout).not.toMatch(/^\s+--explain\b|<artifact>|compiled \.wasm/m)
    // eval keeps both.
    const evalHelp = await perso(['eval', '--help'])
    expect(evalHelp.stdout).toMatch(/<artifact>/)
    expect(evalHelp.stdout).toMatch(/^\s+--explain\b/m)
  })

  it("guard's example command keeps its line continuation, so it pastes into a shell as two lines", async () => {
    const help = await perso(['guard', '--help'])
    expect(help.stdout).toMatch(/--jwks https:\/\/idp\.example\/jwks\.json \\\n {4}--issuer /)
  })
})
