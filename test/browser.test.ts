// The SDK in a real browser: headless Chromium loads the browser entry (src/browser.ts,
// transpiled file by file as it asks for them, so a Node-only import fails to load)
// and an artifact over HTTP from 127.0.0.1, and decides like the SDK in Node.
// Needs Debian's chromium (`apt-get install -y chromium`; .ci/run installs it).

import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, normalize, resolve } from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Decision, EvaluateRequest } from '../src/sdk/request.js'

const CHROMIUM = '/usr/bin/chromium'
const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const SRC = resolve('src')

if (!existsSync(CHROMIUM)) {
  console.warn(`\n*** browser test SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`)
}

const REQUESTS: EvaluateRequest[] = [
  { tool: 'process_refund', args: { amount: 800 }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {}, traceId: 'req-1' },
  { tool: 'process_refund', args: { amount: 120 }, role: 'agent' },
  { tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { owner_id: 'mgr-001' } },
  { tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { owner_id: 'mgr-002' } },
  { tool: 'bulk_update', role: 'admin', agentAttributes: { mfa_verified_at: '2026-11-21T09:00:00Z' }, resourceAttributes: { env: 'production' } },
  { tool: 'drop_database', role: 'admin' },
  { tool: 'process_refund', args: { amount: 'a\ud800' }, role: 'agent' },
]

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { Perso, consoleTransport } from '/src/browser.js'
try {
  const events = []
  const perso = await Perso.load('crm.wasm', { audit: { transport: { emit: (e) => events.push(e) } } })
  const requests = ${JSON.stringify(REQUESTS).replace(/</g, '\\u003c')}
  requests.push({ tool: 'process_refund', args: { amount: 10n }, role: 'agent' })
  const sync = requests.map((r) => perso.evaluateSync(r))
  const viaAsync = await Promise.all(requests.map((r) => perso.evaluate(r)))
  await perso.close()
  window.result = { sync, viaAsync, version: perso.policyVersion, events: events.length, console: typeof consoleTransport }
} catch (e) {
  window.result = { error: String(e && e.stack || e) }
}
</script>`

let server: Server | undefined
let origin = ''

async function serve(wasm: Uint8Array): Promise<void> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
    if (path === '/crm.wasm') return res.writeHead(200, { 'content-type': 'application/wasm' }).end(wasm)
    const file = normalize(join(SRC, path.replace(/^\/src\//, '').replace(/\.js$/, '.ts')))
    if (!path.startsWith('/src/') || !file.startsWith(SRC) || !existsSync(file)) return res.writeHead(404).end()
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(js)
  })
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

afterAll(async () => {
  if (server) await new Promise((done) => server!.close(done))
})

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(TEMPLATE))('SDK in headless Chromium', () => {
  let wasm: Uint8Array
  beforeAll(async () => {
    const { compile } = await import('../src/compiler/compile.js')
    wasm = (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm!
    await serve(wasm)
  })

  it('loads an artifact by URL and decides like Node', async () => {
    const { chromium } = await import('playwright-core')
    const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'perso-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    })
    try {
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      await page.goto(origin + '/')
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 15_000 })
      const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as {
        error?: string; sync: Decision[]; viaAsync: Decision[]; version: string; events: number; console: string
      }
      expect(result.error, errors.join('\n')).toBeUndefined()

      const { Perso } = await import('../src/index.js')
      const perso = await Perso.load(wasm)
      const want = REQUESTS.map((r) => perso.evaluateSync(r))
      want.push(perso.evaluateSync({ tool: 'process_refund', args: { amount: 10n }, role: 'agent' }))
      expect(result.sync).toEqual(want)
      expect(result.viaAsync).toEqual(want)
      expect(result.sync.map((d) => d.decision)).toEqual(['Deny', 'Allow', 'Allow', 'Deny', 'Allow', 'Deny', 'Deny', 'Deny'])
      expect(result.version).toBe('crm-1.0.0')
      expect(result.events).toBe(16)
      expect(result.console).toBe('function')
    } finally {
      await context.close()
    }
  }, 60_000)
})
