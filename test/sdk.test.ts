// The SDK as a host uses it: loading, decisions on the CRM example, fail-closed
// handling of values the engine cannot read, TypeErrors for host bugs, audit events.

import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { canonicalJson, type AuditEvent, type Transport } from '../packages/sdk/src/audit.js'
import { sha256Hex } from '../packages/sdk/src/sha256.js'
import { PERSO_VERSION } from '../src/version.js'
import { SDK_VERSION } from '../packages/sdk/src/version.js'
import type { EvaluateRequest } from '../packages/sdk/src/request.js'
import { tempDir } from './support/temp.js'

const TEMPLATE = new URL('../dist/runtime/runtime.wasm', import.meta.url)
const CRM = new URL('../fixtures/crm.json', import.meta.url)

let wasm: Uint8Array
let wasmPath: string

beforeAll(async () => {
  if (!existsSync(TEMPLATE)) return
  const { compile } = await import('../src/compiler/compile.js')
  const compiled = await compile(readFileSync(CRM), { filename: 'crm.json' })
  wasm = compiled.wasm!
  wasmPath = join(tempDir('sdk-'), 'crm.wasm')
  writeFileSync(wasmPath, wasm)
})

const refund = (amount: unknown, role: unknown = 'agent'): EvaluateRequest =>
  ({ tool: 'process_refund', args: { order_id: 'ORD-1', amount }, role, agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} }) as EvaluateRequest

describe('SDK pieces that need no artifact', () => {
  it('hashes like node:crypto, at block boundaries and for non-ASCII', () => {
    for (const text of ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(64), 'ü🔧'.repeat(100)]) {
      const bytes = new TextEncoder().encode(text)
      expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'))
    }
  })
  it('writes canonical JSON with sorted keys and no undefined members', () => {
    expect(canonicalJson({ b: [1, { z: 1, a: -0 }], a: 'x', u: undefined, é: null })).toBe('{"a":"x","b":[1,{"a":0,"z":1}],"é":null}')
  })
  it('reports the version package.json has, and the SDK the version of its own', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; dependencies: Record<string, string> }
    expect(PERSO_VERSION).toBe(pkg.version)
    const sdk = JSON.parse(readFileSync(new URL('../packages/sdk/package.json', import.meta.url), 'utf8')) as { version: string }
    expect(SDK_VERSION).toBe(sdk.version)
    // perso depends on exactly the SDK of this repository.
    expect(pkg.dependencies['@perso/sdk']).toBe(sdk.version)
  })
  it('exports the SDK from the package root', async () => {
    const root = await import('../src/index.js')
    for (const name of ['Perso', 'consoleTransport', 'fileTransport', 'httpTransport']) expect(root).toHaveProperty(name)
  })
  it('keeps the browser entry free of Node builtins and of the compiler', () => {
    const seen = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      const source = readFileSync(file, 'utf8')
      for (const [, spec] of source.matchAll(/^(?:import|export)\s(?!type\b)[^'"]*?from\s+'([^']+)'/gm)) {
        expect(spec!.startsWith('.'), `${file} imports ${spec}`).toBe(true)
        visit(resolve(dirname(file), spec!.replace(/\.js$/, '.ts')))
      }
    }
    visit(resolve('packages/sdk/src/browser.ts'))
    expect([...seen].filter((f) => !f.startsWith(resolve('packages/sdk/src')) || f.includes('/node/'))).toEqual([])
    expect(seen.size).toBeGreaterThan(5)
  })

  it('the SDK package imports nothing outside itself, and Node builtins only in its node/ room', () => {
    const root = resolve('packages/sdk/src')
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => resolve(root, f))
    expect(files.length).toBeGreaterThan(10)
    for (const file of files) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm)) {
        if (spec === undefined) continue
        if (spec.startsWith('node:')) expect(file, `${file} imports ${spec}`).toContain('/node/')
        else {
          expect(spec.startsWith('.'), `${file} imports ${spec}`).toBe(true)
          expect(resolve(dirname(file), spec).startsWith(root), `${file} imports ${spec}`).toBe(true)
        }
      }
    }
  })
})

describe.skipIf(!existsSync(TEMPLATE))('Perso on the CRM example', () => {
  afterEach(() => vi.restoreAllMocks())

  it('loads from a path, a file URL, bytes, an ArrayBuffer and a module', async () => {
    const { Perso } = await import('../src/index.js')
    const sources = [wasmPath, pathToFileURL(wasmPath), pathToFileURL(wasmPath).href, wasm, wasm.slice().buffer, new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>)]
    for (const source of sources) {
      const perso = await Perso.load(source)
      expect(perso.policyVersion).toBe('crm-1.0.0')
      expect(perso.metadata.counts.entries).toBe(17)
      expect(perso.evaluateSync(refund(120)).decision).toBe('Allow')
    }
  })

  it('decides the demo requests with the artifact’s reasons, sync and async alike', async () => {
    const { Perso } = await import('../src/index.js')
    const perso = await Perso.load(wasm)
    const cases: [EvaluateRequest, string, string][] = [
      [refund(800), 'Deny', "rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500"],
      [refund(120), 'Allow', "rule matched tool 'process_refund' for role 'agent'; condition passed"],
      [{ tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { owner_id: 'mgr-001' } }, 'Allow',
        "rule matched tool 'delete_customer' for role 'manager'; condition passed"],
      [{ tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: null }, resourceAttributes: { owner_id: null } }, 'Deny',
        "rule matched tool 'delete_customer' for role 'manager'; condition failed: AgentAttributes.user_id is null"],
      [{ tool: 'view_customer', role: 'agent' }, 'Allow', "rule matched tool 'view_customer' for role 'agent'; no condition required"],
      [{ tool: 'drop_database', role: 'admin' }, 'Deny', "no rule matched tool 'drop_database' for role 'admin'; applying default_action"],
      [{ tool: '', role: 'admin' }, 'Deny', "no rule matched tool '' for role 'admin'; applying default_action"],
    ]
    for (let round = 0; round < 3; round++) {
      // Rounds 2 and 3 answer from the reason caches; they must not drift.
      for (const [request, decision, reason] of cases) {
        expect(perso.evaluateSync(request)).toEqual({ decision, reason })
        expect(await perso.evaluate(request)).toEqual({ decision, reason })
      }
    }
  })

  it('denies, never throws, on values the engine cannot read, and names the problem', async () => {
    const { Perso } = await import('../src/index.js')
    const perso = await Perso.load(wasm)
    const cyclic: Record<string, unknown> = { n: 1 }
    cyclic.me = [cyclic]
    const deep = (n: number): unknown => (n === 0 ? 0 : { d: deep(n - 1) })
    const throwing = Object.defineProperty({}, 'amount', { enumerable: true, get: () => { throw new Error('boom') } })
    const cases: [EvaluateRequest, string][] = [
      [refund(10n), 'request: args.amount is a BigInt'],
      [refund(NaN), 'request: args.amount is NaN, not a finite number'],
      [refund(-Infinity), 'request: args.amount is -Infinity, not a finite number'],
      [refund('\ud83d'), 'request: args.amount is a string with a lone surrogate'],
      [refund(100, 7), 'request: role is a number, not a string'],
      [refund(100, null), 'request: role is null, not a string'],
      [{ ...refund(100), role: undefined as unknown as string }, 'request: role is missing'],
      [refund(100, 'agent\udc00'), 'request: role is a string with a lone surrogate'],
      [{ ...refund(100), tool: 'process_refund\ud800' }, 'request: tool is a string with a lone surrogate'],
      [{ ...refund(100), args: cyclic }, 'request: args.me[0] is cyclic (it contains itself)'],
      [{ ...refund(100), agentAttributes: deep(128) }, `request: agentAttributes${'.d'.repeat(19)}`],
      [refund(() => 1), 'request: args.amount is a function'],
      [refund(Symbol('s')), 'request: args.amount is a symbol'],
      [refund(new Date(0)), 'request: args.amount is a Date, not a plain object'],
      [refund([1, undefined]), 'request: args.amount[1] is undefined'],
      [{ ...refund(100), resourceAttributes: { ['k\ud800']: 1 } }, 'request: resourceAttributes has a key with a lone surrogate'],
      [{ ...refund(100), args: throwing }, 'request: could not be read: boom'],
    ]
    for (const [request, reason] of cases) {
      const got = perso.evaluateSync(request)
      expect(got.decision, `${reason}: ${got.reason}`).toBe('Deny')
      expect(got.reason.startsWith(reason), `${got.reason} should start with ${reason}`).toBe(true)
    }
    // The limits are the artifact's (spec §5): 127 levels in the arguments text are read, 128 are not; one less under the context.
    expect(perso.evaluateSync({ tool: 'view_customer', role: 'agent', args: deep(127) }).decision).toBe('Allow')
    expect(perso.evaluateSync({ tool: 'view_customer', role: 'agent', args: deep(128) }).reason).toMatch(/nests 128 levels deep or more$/)
    expect(perso.evaluateSync({ tool: 'view_customer', role: 'agent', agentAttributes: deep(126) }).decision).toBe('Allow')
    expect(perso.evaluateSync({ tool: 'view_customer', role: 'agent', agentAttributes: deep(127) }).reason).toMatch(/nests 128 levels deep or more$/)
  })

  it('reads own members only: a polluted prototype grants nothing', async () => {
    const { Perso } = await import('../src/index.js')
    const perso = await Perso.load(wasm)
    const proto = Object.prototype as Record<string, unknown>
    proto.mfa_verified_at = 'now'
    try {
      expect(perso.evaluateSync({ tool: 'access_pii', role: 'agent', agentAttributes: {} }).decision).toBe('Deny')
    } finally {
      delete proto.mfa_verified_at
    }
    const nullProto = Object.assign(Object.create(null) as object, { mfa_verified_at: 'now' })
    expect(perso.evaluateSync({ tool: 'access_pii', role: 'agent', agentAttributes: nullProto }).decision).toBe('Allow')
  })

  it('throws a TypeError for host bugs, at the call', async () => {
    const { Perso } = await import('../src/index.js')
    const perso = await Perso.load(wasm)
    const bad = (x: unknown) => x as never // deliberately wrong types
    expect(() => perso.evaluateSync(bad(undefined))).toThrow(TypeError)
    expect(() => perso.evaluateSync(bad({ role: 'agent' }))).toThrow(/request.tool/)
    expect(() => perso.evaluate(bad({ tool: 5, role: 'agent' }))).toThrow(TypeError)
    expect(() => perso.evaluateSync(bad({ tool: 't', role: 'agent', traceId: 5 }))).toThrow(/traceId/)
    await expect(Perso.load(wasm, bad({ fastPath: 'yes' }))).rejects.toThrow(TypeError)
    await expect(Perso.load(wasm, bad({ audit: { transport: {} } }))).rejects.toThrow(/emit/)
    await expect(Perso.load(wasm, bad({ audit: { transport: { emit() {} }, hashArgs: 1 } }))).rejects.toThrow(/hashArgs/)
    await expect(Perso.load(bad(42))).rejects.toThrow(TypeError)
  })

  it('emits one audit event per decision, in the published shape', async () => {
    const { Perso } = await import('../src/index.js')
    const events: AuditEvent[] = []
    const perso = await Perso.load(wasm, { audit: { transport: { emit: (e) => void events.push(e) } } })
    await perso.evaluate({ ...refund(800), traceId: 'req-1' })
    perso.evaluateSync(refund(10n))
    expect(events).toHaveLength(2)
    const [first, second] = events as [AuditEvent, AuditEvent]
    expect(Object.keys(first).sort()).toEqual(
      ['id', 'traceId', 'timestamp', 'tool', 'args', 'role', 'agentAttributes', 'resourceAttributes', 'decision', 'reason', 'sdkVersion', 'policyVersion'].sort(),
    )
    expect(first).toMatchObject({
      traceId: 'req-1', tool: 'process_refund', args: { order_id: 'ORD-1', amount: 800 }, role: 'agent',
      agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {}, decision: 'Deny', sdkVersion: SDK_VERSION, policyVersion: 'crm-1.0.0',
    })
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Date(first.timestamp).toISOString()).toBe(first.timestamp)
    expect(first.id).not.toBe(second.id)
    // An unreadable part is not carried (it may not even serialize); the reason says why.
    expect(second).toMatchObject({ args: null, traceId: null, decision: 'Deny', reason: 'request: args.amount is a BigInt' })
    expect(() => JSON.stringify(second)).not.toThrow()
  })

  it("records a host's own denial with refuse(): the same event, always Deny, whatever the artifact would say", async () => {
    const { Perso } = await import('../src/index.js')
    const events: AuditEvent[] = []
    const perso = await Perso.load(wasm, { audit: { transport: { emit: (e) => void events.push(e) } } })
    // The artifact would allow this request; refuse() never asks it.
    expect(perso.evaluateSync(refund(120)).decision).toBe('Allow')
    expect(perso.refuse({ ...refund(120), traceId: 'req-7' }, 'perso guard: the definition of `process_refund` changed')).toEqual({ decision: 'Deny', reason: 'perso guard: the definition of `process_refund` changed' })
    expect(events[1]).toMatchObject({ traceId: 'req-7', tool: 'process_refund', role: 'agent', decision: 'Deny', reason: 'perso guard: the definition of `process_refund` changed' })
    // A request without a readable role still makes its event; a host bug is a TypeError, as for evaluate.
    expect(perso.refuse({ tool: 'process_refund' } as EvaluateRequest, 'no caller').decision).toBe('Deny')
    expect(events[2]).toMatchObject({ role: null, reason: 'no caller' })
    expect(() => perso.refuse({ tool: 5 } as unknown as EvaluateRequest, 'x')).toThrow(TypeError)
    expect(() => perso.refuse(refund(1), 5 as unknown as string)).toThrow(TypeError)
    // Without an audit transport it just answers the denial.
    expect((await Perso.load(wasm)).refuse(refund(1), 'r')).toEqual({ decision: 'Deny', reason: 'r' })
  })

  it('hashes canonical arguments when asked', async () => {
    const { Perso } = await import('../src/index.js')
    const events: AuditEvent[] = []
    const perso = await Perso.load(wasm, { audit: { transport: { emit: (e) => void events.push(e) }, hashArgs: true } })
    perso.evaluateSync({ tool: 'process_refund', role: 'agent', args: { b: 'ü', amount: 5 } })
    perso.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 5, b: 'ü' } })
    const want = createHash('sha256').update('{"amount":5,"b":"ü"}').digest('hex')
    expect(events.map((e) => e.args)).toEqual([want, want])
  })

  it('keeps decisions when a transport throws or rejects, and counts the failures', async () => {
    const { Perso } = await import('../src/index.js')
    const throwing: Transport = { emit: () => { throw new Error('disk full') } }
    const rejecting: Transport = { emit: async () => { throw new Error('network down') } }
    for (const transport of [throwing, rejecting]) {
      const perso = await Perso.load(wasm, { audit: { transport } })
      expect(perso.evaluateSync(refund(120))).toEqual({ decision: 'Allow', reason: "rule matched tool 'process_refund' for role 'agent'; condition passed" })
      expect(await perso.evaluate(refund(800)).then((d) => d.decision)).toBe('Deny')
      await new Promise((r) => setTimeout(r, 0))
      expect(perso.auditFailures).toBe(2)
    }
  })

  it('flushes the transport on close and refuses calls after it', async () => {
    const { Perso, consoleTransport } = await import('../src/index.js')
    const closed = vi.fn()
    const perso = await Perso.load(wasm, { audit: { transport: { emit() {}, close: closed } } })
    await perso.close()
    await perso.close()
    expect(closed).toHaveBeenCalledTimes(1)
    expect(() => perso.evaluateSync(refund(1))).toThrow(/after close/)

    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const loud = await Perso.load(wasm, { audit: { transport: consoleTransport() } })
    loud.evaluateSync({ ...refund(120), traceId: 't-9' })
    expect(log).toHaveBeenCalledTimes(1)
    expect(JSON.parse(log.mock.calls[0]![0] as string)).toMatchObject({ traceId: 't-9', decision: 'Allow' })
  })
})
