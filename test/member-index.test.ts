// The member index (json.ts `MemberIndex`): `validate` records, in its one pass,
// the members of the arguments object, and of the context object and its
// attribute objects, up to 32 records a text; the decision reads role,
// attribute objects and condition fields from that record, and walks the text
// when there are more. Both ways must answer what the
// reference answers, at and around the capacity, with the field first, last,
// repeated across the boundary, behind an escaped key, and with escaped values.

import { describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import type { Policy } from '../src/compiler/policy.js'
import { referenceEvaluateText, responseJson } from './support/reference.js'

const CAPACITY = 32
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

const policy = {
  version: 'index',
  default_action: 'Deny',
  tools: ['refund', 'delete'],
  roles: ['agent', 'manager'],
  rules: [
    { tool_name: 'refund', roles: ['agent'], condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500 } } },
    {
      tool_name: 'delete',
      roles: ['manager'],
      condition: { FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' } },
    },
  ],
}

const artifact = (await compile(JSON.stringify(policy))).wasm!
const ex = new WebAssembly.Instance(new WebAssembly.Module(artifact), {}).exports as unknown as {
  memory: WebAssembly.Memory
  alloc(n: number): number
  dealloc(p: number, n: number): void
  evaluate(...a: number[]): number
}

function evaluate(tool: string, args: string, context: string): string {
  const ins = [tool, args, context].map((text) => {
    const bytes = encoder.encode(text)
    const ptr = ex.alloc(bytes.length)
    new Uint8Array(ex.memory.buffer).set(bytes, ptr)
    return [ptr, bytes.length] as const
  })
  const resp = ex.evaluate(...ins.flat())
  const n = new DataView(ex.memory.buffer).getUint32(resp, true)
  const text = decoder.decode(new Uint8Array(ex.memory.buffer, resp + 4, n))
  ex.dealloc(resp, 4 + n)
  for (const [p, len] of ins) ex.dealloc(p, len)
  return text
}

/** An object text of `members` ([key text, value text], keys written as given, escapes and all). */
const object = (members: [string, string][]): string => `{${members.map(([k, v]) => `"${k}":${v}`).join(',')}}`
const fillers = (n: number, prefix: string): [string, string][] => Array.from({ length: n }, (_, i) => [`${prefix}${i}`, `{"x":[${i},"s"]}`])

/** Where the wanted member goes among `n` fillers, and how it is spelled. */
const PLACEMENTS: { name: string; place(n: number, wanted: [string, string][]): [string, string][] }[] = [
  { name: 'first', place: (n, w) => [...w, ...fillers(n, 'f')] },
  { name: 'last', place: (n, w) => [...fillers(n, 'f'), ...w] },
  { name: 'middle', place: (n, w) => [...fillers(n >> 1, 'f'), ...w, ...fillers(n - (n >> 1), 'g')] },
]

const SIZES = [0, 1, CAPACITY - 2, CAPACITY - 1, CAPACITY, CAPACITY + 1, 2 * CAPACITY]

/** A decision byte for byte as the reference's; an error naming the same input (the wording of input errors is the runtime's own). */
const check = (tool: string, args: string, context: string): void => {
  const expected = referenceEvaluateText(policy as unknown as Policy, tool, args, context)
  const answer = evaluate(tool, args, context)
  const request = `${tool} ${args} ${context}`
  if ('error' in expected) expect(JSON.parse(answer).error?.split(':')[0], request).toBe(expected.error.split(':')[0])
  else expect(answer, request).toBe(responseJson(expected))
}

describe('the member index, at and around its capacity of 32 members', () => {
  it('reads a condition field from arguments of every width, wherever it sits', () => {
    for (const n of SIZES) {
      for (const { place } of PLACEMENTS) {
        for (const amount of ['100', '900', '"100"', 'null']) {
          for (const key of ['amount', 'am\\u006funt']) {
            check('refund', object(place(n, [[key, amount]])), '{"role":"agent"}')
          }
        }
        // A repeated field: the last one decides, on both sides of the boundary.
        check('refund', object([['amount', '100'], ...fillers(n, 'f'), ['amount', '900']]), '{"role":"agent"}')
        check('refund', object([['amount', '900'], ...fillers(n, 'f'), ['amount', '100']]), '{"role":"agent"}')
        check('refund', object(fillers(n, 'f')), '{"role":"agent"}')
      }
    }
  })

  it('finds role and attribute objects in contexts of every width, and refuses a repeated one', () => {
    const agent = '{"user_id":"u1"}'
    for (const n of SIZES) {
      for (const { place } of PLACEMENTS) {
        for (const owner of ['"u1"', '"u2"']) {
          const members: [string, string][] = [['role', '"manager"'], ['agent_attrs', agent], ['resource_attrs', `{"owner_id":${owner}}`]]
          check('delete', '{}', object(place(n, members)))
        }
        check('refund', '{"amount":1}', object(place(n, [['r\\u006fle', '"\\u0061gent"']])))
        check('refund', '{"amount":1}', object(place(n, [['role', '"agent"'], ['role', '"agent"']])))
        check('refund', '{"amount":1}', object([['role', '"agent"'], ...fillers(n, 'f'), ['r\\u006fle', '"agent"']]))
        check('refund', '{"amount":1}', object(place(n, [])))
      }
    }
  })

  it('reads condition fields from attribute objects of every width, never from a look-alike elsewhere', () => {
    const context = (agent: string, resource: string, extra: [string, string][] = []): string =>
      object([['role', '"manager"'], ...extra, ['agent_attrs', agent], ['resource_attrs', resource]])
    for (const n of SIZES) {
      for (const { place } of PLACEMENTS) {
        for (const [key, value] of [['user_id', '"u1"'], ['user_id', '"u2"'], ['us\u0065r_id', '"u1"'], ['user_id', '"\u0075\u0031"'], ['user_id', 'null']] as const) {
          check('delete', '{}', context(object(place(n, [[key, value]])), '{"owner_id":"u1"}'))
          check('delete', '{}', context('{"user_id":"u1"}', object(place(n, [[key.replace('user', 'owner'), value]]))))
        }
        // Repeated across the boundary: the last one counts.
        check('delete', '{}', context(object([['user_id', '"u2"'], ...fillers(n, 'f'), ['user_id', '"u1"']]), '{"owner_id":"u1"}'))
        check('delete', '{}', context(object([['user_id', '"u1"'], ...fillers(n, 'f'), ['user_id', '"u2"']]), '{"owner_id":"u1"}'))
        // Members of other objects in the context, before or after, are not the attributes'.
        const decoys: [string, string][] = [['x', '{"user_id":"u1","owner_id":"u1"}'], ...fillers(n, 'd')]
        check('delete', '{}', context('{}', '{}', decoys))
        check('delete', '{}', object([['role', '"manager"'], ['agent_attrs', '[{"user_id":"u1"}]'], ['resource_attrs', '{"owner_id":"u1"}'], ...decoys]))
        check('delete', '{}', object([['role', '"manager"'], ['agent_attrs', '{}'], ...decoys, ['resource_attrs', '{"owner_id":"u1"}'], ['a', '{"user_id":"u1"}']]))
      }
    }
  })
})
