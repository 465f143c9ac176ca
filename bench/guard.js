// `npm run bench:guard`: the round trip of a trivial tool call, measured by an
// MCP client over stdio, directly to a server, through a pass-through proxy
// built on the same MCP SDK that decides nothing, and through perso guard —
// in one run, rounds interleaved; p50 and p99 of each, and the guard's
// overhead over the pass-through.

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { printTable } from './measure.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const SERVER = join(root, 'test/guard/recording-server.mjs')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10)
const CALLS = Number(process.env.BENCH_CALLS ?? 200)

const dir = mkdtempSync(join(tmpdir(), 'perso-bench-guard-'))
const policy = join(dir, 'policy.json')
writeFileSync(policy, JSON.stringify({
  version: 'bench-1', default_action: 'Deny', tools: ['ping_tool'], roles: ['user'],
  rules: [{ tool_name: 'ping_tool', roles: ['user'], condition: { NumericCheck: { source: 'Arguments', field: 'n', op: 'Lte', value: 1000 } } }],
}))
const env = { ...process.env, PERSO_TEST_TOOLS: JSON.stringify(['ping_tool']) }
const server = [process.execPath, SERVER]
const candidates = {
  direct: server,
  'pass-through proxy (same SDK)': [process.execPath, join(root, 'bench/passthrough-proxy.mjs'), ...server],
  'perso guard': [process.execPath, join(root, 'bin/perso.js'), 'guard', policy, '--role', 'user', '--', ...server],
}

const clients = {}
for (const [name, [command, ...args]] of Object.entries(candidates)) {
  const client = new Client({ name: 'bench', version: '1' })
  await client.connect(new StdioClientTransport({ command, args, env, stderr: 'ignore' }))
  for (let i = 0; i < 50; i++) await client.callTool({ name: 'ping_tool', arguments: { n: i } })
  clients[name] = client
}

const samples = Object.fromEntries(Object.keys(candidates).map((n) => [n, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, client] of Object.entries(clients)) {
    for (let i = 0; i < CALLS; i++) {
      const start = process.hrtime.bigint()
      const result = await client.callTool({ name: 'ping_tool', arguments: { n: i } })
      samples[name].push(Number(process.hrtime.bigint() - start) / 1000)
      if (result.isError) throw new Error(`${name}: the call was denied`)
    }
  }
}
for (const client of Object.values(clients)) await client.close()

const pct = (list, p) => {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
const rows = Object.entries(samples).map(([name, list]) => [name, pct(list, 50).toFixed(0), pct(list, 99).toFixed(0)])
console.log(`\nperso guard: round trip of a trivial tools/call over stdio (${ROUNDS} interleaved rounds × ${CALLS} calls each), µs:\n`)
printTable(['path', 'p50 µs', 'p99 µs'], rows)
const [proxy, guard] = [pct(samples['pass-through proxy (same SDK)'], 50), pct(samples['perso guard'], 50)]
const allowed = Math.max(0.1 * proxy, 50)
console.log(`\nguard over pass-through at p50: +${(guard - proxy).toFixed(0)} µs (${((guard / proxy - 1) * 100).toFixed(1)}%); the target is at most +${allowed.toFixed(0)} µs (10% or 50 µs, whichever is larger): ${guard - proxy <= allowed ? 'met' : 'NOT met'}`)
