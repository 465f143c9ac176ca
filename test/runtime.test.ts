// The runtime template (src/runtime/) driven through the raw ABI: reasons,
// input errors, JSON and number semantics, init, and bounded memory.
// Artifacts are built from Program IR objects with the compiler's codegen.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { beforeAll, describe, expect, test } from 'vitest'
import { emit } from '../src/compiler/emit.js'
import type { Condition, Node, Program, Read } from '../src/compiler/ir.js'
import type { Source } from '../src/compiler/policy.js'
import { templatePath } from '../src/paths.js'
import { type Exports, Host } from './support/host.js'

let template: WebAssembly.Module
beforeAll(() => {
  template = new WebAssembly.Module(readFileSync(templatePath()))
})

const SOURCE_TEXT = '{"version":"v1.2"}'

interface RuleSpec {
  tool: string
  role: string
  reads?: [Source, string][]
  root?: Node
}

function program(rules: RuleSpec[], defaultAction: 'Allow' | 'Deny' = 'Deny'): Program {
  const conditions: Condition[] = []
  const entries = rules.map((rule, i) => {
    let condition: number | null = null
    if (rule.root !== undefined) {
      const reads: Read[] = (rule.reads ?? []).map(([source, field]) => ({ source, field }))
      condition = conditions.push({ rule: i, reads, root: rule.root }) - 1
    }
    return { tool: rule.tool, role: rule.role, rule: i, condition }
  })
  return {
    version: 'v1.2',
    defaultAction,
    sha256: createHash('sha256').update(SOURCE_TEXT).digest('hex'),
    tools: [...new Set(rules.map((r) => r.tool))],
    roles: [...new Set(rules.map((r) => r.role))],
    ruleCount: rules.length,
    conditions,
    entries: entries.sort((a, b) => (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : a.role < b.role ? -1 : 1)),
  }
}

/** The artifact emit.ts builds for `p`, instantiated. */
const artifact = (p: Program): Host => new Host(new WebAssembly.Instance(new WebAssembly.Module(emit(p)), {}).exports as unknown as Exports)

/** A host whose only rule is (`t`, `agent`) with `root` over `reads`. */
const withCondition = (reads: [Source, string][], root: Node): Host => artifact(program([{ tool: 't', role: 'agent', reads, root }]))

const AGENT = '{"role":"agent"}'
const reason = (verdict: Record<string, unknown>): string => String(verdict.reason)
const failed = "rule matched tool 't' for role 'agent'; condition failed: "

describe('ABI', () => {
  test('the template imports nothing and exports the ABI, the fields export and the policy global', () => {
    expect(WebAssembly.Module.imports(template)).toEqual([])
    expect(WebAssembly.Module.exports(template).map((e) => e.name).sort()).toEqual(['__perso_policy', 'alloc', 'dealloc', 'evaluate', 'evaluate_fields', 'init', 'memory'])
  })

  test('an emitted artifact exports exactly the ABI and the fields export, imports nothing, and decides', async () => {
    const wasm = emit(program([{ tool: 't', role: 'agent' }]))
    const module = new WebAssembly.Module(wasm)
    expect(WebAssembly.Module.imports(module)).toEqual([])
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(['alloc', 'dealloc', 'evaluate', 'evaluate_fields', 'init', 'memory'])
    expect(wasm.length).toBeLessThanOrEqual(16 * 1024)
    const host = await Host.load(wasm)
    expect(host.evaluate('t', '{}', AGENT).decision).toBe('Allow')
  })
})

describe('reasons', () => {
  const host = () =>
    artifact(
      program([
        { tool: 'view', role: 'agent' },
        { tool: 'refund', role: 'agent', reads: [['Arguments', 'amount']], root: { kind: 'numeric', read: 0, op: 'Lte', value: 500 } },
      ]),
    )

  test('no rule: the default action', () => {
    expect(host().evaluate('delete', '{}', AGENT)).toEqual({
      decision: 'Deny',
      reason: "no rule matched tool 'delete' for role 'agent'; applying default_action",
    })
    const allowing = artifact(program([{ tool: 'view', role: 'agent' }], 'Allow'))
    expect(allowing.evaluate('view', '{}', '{"role":"manager"}')).toEqual({
      decision: 'Allow',
      reason: "no rule matched tool 'view' for role 'manager'; applying default_action",
    })
  })

  test('entry without condition, condition passed, condition failed', () => {
    const h = host()
    expect(h.evaluate('view', '{}', AGENT)).toEqual({ decision: 'Allow', reason: "rule matched tool 'view' for role 'agent'; no condition required" })
    expect(h.evaluate('refund', '{"amount":500}', AGENT)).toEqual({ decision: 'Allow', reason: "rule matched tool 'refund' for role 'agent'; condition passed" })
    expect(h.evaluate('refund', '{"amount":800}', AGENT)).toEqual({
      decision: 'Deny',
      reason: "rule matched tool 'refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500",
    })
  })

  test('a failing condition denies even when the default allows', () => {
    const h = artifact(program([{ tool: 't', role: 'agent', reads: [['Arguments', 'x']], root: { kind: 'present', read: 0 } }], 'Allow'))
    expect(h.evaluate('t', '{}', AGENT).decision).toBe('Deny')
  })

  test('tool and role are inserted raw and JSON-escaped like serde_json', () => {
    const tool = 'a"b\\c\n\t\r\b\f\u0001\u001f\u007fé😀'
    const role = 'r"\\\u0000ö'
    const h = artifact(program([{ tool, role }]))
    const text = h.evaluateText(tool, '{}', JSON.stringify({ role }))
    expect(text).toBe(
      '{"decision":"Allow","reason":"rule matched tool \'a\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\u007fé😀\' for role \'r\\"\\\\\\u0000ö\'; no condition required"}',
    )
    expect(JSON.parse(text).reason).toBe(`rule matched tool '${tool}' for role '${role}'; no condition required`)
  })

  test('the role is unescaped before the probe and in the reason', () => {
    const h = artifact(program([{ tool: 't', role: 'agent' }]))
    expect(h.evaluate('t', '{}', '{"role":"ag\\u0065nt"}').reason).toBe("rule matched tool 't' for role 'agent'; no condition required")
    expect(h.evaluate('t', '{}', '{"r\\u006fle":"agent"}').decision).toBe('Allow')
  })
})

describe('accounts of a failed condition', () => {
  const amount: [Source, string][] = [['Arguments', 'amount']]

  test('missing, not a number, comparison', () => {
    const h = withCondition(amount, { kind: 'numeric', read: 0, op: 'Lt', value: 10 })
    expect(reason(h.evaluate('t', '{}', AGENT))).toBe(failed + 'Arguments.amount is missing')
    expect(reason(h.evaluate('t', '{"amount":"5"}', AGENT))).toBe(failed + 'Arguments.amount = "5" is not a number')
    expect(reason(h.evaluate('t', '{"amount":null}', AGENT))).toBe(failed + 'Arguments.amount = null is not a number')
    expect(reason(h.evaluate('t', '{"amount": 1.50e1 }', AGENT))).toBe(failed + 'Arguments.amount = 1.50e1 is not Lt 10')
    expect(h.evaluate('t', '{"amount":9.999}', AGENT).decision).toBe('Allow')
  })

  test('every comparison operator', () => {
    const cases: [Node['kind'] extends string ? 'Lt' | 'Lte' | 'Gt' | 'Gte' | 'Eq' : never, number, boolean][] = [
      ['Lt', 4, false], ['Lt', 3, true], ['Lte', 4, true], ['Lte', 5, false], ['Gt', 4, false], ['Gt', 5, true],
      ['Gte', 4, true], ['Gte', 3, false], ['Eq', 4, true], ['Eq', 4.0000001, false],
    ]
    for (const [op, actual, allowed] of cases) {
      const h = withCondition(amount, { kind: 'numeric', read: 0, op, value: 4 })
      expect(h.evaluate('t', `{"amount":${actual}}`, AGENT).decision, `${actual} ${op} 4`).toBe(allowed ? 'Allow' : 'Deny')
    }
  })

  test('StringCheck In and NotIn', () => {
    const inList = withCondition([['Arguments', 'path']], { kind: 'string_in', read: 0, values: ['/tmp', '/var'], negate: false })
    expect(inList.evaluate('t', '{"path":"/tmp"}', AGENT).decision).toBe('Allow')
    expect(inList.evaluate('t', '{"path":"\\/tmp"}', AGENT).decision).toBe('Allow')
    expect(reason(inList.evaluate('t', '{"path":"/etc"}', AGENT))).toBe(failed + 'Arguments.path = "/etc" is not In ["/tmp", "/var"]')
    expect(reason(inList.evaluate('t', '{"path":7}', AGENT))).toBe(failed + 'Arguments.path = 7 is not a string')
    const notIn = withCondition([['Arguments', 'path']], { kind: 'string_in', read: 0, values: ['/etc'], negate: true })
    expect(notIn.evaluate('t', '{"path":"/tmp"}', AGENT).decision).toBe('Allow')
    expect(reason(notIn.evaluate('t', '{"path":"/etc"}', AGENT))).toBe(failed + 'Arguments.path = "/etc" is not NotIn ["/etc"]')
    expect(reason(notIn.evaluate('t', '{}', AGENT))).toBe(failed + 'Arguments.path is missing')
    expect(reason(notIn.evaluate('t', '{"path":["/tmp"]}', AGENT))).toBe(failed + 'Arguments.path = ["/tmp"] is not a string')
  })

  test('FieldPresent: false, 0, "" and [] are present; null is not', () => {
    const h = withCondition([['AgentAttributes', 'x']], { kind: 'present', read: 0 })
    for (const v of ['false', '0', '""', '[]', '{}']) expect(h.evaluate('t', '{}', `{"role":"agent","agent_attrs":{"x":${v}}}`).decision).toBe('Allow')
    expect(reason(h.evaluate('t', '{}', '{"role":"agent","agent_attrs":{"x":null}}'))).toBe(failed + 'AgentAttributes.x is null')
    expect(reason(h.evaluate('t', '{}', AGENT))).toBe(failed + 'AgentAttributes.x is missing')
  })

  test('FieldEquals: side a before side b, then the two raw values', () => {
    const h = withCondition(
      [['AgentAttributes', 'user_id'], ['ResourceAttributes', 'owner_id']],
      { kind: 'equals', a: 0, b: 1 },
    )
    const ctx = (a: string, b: string) => `{"role":"agent","agent_attrs":{${a}},"resource_attrs":{${b}}}`
    expect(reason(h.evaluate('t', '{}', ctx('', '')))).toBe(failed + 'AgentAttributes.user_id is missing')
    expect(reason(h.evaluate('t', '{}', ctx('"user_id":null', '')))).toBe(failed + 'AgentAttributes.user_id is null')
    expect(reason(h.evaluate('t', '{}', ctx('"user_id":"u"', '')))).toBe(failed + 'ResourceAttributes.owner_id is missing')
    expect(reason(h.evaluate('t', '{}', ctx('"user_id":"u"', '"owner_id":null')))).toBe(failed + 'ResourceAttributes.owner_id is null')
    expect(reason(h.evaluate('t', '{}', ctx('"user_id":null', '"owner_id":null')))).toBe(failed + 'AgentAttributes.user_id is null')
    expect(reason(h.evaluate('t', '{}', ctx('"user_id":"u"', '"owner_id":"v"')))).toBe(
      failed + 'AgentAttributes.user_id = "u" does not equal ResourceAttributes.owner_id = "v"',
    )
    expect(h.evaluate('t', '{}', ctx('"user_id":"u"', '"owner_id":"u"')).decision).toBe('Allow')
  })

  test('ALL reports its first failing child, ANY its first child, NOT and empty ANY their label', () => {
    const reads: [Source, string][] = [['Arguments', 'a'], ['Arguments', 'b']]
    const all = withCondition(reads, { kind: 'all', children: [{ kind: 'present', read: 0 }, { kind: 'present', read: 1 }] })
    expect(reason(all.evaluate('t', '{"a":1}', AGENT))).toBe(failed + 'Arguments.b is missing')
    expect(all.evaluate('t', '{"a":1,"b":2}', AGENT).decision).toBe('Allow')
    const any = withCondition(reads, { kind: 'any', children: [{ kind: 'present', read: 0 }, { kind: 'present', read: 1 }] })
    expect(reason(any.evaluate('t', '{}', AGENT))).toBe(failed + 'Arguments.a is missing')
    expect(any.evaluate('t', '{"b":null,"a":0}', AGENT).decision).toBe('Allow')
    const not = withCondition(reads, { kind: 'not', child: { kind: 'present', read: 0 } })
    expect(reason(not.evaluate('t', '{"a":1}', AGENT))).toBe(failed + 'Not(FieldPresent(Arguments.a)) did not hold')
    expect(not.evaluate('t', '{}', AGENT).decision).toBe('Allow')
    const empty = withCondition([], { kind: 'any', children: [] })
    expect(reason(empty.evaluate('t', '{}', AGENT))).toBe(failed + 'Any([]) did not hold')
    expect(withCondition([], { kind: 'all', children: [] }).evaluate('t', '{}', AGENT).decision).toBe('Allow')
  })

  test('the raw value is cut to 64 bytes at a character boundary, escaped in the reason', () => {
    const h = withCondition([['Arguments', 'x']], { kind: 'numeric', read: 0, op: 'Lt', value: 0 })
    const long = '"' + 'é'.repeat(40) + '"'
    expect(reason(h.evaluate('t', `{"x":${long}}`, AGENT))).toBe(failed + `Arguments.x = "${'é'.repeat(31)}… is not a number`)
    expect(reason(h.evaluate('t', '{"x":"a\\"b"}', AGENT))).toBe(failed + 'Arguments.x = "a\\"b" is not a number')
    const digits = '1' + '0'.repeat(80)
    expect(reason(h.evaluate('t', `{"x":${digits}}`, AGENT))).toBe(failed + `Arguments.x = ${digits.slice(0, 64)}… is not Lt 0`)
  })
})

describe('fields and sources', () => {
  test('keys are compared after unescaping; dots are ordinary characters', () => {
    const h = withCondition([['Arguments', 'amount']], { kind: 'present', read: 0 })
    expect(h.evaluate('t', '{"am\\u006funt":1}', AGENT).decision).toBe('Allow')
    const dotted = withCondition([['Arguments', 'a.b']], { kind: 'present', read: 0 })
    expect(dotted.evaluate('t', '{"a.b":1}', AGENT).decision).toBe('Allow')
    expect(dotted.evaluate('t', '{"a":{"b":1}}', AGENT).decision).toBe('Deny')
    const unicode = withCondition([['Arguments', 'é😀']], { kind: 'present', read: 0 })
    expect(unicode.evaluate('t', '{"\\u00e9\\ud83d\\ude00":1}', AGENT).decision).toBe('Allow')
  })

  test('the last of repeated keys counts, in arguments and context', () => {
    const h = withCondition([['Arguments', 'n']], { kind: 'numeric', read: 0, op: 'Lt', value: 5 })
    expect(h.evaluate('t', '{"n":1,"n":9}', AGENT).decision).toBe('Deny')
    expect(h.evaluate('t', '{"n":9,"n":1}', AGENT).decision).toBe('Allow')
    expect(h.evaluate('t', '{"n":9,"\\u006e":1}', AGENT).decision).toBe('Allow')
    expect(h.evaluate('t', '{"n":1}', '{"role":"x","role":"agent"}').decision).toBe('Allow')
    const attrs = withCondition([['AgentAttributes', 'k']], { kind: 'present', read: 0 })
    expect(attrs.evaluate('t', '{}', '{"role":"agent","agent_attrs":{"k":1},"agent_attrs":{}}').decision).toBe('Deny')
  })

  test('a source that is not an object has every field absent', () => {
    const h = withCondition([['Arguments', 'x']], { kind: 'present', read: 0 })
    for (const args of ['[{"x":1}]', '"x"', '1', 'null', 'true']) expect(reason(h.evaluate('t', args, AGENT))).toBe(failed + 'Arguments.x is missing')
    const r = withCondition([['ResourceAttributes', 'x']], { kind: 'present', read: 0 })
    for (const attrs of ['[]', '"x"', 'null', '3']) {
      expect(reason(r.evaluate('t', '{}', `{"role":"agent","resource_attrs":${attrs}}`))).toBe(failed + 'ResourceAttributes.x is missing')
    }
    expect(r.evaluate('t', '{}', '{"role":"agent","resource_attrs":{"x":1},"other":{"x":null}}').decision).toBe('Allow')
  })
})

describe('FieldEquals values', () => {
  const h = () => withCondition([['Arguments', 'a'], ['Arguments', 'b']], { kind: 'equals', a: 0, b: 1 })
  const equal = (host: Host, a: string, b: string): boolean => host.evaluate('t', `{"a":${a},"b":${b}}`, AGENT).decision === 'Allow'

  test('numbers by double value', () => {
    const host = h()
    for (const [a, b] of [['1', '1.0'], ['1', '1e0'], ['-0', '0'], ['0.1', '1e-1'], ['100', '1E2'], ['9007199254740993', '9007199254740992'], ['1e-400', '0']]) {
      expect(equal(host, a!, b!), `${a} == ${b}`).toBe(true)
    }
    for (const [a, b] of [['1', '2'], ['1', '"1"'], ['0', 'false'], ['0.1', '0.10000000000000002']]) expect(equal(host, a!, b!), `${a} != ${b}`).toBe(false)
  })

  test('strings by unescaped characters; literals; null never equal', () => {
    const host = h()
    expect(equal(host, '"é"', '"\\u00e9"')).toBe(true)
    expect(equal(host, '"a\\/b"', '"a/b"')).toBe(true)
    expect(equal(host, '"\\ud83d\\ude00"', '"😀"')).toBe(true)
    expect(equal(host, '"\\u0041"', '"\\u0041"')).toBe(true)
    expect(equal(host, '"\\u0041"', '"\\u0042"')).toBe(false)
    expect(equal(host, '"a"', '"a "')).toBe(false)
    expect(equal(host, 'true', 'true')).toBe(true)
    expect(equal(host, 'true', 'false')).toBe(false)
    expect(equal(host, 'null', 'null')).toBe(false)
    expect(equal(host, 'null', '1')).toBe(false)
  })

  test('arrays elementwise, objects by key set ignoring order, last repeated key counts', () => {
    const host = h()
    expect(equal(host, '[1,[2,{"x":null}]]', '[1.0, [2e0, {"x":null}]]')).toBe(true)
    expect(equal(host, '[1,2]', '[2,1]')).toBe(false)
    expect(equal(host, '[1,2]', '[1,2,3]')).toBe(false)
    expect(equal(host, '[]', '[ ]')).toBe(true)
    expect(equal(host, '{"a":1,"b":[2]}', '{"b":[2.0],"a":1}')).toBe(true)
    expect(equal(host, '{"a":1}', '{"a":1,"b":2}')).toBe(false)
    expect(equal(host, '{"a":1,"a":2}', '{"a":2}')).toBe(true)
    expect(equal(host, '{"a":1,"a":2}', '{"a":1}')).toBe(false)
    expect(equal(host, '{"\\u0061":1}', '{"a":1}')).toBe(true)
    expect(equal(host, '{"a":{"y":1,"x":2}}', '{"a":{"x":2,"y":1}}')).toBe(true)
    expect(equal(host, '{}', '[]')).toBe(false)
  })

  test('objects with many keys compare in n log n', () => {
    const host = h()
    const n = 50000
    const keys = Array.from({ length: n }, (_, i) => `"k${i}":${i}`)
    const reversed = [...keys].reverse()
    const started = performance.now()
    expect(equal(host, `{${keys.join(',')}}`, `{${reversed.join(',')}}`)).toBe(true)
    expect(equal(host, `{${keys.join(',')}}`, `{${reversed.slice(1).join(',')},"k0":1}`)).toBe(false)
    expect(performance.now() - started).toBeLessThan(3000)
  })
})

describe('input errors', () => {
  const h = () => withCondition([['Arguments', 'x']], { kind: 'present', read: 0 })
  const argsError = (args: string | Uint8Array): unknown => h().evaluate('t', args, AGENT).error

  test('tool name that is not valid UTF-8', () => {
    for (const bad of [[0x80], [0xc0, 0x80], [0xc3], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x61, 0xff]]) {
      expect(h().evaluate(new Uint8Array(bad), '{}', AGENT).error).toMatch(/^tool_name: invalid utf-8 at byte \d+$/)
    }
    expect(h().evaluate(new Uint8Array([0x61, 0xff]), '{}', AGENT).error).toBe('tool_name: invalid utf-8 at byte 1')
    expect(h().evaluate('', '{}', AGENT).decision).toBe('Deny')
  })

  test('empty input, syntax errors, trailing characters', () => {
    expect(argsError('')).toBe('arguments JSON: empty input')
    expect(argsError(' \n\t\r ')).toBe('arguments JSON: empty input')
    expect(argsError('{"x":1} x')).toBe('arguments JSON: trailing characters at byte 8')
    expect(argsError('{"x":1}{}')).toBe('arguments JSON: trailing characters at byte 7')
    for (const bad of ['{', '[1,', '{"x"', '{"x":', '"abc', 'tru', 'nul', '-', '1.', '1e', '1e+', '.5', '+1', '01', '[1,]', '{"x":1,}', '{x:1}', "{'x':1}", '[1 2]', '{"x" 1}', 'NaN', 'Infinity', '\u00a01', '{"x":1]', '[1}']) {
      expect(argsError(bad), bad).toMatch(/^arguments JSON: [a-z ',:\]}-]+ at byte \d+$/)
    }
  })

  test('strings: escapes, surrogates, UTF-8, control characters', () => {
    for (const good of ['"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\u0000\\uFFFF\\ud83d\\ude00"', '"é😀\u007f"']) expect(argsError(good), good).toBeUndefined()
    expect(argsError('"\\x"')).toBe('arguments JSON: invalid escape at byte 1')
    expect(argsError('"\\u12g4"')).toBe('arguments JSON: invalid escape at byte 1')
    expect(argsError('"\\u12"')).toBe('arguments JSON: invalid escape at byte 1')
    expect(argsError('"\\ud800"')).toBe('arguments JSON: lone surrogate in string at byte 1')
    expect(argsError('"\\udc00"')).toBe('arguments JSON: lone surrogate in string at byte 1')
    expect(argsError('"\\ud800\\u0041"')).toBe('arguments JSON: lone surrogate in string at byte 1')
    expect(argsError('"\\ud800x"')).toBe('arguments JSON: lone surrogate in string at byte 1')
    expect(argsError('"a\u0001"')).toBe('arguments JSON: control character in string at byte 2')
    expect(argsError('"a\n"')).toBe('arguments JSON: control character in string at byte 2')
    const utf8 = (...b: number[]) => new Uint8Array([0x22, ...b, 0x22])
    for (const bad of [[0x80], [0xc1, 0xbf], [0xe0, 0x9f, 0xbf], [0xed, 0xbf, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff]]) {
      expect(argsError(utf8(...bad))).toBe('arguments JSON: invalid utf-8 in string at byte 1')
    }
    expect(argsError(utf8(0xf4, 0x8f, 0xbf, 0xbf))).toBeUndefined()
    expect(argsError(new Uint8Array([0x7b, 0x80, 0x7d]))).toMatch(/^arguments JSON: expected a string key at byte 1$/)
  })

  test('numbers that overflow a double are errors; tiny ones are 0', () => {
    expect(argsError('1e400')).toBe('arguments JSON: number out of range at byte 0')
    expect(argsError('[1, -1e400]')).toBe('arguments JSON: number out of range at byte 4')
    expect(argsError('1.8e308')).toBe('arguments JSON: number out of range at byte 0')
    expect(argsError('179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792')).toBe('arguments JSON: number out of range at byte 0')
    for (const ok of ['1.7976931348623157e308', '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791', '1e-400', '-1e-400', '0e999999999999', '0.0e-99999999999999999999', '1e-99999999999999999999', '0.00000000000000000000000000000000001e308', '10000000000000000000000000000000000000000e268']) {
      expect(argsError(ok), ok).toBeUndefined()
    }
  })

  test('nesting: 128 levels are fine, 129 are an error, 100,000 do not overflow the stack', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n)
    expect(argsError(nest(128))).toBeUndefined()
    expect(argsError(`{"x":${nest(127)}}`)).toBeUndefined()
    expect(argsError(nest(129))).toBe('arguments JSON: nesting deeper than 128 at byte 128')
    expect(argsError('{"a":'.repeat(129) + '1' + '}'.repeat(129))).toBe('arguments JSON: nesting deeper than 128 at byte 640')
    expect(argsError('['.repeat(100000))).toBe('arguments JSON: nesting deeper than 128 at byte 128')
    expect(argsError(nest(100000))).toBe('arguments JSON: nesting deeper than 128 at byte 128')
    const deep = nest(128)
    const eq = withCondition([['Arguments', 'a'], ['Arguments', 'b']], { kind: 'equals', a: 0, b: 1 })
    expect(eq.evaluate('t', `{"a":${nest(127)},"b":${nest(127)}}`, AGENT).decision).toBe('Allow')
    expect(eq.evaluate('t', deep, AGENT).decision).toBe('Deny')
  })

  test('context: JSON errors, not an object, role missing or not a string', () => {
    const host = h()
    expect(host.evaluate('t', '{}', '').error).toBe('context JSON: empty input')
    expect(host.evaluate('t', '{}', '{"role":"agent"').error).toBe('context JSON: unexpected end of input at byte 15')
    for (const ctx of ['[]', '"agent"', '1', 'null']) expect(host.evaluate('t', '{}', ctx).error).toBe('context JSON: not an object')
    expect(host.evaluate('t', '{}', '{}').error).toBe('context JSON: role is missing')
    expect(host.evaluate('t', '{}', '{"agent_attrs":{"role":"agent"}}').error).toBe('context JSON: role is missing')
    for (const role of ['null', '1', '["agent"]', '{}']) expect(host.evaluate('t', '{}', `{"role":${role}}`).error).toBe('context JSON: role is not a string')
    expect(host.evaluate('t', '{}', ' \n{"role":"agent"}\t').decision).toBe('Deny')
  })

  test('the first error wins: tool_name, then arguments, then context', () => {
    const host = h()
    expect(host.evaluate(new Uint8Array([0xff]), '', '').error).toMatch(/^tool_name:/)
    expect(host.evaluate('t', '', '').error).toMatch(/^arguments JSON:/)
    expect(host.evaluate('t', '1e999', '{}').error).toMatch(/^arguments JSON:/)
  })

  test('buffers outside memory and bad allocations answer errors, never trap', () => {
    const host = h()
    const e = host.exports
    const size = host.memoryBytes
    const tool = host.write(new TextEncoder().encode('t'))
    const read = (resp: number) => JSON.parse(host.readResponse(resp))
    expect(read(e.evaluate(size - 1, 2, 0, 0, 0, 0)).error).toBe('tool_name: buffer outside memory')
    expect(read(e.evaluate(-1, 1, 0, 0, 0, 0)).error).toBe('tool_name: buffer outside memory')
    expect(read(e.evaluate(tool, 1, 0, -1, 0, 0)).error).toBe('arguments JSON: buffer outside memory')
    expect(read(e.evaluate(0, 0, 0, 0, 0, 0)).error).toBe('arguments JSON: empty input')
    expect(e.alloc(-1)).toBe(0)
    expect(e.alloc(0x7fffffff)).toBe(0)
    expect(e.alloc(256 * 1024 * 1024 + 1)).toBe(0)
    e.dealloc(0, 0)
    e.dealloc(-5, 12)
    e.dealloc(size * 4, 100)
    expect(host.evaluate('t', '{"x":1}', AGENT).decision).toBe('Allow')
  })

  test('a buffer outside memory at the call stays outside, though the call grows memory over it', () => {
    const host = h()
    const e = host.exports
    // One buffer filling memory to its last byte: the call's scratch starts at the end and grows memory.
    const size = host.memoryBytes
    const start = e.alloc(0)
    const buffer = e.alloc(size - start)
    expect(buffer).toBe(start)
    expect(host.memoryBytes).toBe(size)
    const args = new TextEncoder().encode('{}')
    const context = new TextEncoder().encode(AGENT)
    new Uint8Array(e.memory.buffer).set([...args, ...context], buffer)
    // The tool's 10 bytes start 2 bytes before the end of memory as the host left it.
    const answer = JSON.parse(host.readResponse(e.evaluate(size - 2, 10, buffer, args.length, buffer + args.length, context.length)))
    expect(host.memoryBytes).toBeGreaterThan(size)
    expect(answer).toEqual({ error: 'tool_name: buffer outside memory' })
  })
})

describe('init', () => {
  test('init(0, 0) and the exact source answer ok with the version; anything else an error', () => {
    const host = artifact(program([{ tool: 't', role: 'agent' }]))
    expect(host.init()).toEqual({ ok: true, version: 'v1.2' })
    expect(host.init(SOURCE_TEXT)).toEqual({ ok: true, version: 'v1.2' })
    expect(String(host.init(SOURCE_TEXT + ' ').error)).toMatch(/^init: .*compiled from another policy.*recompile/)
    expect(String(host.init('x'.repeat(1000)).error)).toMatch(/^init: /)
    expect(host.evaluate('t', '{}', AGENT).decision).toBe('Allow')
  })

  test('evaluate works without init', () => {
    expect(artifact(program([{ tool: 't', role: 'agent' }])).evaluate('t', '{}', AGENT).decision).toBe('Allow')
  })
})

/** The exact decimal expansion of a finite double, and of the midpoint above it. */
function exactDecimal(mantissa: bigint, exp2: number): string {
  if (exp2 >= 0) return (mantissa << BigInt(exp2)).toString()
  const digits = (mantissa * 5n ** BigInt(-exp2)).toString().padStart(-exp2 + 1, '0')
  return `${digits.slice(0, exp2)}.${digits.slice(exp2)}`
}

function decompose(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  const exp = Number((bits >> 52n) & 0x7ffn)
  const frac = bits & ((1n << 52n) - 1n)
  return exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075]
}

describe('numbers read exactly as Number() does', () => {
  /**
   * One artifact for a batch: rule i is tool `n<i>` with `Arguments.x Eq Number(text_i)`,
   * so each text passes exactly when the runtime reads the same double.
   */
  function allAgree(texts: string[]): void {
    const finite = texts.filter((t) => Number.isFinite(Number(t)))
    const host = artifact(
      program(finite.map((t, i) => ({ tool: `n${i}`, role: 'agent', reads: [['Arguments', 'x']], root: { kind: 'numeric', read: 0, op: 'Eq', value: Number(t) } }))),
    )
    finite.forEach((text, i) => {
      const verdict = host.evaluate(`n${i}`, `{"x":${text}}`, AGENT)
      expect(verdict.decision, `${text} should read as ${Number(text)}: ${JSON.stringify(verdict)}`).toBe('Allow')
    })
  }

  test('hand-picked hard cases', () => {
    allAgree([
      '0', '-0', '1', '0.1', '0.3', '123456789012345678901234567890', '9007199254740993', '18446744073709551615', '18446744073709551617',
      '2.2250738585072011e-308', '2.2250738585072012e-308', '4.9406564584124654e-324', '2.4703282292062327e-324', '2.4703282292062328e-324',
      '1.7976931348623157e308', '1.7976931348623158e308', '5e-324', '1e23', '8.98846567431158e307', '9007199254740992.5', '9007199254740993.0000000000000001',
      '0.000000000000000000000000000000000000000000000001', '1e22', '1e-22', '123e35', '7.2057594037927933e16', '3.0517578125e-05',
      '1' + '0'.repeat(400) + 'e-400', '0.' + '0'.repeat(300) + '1' + '9'.repeat(900),
    ])
  })

  test('midpoints between adjacent doubles and their neighbours (ties to even)', () => {
    const near = (x: number): string[] => {
      const [m, e] = decompose(x)
      const mid = exactDecimal(2n * m + 1n, e - 1)
      // One digit less; `5.` is not JSON (Number() reads it, the artifact must not), so `5` then.
      return [mid, mid + '1', mid.includes('.') ? mid.slice(0, -1).replace(/\.$/, '') : mid + 'e-1', exactDecimal(m, e)]
    }
    const doubles = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1.7e308 }), { minLength: 100, maxLength: 100 })
    fc.assert(fc.property(doubles, (xs) => allAgree(xs.flatMap(near))), { numRuns: 3, endOnFailure: true })
  })

  test('random decimal strings', () => {
    const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })
    const number = fc
      .tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 30)).map(([a, b]) => a + b)), fc.option(digits(1, 30)), fc.option(fc.integer({ min: -360, max: 330 })))
      .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : '.' + frac}${exp === null ? '' : 'e' + exp}`)
    fc.assert(fc.property(fc.array(number, { minLength: 1000, maxLength: 1000 }), (texts) => allAgree(texts)), { numRuns: 3, endOnFailure: true })
  })
})

describe('memory stays bounded', () => {
  const host = () =>
    withCondition([['Arguments', 'amount'], ['AgentAttributes', 'id'], ['ResourceAttributes', 'owner']], {
      kind: 'all',
      children: [{ kind: 'numeric', read: 0, op: 'Lte', value: 500 }, { kind: 'equals', a: 1, b: 2 }],
    })
  const ctx = '{"role":"agent","agent_attrs":{"id":"u1"},"resource_attrs":{"owner":"u1"}}'

  for (const release of [true, false]) {
    test(`over 1,000,000 calls when the host ${release ? 'releases' : 'never releases'} its inputs`, () => {
      const h = host()
      for (let i = 0; i < 1000; i++) h.evaluate('t', `{"amount":${i}}`, ctx, release)
      const warm = h.memoryBytes
      for (let i = 0; i < 1_000_000; i++) h.evaluateText('t', `{"amount":${i % 1000}}`, ctx, release)
      expect(h.memoryBytes).toBe(warm)
      expect(h.evaluate('t', '{"amount":1}', ctx, release).decision).toBe('Allow')
    }, 60_000)
  }

  test('when the host allocates once and reuses its buffers', () => {
    const h = host()
    const e = h.exports
    const enc = new TextEncoder()
    const tool = h.write(enc.encode('t'))
    const args = e.alloc(64)
    const context = h.write(enc.encode(ctx))
    const warm = h.memoryBytes
    for (let i = 0; i < 50000; i++) {
      const text = enc.encode(`{"amount":${i % 500}}`)
      new Uint8Array(e.memory.buffer, args, text.length).set(text)
      const verdict = JSON.parse(h.readResponse(e.evaluate(tool, 1, args, text.length, context, ctx.length)))
      if (verdict.decision !== 'Allow') throw new Error(JSON.stringify(verdict))
    }
    expect(h.memoryBytes).toBe(warm)
  })

  test('a large call raises the high-water mark once; later calls reuse it', () => {
    const h = host()
    const big = `{"amount":1,"pad":"${'x'.repeat(3_000_000)}"}`
    h.evaluate('t', big, ctx, false)
    const high = h.memoryBytes
    for (let i = 0; i < 5; i++) expect(h.evaluate('t', big, ctx, false).decision).toBe('Allow')
    expect(h.memoryBytes).toBe(high)
  })
})
