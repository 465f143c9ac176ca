// The SDK in a real browser: headless Chromium loads the browser entry (packages/sdk/src/browser.ts,
// transpiled file by file as it asks for them, so a Node-only import fails to load)
// and an artifact over HTTP from 127.0.0.1, and decides like the SDK in Node; and
// path (e) of test/paths.test.ts: the spec corpus's requests, on both SDK paths,
// answer what the raw ABI answers in Node.
// Needs Debian's chromium (`apt-get install -y chromium`; .ci/run installs it).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, normalize, resolve } from 'node:path'
import ts from 'typescript'
import type { BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Decision, EvaluateRequest } from '../packages/sdk/src/request.js'
import { decidedOf, inputs, missesWant, readSpec, requestOf, SKIPS, specFiles } from './support/spec-corpus.js'

const CHROMIUM = '/usr/bin/chromium'
const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const SRC = resolve('packages/sdk/src')

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

/** Path (e): each spec file's artifact loaded twice (fast path, text path), every request of /corpus.json asked of both. */
const CORPUS_PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { Perso } from '/src/browser.js'
try {
  const corpus = await (await fetch('/corpus.json')).json()
  const answers = []
  for (const { file, requests } of corpus) {
    const fast = await Perso.load('/spec/' + file + '.wasm')
    const text = await Perso.load('/spec/' + file + '.wasm', { fastPath: false })
    answers.push({ file, fast: requests.map((r) => fast.evaluateSync(r)), text: requests.map((r) => text.evaluateSync(r)) })
  }
  window.result = { answers }
} catch (e) {
  window.result = { error: String(e && e.stack || e) }
}
</script>`

let server: Server | undefined
let origin = ''

/** Serves the pages, the browser entry's sources, and `files` (path → bytes, JSON or wasm). */
async function serve(files: Map<string, Uint8Array | string>): Promise<void> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
    if (path === '/corpus.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(CORPUS_PAGE)
    const file = files.get(path)
    if (file !== undefined) {
      return res.writeHead(200, { 'content-type': typeof file === 'string' ? 'application/json' : 'application/wasm' }).end(file)
    }
    const source = normalize(join(SRC, path.replace(/^\/src\//, '').replace(/\.js$/, '.ts')))
    if (!path.startsWith('/src/') || !source.startsWith(SRC) || !existsSync(source)) return res.writeHead(404).end()
    const js = ts.transpileModule(readFileSync(source, 'utf8'), {
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

/** Opens `page` in the browser and waits for its `window.result`. */
async function resultOf<T>(browser: BrowserContext, page: string): Promise<T & { error?: string; pageErrors: string }> {
  const tab = await browser.newPage()
  const errors: string[] = []
  tab.on('pageerror', (e) => errors.push(String(e)))
  await tab.goto(origin + page)
  await tab.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 15_000 })
  const result = (await tab.evaluate(() => (window as unknown as { result: unknown }).result)) as T & { error?: string }
  await tab.close()
  return { ...result, pageErrors: errors.join('\n') }
}

/** The spec corpus as path (e) asks it: per file, its artifact, the requests an SDK user can send, and (a)'s answers in Node. */
async function corpus(): Promise<{ file: string; wasm: Uint8Array; cases: number[]; requests: EvaluateRequest[]; answers: string[]; skipped: string[] }[]> {
  const [{ compile }, { RawArtifact }] = await Promise.all([import('../src/compiler/compile.js'), import('../packages/sdk/src/abi.js')])
  return Promise.all(specFiles.map(async (file) => {
    const spec = readSpec(file)
    const wasm = (await compile(JSON.stringify(spec.policy), { filename: file })).wasm!
    const raw = await RawArtifact.load(wasm)
    const cases: number[] = []
    const requests: EvaluateRequest[] = []
    const skipped: string[] = []
    spec.cases.forEach((c, i) => {
      const form = requestOf(c)
      if ('skip' in form) return void skipped.push(SKIPS[form.skip])
      cases.push(i)
      requests.push(form.request)
    })
    return { file, wasm, cases, requests, skipped, answers: cases.map((i) => raw.evaluateBytes(...inputs(spec.cases[i]!))) }
  }))
}

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(TEMPLATE))('SDK in headless Chromium', () => {
  let wasm: Uint8Array
  let spec: Awaited<ReturnType<typeof corpus>>
  let browser: BrowserContext | undefined
  const profile = mkdtempSync(join(tmpdir(), 'perso-chromium-'))
  beforeAll(async () => {
    const { compile } = await import('../src/compiler/compile.js')
    wasm = (await compile(readFileSync(new URL('../fixtures/crm.json', import.meta.url)))).wasm!
    spec = await corpus()
    const files = new Map<string, Uint8Array | string>([['/crm.wasm', wasm]])
    for (const s of spec) files.set(`/spec/${s.file}.wasm`, s.wasm)
    files.set('/corpus.json', JSON.stringify(spec.map(({ file, requests }) => ({ file, requests }))))
    await serve(files)
    const { chromium } = await import('playwright-core')
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    rmSync(profile, { recursive: true, force: true })
  })

  it('loads an artifact by URL and decides like Node', async () => {
    const result = await resultOf<{ sync: Decision[]; viaAsync: Decision[]; version: string; events: number; console: string }>(browser!, '/')
    expect(result.error, result.pageErrors).toBeUndefined()

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
  }, 60_000)

  it('(e) answers the spec corpus on both SDK paths as the raw ABI answers it in Node', async () => {
    const result = await resultOf<{ answers: { file: string; fast: Decision[]; text: Decision[] }[] }>(browser!, '/corpus.html')
    expect(result.error, result.pageErrors).toBeUndefined()
    const differences: string[] = []
    for (const [f, s] of spec.entries()) {
      const { fast, text } = result.answers[f]!
      const cases = readSpec(s.file).cases
      s.cases.forEach((i, k) => {
        const want = decidedOf(s.answers[k]!)
        const at = `${s.file} #${i + 1} ${cases[i]!.note ?? ''}`
        if (JSON.stringify(fast[k]) !== JSON.stringify(want)) differences.push(`${at}: (a) answers ${JSON.stringify(want)}, the browser's fast path ${JSON.stringify(fast[k])}`)
        if (JSON.stringify(text[k]) !== JSON.stringify(want)) differences.push(`${at}: (a) answers ${JSON.stringify(want)}, the browser's text path ${JSON.stringify(text[k])}`)
        const missed = missesWant(fast[k]!, cases[i]!.want)
        if (missed !== undefined) differences.push(`${at}: ${missed}`)
      })
    }
    expect(differences).toEqual([])
    const run = spec.reduce((n, s) => n + s.cases.length, 0)
    const skipped = new Map<string, number>()
    for (const why of spec.flatMap((s) => s.skipped)) skipped.set(why, (skipped.get(why) ?? 0) + 1)
    console.log(`(e) browser, fast and text paths: ${run} run, ${[...skipped.values()].reduce((a, b) => a + b, 0)} skipped: ` +
      [...skipped].map(([why, n]) => `${n} ${why}`).join('; '))
    expect(run).toBeGreaterThan(100)
  }, 60_000)
})
