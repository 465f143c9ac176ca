// The reference evaluator against hand-computed spec examples, plus consistency
// properties; the differential test trusts it only as far as these go.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Condition, Policy, Rule } from '../src/compiler/policy.js'
import { readJson, cutText, type JsonValue } from './support/ref-json.js'
import { canonicalNumber, canonicalText, jsonEqual } from './support/canonical.js'
import { conditionArb, policyArb, requestArb, aimsOf } from './support/arbitraries.js'
import { prng, renderDoc, type Doc } from './support/json-text.js'
import {
  anyAccount,
  expandTable,
  label,
  listJson,
  numericText,
  referenceEvaluate,
  referenceEvaluateText,
  referenceInit,
  readRequest,
  evaluateCondition,
  responseJson,
  stringText,
} from './support/reference.js'

/** Seed of every property below; a failure reproduces with PERSO_SEED=<seed>. */
const SEED = Number(process.env.PERSO_SEED ?? 20_250_611)
console.log(`reference.test.ts: fast-check seed ${SEED} (PERSO_SEED=${SEED} reproduces)`)

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

  it('reads 127 levels of nesting, rejects 128 (spec §5), and survives 100,000 without overflowing the stack', () => {
    expect(errorOf('['.repeat(127) + ']'.repeat(127))).toBe('ok')
    expect(errorOf('{"a":'.repeat(126) + '[]' + '}'.repeat(126))).toBe('ok')
    expect(errorOf('['.repeat(128) + ']'.repeat(128))).toBe('nesting deeper than 127 at byte 127')
    expect(errorOf('{"a":'.repeat(127) + '[]' + '}'.repeat(127))).toBe(`nesting deeper than 127 at byte ${5 * 127}`)
    // levels are counted over the whole text: a context object and its agent_attrs are two of them
    const ctx = (arrays: number) => `{"role":"r","agent_attrs":{"k":${'['.repeat(arrays)}${']'.repeat(arrays)}}}`
    expect(errorOf(ctx(125))).toBe('ok')
    expect(errorOf(ctx(126))).toContain('nesting deeper than 127')
    expect(errorOf('['.repeat(100_000) + ']'.repeat(100_000))).toContain('nesting deeper than 127')
    expect(errorOf('['.repeat(100_000))).toContain('nesting deeper than 127')
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
    expect(eq('1', '1e0')).toBe(true)
    expect(eq('1', '10E-1')).toBe(true)
    expect(eq('-0', '0')).toBe(true)
    expect(eq('-0.0e-7', '0E+99999999999999999999')).toBe(true)
    // exact decimal values, not doubles
    expect(eq('9007199254740993', '9007199254740992')).toBe(false)
    expect(eq('1234567890123456789', '1234567890123456790')).toBe(false)
    expect(eq('1234567890123456789', '1.234567890123456789e18')).toBe(true)
    expect(eq('0.1', '0.1000000000000000055511151231257827')).toBe(false)
    expect(eq('1e-400', '0')).toBe(false)
    expect(eq('1e-99999999999999999999', '10e-100000000000000000000')).toBe(true)
    expect(eq('1e-99999999999999999999', '1e-99999999999999999998')).toBe(false)
    expect(eq('[null]', '[null]')).toBe(true)
    expect(eq('{"a":null}', '{"a":null}')).toBe(true)
    expect(eq('{"a":null}', '{}')).toBe(false)
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
    expect(label({ Any: [present('a.b')] })).toBe('Any([FieldPresent(Arguments.a.b)])')
  })

  it('summaries never cut a field name; All/Any write `…` for their remaining children past 64 bytes', () => {
    // the second child starts at 43 bytes, so it is written whole, past 64
    expect(label({ All: [num('amount', 'Lte', 500), str('path', 'In', ['a', 'b'])] })).toBe(
      'All([NumericCheck(Arguments.amount Lte 500), StringCheck(Arguments.path In ["a", "b"])])',
    )
    expect(label({ Not: equalsAR })).toBe('Not(FieldEquals(AgentAttributes.user_id, ResourceAttributes.owner_id))')
    const long = 'f'.repeat(80)
    expect(label({ Not: present(long) })).toBe(`Not(FieldPresent(Arguments.${long}))`)
    // 30 bytes, then 57, then 84 ≥ 64: the fourth child becomes `…`
    expect(label({ All: ['a', 'b', 'c', 'd', 'e'].map(present) })).toBe(
      'All([FieldPresent(Arguments.a), FieldPresent(Arguments.b), FieldPresent(Arguments.c), …])',
    )
    expect(label({ Any: [present(long), present('b')] })).toBe(`Any([FieldPresent(Arguments.${long}), …])`)
    // each All/Any counts its own text; the list inside a StringCheck is cut as in its text
    expect(label({ Not: { All: [{ Any: ['a', 'b', 'c', 'd'].map(present) }, present('z')] } })).toBe(
      'Not(All([Any([FieldPresent(Arguments.a), FieldPresent(Arguments.b), FieldPresent(Arguments.c), …]), …]))',
    )
    expect(label(str('p', 'NotIn', ['x'.repeat(70)]))).toBe(`StringCheck(Arguments.p NotIn ["${'x'.repeat(62)}…)`)
    // a byte count, not a character count: 2-byte characters reach 64 sooner
    expect(label({ All: [present('é'.repeat(20)), present('b')] })).toBe(`All([FieldPresent(Arguments.${'é'.repeat(20)}), …])`)
    expect(label({ All: [present('e'.repeat(20)), present('b')] })).toBe(
      `All([FieldPresent(Arguments.${'e'.repeat(20)}), FieldPresent(Arguments.b)])`,
    )
    // note keys (spec §1) are not part of the condition
    const noted = { description: 'why', 'x-ticket': 7, Not: { $comment: 'c', FieldPresent: { source: 'Arguments', field: 'f', description: 'd' } } }
    expect(label(noted as unknown as Condition)).toBe('Not(FieldPresent(Arguments.f))')
  })

  it('lists an ANY\'s accounts until 200 bytes, then counts the rest', () => {
    expect(anyAccount(['a'])).toBe('none of the alternatives held: a')
    expect(anyAccount(['a', 'b', 'c'])).toBe('none of the alternatives held: a; b; c')
    const x = 'x'.repeat(169) // 31 + 169 = 200 bytes: the next child is only counted
    expect(anyAccount([x, 'b', 'c'])).toBe(`none of the alternatives held: ${x}; and 2 more`)
    expect(anyAccount([x.slice(1), 'b', 'c'])).toBe(`none of the alternatives held: ${x.slice(1)}; b; and 1 more`)
    const long = 'y'.repeat(500) // whole, however long
    expect(anyAccount([long])).toBe(`none of the alternatives held: ${long}`)
    expect(anyAccount(['a', long, 'c'])).toBe(`none of the alternatives held: a; ${long}; and 1 more`)
    expect(anyAccount(['é'.repeat(85), 'b'])).toBe(`none of the alternatives held: ${'é'.repeat(85)}; and 1 more`)
    expect(anyAccount(['e'.repeat(85), 'b'])).toBe(`none of the alternatives held: ${'e'.repeat(85)}; b`)
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
    // ANY with children: every alternative's account, in order
    expect(decide({ Any: [num('a', 'Gt', 1), present('b')] }, '{"a":0}')).toEqual(
      failed('none of the alternatives held: Arguments.a = 0 is not Gt 1; Arguments.b is missing'),
    )
    expect(decide({ Any: [present('b')] }, '{}')).toEqual(failed('none of the alternatives held: Arguments.b is missing'))
    expect(decide({ All: [{ Any: [] }, present('x')] }, '{}')).toEqual(failed('Any([]) did not hold'))
    // an ANY inside an ALL inside an ANY: the inner one's list is one account of the outer list
    const nestedAny: Condition = { Any: [{ All: [present('a'), { Any: [present('b'), present('c')] }] }, present('d')] }
    expect(decide(nestedAny, '{"a":1}')).toEqual(
      failed('none of the alternatives held: none of the alternatives held: Arguments.b is missing; Arguments.c is missing; Arguments.d is missing'),
    )
    // 200 bytes: written whole up to there, the rest counted
    const fields = ['f'.repeat(70), 'g'.repeat(70), 'h'.repeat(70), 'i']
    expect(decide({ Any: fields.map(present) }, '{}')).toEqual(
      failed(`none of the alternatives held: Arguments.${fields[0]} is missing; Arguments.${fields[1]} is missing; and 2 more`),
    )
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
    const long = ['first_'.repeat(12), 'second_'.repeat(12), 'third']
    expect(decide({ Not: { All: long.map(present) } }, `{${long.map((f) => `"${f}":1`).join(',')}}`)).toEqual(
      failed(`Not(All([FieldPresent(Arguments.${long[0]}), …])) did not hold`),
    )
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
    // attribute values are never quoted (spec §4)
    const mfa: Condition = { NumericCheck: { source: 'AgentAttributes', field: 'mfa_age', op: 'Lt', value: 300 } }
    expect(decide(mfa, '{}', { agent: '{"mfa_age":301}' })).toEqual(failed('AgentAttributes.mfa_age is not Lt 300'))
    expect(decide(mfa, '{}', { agent: '{"mfa_age":"secret"}' })).toEqual(failed('AgentAttributes.mfa_age is not a number'))
    expect(decide(mfa, '{}', { agent: '{"mfa_age":299}' })).toEqual(passed)
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

  it('NumericCheck compares doubles', () => {
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
    const env = (op: 'In' | 'NotIn'): Condition => ({ StringCheck: { source: 'ResourceAttributes', field: 'env', op, value: ['prod'] } })
    expect(decide(env('In'), '{}', { resource: '{"env":"staging"}' })).toEqual(failed('ResourceAttributes.env is not In ["prod"]'))
    expect(decide(env('NotIn'), '{}', { resource: '{"env":"prod"}' })).toEqual(failed('ResourceAttributes.env is not NotIn ["prod"]'))
    expect(decide(env('In'), '{}', { resource: '{"env":5}' })).toEqual(failed('ResourceAttributes.env is not a string'))
    expect(decide(env('In'), '{}', { resource: '{}' })).toEqual(failed('ResourceAttributes.env is missing'))
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
      failed('AgentAttributes.user_id does not equal ResourceAttributes.owner_id'),
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
    const differ = failed('AgentAttributes.user_id does not equal ResourceAttributes.owner_id')
    expect(d('{"user_id":[1,2]}', '{"owner_id":[2, 1]}')).toEqual(differ)
    expect(d('{"user_id":"1"}', '{"owner_id":1}')).toEqual(differ)
    // exact decimal values (spec §3): ids that round to one double differ
    expect(d('{"user_id":1234567890123456789}', '{"owner_id":1234567890123456789.0}')).toEqual(passed)
    expect(d('{"user_id":1234567890123456789}', '{"owner_id":1234567890123456790}')).toEqual(differ)
    expect(d('{"user_id":9007199254740993}', '{"owner_id":9007199254740992}')).toEqual(differ)
    expect(d('{"user_id":1e-400}', '{"owner_id":0}')).toEqual(differ)
    expect(d('{"user_id":[null]}', '{"owner_id":[null]}')).toEqual(passed)
    expect(d('"x"', '{"owner_id":1}')).toEqual(failed('AgentAttributes.user_id is missing'))
    const same: Condition = { FieldEquals: { source_a: 'Arguments', field_a: 'x', source_b: 'Arguments', field_b: 'x' } }
    expect(decide(same, '{"x":{"k":[]}}')).toEqual(passed)
    expect(decide(same, '{"x":null}')).toEqual(failed('Arguments.x is null'))
    // Arguments are the caller's own: quoted; attributes are not, even beside them
    const args: Condition = { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'Arguments', field_b: 'b' } }
    expect(decide(args, '{"a":1234567890123456789,"b":1234567890123456790}')).toEqual(
      failed('Arguments.a = 1234567890123456789 does not equal Arguments.b = 1234567890123456790'),
    )
    const mixed: Condition = { FieldEquals: { source_a: 'Arguments', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' } }
    expect(decide(mixed, '{"user_id":"u1"}', { resource: '{"owner_id":"u2"}' })).toEqual(
      failed('Arguments.user_id = "u1" does not equal ResourceAttributes.owner_id'),
    )
    const mixedBack: Condition = { FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'Arguments', field_b: 'owner' } }
    expect(decide(mixedBack, '{"owner":"u1"}', { agent: '{"user_id":"u2"}' })).toEqual(
      failed('AgentAttributes.user_id does not equal Arguments.owner = "u1"'),
    )
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
    // inside agent_attrs the last of repeated keys counts; agent_attrs itself may not repeat (spec §4)
    expect(decide(agent, '{}', { agent: '{"u":null,"u":1}' })).toEqual(passed)
    expect(decide(agent, '{}', { agent: '{"u":1,"u":null}' })).toEqual(failed('AgentAttributes.u is null'))
    const ctx = '{"role":"r","agent_attrs":{"u":1},"agent_attrs":{}}'
    expect(referenceEvaluateText(policyWith(agent), 't', '{}', ctx)).toEqual({ error: 'context JSON: repeated key `agent_attrs` at byte 34' })
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
    // repeated role, agent_attrs or resource_attrs, keys compared after unescaping (spec §4)
    expect(r('t', '{}', '{"role":"r","role":1}')).toEqual({ error: 'context JSON: repeated key `role` at byte 12' })
    expect(r('t', '{}', '{"role":1,"role":"r"}')).toEqual({ error: 'context JSON: repeated key `role` at byte 10' })
    expect(r('t', '{}', '{"role":"r","r\\u006fle":"r"}')).toMatchObject({ error: expect.stringMatching(/^context JSON: repeated key `role`/) })
    expect(r('t', '{}', '{"role":"r","resource_attrs":{},"resource_attrs":{}}')).toMatchObject({ error: expect.stringMatching(/^context JSON: repeated key `resource_attrs`/) })
    expect(r('t', '{}', '{"role":"r","agent_attrs":null,"agent_attrs":null}')).toMatchObject({ error: expect.stringMatching(/^context JSON: /) })
    // other repeated keys are not an error, at the top or inside
    expect(r('t', '{}', '{"role":"r","x":1,"x":2,"agent_attrs":{"role":1,"role":2}}')).toMatchObject({ decision: 'Allow' })
    expect(r('t', '{}', '["r",{},{}]')).toEqual({ error: 'context JSON: not an object' })
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
        const [oc, od] = [evaluateCondition(c, s), evaluateCondition(d, s)]
        const any = evaluateCondition({ Any: [c, d] }, s)
        if (!oc.holds && !od.holds) expect(any).toEqual({ holds: false, account: anyAccount([oc.account, od.account]) })
        else expect(any).toEqual({ holds: true })
        // attribute values never reach an account: only Arguments are quoted
        if (!outcome.holds) expect(outcome.account).not.toMatch(/(AgentAttributes|ResourceAttributes)\.\S* = /u)
      }),
      { numRuns: 400, seed: SEED },
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
      { numRuns: 300, seed: SEED },
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
      { numRuns: 300, seed: SEED },
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

describe('canonical text (design "Canonical JSON")', () => {
  const canon = (text: string) => canonicalText(enc.encode(text))

  it('writes numbers as significant digits and an exact exponent', () => {
    for (const [text, want] of [
      ['1', '1'], ['1.0', '1'], ['1e0', '1'], ['10e-1', '1'], ['0.1e1', '1'], ['100e-2', '1'],
      ['100', '1e2'], ['0.5', '5e-1'], ['-1234.50', '-12345e-1'], ['9007199254740993', '9007199254740993'],
      ['0', '0'], ['-0', '0'], ['0.0e7', '0'], ['0e-999', '0'], ['-0.000E+99999999999999999999', '0'],
      ['1e-99999999999999999999', '1e-99999999999999999999'], ['10e-100000000000000000000', '1e-99999999999999999999'],
      ['1E+2', '1e2'], ['1e007', '1e7'], ['1.5e-0', '15e-1'], ['120e-3', '12e-2'], ['-5e-324', '-5e-324'],
      ['1234567890123456789', '1234567890123456789'], ['1234567890123456790', '123456789012345679e1'],
      ['1.7976931348623157e308', '17976931348623157e292'], ['0.00012300', '123e-6'],
    ]) {
      expect(canonicalNumber(text!), text).toBe(want)
      expect(canon(text!), text).toBe(want)
    }
  })

  it('writes strings unescaped, escaping only what JSON must', () => {
    expect(canon('"caf\\u00e9"')).toBe('"café"')
    expect(canon('"\\/\\u0041\\ud83d\\ude00"')).toBe('"/A😀"')
    expect(canon('"\\u000a\\n\\u000D\\t\\u0008\\f\\u001F\\u0000"')).toBe('"\\n\\n\\r\\t\\b\\f\\u001f\\u0000"')
    expect(canon('"q\\"\\\\\u007f\u2028"')).toBe('"q\\"\\\\\u007f\u2028"')
  })

  it('sorts members by their keys\' UTF-8 bytes, a prefix first, keeping the last of repeated keys', () => {
    expect(canon(' { "b" : [ 1 , 2.0 ] , "a" : { } , "ab": null, "": true } ')).toBe('{"":true,"a":{},"ab":null,"b":[1,2]}')
    expect(canon('{"a":1,"b":2,"a":3}')).toBe('{"a":3,"b":2}')
    expect(canon('{"a":1,"\\u0061":null}')).toBe('{"a":null}')
    // UTF-8 order, not UTF-16 order: U+FB01 (EF AC 81) before U+1F600 (F0 9F 98 80)
    expect(canon('{"😀":1,"\\ufb01":2,"z":3,"é":4}')).toBe('{"z":3,"é":4,"ﬁ":2,"😀":1}')
  })

  it('is refused where the text is refused', () => {
    expect(canon('{"a":1')).toHaveProperty('error')
    expect(canon('1e400')).toHaveProperty('error')
    expect(canon('[' .repeat(128) + ']'.repeat(128))).toHaveProperty('error')
  })

  // Random values as a model with exact numbers (±digits × 10^exponent), rendered to
  // texts with shuffled members, decoy repeated keys, respelled numbers, white space
  // and escapes; the model's own canonical text is computed apart, with BigInt.
  type Model =
    | { t: 'lit'; text: 'null' | 'true' | 'false' }
    | { t: 'num'; negative: boolean; digits: bigint; exponent: bigint }
    | { t: 'str'; value: string }
    | { t: 'arr'; items: Model[] }
    | { t: 'obj'; members: [string, Model][] }

  const wellFormed = (s: string) => !/\p{Surrogate}/u.test(s)
  const keyArb = fc.oneof(
    fc.constantFrom('a', 'b', 'ab', '', 'é', '\uFB01', '😀', 'A', 'a\u0000', '"', '\\', '/', 'role'),
    fc.string({ unit: 'binary', maxLength: 4 }).filter(wellFormed),
  )
  const numArb: fc.Arbitrary<Model> = fc
    .tuple(
      fc.boolean(),
      fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 30n })),
      fc.oneof(fc.integer({ min: -40, max: 40 }).map(BigInt), fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n })),
    )
    // a huge positive exponent only on zero: anything else would overflow a double (spec §5)
    .map(([negative, digits, exponent]) => ({ t: 'num', negative, digits, exponent: digits === 0n || exponent <= 40n ? exponent : -exponent }))
  const modelArb: fc.Arbitrary<Model> = fc.letrec<{ model: Model }>((tie) => ({
    model: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom<Model>({ t: 'lit', text: 'null' }, { t: 'lit', text: 'true' }, { t: 'lit', text: 'false' }),
      numArb,
      fc.oneof(fc.constantFrom('', 'a', 'é', '😀', '"\\/\n\u0001'), fc.string({ unit: 'binary', maxLength: 8 }).filter(wellFormed))
        .map((value): Model => ({ t: 'str', value })),
      fc.array(tie('model'), { maxLength: 4 }).map((items): Model => ({ t: 'arr', items })),
      fc.uniqueArray(fc.tuple(keyArb, tie('model')), { maxLength: 4, selector: ([k]) => k }).map((members): Model => ({ t: 'obj', members })),
    ),
  })).model

  const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  function modelCanonical(m: Model): string {
    switch (m.t) {
      case 'lit': return m.text
      case 'num': {
        if (m.digits === 0n) return '0'
        let [d, q] = [m.digits, m.exponent]
        while (d % 10n === 0n) [d, q] = [d / 10n, q + 1n]
        return `${m.negative ? '-' : ''}${d}${q === 0n ? '' : `e${q}`}`
      }
      // JSON.stringify escapes exactly `"`, `\` and U+0000–U+001F (short forms, else lowercase \u00xx) for well-formed strings
      case 'str': return JSON.stringify(m.value)
      case 'arr': return `[${m.items.map(modelCanonical).join(',')}]`
      case 'obj':
        return `{${[...m.members].sort(([a], [b]) => utf8Order(a, b)).map(([k, v]) => `${JSON.stringify(k)}:${modelCanonical(v)}`).join(',')}}`
    }
  }

  /** ±digits × 10^exponent spelled at random, exactly: extra trailing zeros, a moved point, e/E, +, leading exponent zeros. */
  function spell(m: Extract<Model, { t: 'num' }>, rng: () => number): string {
    const k = Math.floor(rng() * 4)
    const s = (m.digits * 10n ** BigInt(k)).toString()
    const f = Math.floor(rng() * (s.length + 3)) // digits after the point
    const [whole, fraction] = f >= s.length ? ['0', '0'.repeat(f - s.length) + s] : [s.slice(0, s.length - f), s.slice(s.length - f)]
    const e = m.exponent - BigInt(k) + BigInt(f)
    let exponent = ''
    if (e !== 0n || rng() < 0.3) {
      const magnitude = '0'.repeat(Math.floor(rng() * 3)) + (e < 0n ? -e : e).toString()
      exponent = (rng() < 0.5 ? 'e' : 'E') + (e < 0n ? '-' : rng() < 0.5 ? '+' : '') + magnitude
    }
    return `${m.negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}${exponent}`
  }

  /** The model as a Doc for renderDoc: members shuffled, some preceded by a decoy of the same key (the last counts). */
  function toDoc(m: Model, rng: () => number): Doc {
    switch (m.t) {
      case 'lit': return { t: 'lit', text: m.text }
      case 'num': return { t: 'num', text: spell(m, rng) }
      case 'str': return { t: 'str', value: m.value }
      case 'arr': return { t: 'arr', items: m.items.map((item) => toDoc(item, rng)) }
      case 'obj': {
        const members = m.members.map(([k, v]): [string, Doc] => [k, toDoc(v, rng)])
        for (let i = members.length - 1; i > 0; i--) {
          const j = Math.floor(rng() * (i + 1))
          ;[members[i], members[j]] = [members[j]!, members[i]!]
        }
        return { t: 'obj', members: members.flatMap(([k, v]): [string, Doc][] => (rng() < 0.25 ? [[k, { t: 'num', text: '7' }], [k, v]] : [[k, v]])) }
      }
    }
  }
  const render = (m: Model, seed: number) => renderDoc(toDoc(m, prng(seed)), seed)

  /** A model that surely denotes another value: one change somewhere inside. */
  function mutate(m: Model, rng: () => number): Model {
    const pickChild = rng() < 0.6
    switch (m.t) {
      case 'lit':
        return m.text === 'null' ? { t: 'lit', text: 'false' } : { t: 'lit', text: 'null' }
      case 'num': {
        if (m.digits === 0n) return { ...m, digits: 1n, exponent: m.exponent > 40n ? 0n : m.exponent }
        const way = Math.floor(rng() * 4)
        if (way === 0) return { ...m, digits: m.digits * 10n + 1n, exponent: m.exponent - 1n } // one more digit, far down
        if (way === 1) return { ...m, exponent: m.exponent + 1n }
        if (way === 2) return { ...m, negative: !m.negative }
        return { t: 'str', value: modelCanonical(m) }
      }
      case 'str':
        return { t: 'str', value: rng() < 0.5 ? m.value + 'x' : 'y' + m.value }
      case 'arr': {
        if (pickChild && m.items.length > 0) {
          const i = Math.floor(rng() * m.items.length)
          return { t: 'arr', items: m.items.map((item, j) => (j === i ? mutate(item, rng) : item)) }
        }
        return { t: 'arr', items: rng() < 0.5 || m.items.length === 0 ? [...m.items, { t: 'lit', text: 'null' }] : m.items.slice(1) }
      }
      case 'obj': {
        if (pickChild && m.members.length > 0) {
          const i = Math.floor(rng() * m.members.length)
          return { t: 'obj', members: m.members.map(([k, v], j): [string, Model] => [k, j === i ? mutate(v, rng) : v]) }
        }
        if (rng() < 0.5 && m.members.length > 0) return { t: 'obj', members: m.members.slice(1) }
        let key = 'k'
        while (m.members.some(([k]) => k === key)) key += '\u0000'
        return { t: 'obj', members: [...m.members, [key, { t: 'lit', text: 'null' }]] }
      }
    }
  }

  const canonOf = (bytes: Uint8Array) => {
    const text = canonicalText(bytes)
    if (typeof text !== 'string') throw new Error(`${text.error}: ${new TextDecoder().decode(bytes)}`)
    return text
  }

  it(`gives every spelling of one value the value's canonical text (seed ${SEED})`, () => {
    fc.assert(
      fc.property(modelArb, fc.integer(), fc.integer(), (m, s1, s2) => {
        const want = modelCanonical(m)
        const [a, b] = [canonOf(render(m, s1)), canonOf(render(m, s2))]
        expect(a).toBe(want)
        expect(b).toBe(a)
        expect(canonOf(enc.encode(a))).toBe(a) // a canonical text is its own canonical text
        expect(jsonEqual(valueOf(new TextDecoder().decode(render(m, s1))), valueOf(want))).toBe(true)
      }),
      { numRuns: 500, seed: SEED },
    )
  })

  it(`gives values that differ different canonical texts (seed ${SEED})`, () => {
    fc.assert(
      fc.property(modelArb, fc.integer(), fc.integer(), (m, s1, s2) => {
        const other = mutate(m, prng(s1))
        expect(modelCanonical(other)).not.toBe(modelCanonical(m))
        const [a, b] = [render(m, s1), render(other, s2)]
        expect(canonOf(a)).not.toBe(canonOf(b))
        expect(jsonEqual(valueOf(new TextDecoder().decode(a)), valueOf(new TextDecoder().decode(b)))).toBe(false)
      }),
      { numRuns: 500, seed: SEED },
    )
  })
})

describe('init (spec §6)', () => {
  const policy: Policy = {
    version: 'v1 "é"',
    default_action: 'Deny',
    tools: ['t'],
    roles: ['r'],
    rules: [{ tool_name: 't', roles: ['r'], condition: num('amount', 'Lte', 500) }],
  }
  const source = enc.encode(JSON.stringify(policy))
  const init = (text?: string) => referenceInit(source, text === undefined ? undefined : enc.encode(text))
  const ok = { ok: true, version: 'v1 "é"' }

  it('answers ok for init(0, 0) and for any text of the same JSON value', () => {
    expect(init()).toEqual(ok)
    expect(init(JSON.stringify(policy))).toEqual(ok)
    const pretty = JSON.stringify(policy, null, 2)
    expect(init(pretty)).toEqual(ok)
    expect(init(pretty.replace(/\n/g, '\r\n'))).toEqual(ok)
    expect(init(JSON.stringify(policy).replace('500', '5e2'))).toEqual(ok)
    expect(init(JSON.stringify(policy).replace('500', '500.000'))).toEqual(ok)
    expect(init(JSON.stringify(policy).replace('"v1 \\"é\\""', '"v1 \\u0022\\u00e9\\""'))).toEqual(ok)
    const { rules, ...rest } = policy
    expect(init(JSON.stringify({ rules, ...rest }))).toEqual(ok)
  })

  it('answers an error for another policy, or a text that is not JSON', () => {
    expect(init(JSON.stringify({ ...policy, version: 'v2' }))).toMatchObject({ error: expect.stringMatching(/another policy/) })
    expect(init(JSON.stringify(policy).replace('500', '501'))).toHaveProperty('error')
    // the same double, another decimal: another policy
    expect(init(JSON.stringify(policy).replace('500', '500.0000000000000001'))).toHaveProperty('error')
    expect(init(JSON.stringify({ ...policy, description: 'a note' }))).toHaveProperty('error')
    expect(init('')).toHaveProperty('error')
    expect(init(JSON.stringify(policy) + ' x')).toHaveProperty('error')
  })
})

describe('note keys (spec §1)', () => {
  it('are ignored at every level of a policy', () => {
    const noted = {
      $comment: 'top', description: 'top', 'x-owner': 'ops',
      version: 'v', default_action: 'Deny', tools: ['t'], roles: ['r'],
      rules: [{
        description: 'rule', 'x-ticket': 1, tool_name: 't', roles: ['r'],
        condition: {
          description: 'all', All: [
            { $comment: 'not', Not: { 'x-why': [], FieldPresent: { source: 'Arguments', field: 'force', description: 'f' } } },
            { 'x-': null, Any: [{ NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 500, 'x-unit': 'EUR' } }] },
          ],
        },
      }],
    } as unknown as Policy
    const ev = (args: string) => referenceEvaluateText(noted, 't', args, '{"role":"r"}')
    expect(ev('{"amount":5}')).toEqual(passed)
    expect(ev('{"amount":5,"force":1}')).toEqual(failed('Not(FieldPresent(Arguments.force)) did not hold'))
    expect(ev('{"amount":501}')).toEqual(failed('none of the alternatives held: Arguments.amount = 501 is not Lte 500'))
  })
})
