// validate.ts: one diagnostic per root cause, with did-you-mean help.
import { describe, expect, it } from 'vitest'
import { parse } from '../src/compiler/parse.js'
import { validate } from '../src/compiler/validate.js'

const base = { version: '1', default_action: 'Deny', tools: ['t'], roles: ['r'] }

function run(doc: unknown) {
  const src = new TextEncoder().encode(typeof doc === 'string' ? doc : JSON.stringify(doc))
  const { tree, locate, diagnostics } = parse(src)
  expect(diagnostics).toEqual([])
  const result = validate(tree!, locate)
  const text = (d: { span: { start: number; end: number } }) => new TextDecoder().decode(src.subarray(d.span.start, d.span.end))
  return { ...result, brief: result.diagnostics.map((d) => ({ code: d.code, message: d.message, help: d.help, at: text(d) })) }
}

const withCondition = (condition: unknown) => ({ ...base, rules: [{ tool_name: 't', roles: ['r'], condition }] })

describe('validate', () => {
  it('accepts a policy and drops `$schema` from the typed result', () => {
    const { policy, diagnostics } = run({ $schema: 'x', ...base, rules: [{ tool_name: 't', roles: ['r'], condition: null }] })
    expect(diagnostics).toEqual([])
    expect(policy).toEqual({ ...base, rules: [{ tool_name: 't', roles: ['r'], condition: null }] })
  })

  it('accepts every condition form, nested, and an absent condition', () => {
    const leaf = { FieldPresent: { source: 'Arguments', field: 'a' } }
    const condition = {
      All: [leaf, { Any: [] }, { Not: leaf },
        { NumericCheck: { source: 'AgentAttributes', field: 'n', op: 'Gte', value: -1.5 } },
        { StringCheck: { source: 'ResourceAttributes', field: 's', op: 'NotIn', value: [] } },
        { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'Arguments', field_b: 'b' } }],
    }
    expect(run(withCondition(condition)).diagnostics).toEqual([])
    expect(run({ ...base, rules: [{ tool_name: 't', roles: [] }] }).policy?.rules[0]).toEqual({ tool_name: 't', roles: [] })
  })

  it('suggests the near op, source and default action', () => {
    const { brief, policy } = run({
      ...base, default_action: 'allow',
      rules: [{ tool_name: 't', roles: ['r'], condition: { NumericCheck: { source: 'arguments', field: 'a', op: 'LTE', value: 1 } } }],
    })
    expect(policy).toBeUndefined()
    expect(brief).toEqual([
      { code: 'E024', message: 'unknown default action `allow`', help: 'did you mean `Allow`?', at: '"allow"' },
      { code: 'E024', message: 'unknown source `arguments`', help: 'did you mean `Arguments`?', at: '"arguments"' },
      { code: 'E024', message: 'unknown op `LTE`', help: 'did you mean `Lte`?', at: '"LTE"' },
    ])
  })

  it('lists the valid values when nothing is close', () => {
    const { brief } = run(withCondition({ StringCheck: { source: 'Arguments', field: 'a', op: 'Contains', value: [] } }))
    expect(brief).toEqual([{ code: 'E024', message: 'unknown op `Contains`', help: 'perso compares whole strings only: `In` holds when the field equals one of `value`, `NotIn` when it equals none', at: '"Contains"' }])
  })

  it('gives one error for an unknown condition form, at its key, and no required-key noise', () => {
    const { brief } = run(withCondition({ Numericcheck: { source: 'Arguments' } }))
    expect(brief).toEqual([
      { code: 'E023', message: 'unknown condition form `Numericcheck`', help: 'did you mean `NumericCheck`?', at: '"Numericcheck"' },
    ])
  })

  it('gives one error for a condition with zero or two forms', () => {
    expect(run(withCondition({})).brief.map((d) => d.code)).toEqual(['E022'])
    const two = run(withCondition({ All: [], Any: [] })).brief
    expect(two).toHaveLength(1)
    expect(two[0]!.message).toBe('a condition must have exactly one form, found `All`, `Any`')
    // Notes beside two forms are not listed as forms.
    expect(run(withCondition({ description: 'd', All: [], 'x-a': 1, Any: [] })).brief.map((d) => d.message))
      .toEqual(['a condition must have exactly one form, found `All`, `Any`'])
  })

  it('does not take a note for a condition: a condition of notes only has no form', () => {
    expect(run(withCondition({ description: 'refunds' })).brief).toEqual([{
      code: 'E022', message: 'a condition must have exactly one form, found none', at: '{"description":"refunds"}',
      help: 'notes are not a condition: use one of `All`, `Any`, `Not`, `NumericCheck`, `StringCheck`, `FieldPresent`, `FieldEquals`, or `null` for no condition',
    }])
    expect(run(withCondition({ Not: { $comment: 'x', 'x-y': 1 } })).brief.map((d) => [d.code, d.message]))
      .toEqual([['E022', 'a condition must have exactly one form, found none']])
  })

  it('gives one error for a wrong type, not one per element', () => {
    expect(run({ ...base, rules: 'none' }).brief).toEqual([
      { code: 'E020', message: '`rules` must be an array of rules, found a string', help: 'write a list: `["none"]`', at: '"none"' },
    ])
    expect(run({ ...base, rules: [1, 2, 3] }).brief.map((d) => d.message)).toEqual([
      '`rules[0]` must be an object, found a number',
      '`rules[1]` must be an object, found a number',
      '`rules[2]` must be an object, found a number',
    ])
    expect(run(withCondition({ All: ['x'] })).brief.map((d) => d.message)).toEqual([
      '`All[0]` must be a condition object, found a string',
    ])
    expect(run(withCondition({ Not: null })).brief.map((d) => d.message)).toEqual([
      '`Not` must be a condition object, found `null`',
    ])
  })

  it('checks value types of NumericCheck and StringCheck', () => {
    expect(run(withCondition({ NumericCheck: { source: 'Arguments', field: 'a', op: 'Lt', value: '5' } })).brief).toEqual([
      { code: 'E020', message: '`value` must be a number, found a string', help: 'write the number without quotes: `5`', at: '"5"' },
    ])
    expect(run(withCondition({ StringCheck: { source: 'Arguments', field: 'a', op: 'In', value: ['a', true] } })).brief).toEqual([
      { code: 'E020', message: '`value[1]` must be a string, found `true`', help: undefined, at: 'true' },
    ])
  })

  it('reports a missing required key once, at the misspelling when there is one', () => {
    expect(run({ ...base, rules: [{ tool: 't', roles: ['r'] }] }).brief).toEqual([
      { code: 'E021', message: 'rule is missing required key `tool_name`', help: 'did you mean `tool_name` instead of `tool`?', at: '"tool"' },
    ])
    const { brief } = run({ version: '1', tools: [], roles: [], rules: [] })
    expect(brief.map((d) => d.message)).toEqual(['the policy is missing required key `default_action`'])
    expect(run(withCondition({ FieldPresent: { source: 'Arguments' } })).brief).toEqual([
      { code: 'E021', message: '`FieldPresent` is missing required key `field`', help: undefined, at: '"FieldPresent"' },
    ])
  })

  it('warns about unknown top-level keys, with did-you-mean, and keeps the policy', () => {
    const { brief, policy } = run({ ...base, Rules: [], descripton: 'x', rules: [] })
    expect(policy).toEqual({ ...base, rules: [] })
    expect(brief).toEqual([
      { code: 'W001', message: 'unknown key `Rules` is ignored', help: 'did you mean `rules`?', at: '"Rules"' },
      { code: 'W001', message: 'unknown key `descripton` is ignored', help: 'did you mean `description`?', at: '"descripton"' },
    ])
  })

  it('rejects an unknown key inside a rule: a misspelled condition never becomes no condition (spec §1)', () => {
    const { brief, policy } = run({ ...base, rules: [{ tool_name: 't', roles: ['r'], conditon: { All: [] } }] })
    expect(policy).toBeUndefined()
    expect(brief).toEqual([
      { code: 'E025', message: 'unknown key `conditon` in a rule', help: 'did you mean `condition`?', at: '"conditon"' },
    ])
    expect(run({ ...base, rules: [{ tool_name: 't', roles: ['r'], descripton: 'x' }] }).brief).toEqual([
      { code: 'E025', message: 'unknown key `descripton` in a rule', help: 'did you mean `description`?', at: '"descripton"' },
    ])
    expect(run({ ...base, rules: [{ tool_name: 't', roles: ['r'], priority: 1 }] }).brief).toEqual([{
      code: 'E025', message: 'unknown key `priority` in a rule', at: '"priority"',
      help: 'known keys here: `tool_name`, `roles`, `condition`; notes go in `description`, `$comment` or a key starting with `x-`',
    }])
  })

  it('rejects an unknown key inside a condition body, suggesting only that form\'s keys', () => {
    const numeric = { source: 'Arguments', field: 'a', op: 'Lt', value: 5 }
    expect(run(withCondition({ NumericCheck: { ...numeric, vaule: 6 } })).brief).toEqual([
      { code: 'E025', message: 'unknown key `vaule` in `NumericCheck`', help: 'did you mean `value`?', at: '"vaule"' },
    ])
    expect(run(withCondition({ Not: { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'Arguments', field_b: 'b', negate: true } } })).brief)
      .toEqual([{
        code: 'E025', message: 'unknown key `negate` in `FieldEquals`', at: '"negate"',
        help: 'to negate a condition, wrap it in `Not`: `{"Not": {…}}`',
      }])
    expect(run(withCondition({ StringCheck: { source: 'Arguments', field: 'a', op: 'In', value: [], x: 1 } })).brief.map((d) => d.code))
      .toEqual(['E025'])
  })

  it('rejects an unknown key beside a condition\'s form, and never suggests a second form', () => {
    const leaf = { FieldPresent: { source: 'Arguments', field: 'a' } }
    // `note` is one edit from `Not`; suggesting it would invert the condition.
    expect(run(withCondition({ ...leaf, note: 'mfa' })).brief).toEqual([{
      code: 'E025', message: 'unknown key `note` in a condition', at: '"note"',
      help: 'notes go in `description`, `$comment` or a key starting with `x-`',
    }])
    expect(run(withCondition({ All: [{ ...leaf, Anny: [] }] })).brief.map((d) => d.help))
      .toEqual(['known keys here: `FieldPresent`; notes go in `description`, `$comment` or a key starting with `x-`'])
    expect(run(withCondition({ ...leaf, $coment: 'x' })).brief).toEqual([
      { code: 'E025', message: 'unknown key `$coment` in a condition', help: 'did you mean `$comment`?', at: '"$coment"' },
    ])
  })

  it('accepts notes at every level silently and keeps them out of the typed policy', () => {
    const notes = { description: 'd', $comment: 'c', 'x-owner': { team: 'payments' } }
    const bare = {
      ...base,
      rules: [{
        tool_name: 't', roles: ['r'],
        condition: { All: [
          { NumericCheck: { source: 'Arguments', field: 'a', op: 'Lte', value: 500 } },
          { Not: { StringCheck: { source: 'Arguments', field: 's', op: 'In', value: ['x'] } } },
          { Any: [{ FieldPresent: { source: 'AgentAttributes', field: 'p' } }] },
          { FieldEquals: { source_a: 'Arguments', field_a: 'a', source_b: 'ResourceAttributes', field_b: 'b' } },
        ] },
      }],
    }
    const annotated = {
      ...notes, ...base,
      rules: [{
        tool_name: 't', roles: ['r'], ...notes,
        condition: { ...notes, All: [
          { NumericCheck: { ...notes, source: 'Arguments', field: 'a', op: 'Lte', value: 500 } },
          { Not: { ...notes, StringCheck: { source: 'Arguments', field: 's', op: 'In', value: ['x'], ...notes } } },
          { Any: [{ FieldPresent: { source: 'AgentAttributes', field: 'p', 'x-why': 'mfa' } }], ...notes },
          { ...notes, FieldEquals: { ...notes, source_a: 'Arguments', field_a: 'a', source_b: 'ResourceAttributes', field_b: 'b' } },
        ] },
      }],
    }
    const { diagnostics, policy } = run(annotated)
    expect(diagnostics).toEqual([])
    expect(policy).toEqual(run(bare).policy)
    expect(JSON.stringify(policy)).not.toMatch(/description|\$comment|x-/)
  })

  it('rejects a document that is not an object', () => {
    for (const doc of ['[]', '3', '"x"', 'null', 'true']) {
      const { brief } = run(doc)
      expect(brief).toHaveLength(1)
      expect(brief[0]!.message).toMatch(/^the policy must be a JSON object, found /)
    }
  })

  it('treats a key named __proto__ as an unknown key, not a prototype', () => {
    const { brief, policy } = run(`{"version":"1","default_action":"Deny","tools":[],"roles":[],"rules":[],"__proto__":{"x":1}}`)
    expect(brief.map((d) => d.message)).toEqual(['unknown key `__proto__` is ignored'])
    expect(Object.getPrototypeOf(policy)).toBe(Object.prototype)
  })

  it('sorts diagnostics by position', () => {
    const { diagnostics } = run({ rules: 1, tools: 2, roles: 3, version: 4, default_action: 5 })
    const starts = diagnostics.map((d) => d.span.start)
    expect(starts).toEqual([...starts].sort((a, b) => a - b))
    expect(diagnostics).toHaveLength(5)
  })
})
