// `npm run bench`: perso's numbers on the CRM example, all measured in one run.
// The file is a list of sections; adding a measurement is adding one function to
// SECTIONS. Needs the build (`npm run build`): it imports dist/.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { compareMedians, printTable } from './measure.js'
import { SDK_REQUESTS as REQUESTS, cycling } from './scenarios.js'

const root = new URL('../', import.meta.url)
const { compile, Perso } = await import(new URL('dist/src/index.js', root).href)
const { RawArtifact } = await import(new URL('packages/sdk/dist/esm/abi.js', root).href)
const { readRequest } = await import(new URL('packages/sdk/dist/esm/request.js', root).href)

/** The context object of each request as the raw ABI reads it, built once (not part of any timing). */
const CONTEXTS = REQUESTS.map((r) => ({ role: r.role, agent_attrs: r.agentAttributes, resource_attrs: r.resourceAttributes }))

/** The same rules as fixtures/crm.json, written by hand: the floor. */
function handWritten(tool, role, args, agent, resource) {
  const staff = role === 'agent' || role === 'manager' || role === 'admin'
  const has = (o, k) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.hasOwn(o, k) && o[k] !== null && o[k] !== undefined
  switch (tool) {
    case 'view_customer':
    case 'update_customer':
      return staff
    case 'process_refund': {
      const limit = role === 'agent' ? 500 : role === 'manager' || role === 'admin' ? 2000 : undefined
      return limit !== undefined && typeof args?.amount === 'number' && args.amount <= limit
    }
    case 'delete_customer':
      if (role === 'admin') return true
      return role === 'manager' && has(agent, 'user_id') && has(resource, 'owner_id') && agent.user_id === resource.owner_id
    case 'access_pii':
      return staff && has(agent, 'mfa_verified_at')
    case 'export_data':
      return (role === 'manager' || role === 'admin') && resource?.env === 'production'
    case 'bulk_update':
      return role === 'admin' && has(agent, 'mfa_verified_at') && resource?.env === 'production'
    default:
      return false
  }
}

/** The reference evaluator (test/support/reference.ts), transpiled to plain JS for this run. */
async function loadReference() {
  const dir = join(tmpdir(), `perso-bench-reference-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  // reference.ts and the test/support modules it imports, followed through their `./x.js` imports.
  const names = ['reference']
  for (let i = 0; i < names.length; i++) {
    const source = readFileSync(new URL(`test/support/${names[i]}.ts`, root), 'utf8')
    for (const [, name] of source.matchAll(/from '\.\/([\w-]+)\.js'/g)) if (!names.includes(name)) names.push(name)
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    writeFileSync(join(dir, `${names[i]}.js`), js)
  }
  return import(pathToFileURL(join(dir, 'reference.js')).href)
}

async function loadCedar() {
  const cedar = await import('@cedar-policy/cedar-wasm/nodejs')
  const policies = readFileSync(new URL('bench/cedar/crm.cedar', root), 'utf8')
  const parsed = cedar.preparsePolicySet('crm', { staticPolicies: policies })
  if (parsed.type !== 'success') throw new Error(`cedar did not parse bench/cedar/crm.cedar: ${JSON.stringify(parsed)}`)
  return (k) => {
    const r = REQUESTS[k]
    const answer = cedar.statefulIsAuthorized({
      principal: { type: 'Role', id: r.role },
      action: { type: 'Action', id: r.tool },
      resource: { type: 'Resource', id: 'r' },
      context: { args: r.args, agent_attrs: r.agentAttributes, resource_attrs: r.resourceAttributes },
      preparsedPolicySetId: 'crm',
      entities: [],
    })
    if (answer.type !== 'success') throw new Error(`cedar failed: ${JSON.stringify(answer.errors)}`)
    return answer.response.decision === 'allow' ? 'Allow' : 'Deny'
  }
}

const fmt = (ns) => (ns >= 10_000 ? ns.toFixed(0) : ns.toFixed(1))
const ratio = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2)) + '×'

/**
 * The artifact driven the way the published perso SDKs drive the older engine:
 * stringify the arguments and the context, encode each text, alloc and write
 * three buffers (never released: one widely used SDK does not), evaluate, read
 * and decode the response, parse it, release it.
 */
function publishedHost(wasm) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  const put = (text) => {
    const bytes = encoder.encode(text)
    const ptr = ex.alloc(bytes.length)
    new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes)
    return [ptr, bytes.length]
  }
  return {
    evaluate(tool, args, context) {
      const [t, a, c] = [put(tool), put(JSON.stringify(args)), put(JSON.stringify(context))]
      const resp = ex.evaluate(t[0], t[1], a[0], a[1], c[0], c[1])
      const n = new DataView(ex.memory.buffer).getUint32(resp, true)
      const answer = JSON.parse(decoder.decode(new Uint8Array(ex.memory.buffer, resp + 4, n)))
      ex.dealloc(resp, 4 + n)
      return answer.decision ?? 'Deny'
    },
  }
}

/** ns per decision of each way of deciding the CRM scenario, side by side. */
async function decisionSpeed({ wasm, policy }) {
  const published = publishedHost(wasm)
  const sdk = await Perso.load(wasm)
  const sdkText = await Perso.load(wasm, { fastPath: false })
  const raw = RawArtifact.loadSync(wasm)
  const reference = await loadReference()
  const cedar = await loadCedar()
  const encoder = new TextEncoder()

  // What the one view of each request costs (docs/sdk.md): the fast path on views read beforehand, without the walk.
  const views = REQUESTS.map((r) => readRequest(r, r.tool).view)
  const fast = sdk.fast
  const candidates = {
    'SDK evaluateSync (fast path)': cycling((k) => sdk.evaluateSync(REQUESTS[k]).decision),
    'SDK fast path on a view read beforehand': cycling((k) => fast.decide(views[k]).decision),
    'SDK evaluateSync (text path)': cycling((k) => sdkText.evaluateSync(REQUESTS[k]).decision),
    'raw ABI, JSON text': cycling((k) => {
      const r = REQUESTS[k]
      return JSON.parse(raw.evaluateStrings(r.tool, JSON.stringify(r.args), JSON.stringify(CONTEXTS[k]))).decision
    }),
    'as the published SDKs drive the older engine': cycling((k) => published.evaluate(REQUESTS[k].tool, REQUESTS[k].args, CONTEXTS[k])),
    'reference evaluator, JSON text': cycling((k) => {
      const r = REQUESTS[k]
      const answer = reference.referenceEvaluate(policy, encoder.encode(r.tool), encoder.encode(JSON.stringify(r.args)), encoder.encode(JSON.stringify(CONTEXTS[k])))
      return answer.decision
    }),
    '@cedar-policy/cedar-wasm (preparsed)': cycling(cedar),
    'hand-written JS (floor)': cycling((k) => {
      const r = REQUESTS[k]
      return handWritten(r.tool, r.role, r.args, r.agentAttributes, r.resourceAttributes) ? 'Allow' : 'Deny'
    }),
    'JSON.stringify(args)+JSON.stringify(context)': cycling((k) => JSON.stringify(REQUESTS[k].args) + JSON.stringify(CONTEXTS[k])),
  }

  // Every decider must agree on the scenario before its speed means anything.
  const want = REQUESTS.map((r) => sdk.evaluateSync(r).decision)
  for (const [name, decide] of Object.entries(candidates)) {
    if (name.startsWith('JSON.stringify')) continue
    const got = REQUESTS.map(() => decide())
    if (got.join() !== want.join()) throw new Error(`${name} decides ${got.join()}, the SDK ${want.join()}`)
  }

  const medians = compareMedians(candidates, { rounds: Number(process.env.BENCH_ROUNDS ?? 15), batch: Number(process.env.BENCH_BATCH ?? 2000), warmup: 3 })
  const base = medians['SDK evaluateSync (fast path)']
  console.log(`\nDecisions on the CRM example (${REQUESTS.length} calls in rotation, ${want.filter((d) => d === 'Allow').length} allowed), median ns per decision, interleaved rounds:\n`)
  printTable(
    ['candidate', 'ns/decision', 'vs SDK'],
    Object.entries(medians).map(([name, ns]) => [name, fmt(ns), ratio(ns / base)]),
  )
  const stringify = medians['JSON.stringify(args)+JSON.stringify(context)']
  const cedarNs = medians['@cedar-policy/cedar-wasm (preparsed)']
  const publishedNs = medians['as the published SDKs drive the older engine']
  const viewNs = medians['SDK fast path on a view read beforehand']
  console.log(`\npublished-SDK way / SDK: ${ratio(publishedNs / base)} (target ≥ 10×); cedar-wasm / SDK: ${ratio(cedarNs / base)} (target ≥ 50×); SDK / stringify alone: ${ratio(base / stringify)} (reported)`)
  console.log(`the one view of each request (the walk) costs ${fmt(base - viewNs)} ns a decision; published-SDK way / fast path on a view: ${ratio(publishedNs / viewNs)}`)
}

const { artifactSection } = await import('./artifact.js')
const { cliSection } = await import('./cli.js')
const { engineSection } = await import('./engine.js')
const { varyingSection } = await import('./varying.js')
const SECTIONS = [decisionSpeed, varyingSection, artifactSection, engineSection, cliSection]
/** BENCH_ONLY=decisionSpeed,engineSection runs those sections alone. */
const only = process.env.BENCH_ONLY?.split(',')

const source = readFileSync(new URL('fixtures/crm.json', root))
const compiled = await compile(source, { filename: 'fixtures/crm.json' })
if (compiled.wasm === undefined) throw new Error('fixtures/crm.json did not compile')
const context = { wasm: compiled.wasm, source, policy: JSON.parse(source.toString('utf8')) }
for (const section of SECTIONS) if (only === undefined || only.includes(section.name)) await section(context)
