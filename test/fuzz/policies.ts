// The policies the runtime fuzzer runs against: the two fixtures and one that
// uses every condition form, odd names and escapes, and the tools and fields the
// huge cases aim at (it is the target that receives them). Each comes with a
// probe request whose answer must never change, whatever came before it.

import type { Policy } from '../../src/compiler/policy.js'
import type { Request } from './cases.js'

const enc = new TextEncoder()
const request = (tool: string, args: unknown, context: unknown): Request => ({
  tool: enc.encode(tool),
  args: enc.encode(JSON.stringify(args)),
  context: enc.encode(JSON.stringify(context)),
})

export const RICH: Policy = {
  version: 'fuzz "rich" 1',
  default_action: 'Allow',
  tools: ['read_file', 'write_file', 'process_refund', 'delete_customer', 'über"tool', 'glob_a', 'glob_b', 'x\ny'],
  roles: ['reader', 'agent', 'manager', 'admin', 'rô"le', '👤'],
  rules: [
    { tool_name: 'glob_*', roles: ['reader', 'admin', 'ghost'] },
    {
      tool_name: 'read_file', roles: ['reader', 'admin', '👤'],
      condition: { All: [
        { StringCheck: { source: 'Arguments', field: 'path', op: 'NotIn', value: ['/etc/passwd', '/root', 'é"\\'] } },
        { Not: { FieldPresent: { source: 'Arguments', field: 'recursive' } } },
        { Any: [
          { FieldPresent: { source: 'AgentAttributes', field: 'mfa' } },
          { NumericCheck: { source: 'Arguments', field: 'limit', op: 'Lt', value: 1000 } },
          { Any: [] },
        ] },
      ] },
    },
    {
      tool_name: 'process_refund', roles: ['agent', 'rô"le'],
      condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500.5 } },
    },
    {
      tool_name: 'delete_customer', roles: ['manager'],
      condition: { FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' } },
    },
    {
      tool_name: 'write_file', roles: ['admin', 'reader'],
      condition: { Any: [
        { StringCheck: { source: 'ResourceAttributes', field: 'env', op: 'In', value: ['staging', 'dev', '😀'] } },
        { FieldEquals: { source_a: 'Arguments', field_a: 'a.b', source_b: 'AgentAttributes', field_b: 'am"t' } },
        { NumericCheck: { source: 'AgentAttributes', field: 'level', op: 'Gte', value: -0 } },
        { NumericCheck: { source: 'Arguments', field: 'size', op: 'Eq', value: 9007199254740993 } },
      ] },
    },
    { tool_name: 'über"tool', roles: ['👤', 'admin'], condition: { Not: { All: [] } } },
    { tool_name: 'x\ny', roles: ['reader'], condition: null },
  ],
}

export interface FuzzPolicy {
  name: string
  /** The policy's source text (what is compiled and what the reference reads). */
  source: string
  probe: Request
}

export const FIXTURE_PROBES: Record<string, Request> = {
  'fixtures/crm.json': request('delete_customer', {}, { role: 'manager', agent_attrs: { user_id: 'u' }, resource_attrs: { owner_id: 'v' } }),
  'fixtures/file-ops.json': request('write_file', { path: '/tmp/x', size: 2e6 }, { role: 'writer' }),
}

export const RICH_PROBE = request('read_file', { path: '/tmp', limit: 1e3 }, { role: '👤', agent_attrs: { mfa: null } })
