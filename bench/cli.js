// Wall time of whole CLI commands in fresh processes (what a user or CI waits
// for), next to a bare `node` start on the same machine in the same run.

import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freshProcessMs, printTable } from './measure.js'

const root = new URL('..', import.meta.url)

/** A CLI command's wall time; exit 1 is eval's Deny, not a failure. */
const wallMs = (args) => freshProcessMs(args, { cwd: root, exits: [0, 1] })

export async function cliSection() {
  const wasm = join(mkdtempSync(join(tmpdir(), 'perso-bench-')), 'crm.wasm')
  execFileSync(process.execPath, ['bin/perso.js', 'compile', 'fixtures/crm.json', '-o', wasm], { cwd: root })
  const bare = wallMs(['-e', '0'])
  const rows = [
    ['node -e 0 (baseline)', bare],
    ['perso check fixtures/crm.json', wallMs(['bin/perso.js', 'check', 'fixtures/crm.json'])],
    ['perso eval crm.wasm (refund 800)', wallMs(['bin/perso.js', 'eval', wasm, '--tool', 'process_refund', '--role', 'agent', '--args', '{"amount":800}'])],
    ['perso compile fixtures/crm.json', wallMs(['bin/perso.js', 'compile', 'fixtures/crm.json', '-o', wasm])],
  ]
  console.log('\n## CLI commands, fresh process each (median wall ms)\n')
  printTable(['command', 'ms', 'over baseline'], rows.map(([name, ms]) => [name, ms.toFixed(0), (ms - bare).toFixed(0)]))
}

if (import.meta.url === `file://${process.argv[1]}`) await cliSection()
