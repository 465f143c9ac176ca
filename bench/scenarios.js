// The CRM scenarios every benchmark decides: the same requests, so rows compare.

export const CRM_SCENARIOS = [
  {
    name: 'refund over the cap (Deny, condition failed)',
    tool: 'process_refund',
    args: { order_id: 'ORD-8821', amount: 800, currency: 'USD', note: 'customer reported damaged item' },
    context: { role: 'agent', agent_attrs: { user_id: 'agt-099', team: 'support-emea' }, resource_attrs: {} },
  },
  {
    name: 'refund within the cap (Allow)',
    tool: 'process_refund',
    args: { order_id: 'ORD-8822', amount: 120, currency: 'USD', note: 'late delivery' },
    context: { role: 'agent', agent_attrs: { user_id: 'agt-099', team: 'support-emea' }, resource_attrs: {} },
  },
  {
    name: 'owner deletes own record (Allow, FieldEquals)',
    tool: 'delete_customer',
    args: { customer_id: 'CUS-1042' },
    context: { role: 'manager', agent_attrs: { user_id: 'mgr-001' }, resource_attrs: { owner_id: 'mgr-001', region: 'eu' } },
  },
  {
    name: 'view without condition (Allow)',
    tool: 'view_customer',
    args: { customer_id: 'CUS-1042', fields: ['name', 'email', 'tier'] },
    context: { role: 'agent', agent_attrs: { user_id: 'agt-099' }, resource_attrs: {} },
  },
  {
    name: 'unknown tool (Deny, default)',
    tool: 'drop_database',
    args: { confirm: true },
    context: { role: 'admin', agent_attrs: { user_id: 'adm-007' }, resource_attrs: {} },
  },
]

/**
 * The engine's cases (issue 17's table): the shapes that cost differently inside
 * the runtime. `1 KB args` is a refund whose arguments carry a kilobyte of notes.
 */
export const ENGINE_SCENARIOS = [
  { name: 'tiny (Allow, no condition)', tool: 'view_customer', args: {}, context: { role: 'agent' } },
  CRM_SCENARIOS[1],
  CRM_SCENARIOS[0],
  {
    name: 'delete, not the owner (Deny, FieldEquals)',
    tool: 'delete_customer',
    args: { customer_id: 'CUS-1042' },
    context: { role: 'manager', agent_attrs: { user_id: 'mgr-001' }, resource_attrs: { owner_id: 'mgr-002', region: 'eu' } },
  },
  {
    name: '1 KB args (Allow, refund within the cap)',
    tool: 'process_refund',
    args: {
      order_id: 'ORD-8823',
      currency: 'USD',
      lines: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.5 + i, note: 'returned, box damaged' })),
      note: 'customer called twice; refund approved by phone after photo evidence of the damaged item',
      amount: 120,
    },
    context: { role: 'agent', agent_attrs: { user_id: 'agt-099', team: 'support-emea' }, resource_attrs: {} },
  },
]

/** The CRM scenario: the demo's calls and the other rules of the policy, allowed and denied. */
export const SDK_REQUESTS = [
  { tool: 'process_refund', args: { order_id: 'ORD-8821', amount: 800 }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} },
  { tool: 'process_refund', args: { order_id: 'ORD-8822', amount: 120 }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} },
  { tool: 'delete_customer', args: { customer_id: 'C-1' }, role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { owner_id: 'mgr-001' } },
  { tool: 'delete_customer', args: { customer_id: 'C-2' }, role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { owner_id: 'mgr-002' } },
  { tool: 'bulk_update', args: { ids: ['C-1', 'C-2'] }, role: 'admin', agentAttributes: { mfa_verified_at: '2026-11-21T09:00:00Z' }, resourceAttributes: { env: 'staging' } },
  { tool: 'view_customer', args: { customer_id: 'C-3' }, role: 'agent', agentAttributes: { user_id: 'agt-099' }, resourceAttributes: {} },
  { tool: 'export_data', args: { format: 'csv' }, role: 'manager', agentAttributes: { user_id: 'mgr-001' }, resourceAttributes: { env: 'production' } },
  { tool: 'drop_database', args: {}, role: 'admin', agentAttributes: {}, resourceAttributes: {} },
]

/** A function that makes one decision per call, cycling through SDK_REQUESTS (`decide` takes the request's index). */
export function cycling(decide) {
  let i = 0
  return () => {
    const k = i
    i = i === SDK_REQUESTS.length - 1 ? 0 : i + 1
    return decide(k)
  }
}
