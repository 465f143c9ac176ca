// An output perso cannot write is the user's to fix, not a bug in perso (issue
// 12): exit 2, one line naming the path and the reason, nothing written, no
// temporary file left behind — for the artifact, `--emit wat` and `--emit ir`.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileWhole } from '../src/cli/node-io.js'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'
import { tempDir } from './support/temp.js'

const tmp = tempDir('write-')
const aFile = join(tmp, 'a-file.txt')
writeFileSync(aFile, 'not a directory')
const aDirectory = join(tmp, 'a-directory')
mkdirSync(aDirectory)

/** The CLI in-process, writing to the real file system the way bin/perso.js does. */
async function perso(argv: string[]): Promise<Run> {
  const run = await runCli(argv, { io: { writeFile: writeFileWhole } })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  expect(run.stderr).not.toMatch(/bug|internal error/)
  return run
}

/** Every file under `dir`, temporary ones included. */
const listing = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort()

describe('an output that cannot be written: exit 2, one line, nothing left', () => {
  const cases: [string, string, string][] = [
    ['a directory that does not exist', join(tmp, 'missing-dir', 'p.wasm'), 'no such directory'],
    ['a path under a regular file', join(aFile, 'p.wasm'), 'a part of the path is not a directory'],
    ['a directory as the output', aDirectory, 'it is a directory'],
  ]
  // Every reason for the artifact; the text outputs go through the same write, so one reason each (wat's disassembly is slow).
  for (const emit of ['wasm', 'wat', 'ir']) {
    it.each(emit === 'wasm' ? cases : cases.slice(0, 1))(`--emit ${emit} to %s`, async (_, out, reason) => {
      const before = listing(tmp)
      const run = await perso(['compile', 'fixtures/crm.json', '--emit', emit, '-o', out])
      expect(run.code).toBe(2)
      expect(run.stderr).toBe(`perso: cannot write \`${out}\`: ${reason}\n`)
      expect(run.stdout).toBe('')
      expect(listing(tmp)).toEqual(before)
    })
  }

  it.skipIf(process.getuid?.() === 0)('a directory without write permission (not as root, which may write anyway)', async () => {
    const locked = join(tmp, 'locked')
    mkdirSync(locked)
    chmodSync(locked, 0o500)
    try {
      const run = await perso(['compile', 'fixtures/crm.json', '-o', join(locked, 'p.wasm')])
      expect(run.code).toBe(2)
      expect(run.stderr).toBe(`perso: cannot write \`${join(locked, 'p.wasm')}\`: permission denied\n`)
      expect(readdirSync(locked)).toEqual([])
    } finally {
      chmodSync(locked, 0o700)
    }
  })

  it('a write the system refuses halfway (a full disk) is a user error too', async () => {
    const full = (): never => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) }
    const run = await runCli(['compile', 'fixtures/crm.json', '-o', 'p.wasm'], { io: { writeFile: full } })
    expect(run.code).toBe(2)
    expect(run.stderr).toBe('perso: cannot write `p.wasm`: no space left on the device\n')
  })

  it('the installed command says the same (the reproducer of issue 12)', () => {
    const out = join(tmp, 'missing-dir', 'p.wasm')
    let status = 0
    let stderr = ''
    try {
      execFileSync(process.execPath, ['bin/perso.js', 'compile', 'fixtures/crm.json', '-o', out], { cwd: root, stdio: 'pipe' })
    } catch (e) {
      ({ status, stderr } = e as { status: number; stderr: string })
    }
    expect(status).toBe(2)
    expect(String(stderr)).toBe(`perso: cannot write \`${out}\`: no such directory\n`)
  })
})

describe('writing an output whole', () => {
  it('replaces an existing file, keeping its mode, and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmp, 'whole-'))
    const path = join(dir, 'p.wasm')
    writeFileSync(path, 'old contents, longer than the new ones')
    chmodSync(path, 0o640)
    writeFileWhole(path, new TextEncoder().encode('new'))
    expect(readFileSync(path, 'utf8')).toBe('new')
    expect(statSync(path).mode & 0o777).toBe(0o640)
    expect(readdirSync(dir)).toEqual(['p.wasm'])
  })

  it('writes through a symbolic link, and into a device', () => {
    const dir = mkdtempSync(join(tmp, 'link-'))
    writeFileSync(join(dir, 'real.wasm'), 'old')
    symlinkSync('real.wasm', join(dir, 'link.wasm'))
    writeFileWhole(join(dir, 'link.wasm'), new TextEncoder().encode('new'))
    expect(readFileSync(join(dir, 'real.wasm'), 'utf8')).toBe('new')
    expect(listing(dir)).toEqual(['link.wasm', 'real.wasm'])
    expect(() => writeFileWhole('/dev/null', new Uint8Array(3))).not.toThrow()
  })

  it('compiles to a real file', async () => {
    const out = join(tmp, 'ok.wasm')
    const run = await perso(['compile', 'fixtures/crm.json', '-o', out])
    expect(run.code).toBe(0)
    expect(WebAssembly.validate(readFileSync(out))).toBe(true)
  })
})
