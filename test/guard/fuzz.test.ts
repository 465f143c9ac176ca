// The client side of perso guard, fed what no well-behaved client sends:
// malformed JSON, batches, repeated keys, huge ids, unknown methods, strings
// of 1 MB. The guard must not crash or hang (a ping after each is answered),
// and nothing reaches the upstream that was not decided Allow (the recording
// server keeps what it received). Bounded: a fixed list and a seeded sample.
//
// seed: PERSO_SEED=<seed>

import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { prng } from '../support/json-text.js'
import { PERSO, policyFile, RECORDING, temp } from './support.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)

const policy = policyFile({
  version: 'fuzz-1',
  default_action: 'Deny',
  tools: ['open', 'guarded', 'closed'],
  roles: ['user'],
  rules: [
    { tool_name: 'open', roles: ['user'] },
    { tool_name: 'guarded', roles: ['user'], condition: { NumericCheck: { source: 'Arguments', field: 'n', op: 'Lte', value: 5 } } },
  ],
})
const record = join(temp('fuzz-'), 'calls.jsonl')
const guard = spawn(process.execPath, [PERSO, 'guard', policy, '--role', 'user', '--', 'node', RECORDING], {
  env: { ...process.env, PERSO_TEST_TOOLS: JSON.stringify(['open', 'guarded', 'closed']), PERSO_TEST_RECORD: record },
  stdio: ['pipe', 'pipe', 'pipe'],
})
let stderr = ''
guard.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
const answers = new Map<string, unknown>()
const waiting = new Map<string, () => void>()
createInterface({ input: guard.stdout }).on('line', (line) => {
  let message: { id?: unknown }
  try {
    message = JSON.parse(line) as { id?: unknown }
  } catch {
    return
  }
  const key = JSON.stringify(message.id ?? null)
  answers.set(key, message)
  waiting.get(key)?.()
})
afterAll(() => void guard.kill())

const send = (line: string): void => void guard.stdin.write(`${line}\n`)
/** Sends a request and waits for its answer (or fails after 10 s: a hang). */
function ask(id: number | string, method: string, params: unknown = {}): Promise<unknown> {
  const key = JSON.stringify(id)
  answers.delete(key)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${method} ${key} in 10 s: ${stderr.slice(-500)}`)), 10_000)
    waiting.set(key, () => {
      clearTimeout(timer)
      waiting.delete(key)
      resolve(answers.get(key))
    })
    send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
  })
}

let pings = 0
const alive = async (): Promise<void> => {
  const answer = (await ask(`ping-${++pings}`, 'ping')) as { result?: unknown }
  expect(answer.result).toEqual({})
}

const MB = 'x'.repeat(1 << 20)

describe('perso guard fed hostile client messages', () => {
  it('initializes', async () => {
    const init = (await ask(0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } })) as { result?: unknown }
    expect(init.result).toBeDefined()
    send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))
    await alive()
  })

  it('survives each hostile line, and keeps deciding', async () => {
    const lines = [
      '{',
      'not json at all',
      '',
      '[]',
      JSON.stringify([{ jsonrpc: '2.0', id: 901, method: 'tools/call', params: { name: 'closed', arguments: {} } }]),
      '{"jsonrpc":"2.0","id":902,"method":"tools/call","params":{"name":"open","name":"closed","arguments":{}}}',
      '{"jsonrpc":"2.0","id":903,"method":"tools/call","params":{"name":"guarded","arguments":{"n":1},"arguments":{"n":99}}}',
      '{"jsonrpc":"2.0","id":904,"method":"tools/call","params":{"name":"guarded","arguments":{"n":99,"n":1}}}',
      JSON.stringify({ jsonrpc: '2.0', id: 1e300, method: 'tools/call', params: { name: 'closed', arguments: {} } }),
      JSON.stringify({ jsonrpc: '2.0', id: 'i'.repeat(10_000), method: 'tools/call', params: { name: 'closed' } }),
      JSON.stringify({ jsonrpc: '2.0', id: 905, method: 'no/such/method', params: {} }),
      JSON.stringify({ jsonrpc: '2.0', id: 906, method: 'tools/call', params: { name: 'guarded', arguments: { n: 1, note: MB } } }),
      JSON.stringify({ jsonrpc: '2.0', id: 907, method: 'tools/call', params: { name: 'closed', arguments: { note: MB } } }),
      JSON.stringify({ jsonrpc: '2.0', id: 908, method: 'tools/call', params: { name: MB, arguments: {} } }),
      JSON.stringify({ jsonrpc: '2.0', id: 909, method: 'tools/call', params: { name: 'guarded', arguments: [1, 2] } }),
      JSON.stringify({ jsonrpc: '2.0', id: 910, method: 'tools/call', params: { arguments: {} } }),
      JSON.stringify({ jsonrpc: '2.0', id: 911, method: 'tools/call', params: 'open' }),
      JSON.stringify({ jsonrpc: '1.0', id: 912, method: 'tools/call', params: { name: 'closed' } }),
    ]
    const random = prng(SEED)
    for (let i = 0; i < 40; i++) {
      const bytes = Array.from({ length: 1 + Math.floor(random() * 80) }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('')
      lines.push(random() < 0.5 ? bytes : `{"jsonrpc":"2.0","id":${1000 + i},"method":"tools/call","params":{"name":"${['open', 'guarded', 'closed'][i % 3]}","arguments":${bytes}}}`)
    }
    console.log(`guard fuzz: seed ${SEED}, ${lines.length} lines`)
    for (const line of lines) {
      send(line)
      await alive()
    }
    expect(guard.exitCode).toBeNull()
  })

  it('forwarded only calls the policy allows', async () => {
    await alive()
    const received = existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { name: string; arguments: Record<string, unknown> | null }) : []
    for (const call of received) {
      const n = call.arguments?.n
      const allowed = call.name === 'open' || (call.name === 'guarded' && typeof n === 'number' && n <= 5)
      expect(allowed, JSON.stringify(call).slice(0, 200)).toBe(true)
    }
    // The repeated keys were decided as the value that was forwarded: guarded with n 1 (last of 904), arguments {n:99} (last of 903) denied.
    expect(received.some((c) => c.name === 'guarded' && c.arguments?.n === 1)).toBe(true)
    expect(received.some((c) => c.name === 'closed')).toBe(false)
    console.log(`guard fuzz: ${received.length} calls reached the upstream, all allowed`)
  })
})
