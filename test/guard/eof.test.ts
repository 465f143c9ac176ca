// perso guard over stdio when the client closes its stdin, as
// `printf … | perso guard …` does: the answers to what it sent still arrive,
// the upstream is stopped, and the guard exits 0 by itself. A guard that
// hangs fails at the suite's testTimeout; nothing here times the guard.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { EVERYTHING, FILESYSTEM, PERSO, alive, policyFile, temp } from './support.js'

const policy = policyFile({ version: 'all-1', default_action: 'Allow', tools: [], roles: ['user'], rules: [] })

const SERVERS: [string, string[]][] = [
  ['server-everything', ['node', EVERYTHING, 'stdio']],
  ['server-filesystem', ['node', FILESYSTEM, temp('eof-')]],
]

interface Answer {
  id?: number
  result?: { serverInfo?: { name: string }; tools?: { name: string }[] }
}

/** The pids of `pid`'s child processes. */
const childrenOf = (pid: number): number[] =>
  spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([, parent]) => parent === pid)
    .map(([child]) => child!)

// A test that timed out is still awaiting: its guard is stopped here.
let guard: ChildProcess | undefined
afterEach(() => {
  guard?.kill()
  guard = undefined
})

describe('perso guard over stdio: a client that closes its stdin', () => {
  it.each(SERVERS)('%s: the answers to what it sent arrive, the upstream is stopped, and the guard exits 0', async (_, server) => {
    const started = spawn(process.execPath, [PERSO, 'guard', policy, '--role', 'user', '--', ...server], { stdio: ['pipe', 'pipe', 'pipe'] })
    guard = started
    const exited = once(started, 'exit')
    let stderr = ''
    started.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    const lines = createInterface({ input: started.stdout })[Symbol.asyncIterator]()
    /** The guard's answer to request `id`, skipping the notifications before it. */
    const answerTo = async (id: number): Promise<Answer> => {
      for (let line = await lines.next(); line.done !== true; line = await lines.next()) {
        const message = JSON.parse(line.value as string) as Answer
        if (message.id === id) return message
      }
      throw new Error(`the guard's stdout ended with no answer to request ${id}\n${stderr}`)
    }
    const send = (message: object): boolean => started.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`)

    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
    const initialized = await answerTo(1)
    expect(initialized.result?.serverInfo?.name).toBeTruthy()
    const upstream = childrenOf(started.pid!)
    expect(upstream).toHaveLength(1)

    // tools/list is still in flight when stdin ends.
    send({ method: 'notifications/initialized' })
    send({ id: 2, method: 'tools/list' })
    started.stdin.end()
    const listed = await answerTo(2)
    expect(listed.result?.tools?.length).toBeGreaterThan(0)

    const [code, signal] = await exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(upstream.filter(alive)).toEqual([])
    expect(stderr).not.toMatch(/^\s+at /m)
  })
})
