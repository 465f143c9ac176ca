// Spec §1 through the CLI: an unknown key inside a rule or a condition fails
// `check` and `compile` (a misspelled `condition` never compiles into a rule
// without one), with or without --strict; the notes `description`, `$comment`
// and `x-…` compile, at every level, to exactly what the policy without them does.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Obj = { [key: string]: Json }

async function perso(argv: string[], files: Record<string, string> = {}): Promise<Run> {
  const run = await runCli(argv, { files })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  return run
}

const cap = { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500 } }
const refunds = (rule: Obj): string => JSON.stringify({
  version: '1', default_action: 'Deny', tools: ['process_refund'], roles: ['agent'],
  rules: [{ tool_name: 'process_refund', roles: ['agent'], ...rule }],
}, null, 2)

describe('an unknown key inside a rule or a condition', () => {
  const cases: [string, string, RegExp][] = [
    ['a misspelled condition', refunds({ conditon: cap }), /error\[E025\]: unknown key `conditon` in a rule\n[^]*help: did you mean `condition`\?/],
    ['a misspelled description', refunds({ descripton: 'refund desk', condition: cap }), /error\[E025\]: unknown key `descripton` in a rule\n[^]*help: did you mean `description`\?/],
    ['an unknown key in a NumericCheck', refunds({ condition: { NumericCheck: { ...cap.NumericCheck, currency: 'USD' } } }), /error\[E025\]: unknown key `currency` in `NumericCheck`/],
    ['an unknown key beside a form', refunds({ condition: { ...cap, note: 'cap' } }), /error\[E025\]: unknown key `note` in a condition/],
  ]

  it.each(cases)('%s fails check, without --strict (exit 2)', async (_, policy, diagnostic) => {
    const run = await perso(['check', 'p.json'], { 'p.json': policy })
    expect(run.code).toBe(2)
    expect(run.stdout).toMatch(diagnostic)
    expect(run.stdout).toMatch(/p\.json: 1 error\n$/)
  })

  it.each(cases)('%s fails compile and writes nothing (exit 2)', async (_, policy, diagnostic) => {
    for (const emit of ['wasm', 'ir']) {
      const run = await perso(['compile', 'p.json', '--emit', emit, '-o', 'p.out'], { 'p.json': policy })
      expect(run.code, `--emit ${emit}`).toBe(2)
      expect(run.stderr).toMatch(diagnostic)
      expect(run.written.size).toBe(0)
    }
  })

  it('is an error in --format json too', async () => {
    const run = await perso(['check', '--format', 'json', 'p.json'], { 'p.json': refunds({ conditon: cap }) })
    expect(run.code).toBe(2)
    expect(JSON.parse(run.stdout)).toEqual([{
      code: 'E025', severity: 'error', message: 'unknown key `conditon` in a rule', file: 'p.json',
      line: 16, column: 7, endLine: 16, endColumn: 17, help: 'did you mean `condition`?',
    }])
  })
})

describe('notes at every level', () => {
  const crm = readFileSync(join(root, 'fixtures/crm.json'), 'utf8')
  const notes = (where: string): Obj => ({ description: `${where}`, $comment: `about ${where}`, [`x-${where}`]: { reviewed: true } })

  /** crm.json with notes on the policy, every rule, every condition and every form's body. */
  function annotated(): string {
    const policy = JSON.parse(crm) as Obj
    const condition = (c: Obj, where: string): Obj => {
      const [form, body] = Object.entries(c)[0]!
      const inner = Array.isArray(body) ? body.map((b, i) => condition(b as Obj, `${where}-${i}`))
        : form === 'Not' ? condition(body as Obj, `${where}-not`) : { ...notes(`${where}-body`), ...(body as Obj) }
      return { ...notes(where), [form]: inner }
    }
    const rules = (policy.rules as Obj[]).map((r, i): Obj => {
      const rule: Obj = { ...r, ...notes(`rule-${i}`) }
      if (r.condition !== undefined && r.condition !== null) rule.condition = condition(r.condition as Obj, `c${i}`)
      return rule
    })
    return JSON.stringify({ ...notes('policy'), ...policy, rules }, null, 2)
  }

  it('the annotated policy really has notes in every condition', () => {
    const text = annotated()
    const conditions = (JSON.parse(crm) as { rules: Obj[] }).rules.filter((r) => r.condition != null).length
    expect(conditions).toBeGreaterThan(3)
    expect(text.match(/"x-c\d+": /g)?.length).toBe(conditions)
    expect(text).toMatch(/"x-c\d+-\d+-body": /)
  })

  it('check: the same summary, no warning', async () => {
    const bare = await perso(['check', 'fixtures/crm.json'])
    const noted = await perso(['check', 'fixtures/crm.json'], { 'fixtures/crm.json': annotated() })
    expect(noted.code).toBe(0)
    expect(noted.stdout).toBe(bare.stdout)
  })

  // The program records hashes of the source text (a line `<name> <64 hex>` each), which differ with
  // the text; everything else must be the same.
  const HASH_LINE = /^(\w+) ([0-9a-f]{64})$/gm
  const hashes = (ir: string): string[] => [...ir.matchAll(HASH_LINE)].map((m) => m[2]!)

  it('compile --emit ir: the same program; only the hashes of the source differ', async () => {
    const bare = await perso(['compile', 'fixtures/crm.json', '--emit', 'ir'])
    const noted = await perso(['compile', 'n.json', '--emit', 'ir'], { 'n.json': annotated() })
    expect(noted.code).toBe(0)
    const unhashed = (ir: string): string => ir.replace(HASH_LINE, '$1 …')
    expect(unhashed(noted.stdout)).toBe(unhashed(bare.stdout))
    expect(hashes(bare.stdout).length).toBeGreaterThan(0)
  })

  it('compile: the same artifact, once the hashes of the source are the same', async () => {
    const noted = annotated()
    const bareHashes = hashes((await perso(['compile', 'fixtures/crm.json', '--emit', 'ir'])).stdout)
    const notedHashes = hashes((await perso(['compile', 'n.json', '--emit', 'ir'], { 'n.json': noted })).stdout)
    const bare = (await perso(['compile', 'fixtures/crm.json', '-o', 'b.wasm'])).written.get('b.wasm')!
    const built = (await perso(['compile', 'n.json', '-o', 'n.wasm'], { 'n.json': noted })).written.get('n.wasm')!
    // The artifact may hold a hash raw (in the blob), in base64 or in hex (in the metadata section).
    const spellings = (hex: string): string[] => {
      const raw = Buffer.from(hex, 'hex')
      return [raw.toString('latin1'), raw.toString('base64'), hex]
    }
    const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1')
    let rehashed = text(built)
    notedHashes.forEach((hash, i) => {
      const from = spellings(hash)
      const to = spellings(bareHashes[i]!)
      expect(from.some((s) => rehashed.includes(s)), `hash ${hash} is in the artifact`).toBe(true)
      from.forEach((s, j) => (rehashed = rehashed.replaceAll(s, to[j]!)))
    })
    expect(rehashed === text(bare), 'the artifacts differ beyond the hashes of the source').toBe(true)
  })
})
