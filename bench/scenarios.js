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
