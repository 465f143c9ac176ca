// Decisions where no two requests are alike: the values a condition reads change
// on every call, so no cache of earlier answers can stand in for the artifact.
// The SDK next to JSON.stringify of the very same requests.

import { compareMedians, printTable } from './measure.js'

const root = new URL('../', import.meta.url)
const { Perso } = await import(new URL('dist/src/index.js', root).href)

/** The CRM rotation with per-call values; built ahead of timing. */
function stream(length) {
  const make = [
    (n) => ({ tool: 'process_refund', args: { order_id: `ORD-${n}`, amount: 501 + (n % 997) }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} }),
    (n) => ({ tool: 'process_refund', args: { order_id: `ORD-${n}`, amount: n % 500 }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} }),
    (n) => ({ tool: 'delete_customer', args: { customer_id: `C-${n}` }, role: 'manager', agentAttributes: { user_id: `mgr-${n}` }, resourceAttributes: { owner_id: `mgr-${n}` } }),
    (n) => ({ tool: 'delete_customer', args: { customer_id: `C-${n}` }, role: 'manager', agentAttributes: { user_id: `mgr-${n}` }, resourceAttributes: { owner_id: `mgr-x${n}` } }),
    (n) => ({ tool: 'bulk_update', args: { ids: [`C-${n}`] }, role: 'admin', agentAttributes: { mfa_verified_at: `t${n}` }, resourceAttributes: { env: `staging-${n % 7}` } }),
    (n) => ({ tool: 'view_customer', args: { customer_id: `C-${n}` }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} }),
    (n) => ({ tool: 'export_data', args: { format: 'csv', batch: n }, role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { env: 'production' } }),
    (n) => ({ tool: 'drop_database', args: { confirm: n }, role: 'admin', agentAttributes: {}, resourceAttributes: {} }),
  ]
  return Array.from({ length }, (_, n) => make[n % make.length](n))
}

export async function varyingSection({ wasm }) {
  const perso = await Perso.load(wasm)
  const requests = stream(8 * 4096)
  let s = 0
  let j = 0
  let sink = 0
  const medians = compareMedians(
    {
      sdk: () => {
        sink += perso.evaluateSync(requests[s]).reason.length
        s = (s + 1) % requests.length
      },
      stringify: () => {
        const r = requests[j]
        sink += (JSON.stringify(r.args) + JSON.stringify({ role: r.role, agent_attrs: r.agentAttributes, resource_attrs: r.resourceAttributes })).length
        j = (j + 1) % requests.length
      },
    },
    { rounds: 21, batch: 16384 },
  )
  if (sink === 0) throw new Error('unreachable')
  console.log('\nDecisions where every request differs (values change per call; 32,768 distinct requests), median ns:\n')
  printTable(['candidate', 'ns/decision', 'vs stringify'], [
    ['SDK evaluateSync (fast path)', medians.sdk.toFixed(0), (medians.sdk / medians.stringify).toFixed(2) + '×'],
    ['JSON.stringify(args)+JSON.stringify(context)', medians.stringify.toFixed(0), '1.00×'],
  ])
}
