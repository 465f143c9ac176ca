// `npm run bench:sdk`: where an SDK decision's time goes on the CRM rotation —
// the request walk alone (whole view, and as a warm pair's walk that keeps only
// what the entry reads), the fast path on views made beforehand, and the whole
// evaluateSync — median ns per decision, interleaved rounds.

import { readFileSync } from 'node:fs'
import { compareMedians, printTable } from './measure.js'

const root = new URL('../', import.meta.url)
const { compile, Perso } = await import(new URL('dist/src/index.js', root).href)
const { readRequest } = await import(new URL('packages/sdk/dist/esm/request.js', root).href)
const { SDK_REQUESTS: REQUESTS, cycling } = await import('./scenarios.js')

const compiled = await compile(readFileSync(new URL('fixtures/crm.json', root)), { filename: 'fixtures/crm.json' })
const sdk = await Perso.load(compiled.wasm)
const views = REQUESTS.map((r) => readRequest(r, r.tool).view)
// The SDK's fast path (a private member): it names what a warm pair's walk keeps.
const fast = sdk.fast
for (const r of REQUESTS) sdk.evaluateSync(r)

const medians = compareMedians(
  {
    'evaluateSync (whole)': cycling((k) => sdk.evaluateSync(REQUESTS[k])),
    'walk, whole view': cycling((k) => readRequest(REQUESTS[k], REQUESTS[k].tool)),
    'walk, warm pair (keeps what the entry reads)': cycling((k) => readRequest(REQUESTS[k], REQUESTS[k].tool, fast)),
    'fast path on a view': cycling((k) => fast.decide(views[k])),
  },
  { rounds: Number(process.env.BENCH_ROUNDS ?? 15), batch: Number(process.env.BENCH_BATCH ?? 4000), warmup: 3 },
)
printTable(['phase', 'ns/decision'], Object.entries(medians).map(([name, ns]) => [name, ns.toFixed(1)]))
