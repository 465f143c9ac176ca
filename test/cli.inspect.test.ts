// `perso inspect` shows what the blob says — each entry's reads and condition,
// read back from the artifact's bytes — and warns where the `perso` section
// disagrees with it (an entry missing or extra, other reads, another version):
// exit 0 with warnings, 2 only when the blob itself cannot be read.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import { type Metadata, expandSection, metadataSection } from '../packages/sdk/src/metadata.js'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'
import { withPersoSection } from './support/wasm-sections.js'

let crm: Uint8Array

beforeAll(async () => {
  crm = (await compile(readFileSync(join(root, 'fixtures/crm.json')), { filename: 'crm.json' })).wasm!
})

async function inspect(wasm: Uint8Array, ...flags: string[]): Promise<Run> {
  const run = await runCli(['inspect', 'a.wasm', ...flags], { files: { 'a.wasm': wasm } })
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  return run
}

function metadataOf(wasm: Uint8Array): Metadata {
  const section = WebAssembly.Module.customSections(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), 'perso')[0]!
  return expandSection(JSON.parse(new TextDecoder().decode(section))) as Metadata
}

describe('perso inspect reads the blob', () => {
  it('prints each entry from the blob: its rule, the fields it reads and its condition', async () => {
    const run = await inspect(crm)
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    expect(run.stdout).toMatch(/^blob {7}format 2, \d+ bytes at \d+, 64 slots, digest [0-9a-f]{64}$/m)
    expect(run.stdout).toContain('  "process_refund" × "agent"  rules[2]  reads Arguments.amount  NumericCheck(Arguments.amount Lte 500)\n')
    expect(run.stdout).toContain('  "bulk_update" × "admin"  rules[8]  reads AgentAttributes.mfa_verified_at, ResourceAttributes.env  ' +
      'All([FieldPresent(AgentAttributes.mfa_verified_at), StringCheck(ResourceAttributes.env In ["production"])])\n')
    expect(run.stdout).toContain('  "view_customer" × "agent"  rules[0]  no condition\n')
    expect(run.stdout).not.toContain('warning')
  })

  it('--format json (and --json): the metadata, the blob with its entries, no warnings', async () => {
    const run = await inspect(crm, '--format', 'json')
    expect(run.code).toBe(0)
    const doc = JSON.parse(run.stdout) as Record<string, unknown>
    expect(doc).toMatchObject({ version: 'crm-1.0.0', counts: { entries: 17 }, warnings: [], artifact: { file: 'a.wasm', imports: 0 } })
    expect(doc.blob).toMatchObject({ format: 2, version: 'crm-1.0.0', defaultAction: 'Deny', slots: 64 })
    expect((doc.blob as { entries: unknown[] }).entries).toContainEqual({
      tool: 'process_refund', role: 'agent', rule: 2, reads: [{ source: 'Arguments', field: 'amount' }], condition: 'NumericCheck(Arguments.amount Lte 500)',
    })
    expect((await inspect(crm, '--json')).stdout).toBe(run.stdout)
  })
})

describe('a `perso` section that disagrees with the blob: a warning, exit 0', () => {
  it('an entry missing, one extra, other reads and another version', async () => {
    const m = metadataOf(crm)
    const refund = m.entries.findIndex(([t, r]) => m.tools[t] === 'process_refund' && m.roles[r] === 'agent')
    const view = m.entries.findIndex(([t, r]) => m.tools[t] === 'view_customer' && m.roles[r] === 'agent')
    const lying: Metadata = {
      ...m,
      version: 'crm-9.9.9',
      tools: [...m.tools, 'drop_database'],
      // The refund cap reads another field; view_customer for agent is gone; drop_database for admin is added.
      conditions: [...m.conditions, { rule: 2, reads: [{ source: 'Arguments', field: 'total' }] }],
      entries: [
        ...m.entries.filter((_, i) => i !== view).map((e, i): Metadata['entries'][number] => (i === refund ? [e[0], e[1], e[2], m.conditions.length] : e)),
        [m.tools.length, m.roles.indexOf('admin'), 0, null],
      ],
    }
    const tampered = withPersoSection(crm, metadataSection(lying))
    const run = await inspect(tampered)
    expect(run.code).toBe(0)
    const warnings = run.stdout.split('\n').filter((l) => l.startsWith('warning: '))
    expect(warnings).toEqual([
      'warning: the `perso` section says version "crm-9.9.9", the blob "crm-1.0.0"',
      'warning: the `perso` section says "process_refund" × "agent" reads Arguments.total; the blob reads Arguments.amount',
      'warning: the `perso` section does not list the entry "view_customer" × "agent", which the blob has',
      'warning: the `perso` section lists the entry "drop_database" × "admin", which the blob does not have',
    ])
    // The entries shown are the blob's.
    expect(run.stdout).toContain('"process_refund" × "agent"  rules[2]  reads Arguments.amount  NumericCheck(Arguments.amount Lte 500)')
    expect(run.stdout).toContain('"view_customer" × "agent"  rules[?]  no condition')
    expect(run.stdout).not.toContain('drop_database" × "admin"  rules')
    expect(run.stdout).toMatch(/^policy {5}version "crm-1.0.0"/m)
    const json = JSON.parse((await inspect(tampered, '--format', 'json')).stdout) as { warnings: string[]; version: string }
    expect(json.warnings).toEqual(warnings.map((w) => w.slice('warning: '.length)))
    expect(json.version).toBe('crm-9.9.9')
  })

  it('a section with no entries at all lists every entry of the blob as missing', async () => {
    const m = metadataOf(crm)
    const run = await inspect(withPersoSection(crm, metadataSection({ ...m, entries: [], conditions: [] })))
    expect(run.code).toBe(0)
    // 17 warnings, 20 at most printed: all of them here.
    expect(run.stdout.match(/^warning: the `perso` section does not list the entry/gm)).toHaveLength(17)
  })

  it('no section, or one that is not metadata: a warning, and the blob alone', async () => {
    for (const section of [undefined, { not: 'metadata' }]) {
      const run = await inspect(withPersoSection(crm, section))
      expect(run.code, JSON.stringify(section)).toBe(0)
      expect(run.stdout).toMatch(/^warning: .*(no `perso` section|not perso metadata); what follows is the blob's alone$/m)
      expect(run.stdout).toContain('sha256 unknown (no perso section)')
      expect(run.stdout).toContain('"process_refund" × "agent"  rules[?]  reads Arguments.amount  NumericCheck(Arguments.amount Lte 500)')
    }
  })

  it('an older release\'s artifact (blob format 1): its section\'s entries, with a warning', async () => {
    const run = await inspect(readFileSync(join(root, 'bench/baseline/crm-d8a7d26.wasm')))
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('warning: its policy blob is format 1; this perso reads format 2: the entries below are the `perso` section\'s, not checked against it')
    expect(run.stdout).toContain('"process_refund" × "agent"  rules[2]  reads Arguments.amount\n')
  })
})

describe('a blob that cannot be read: exit 2, one line', () => {
  it('a corrupt blob', async () => {
    const bytes = crm.slice()
    const at = Buffer.from(bytes).indexOf(Buffer.from('PRSO'))
    // EntryCount (header + 12) one more than the table holds.
    new DataView(bytes.buffer).setUint32(at + 12, new DataView(bytes.buffer).getUint32(at + 12, true) + 1, true)
    const run = await inspect(bytes)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^perso: the policy blob of `a\.wasm` cannot be read: .+\n$/)
    expect(run.stdout).toBe('')
    const json = await inspect(bytes, '--format', 'json')
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({ error: expect.stringMatching(/^the policy blob of `a\.wasm` cannot be read: /) })
  })

  it('a module without a blob, and a file that is not wasm', async () => {
    const template = await inspect(readFileSync(join(root, 'dist/runtime/runtime.wasm')))
    expect(template.code).toBe(2)
    expect(template.stderr).toBe('perso: `a.wasm` is not a perso artifact: no data segment holds a policy blob\n')
    const text = await inspect(new TextEncoder().encode('{}'))
    expect(text.code).toBe(2)
    expect(text.stderr).toMatch(/^perso: `a\.wasm` is not a WebAssembly module/)
  })
})
