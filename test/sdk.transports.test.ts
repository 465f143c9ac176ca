// The Node transports under load: the file transport keeps every line whole, the
// HTTP transport never makes a decision wait and counts what it could not deliver.

import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../packages/sdk/src/audit.js'
import { tempDir } from './support/temp.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
let wasm: Uint8Array

beforeAll(async () => {
  if (!existsSync(TEMPLATE)) return
  const { compile } = await import('../src/compiler/compile.js')
  wasm = (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm!
})

const request = (i: number) => ({
  tool: i % 3 === 0 ? 'view_customer' : 'process_refund',
  args: { order_id: `ORD-${i}`, amount: i % 1000, note: 'ü "quoted"\nline' },
  role: 'agent',
  agentAttributes: { user_id: 'agt-099' },
  resourceAttributes: {},
  traceId: `req-${i}`,
})

/** A local audit sink: collects the events of every POST after `delayMs`. */
/** A local audit sink. A held sink answers no POST until `release()`. */
async function sink(held = false): Promise<{ url: string; events: AuditEvent[]; posts: IncomingMessage[]; server: Server; release: () => void }> {
  const events: AuditEvent[] = []
  const posts: IncomingMessage[] = []
  let release = (): void => {}
  const gate = held ? new Promise<void>((open) => (release = open)) : Promise.resolve()
  const server = createServer((req, res) => {
    posts.push(req)
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      void gate.then(() => {
        events.push(...(JSON.parse(body) as AuditEvent[]))
        res.writeHead(204).end()
      })
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`, events, posts, server, release }
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((done) => server.close(done))
  }
})

describe.skipIf(!existsSync(TEMPLATE))('file transport', () => {
  it('writes 100k intact JSONL lines from concurrent async callers', async () => {
    const { Perso, fileTransport } = await import('../src/index.js')
    const path = join(tempDir('audit-'), 'decisions.jsonl')
    const perso = await Perso.load(wasm, { audit: { transport: fileTransport(path) } })
    const callers = 200
    const each = 500
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let k = 0; k < each; k++) {
          await perso.evaluate(request(c * each + k))
          if (k % 50 === 0) await new Promise((r) => setImmediate(r))
        }
      }),
    )
    await perso.close()
    const text = readFileSync(path, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    const lines = text.slice(0, -1).split('\n')
    expect(lines).toHaveLength(callers * each)
    const traces = new Set<string>()
    for (const line of lines) {
      const event = JSON.parse(line) as AuditEvent
      traces.add(event.traceId!)
      expect(event.policyVersion).toBe('crm-1.0.0')
    }
    expect(traces.size).toBe(callers * each)
  }, 30_000)

  it('appends to what is there and refuses an unwritable path at once', async () => {
    const { Perso, fileTransport } = await import('../src/index.js')
    const path = join(tempDir('audit-'), 'decisions.jsonl')
    for (let run = 0; run < 2; run++) {
      const perso = await Perso.load(wasm, { audit: { transport: fileTransport(path) } })
      perso.evaluateSync(request(run))
      await perso.close()
    }
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2)
    expect(() => fileTransport(join(path, 'not-a-dir', 'x.jsonl'))).toThrow()
  })
})

describe.skipIf(!existsSync(TEMPLATE))('HTTP transport', () => {
  it('sends every event in batches without making a decision wait on the network', async () => {
    const { Perso, httpTransport } = await import('../src/index.js')
    const server = await sink(true)
    servers.push(server.server)
    const transport = httpTransport(server.url, { headers: { authorization: 'Bearer t' }, batchSize: 200, timeoutMs: 60_000 })
    const perso = await Perso.load(wasm, { audit: { transport } })
    // The sink answers no POST until released, so had one decision waited on the
    // network, this loop would never end.
    for (let i = 0; i < 1000; i++) await perso.evaluate(request(i))
    expect(server.events).toHaveLength(0)
    server.release()
    await perso.close()
    expect(transport.sent).toBe(1000)
    expect(transport.dropped).toBe(0)
    expect(server.events.map((e) => e.traceId)).toEqual(Array.from({ length: 1000 }, (_, i) => `req-${i}`))
    expect(server.posts.length).toBe(5)
    expect(server.posts[0]!.headers.authorization).toBe('Bearer t')
    expect(server.posts[0]!.headers['content-type']).toBe('application/json')
  })

  it('counts what it drops when the server is down, and decides all the same', async () => {
    const { Perso, httpTransport } = await import('../src/index.js')
    const down = await sink()
    await new Promise((done) => down.server.close(done))
    const transport = httpTransport(down.url, { timeoutMs: 1000, batchSize: 10 })
    const perso = await Perso.load(wasm, { audit: { transport } })
    for (let i = 0; i < 100; i++) expect(perso.evaluateSync(request(3 * i)).decision).toBe('Allow')
    await perso.close()
    expect(transport.sent).toBe(0)
    expect(transport.dropped).toBe(100)
    expect(perso.auditFailures).toBe(0)
  })

  it('bounds its queue while the server is slow, and times out', async () => {
    const { httpTransport, Perso } = await import('../src/index.js')
    const slow = await sink(true)
    servers.push(slow.server)
    const transport = httpTransport(slow.url, { timeoutMs: 200, batchSize: 5, maxQueue: 20 })
    const perso = await Perso.load(wasm, { audit: { transport } })
    for (let i = 0; i < 100; i++) perso.evaluateSync(request(i))
    expect(transport.queued).toBe(20)
    expect(transport.dropped).toBe(80)
    await perso.close()
    expect(transport.sent).toBe(0)
    expect(transport.dropped).toBe(100)
  })

  it('refuses bad options with a TypeError', async () => {
    const { httpTransport } = await import('../src/index.js')
    expect(() => httpTransport('not a url')).toThrow(TypeError)
    expect(() => httpTransport('http://127.0.0.1:1/', { batchSize: 0 })).toThrow(TypeError)
    expect(() => httpTransport('http://127.0.0.1:1/', { timeoutMs: -1 })).toThrow(TypeError)
  })
})
