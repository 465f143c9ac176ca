// The reference evaluator against hand-computed spec examples, plus consistency
// properties; the differential test trusts it only as far as these go.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Condition, Policy, Rule } from '../src/compiler/policy.js'
import { readJson, jsonEqual, cutText, type JsonValue } from './support/ref-json.js'
import { conditionArb, policyArb, requestArb, aimsOf } from './support/arbitraries.js'
import { renderDoc, type Doc } from './support/json-text.js'
import {
  expandTable,
  label,
  listJson,
  numericText,
  referenceEvaluate,
  referenceEvaluateText,
  readRequest,
  evaluateCondition,
  responseJson,
  stringText,
} from './support/reference.js'

const enc = new TextEncoder()
const PREFIX = "rule matched tool 't' for role 'r'; "

const policyWith = (condition: Condition | null | undefined, default_action: 'Allow' | 'Deny' = 'Deny'): Policy => ({
  version: 'v1',
  default_action,
  tools: ['t'],
  roles: ['r'],
  rules: [{ tool_name: 't', roles: ['r'], condition }],
})

/** Evaluates one condition for tool `t`, role `r`. */
const decide = (condition: Condition, args: string, attrs: { agent?: string; resource?: string } = {}) => {
  const ctx = `{"role":"r"${attrs.agent === undefined ? '' : `,"agent_attrs":${attrs.agent}`}${
    attrs.resource === undefined ? '' : `,"resource_attrs":${attrs.resource}`
  }}`
  return referenceEvaluateText(policyWith(condition), 't', args, ctx)
}
const passed = { decision: 'Allow', reason: PREFIX + 'condition passed' }
const failed = (account: string) => ({ decision: 'Deny', reason: PREFIX + 'condition failed: ' + account })

const num = (field: string, op: 'Lt' | 'Lte' | 'Gt' | 'Gte' | 'Eq', value: number): Condition => ({
  NumericCheck: { source: 'Arguments', field, op, value },
})
const str = (field: string, op: 'In' | 'NotIn', value: string[]): Condition => ({
  StringCheck: { source: 'Arguments', field, op, value },
})
const present = (field: string): Condition => ({ FieldPresent: { source: 'Arguments', field } })
const equalsAR: Condition = {
  FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' },
}

const errorOf = (bytes: Uint8Array | string): string => {
  const r = readJson(typeof bytes === 'string' ? enc.encode(bytes) : bytes)
  return 'error' in r ? r.error : 'ok'
}
const valueOf = (text: string): JsonValue => {
  const r = readJson(enc.encode(text))
  if ('error' in r) throw new Error(r.error)
  return r.value
}

describe('ref-json: spec §5 errors', () => {
  it.each([
    ['', 'empty input'],
    [' \n\t\r', 'empty input'],
    ['{', 'expected a key'],
    ['[', 'unexpected end'],
    ['{"a" 1}', 'expected `:`'],
    ['[1,]', 'syntax error'],
    ['{"a":1,}', 'expected a key'],
    ['tru', 'syntax error'],
    ['01', 'trailing characters'],
    ['1.', 'invalid number'],
    ['.5', 'syntax error'],
    ['+1', 'syntax error'],
    ['-', 'invalid number'],
    ['1e', 'invalid number'],
    ['NaN', 'syntax error'],
    ["{'a':1}", 'expected a key'],
    ['{} x', 'trailing characters'],
    ['1 2', 'trailing characters'],
    ['"\\x"', 'invalid escape'],
    ['"\\u12G4"', 'invalid escape'],
    ['"\\U0041"', 'invalid escape'],
    ['"\\ud800"', 'lone surrogate'],
    ['"\\udc00"', 'lone surrogate'],
    ['"\\ud800\\u0041"', 'lone surrogate'],
    ['"\\ud800\\ud800"', 'lone surrogate'],
    ['"a\nb"', 'control character'],
    ['"a\u0000b"', 'control character'],
    ['"abc', 'unterminated string'],
    ['1e400', 'number out of range'],
    ['-1e400', 'number out of range'],
    ['[1e309]', 'number out of range'],
    ['\uFEFF{}', 'syntax error'],
  ])('%j → %s', (text, message) => {
    expect(errorOf(text)).toContain(message)
  })

  it.each([
    [[0x22, 0xff, 0x22], 'invalid UTF-8'],
    [[0x22, 0xc0, 0x80, 0x22], 'invalid UTF-8'],
    [[0x22, 0xed, 0xa0, 0x80, 0x22], 'invalid UTF-8'],
    [[0x22, 0xe2, 0x82, 0x22], 'invalid UTF-8'],
    [[0x22, 0xe2, 0x82, 0x5c, 0x6e, 0x22], 'invalid UTF-8'],
    [[0xff], 'syntax error'],
  ])('bytes %j → %s', (bytes, message) => {
    expect(errorOf(new Uint8Array(bytes))).toContain(message)
  })

  it('positions end the message', () => {
    expect(errorOf('{"a":1} x')).toBe('trailing characters at byte 8')
  })

  it('accepts 128 levels of nesting, rejects 129, and survives 100,000 without overflowing the stack', () => {
    expect(errorOf('['.repeat(128) + ']'.repeat(128))).toBe('ok')
    expect(errorOf('{"a":'.repeat(127) + '[]' + '}'.repeat(127))).toBe('ok')
    expect(errorOf('['.repeat(129) + ']'.repeat(129))).toBe('nesting deeper than 128 at byte 128')
    expect(errorOf('{"a":'.repeat(128) + '[]' + '}'.repeat(128))).toContain('nesting deeper than 128')
    expect(errorOf('['.repeat(100_000) + ']'.repeat(100_000))).toContain('nesting deeper than 128')
    expect(errorOf('['.repeat(100_000))).toContain('nesting deeper than 128')
  })

  it('reads valid texts', () => {
    expect(errorOf(' {"a" : [1, -0.5e+3, true, false, null, "\\ud83d\\ude00\\/\\b"]} ')).toBe('ok')
    expect(valueOf('"\\ud83d\\ude00\\u00e9\\/"')).toMatchObject({ kind: 'string', value: '😀é/' })
    expect(valueOf('1e-400')).toMatchObject({ kind: 'number', value: 0 })
    expect(valueOf('18446744073709551617')).toMatchObject({ kind: 'number', value: 2 ** 64 })
    expect(valueOf('9007199254740993')).toMatchObject({ kind: 'number', value: 2 ** 53 })
    expect(valueOf('"é\u2028"')).toMatchObject({ kind: 'string', value: 'é\u2028' })
    expect(valueOf(' [1] ')).toMatchObject({ start: 1, end: 4 })
  })

  it('compares JSON values as spec §3 says', () => {
    const eq = (a: string, b: string) => jsonEqual(valueOf(a), valueOf(b))
    expect(eq('1', '1.0')).toBe(true)
    expect(eq('1', '10E-1')).toBe(true)
    expect(eq('-0', '0')).toBe(true)
    expect(eq('"a"', '"\\u0061"')).toBe(true)
    expect(eq('{"a":1,"b":[1,2]}', '{"b":[1,2.0],"a":1}')).toBe(true)
    expect(eq('{"a":1,"a":2}', '{"a":2}')).toBe(true)
    expect(eq('{"a":1,"a":2}', '{"a":1}')).toBe(false)
    expect(eq('{"a":1}', '{"a":1,"b":1}')).toBe(false)
    expect(eq('[1,2]', '[2,1]')).toBe(false)
    expect(eq('"1"', '1')).toBe(false)
    expect(eq('true', 'true')).toBe(true)
    expect(eq('true', '1')).toBe(false)
    expect(eq('[]', '{}')).toBe(false)
  })
})

describe('texts', () => {
  it('renders numeric, list and label texts', () => {
    expect(numericText('Lte', 500)).toBe('Lte 500')
    expect(numericText('Eq', -0)).toBe('Eq 0')
    expect(numericText('Gt', 1e21)).toBe('Gt 1e+21')
    expect(numericText('Lt', 0.5)).toBe('Lt 0.5')
    expect(listJson(['a', 'b'])).toBe('["a", "b"]')
    expect(listJson([])).toBe('[]')
    expect(listJson(['q"\\\n'])).toBe('["q\\"\\\\\\n"]')
    expect(stringText('NotIn', ['/etc'])).toBe('NotIn ["/etc"]')
    expect(stringText('In', ['x'.repeat(70)])).toBe('In ["' + 'x'.repeat(62) + '…')
    expect(label({ Not: present('force') })).toBe('Not(FieldPresent(Arguments.force))')
    expect(label({ Any: [] })).toBe('Any([])')
    expect(label({ All: [num('amount', 'Lte', 500), str('path', 'In', ['a', 'b'])] })).toBe(
      'All([NumericCheck(Arguments.amount Lte 500), StringCheck(Argumen…',
    )
    expect(label({ Not: equalsAR })).toBe('Not(FieldEquals(AgentAttributes.user_id, ResourceAttributes.owne…')
    expect(label({ Any: [present('a.b')] })).toBe('Any([FieldPresent(Arguments.a.b)])')
  })

  it('cuts at a character boundary', () => {
    expect(cutText('é'.repeat(40))).toBe('é'.repeat(32) + '…')
    expect(cutText('a' + 'é'.repeat(40))).toBe('a' + 'é'.repeat(31) + '…')
    expect(cutText('x'.repeat(64))).toBe('x'.repeat(64))
  })

  it('escapes responses like serde_json', () => {
    expect(responseJson({ decision: 'Allow', reason: 'a"b\\c\n\u0001é\u007f' })).toBe(
      '{"decision":"Allow","reason":"a\\"b\\\\c\\n\\u0001é\u007f"}',
    )
    expect(responseJson({ error: 'tool_name: invalid UTF-8' })).toBe('{"error":"tool_name: invalid UTF-8"}')
  })
})

describe('conditions (spec §3 table)', () => {
  it('All and Any', () => {
    expect(decide({ All: [] }, '{}')).toEqual(passed)
    expect(decide({ Any: [] }, '{}')).toEqual(failed('Any([]) did not hold'))
    expect(decide({ All: [present('a'), present('b')] }, '{"a":1}')).toEqual(failed('Arguments.b is missing'))
    expect(decide({ All: [present('a'), present('b')] }, '{"b":1}')).toEqual(failed('Arguments.a is missing'))
    expect(decide({ Any: [present('a'), present('b')] }, '{"b":1}')).toEqual(passed)
    // ANY with children: the account of its first child
    expect(decide({ Any: [num('a', 'Gt', 1), present('b')] }, '{"a":0}')).toEqual(failed('Arguments.a = 0 is not Gt 1'))
    expect(decide({ All: [{ Any: [] }, present('x')] }, '{}')).toEqual(failed('Any([]) did not hold'))
  })

  it('Not', () => {
    expect(decide({ Not: present('force') }, '{"force":true}')).toEqual(
      failed('Not(FieldPresent(Arguments.force)) did not hold'),
    )
    expect(decide({ Not: present('force') }, '{"force":null}')).toEqual(passed)
    // a failing NOT explains itself by its own label, not by its child
    expect(decide({ Not: { Not: present('force') } }, '{}')).toEqual(
      failed('Not(Not(FieldPresent(Arguments.force))) did not hold'),
    )
    expect(decide({ Not: { All: [] } }, '{}')).toEqual(failed('Not(All([])) did not hold'))
  })

  it('NumericCheck', () => {
    const lte = num('amount', 'Lte', 500)
    expect(decide(lte, '{"amount":500}')).toEqual(passed)
    expect(decide(lte, '{"amount":500.0}')).toEqual(passed)
    expect(decide(lte, '{"amount": 800 }')).toEqual(failed('Arguments.amount = 800 is not Lte 500'))
    expect(decide(lte, '{"amount":8e2}')).toEqual(failed('Arguments.amount = 8e2 is not Lte 500'))
    expect(decide(lte, '{"amount":"800"}')).toEqual(failed('Arguments.amount = "800" is not a number'))
    expect(decide(lte, '{"amount":null}')).toEqual(failed('Arguments.amount = null is not a number'))
    expect(decide(lte, '{"amount":[1]}')).toEqual(failed('Arguments.amount = [1] is not a number'))
    expect(decide(lte, '{}')).toEqual(failed('Arguments.amount is missing'))
    expect(decide(lte, '[{"amount":1}]')).toEqual(failed('Arguments.amount is missing'))
    expect(decide(lte, '12')).toEqual(failed('Arguments.amount is missing'))
    const cases: [('Lt' | 'Lte' | 'Gt' | 'Gte' | 'Eq'), number, boolean][] = [
      ['Lt', 499.99, true], ['Lt', 500, false], ['Lte', 500, true], ['Lte', 500.01, false],
      ['Gt', 500.01, true], ['Gt', 500, false], ['Gte', 500, true], ['Gte', 499.99, false],
      ['Eq', 500, true], ['Eq', 500.0000001, false],
    ]
    for (const [op, actual, holds] of cases) {
      const r = decide(num('n', op, 500), `{"n":${actual}}`)
      expect(r).toEqual(holds ? passed : failed(`Arguments.n = ${actual} is not ${op} 500`))
    }
  })

  it('numbers compare as doubles', () => {
    for (const text of ['1', '1.0', '1e0', '10E-1', '0.1e1', '100e-2']) {
      expect(decide(num('n', 'Eq', 1), `{"n":${text}}`)).toEqual(passed)
    }
    expect(decide(num('n', 'Eq', 0), '{"n":-0}')).toEqual(passed)
    expect(decide(num('n', 'Eq', -0), '{"n":0}')).toEqual(passed)
    expect(decide(num('n', 'Lt', 0), '{"n":-0.0}')).toEqual(failed('Arguments.n = -0.0 is not Lt 0'))
    expect(decide(num('n', 'Eq', 2 ** 53), '{"n":9007199254740993}')).toEqual(passed)
    expect(decide(num('n', 'Gt', 1.8e19), '{"n":18446744073709551617}')).toEqual(passed)
    expect(decide(num('n', 'Gt', 0), '{"n":1e-400}')).toEqual(failed('Arguments.n = 1e-400 is not Gt 0'))
  })

  it('StringCheck', () => {
    const inAB = str('path', 'In', ['a', 'b'])
    expect(decide(inAB, '{"path":"a"}')).toEqual(passed)
    expect(decide(inAB, '{"path":"\\u0062"}')).toEqual(passed)
    expect(decide(inAB, '{"path":"c"}')).toEqual(failed('Arguments.path = "c" is not In ["a", "b"]'))
    expect(decide(inAB, '{"path":"\\u0063"}')).toEqual(failed('Arguments.path = "\\u0063" is not In ["a", "b"]'))
    expect(decide(inAB, '{"path":5}')).toEqual(failed('Arguments.path = 5 is not a string'))
    expect(decide(inAB, '{}')).toEqual(failed('Arguments.path is missing'))
    const notIn = str('path', 'NotIn', ['/etc'])
    expect(decide(notIn, '{"path":"/tmp"}')).toEqual(passed)
    expect(decide(notIn, '{"path":"\\/etc"}')).toEqual(failed('Arguments.path = "\\/etc" is not NotIn ["/etc"]'))
    expect(decide(notIn, '{}')).toEqual(failed('Arguments.path is missing'))
    expect(decide(notIn, '{"path":null}')).toEqual(failed('Arguments.path = null is not a string'))
    expect(decide(str('p', 'In', []), '{"p":""}')).toEqual(failed('Arguments.p = "" is not In []'))
    expect(decide(str('p', 'NotIn', []), '{"p":""}')).toEqual(passed)
  })

  it('FieldPresent', () => {
    for (const v of ['false', '0', '""', '[]', '{}']) expect(decide(present('f'), `{"f":${v}}`)).toEqual(passed)
    expect(decide(present('f'), '{"f":null}')).toEqual(failed('Arguments.f is null'))
    expect(decide(present('f'), '{"g":1}')).toEqual(failed('Arguments.f is missing'))
  })

  it('FieldEquals', () => {
    const d = (a: string, b: string) => decide(equalsAR, '{}', { agent: a, resource: b })
    expect(d('{"user_id":"u1"}', '{"owner_id":"u1"}')).toEqual(passed)
    expect(d('{"user_id":"u1"}', '{"owner_id":"u2"}')).toEqual(
      failed('AgentAttributes.user_id = "u1" does not equal ResourceAttributes.owner_id = "u2"'),
    )
    expect(d('{"user_id":null}', '{"owner_id":null}')).toEqual(failed('AgentAttributes.user_id is null'))
    expect(d('{"user_id":"u"}', '{"owner_id":null}')).toEqual(failed('ResourceAttributes.owner_id is null'))
    expect(d('{"user_id":null}', '{}')).toEqual(failed('AgentAttributes.user_id is null'))
    expect(d('{}', '{"owner_id":null}')).toEqual(failed('AgentAttributes.user_id is missing'))
    expect(d('{"user_id":1}', '{}')).toEqual(failed('ResourceAttributes.owner_id is missing'))
    expect(d('{"user_id":1}', '{"owner_id":1.0}')).toEqual(passed)
    expect(d('{"user_id":-0}', '{"owner_id":0}')).toEqual(passed)
    expect(d('{"user_id":{"a":1,"b":[true]}}', '{"owner_id":{"b":[true],"a":1e0}}')).toEqual(passed)
    expect(d('{"user_id":{"a":1,"a":2}}', '{"owner_id":{"a":2}}')).toEqual(passed)
    expect(d('{"user_id":[1,2]}', '{"owner_id":[2, 1]}')).toEqual(
      failed('AgentAttributes.user_id = [1,2] does not equal ResourceAttributes.owner_id = [2, 1]'),
    )
    expect(d('{"user_id":"1"}', '{"owner_id":1}')).toEqual(
      failed('AgentAttributes.user_id = "1" does not equal ResourceAttributes.owner_id = 1'),
    )
    expect(d('"x"', '{"owner_id":1}')).toEqual(failed('AgentAttributes.user_id is missing'))
    const same: Condition = { FieldEquals: { source_a: 'Arguments', field_a: 'x', source_b: 'Arguments', field_b: 'x' } }
    expect(decide(same, '{"x":{"k":[]}}')).toEqual(passed)
    expect(decide(same, '{"x":null}')).toEqual(failed('Arguments.x is null'))
  })

  it('fields: dots, escapes, duplicates, non-object sources', () => {
    expect(decide(present('a.b'), '{"a":{"b":1}}')).toEqual(failed('Arguments.a.b is missing'))
    expect(decide(present('a.b'), '{"a.b":1}')).toEqual(passed)
    expect(decide(num('amount', 'Lte', 500), '{"am\\u006funt":900}')).toEqual(failed('Arguments.amount = 900 is not Lte 500'))
    expect(decide(num('amount', 'Lte', 500), '{"amount":1,"amount":900}')).toEqual(
      failed('Arguments.amount = 900 is not Lte 500'),
    )
    expect(decide(num('amount', 'Lte', 500), '{"amount":900,"amount":1}')).toEqual(passed)
    expect(decide(num('amount', 'Lte', 500), '{"amount":900,"amount":null}')).toEqual(
      failed('Arguments.amount = null is not a number'),
    )
    expect(decide(present('q"\\'), '{"q\\"\\\\":1}')).toEqual(passed)
    expect(decide(present('é'), '{"\\u00e9":1}')).toEqual(passed)
    expect(decide(present('x'), '{"x":{"x":1}}')).toEqual(passed)
    const agent: Condition = { FieldPresent: { source: 'AgentAttributes', field: 'u' } }
    expect(decide(agent, '{}', { agent: 'null' })).toEqual(failed('AgentAttributes.u is missing'))
    expect(decide(agent, '{}', { agent: '[{"u":1}]' })).toEqual(failed('AgentAttributes.u is missing'))
    expect(decide(agent, '{}')).toEqual(failed('AgentAttributes.u is missing'))
    expect(decide(agent, '{"u":1}')).toEqual(failed('AgentAttributes.u is missing'))
    // the last agent_attrs member of the context counts
    const ctx = '{"role":"r","agent_attrs":{"u":1},"agent_attrs":{}}'
    expect(referenceEvaluateText(policyWith(agent), 't', '{}', ctx)).toEqual(failed('AgentAttributes.u is missing'))
  })

  it('echoes raw values exactly, cut to 64 bytes at a character boundary', () => {
    const n = num('n', 'Lt', 0)
    expect(decide(n, '{"n":1.50E+2}')).toEqual(failed('Arguments.n = 1.50E+2 is not Lt 0'))
    expect(decide(n, '{"n":{ "a" :\n[1] }}')).toEqual(failed('Arguments.n = { "a" :\n[1] } is not a number'))
    const long = '"' + 'x'.repeat(100) + '"'
    expect(decide(n, `{"n":${long}}`)).toEqual(failed(`Arguments.n = ${long.slice(0, 64)}… is not a number`))
    const accents = '"' + 'é'.repeat(40) + '"'
    expect(decide(n, `{"n":${accents}}`)).toEqual(failed(`Arguments.n = "${'é'.repeat(31)}… is not a number`))
    const exactly64 = '"' + 'y'.repeat(62) + '"'
    expect(decide(n, `{"n":${exactly64}}`)).toEqual(failed(`Arguments.n = ${exactly64} is not a number`))
  })
})

describe('decisions and reasons (spec §4)', () => {
  const policy: Policy = {
    version: 'v',
    default_action: 'Allow',
    tools: ['view', 'refund'],
    roles: ['agent', 'q"ote'],
    rules: [
      { tool_name: 'view', roles: ['agent', 'q"ote'] },
      { tool_name: 'refund', roles: ['agent'], condition: num('amount', 'Lte', 500) },
      { tool_name: 'refund', roles: ['q"ote'], condition: null },
    ],
  }
  const ev = (tool: string, args: string, ctx: string) => referenceEvaluateText(policy, tool, args, ctx)

  it('renders the four reasons', () => {
    expect(ev('nope', '{}', '{"role":"agent"}')).toEqual({
      decision: 'Allow',
      reason: "no rule matched tool 'nope' for role 'agent'; applying default_action",
    })
    expect(ev('view', '{}', '{"role":"q\\"ote"}')).toEqual({
      decision: 'Allow',
      reason: "rule matched tool 'view' for role 'q\"ote'; no condition required",
    })
    expect(ev('refund', '{}', '{"role":"q\\"ote"}')).toMatchObject({ reason: expect.stringContaining('no condition required') })
    expect(ev('refund', '{"amount":5}', '{"role":"ag\\u0065nt"}')).toEqual({
      decision: 'Allow',
      reason: "rule matched tool 'refund' for role 'agent'; condition passed",
    })
    // a failing condition denies even when default_action is Allow
    expect(ev('refund', '{"amount":501}', '{"role":"agent"}')).toEqual({
      decision: 'Deny',
      reason: "rule matched tool 'refund' for role 'agent'; condition failed: Arguments.amount = 501 is not Lte 500",
    })
    expect(referenceEvaluateText(policyWith(undefined, 'Deny'), 'x', '{}', '{"role":"r"}')).toEqual({
      decision: 'Deny',
      reason: "no rule matched tool 'x' for role 'r'; applying default_action",
    })
  })

  it('ignores extra context keys and allows white space', () => {
    expect(ev('view', ' \n{}\t', ' {"x":[1],"role" : "agent", "agent_attrs":5}\r\n')).toMatchObject({ decision: 'Allow' })
  })

  it('reports input errors in order tool_name, arguments, context', () => {
    const policyOnly = policyWith(null)
    const bad = new Uint8Array([0x61, 0xff])
    const r = (tool: Uint8Array | string, args: string, ctx: string) =>
      referenceEvaluate(policyOnly, typeof tool === 'string' ? enc.encode(tool) : tool, enc.encode(args), enc.encode(ctx))
    expect(r(bad, '', '')).toEqual({ error: 'tool_name: invalid UTF-8' })
    expect(r(new Uint8Array([0xed, 0xa0, 0x80]), '{}', '{"role":"r"}')).toMatchObject({ error: expect.stringMatching(/^tool_name:/) })
    expect(r('t', '', '')).toEqual({ error: 'arguments JSON: empty input at byte 0' })
    expect(r('t', '{}', '')).toEqual({ error: 'context JSON: empty input at byte 0' })
    expect(r('t', '{}', '[]')).toEqual({ error: 'context JSON: not an object' })
    expect(r('t', '{}', '"r"')).toEqual({ error: 'context JSON: not an object' })
    expect(r('t', '{}', '{}')).toEqual({ error: 'context JSON: role is missing' })
    expect(r('t', '{}', '{"role":null}')).toEqual({ error: 'context JSON: role is not a string' })
    expect(r('t', '{}', '{"role":"r","role":1}')).toEqual({ error: 'context JSON: role is not a string' })
    expect(r('t', '{}', '{"role":1,"role":"r"}')).toMatchObject({ decision: 'Allow' })
    expect(r('t', '{}', '{"role":"r","x":1e400}')).toMatchObject({ error: expect.stringMatching(/^context JSON: number out of range/) })
    expect(r('', '{}', '{"role":"r"}')).toMatchObject({ decision: 'Deny' })
    // a BOM is part of the tool name, not stripped
    expect(r(new Uint8Array([0xef, 0xbb, 0xbf, 0x74]), '{}', '{"role":"r"}')).toMatchObject({
      reason: "no rule matched tool '\uFEFFt' for role 'r'; applying default_action",
    })
  })
})

describe('expansion (spec §2)', () => {
  const rule = (tool_name: string, roles: string[], tag?: number): Rule => ({
    tool_name,
    roles,
    condition: tag === undefined ? undefined : num('tag', 'Eq', tag),
  })
  const base = (rules: Rule[]): Policy => ({
    version: 'v',
    default_action: 'Deny',
    tools: ['glob_tool_alpha', 'globa', 'glob_b', 'read_file', 'write_file', 'a.b', 'a*b', 'x\ny'],
    roles: ['r', 's'],
    rules,
  })
  const matched = (policy: Policy, role = 'r') =>
    [...expandTable(policy)].filter(([, byRole]) => byRole.has(role)).map(([tool]) => tool).sort()

  it('matches patterns against declared tools only', () => {
    expect(matched(base([rule('glob*a*', ['r'])]))).toEqual(['glob_tool_alpha', 'globa'])
    expect(matched(base([rule('*_file', ['r'])]))).toEqual(['read_file', 'write_file'])
    expect(matched(base([rule('*', ['r'])]))).toEqual(base([]).tools.slice().sort())
    expect(matched(base([rule('a.*', ['r'])]))).toEqual(['a.b'])
    expect(matched(base([rule('a*b', ['r'])]))).toEqual(['a*b', 'a.b'])
    expect(matched(base([rule('x*y', ['r'])]))).toEqual(['x\ny'])
    expect(matched(base([rule('*zzz*', ['r'])]))).toEqual([])
    expect(matched(base([rule('**', ['r'])])).length).toBe(8)
  })

  it('keeps undeclared exact tools, drops undeclared roles', () => {
    const p = base([rule('undeclared', ['r', 'ghost'])])
    expect(matched(p)).toEqual(['undeclared'])
    expect(matched(p, 'ghost')).toEqual([])
    expect(referenceEvaluateText(p, 'undeclared', '{}', '{"role":"r"}')).toMatchObject({ decision: 'Allow' })
    expect(referenceEvaluateText(p, 'undeclared', '{}', '{"role":"ghost"}')).toMatchObject({ decision: 'Deny' })
    const q = base([rule('*', ['r'])])
    expect(referenceEvaluateText(q, 'undeclared', '{}', '{"role":"r"}')).toMatchObject({
      reason: expect.stringMatching(/^no rule matched/),
    })
  })

  it('lets a later rule replace an earlier one per pair', () => {
    const p = base([rule('read_file', ['r', 's'], 1), rule('*_file', ['r'], 2), rule('write_file', ['r'], 3)])
    const table = expandTable(p)
    const tagOf = (tool: string, role: string) => {
      const c = table.get(tool)?.get(role)?.condition
      return c && 'NumericCheck' in c ? c.NumericCheck.value : undefined
    }
    expect(tagOf('read_file', 'r')).toBe(2)
    expect(tagOf('read_file', 's')).toBe(1)
    expect(tagOf('write_file', 'r')).toBe(3)
    expect(tagOf('write_file', 's')).toBe(undefined)
    expect(referenceEvaluateText(p, 'read_file', '{"tag":1}', '{"role":"r"}')).toMatchObject({ decision: 'Deny' })
    expect(referenceEvaluateText(p, 'read_file', '{"tag":2}', '{"role":"r"}')).toMatchObject({ decision: 'Allow' })
  })
})

describe('consistency properties', () => {
  // Random conditions with requests aimed at them: Not, All and Any must be
  // negation, conjunction and disjunction of what their children decide.
  const casesArb = fc
    .tuple(conditionArb(2), conditionArb(2))
    .chain(([c, d]) => {
      const policy = policyWith({ All: [c, d] })
      return fc.tuple(fc.constant(c), fc.constant(d), requestArb(policy))
    })
  const holds = (c: Condition, sources: Parameters<typeof evaluateCondition>[1]) => evaluateCondition(c, sources).holds

  it('Not negates, All conjoins, Any disjoins; failures always carry an account', () => {
    fc.assert(
      fc.property(casesArb, ([c, d, request]) => {
        const read = readRequest(request.tool, request.args, request.context)
        if ('error' in read) return
        const s = read.sources
        expect(holds({ Not: c }, s)).toBe(!holds(c, s))
        expect(holds({ Not: { Not: c } }, s)).toBe(holds(c, s))
        expect(holds({ All: [c, d] }, s)).toBe(holds(c, s) && holds(d, s))
        expect(holds({ Any: [c, d] }, s)).toBe(holds(c, s) || holds(d, s))
        const outcome = evaluateCondition({ All: [c, d] }, s)
        if (!outcome.holds) expect(outcome.account.length).toBeGreaterThan(0)
        if (!holds(c, s)) expect(evaluateCondition({ Any: [c, d] }, s)).toEqual(d && holds(d, s) ? { holds: true } : evaluateCondition(c, s))
      }),
      { numRuns: 400 },
    )
  })

  it('a failing condition denies whatever default_action says; decisions never depend on the default otherwise', () => {
    fc.assert(
      fc.property(policyArb.chain((p) => fc.tuple(fc.constant(p), requestArb(p))), ([policy, request]) => {
        const flipped: Policy = { ...policy, default_action: policy.default_action === 'Allow' ? 'Deny' : 'Allow' }
        const a = referenceEvaluate(policy, request.tool, request.args, request.context)
        const b = referenceEvaluate(flipped, request.tool, request.args, request.context)
        if ('error' in a) {
          expect(b).toEqual(a)
          return
        }
        expect('reason' in b && b.reason).toBe(a.reason)
        if (a.reason.startsWith('no rule matched')) expect(a.decision).toBe(policy.default_action)
        else if (a.reason.includes('condition failed')) expect([a.decision, 'decision' in b && b.decision]).toEqual(['Deny', 'Deny'])
        else expect([a.decision, 'decision' in b && b.decision]).toEqual(['Allow', 'Allow'])
      }),
      { numRuns: 300 },
    )
  })

  it('reads what JSON.parse reads, for well-formed texts', () => {
    const plain = (v: JsonValue): unknown => {
      switch (v.kind) {
        case 'null': return null
        case 'bool': case 'number': case 'string': return v.value
        case 'array': return v.items.map(plain)
        case 'object': return Object.fromEntries(v.members.map((m) => [m.key, plain(m.value)]))
      }
    }
    const docArb = policyArb.chain((p) => requestArb(p)).filter((r) => readRequest(r.tool, r.args, r.context) !== undefined)
    fc.assert(
      fc.property(docArb, (request) => {
        for (const bytes of [request.args, request.context]) {
          const mine = readJson(bytes)
          let theirs: unknown
          try {
            theirs = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes))
          } catch {
            // JSON.parse refuses a subset of what we refuse (not: lone surrogates, overflow, depth)
            expect(mine).toHaveProperty('error')
            continue
          }
          if (!('error' in mine)) expect(plain(mine.value)).toEqual(theirs)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('renders the same document to texts that read back equal', () => {
    const doc: Doc = { t: 'obj', members: [['am"ount', { t: 'num', text: '1.5' }], ['é😀/', { t: 'str', value: 'a\\n"😀/\u0000' }]] }
    const seen = new Set<string>()
    for (let seed = 0; seed < 50; seed++) {
      const bytes = renderDoc(doc, seed)
      seen.add(new TextDecoder().decode(bytes))
      const r = readJson(bytes)
      expect(r).not.toHaveProperty('error')
      if (!('error' in r)) expect(jsonEqual(r.value, valueOf(JSON.stringify({ 'am"ount': 1.5, 'é😀/': 'a\\n"😀/\u0000' })))).toBe(true)
    }
    expect(seen.size).toBeGreaterThan(5)
    expect(aimsOf(policyWith(present('f'))).fields.Arguments).toEqual(['f'])
  })
})
