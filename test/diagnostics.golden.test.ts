// Golden outputs of `perso check` for every fixture under fixtures/invalid and
// fixtures/warnings. Regenerate with `npm run test:update` and review the diff.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import type { Io } from '../src/cli/io.js'
import { diagnosticsToJson, renderDiagnostics } from '../src/compiler/render.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const update = process.env.PERSO_UPDATE_GOLDEN === '1'

async function perso(argv: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const io: Io = {
    stdout: (s) => (out += s), stderr: (s) => (out += s),
    readFile: (p) => readFileSync(join(root, p)), writeFile: () => { throw new Error('check writes nothing') },
    isTTY: false, env: {},
  }
  const code = await main(argv, io)
  return { code, out }
}

const cases = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.json') && !f.endsWith('.tools.lock.json')).sort().map((f) => `${dir}/${f}`)
/** A fixture with a `<name>.tools.lock.json` beside it is checked against that server's tools. */
const lockOf = (file: string): string[] => {
  const lock = file.replace(/\.json$/, '.tools.lock.json')
  return existsSync(join(root, lock)) ? ['--tools', lock] : []
}

describe.each([
  ['fixtures/invalid', 2],
  ['fixtures/warnings', 0],
])('%s', (dir, exitCode) => {
  it('has fixtures', () => expect(cases(dir).length).toBeGreaterThan(0))

  it.each(cases(dir))('%s', async (file) => {
    const { code, out } = await perso(['check', file, ...lockOf(file)])
    expect(out).not.toMatch(/\n\s+at /)
    expect(code).toBe(exitCode)
    const golden = join(root, file.replace(/\.json$/, '.expected.txt'))
    if (update) writeFileSync(golden, out)
    expect(existsSync(golden), `${golden} is missing; run npm run test:update`).toBe(true)
    expect(out).toBe(readFileSync(golden, 'utf8'))
  })
})

describe('rendering', () => {
  const src = new TextEncoder().encode('{\n\t"é😀": "Lteq"\n}\n')
  const diagnostic = { code: 'E024', severity: 'error' as const, message: 'unknown op `Lteq`', span: { start: 13, end: 19 }, help: 'did you mean `Lte`?' }

  it('counts columns in code points and keeps tabs under tabs', () => {
    expect(renderDiagnostics([diagnostic], src, 'p.json', { color: false })).toBe(
      'p.json:2:8: error[E024]: unknown op `Lteq`\n' +
      '2 | \t"é😀": "Lteq"\n' +
      '  | \t      ^^^^^^\n' +
      '  = help: did you mean `Lte`?\n',
    )
  })

  it('colours only when asked', () => {
    expect(renderDiagnostics([diagnostic], src, 'p.json', { color: true })).toContain('\u001b[')
    expect(renderDiagnostics([diagnostic], src, 'p.json', { color: false })).not.toContain('\u001b[')
  })

  it('gives machines line, column and end in the same units', () => {
    expect(diagnosticsToJson([diagnostic], src, 'p.json')).toEqual([{
      code: 'E024', severity: 'error', message: 'unknown op `Lteq`', file: 'p.json',
      line: 2, column: 8, endLine: 2, endColumn: 14, help: 'did you mean `Lte`?',
    }])
  })

  it('shows a window of a very long line', () => {
    const long = new TextEncoder().encode(`[${'1,'.repeat(1_000_000)}x]`)
    const text = renderDiagnostics([{ ...diagnostic, span: { start: 2_000_001, end: 2_000_002 } }], long, 'p.json', { color: false })
    const lines = text.split('\n')
    expect(lines[0]).toBe('p.json:1:2000002: error[E024]: unknown op `Lteq`')
    expect(lines[1]!.length).toBeLessThan(200)
    expect(lines[1]!.indexOf('x')).toBe(lines[2]!.indexOf('^'))
  })
})
