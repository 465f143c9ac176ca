// "did you mean" never inverts meaning (issue 12): a known other way of writing
// an op, a source, a default action, a condition form or a key is answered
// before any edit distance (`Le` is `Lte`, never `Lt`; `Neq` is `Not` of `Eq`,
// never `Eq`), and edit distance never crosses a negation.
import { describe, expect, it } from 'vitest'
import { check } from '../src/compiler/compile.js'
import { CONDITION_FORMS, NUMERIC_OPS, STRING_OPS } from '../src/compiler/policy.js'
import {
  ACTION_ALIASES, type Aliases, FORM_ALIASES, NUMERIC_OP_ALIASES, SOURCE_ALIASES, STRING_OP_ALIASES, closest, helpFor, negates,
} from '../src/compiler/suggest.js'
import { runCli } from './support/cli.js'

const policy = (condition: unknown, extra: Record<string, unknown> = {}): string => JSON.stringify({
  version: '1', default_action: 'Deny', tools: ['t'], roles: ['r'], ...extra,
  rules: [{ tool_name: 't', roles: ['r'], condition }],
})
const numeric = (op: string) => ({ NumericCheck: { source: 'Arguments', field: 'amount', op, value: 500 } })
const string = (op: string) => ({ StringCheck: { source: 'Arguments', field: 'path', op, value: ['/etc'] } })

/** The one diagnostic of `source`: its message and help. */
function only(source: string): { code: string; message: string; help: string | undefined } {
  const { diagnostics } = check(source)
  expect(diagnostics, source).toHaveLength(1)
  const [d] = diagnostics
  return { code: d!.code, message: d!.message, help: d!.help }
}

const LTE = 'did you mean `Lte` (less than or equal)?'
const GTE = 'did you mean `Gte` (greater than or equal)?'
const LT = 'did you mean `Lt` (less than)?'
const GT = 'did you mean `Gt` (greater than)?'
const EQ = 'did you mean `Eq` (equal)?'
const NO_NEQ = /^there is no `Neq`: wrap an `Eq` check in `Not`/

describe('the reproducers of issue 12', () => {
  it.each([
    ['Le', LTE],
    ['Ge', GTE],
    ['Neq', NO_NEQ],
  ])('NumericCheck op `%s` is answered with its meaning', (op, help) => {
    const d = only(policy(numeric(op)))
    expect(d.message).toBe(`unknown op \`${op}\``)
    expect(d.help).toMatch(help)
    // Never the op that means something else.
    expect(d.help).not.toMatch(/`Lt`|`Gt`|did you mean `Eq`/)
  })

  it('through `perso check`: the help line of each', async () => {
    for (const [op, help] of [['Le', '`Lte`'], ['Ge', '`Gte`'], ['Neq', 'wrap an `Eq` check in `Not`']] as const) {
      const run = await runCli(['check', 'p.json'], { files: { 'p.json': policy(numeric(op)) } })
      expect(run.code).toBe(2)
      expect(run.stdout).toContain(`error[E024]: unknown op \`${op}\``)
      expect(run.stdout).toMatch(new RegExp(`= help: .*${help.replace(/[`()]/g, '\\$&')}`))
    }
  })
})

describe('NumericCheck ops: every other way of writing one, before edit distance', () => {
  const cases: [string, string | RegExp][] = [
    ...['Le', 'LE', 'le', '<=', '=<', '≤', 'LessOrEqual', 'LessThanOrEqual', 'less_than_or_equal', 'LessThanOrEqualTo', 'Leq', 'AtMost'].map((op): [string, string] => [op, LTE]),
    ...['Ge', 'GE', '>=', '=>', '≥', 'GreaterOrEqual', 'GreaterThanOrEqual', 'greater-than-or-equal', 'Geq', 'AtLeast'].map((op): [string, string] => [op, GTE]),
    ...['<', 'LessThan', 'less_than', 'Below'].map((op): [string, string] => [op, LT]),
    ...['>', 'GreaterThan', 'greater than', 'Above', 'MoreThan'].map((op): [string, string] => [op, GT]),
    ...['==', '=', '===', 'Equal', 'Equals', 'EqualTo', 'EQ'].map((op): [string, string | RegExp] => [op, op === 'EQ' ? 'did you mean `Eq`?' : EQ]),
    ...['Neq', 'Ne', 'NE', '!=', '!==', '<>', '≠', 'NotEqual', 'NotEquals', 'not_equal', 'Unequal'].map((op): [string, RegExp] => [op, NO_NEQ]),
    ['In', /^`In` and `NotIn` are ops of `StringCheck`/],
    ['NotIn', /^`In` and `NotIn` are ops of `StringCheck`/],
    ['Between', /^there is no `Between`: write `\{"All": \[\{"NumericCheck": \{…, "op": "Gte"/],
    // Case only: the op itself.
    ['LTE', 'did you mean `Lte`?'],
    ['gte', 'did you mean `Gte`?'],
    // A typo, not an alias: edit distance, as before.
    ['Lteq', 'did you mean `Lte`?'],
  ]
  it.each(cases)('`%s`', (op, help) => {
    const d = only(policy(numeric(op)))
    expect(d.code).toBe('E024')
    expect(d.help).toMatch(help)
  })
})

describe('StringCheck ops', () => {
  const NOT_IN = 'did you mean `NotIn` (is none of)?'
  const IN = 'did you mean `In` (is one of)?'
  const cases: [string, string | RegExp][] = [
    ...['NotIN', 'NOTIN', 'not_in', 'not-in', 'Nin', 'NIN', '!in', 'NoneOf', 'NotOneOf', 'IsNotIn', 'Excluding'].map((op): [string, string] => [op, /^notin$/i.test(op) ? 'did you mean `NotIn`?' : NOT_IN]),
    ...['IsIn', 'OneOf', 'AnyOf', 'MemberOf'].map((op): [string, string] => [op, IN]),
    ['IN', 'did you mean `In`?'],
    ['Notin', 'did you mean `NotIn`?'],
    ['Contains', /^perso compares whole strings only/],
    ['StartsWith', /^perso compares whole strings only/],
    ['Matches', /^perso compares whole strings only/],
    ['NotContains', /^perso compares whole strings only/],
    ['Eq', /^to compare with one string, write `"op": "In", "value": \["…"\]`/],
    ['==', /^to compare with one string/],
    ['Is', /^to compare with one string/],
    ['Neq', /^to require a string other than one value, write `"op": "NotIn"/],
    ['!=', /^to require a string other than one value/],
    ['NotEqual', /^to require a string other than one value/],
    ['Lte', /^that is a comparison of numbers: use a `NumericCheck`/],
    ['<', /^that is a comparison of numbers/],
    // Typos of the two ops stay on their own side of the negation.
    ['Inn', 'did you mean `In`?'],
    ['NotInn', 'did you mean `NotIn`?'],
  ]
  it.each(cases)('`%s`', (op, help) => {
    const d = only(policy(string(op)))
    expect(d.code).toBe('E024')
    expect(d.help).toMatch(help)
  })
})

describe('condition forms', () => {
  const leaf = { FieldPresent: { source: 'Arguments', field: 'a' } }
  const cases: [string, unknown, string | RegExp][] = [
    ['Or', [leaf], 'did you mean `Any` (at least one condition holds)?'],
    ['OR', [leaf], 'did you mean `Any` (at least one condition holds)?'],
    ['AnyOf', [leaf], 'did you mean `Any` (at least one condition holds)?'],
    ['And', [leaf], 'did you mean `All` (every condition holds)?'],
    ['AllOf', [leaf], 'did you mean `All` (every condition holds)?'],
    ['Nor', [leaf], /^for "none of", wrap an `Any` in `Not`/],
    ['NoneOf', [leaf], /^for "none of", wrap an `Any` in `Not`/],
    ['Nand', [leaf], /^for "not all of", wrap an `All` in `Not`/],
    ['Xor', [leaf], /^there is no exactly-one form: `Any` holds when at least one/],
    ['OneOf', [leaf], 'did you mean `StringCheck` (a string is or is not one of a list)?'],
    ['Exists', { source: 'Arguments', field: 'a' }, 'did you mean `FieldPresent` (the field is present and not `null`)?'],
    ['NotNull', { source: 'Arguments', field: 'a' }, 'did you mean `FieldPresent` (the field is present and not `null`)?'],
    ['Absent', { source: 'Arguments', field: 'a' }, /^there is no `FieldAbsent`: wrap a `FieldPresent` in `Not`/],
    ['FieldMissing', { source: 'Arguments', field: 'a' }, /^there is no `FieldAbsent`/],
    ['FieldNotEquals', {}, /^there is no `FieldNotEquals`: wrap a `FieldEquals` in `Not`/],
    ['Equals', {}, 'did you mean `FieldEquals` (two fields are equal)?'],
    ['NotIn', {}, /^`NotIn` is an op: write `\{"StringCheck"/],
    ['NumericCompare', {}, 'did you mean `NumericCheck` (compares a number)?'],
    ['note', 'needs MFA', /^notes go in `description`, `\$comment` or a key starting with `x-`; a condition needs one form$/],
    ['Nott', leaf, 'did you mean `Not`?'],
  ]
  it.each(cases)('`%s`', (form, body, help) => {
    const d = only(policy({ [form]: body }))
    expect(d.code).toBe('E023')
    expect(d.help).toMatch(help)
  })
})

describe('sources, default actions and keys', () => {
  it.each([
    ['args', 'did you mean `Arguments`?'],
    ['agent_attrs', 'did you mean `AgentAttributes`?'],
    ['resource_attrs', 'did you mean `ResourceAttributes`?'],
    ['Context', /^the context's fields are in `AgentAttributes`/],
    ['arguments', 'did you mean `Arguments`?'],
  ])('source `%s`', (source, help) => {
    expect(only(policy({ FieldPresent: { source, field: 'a' } })).help).toMatch(help)
  })

  it.each([['Permit', 'Allow'], ['Forbid', 'Deny'], ['Reject', 'Deny'], ['deny', 'Deny']])('default action `%s`', (action, meant) => {
    expect(only(policy(null, { default_action: action })).help).toBe(`did you mean \`${meant}\`?`)
  })

  const rule = (extra: Record<string, unknown>): string => JSON.stringify({
    version: '1', default_action: 'Deny', tools: ['t'], roles: ['r'], rules: [{ tool_name: 't', roles: ['r'], ...extra }],
  })
  it.each([
    [{ when: { All: [] } }, 'did you mean `condition`?'],
    [{ conditions: { All: [] } }, 'did you mean `condition`?'],
    [{ effect: 'Deny' }, /^a rule has no effect of its own/],
    [{ note: 'x' }, 'notes go in `description`, `$comment` or a key starting with `x-`'],
    [{ priority: 1 }, 'known keys here: `tool_name`, `roles`, `condition`; notes go in `description`, `$comment` or a key starting with `x-`'],
    [{ conditon: { All: [] } }, 'did you mean `condition`?'],
  ])('rule key %j', (extra, help) => {
    const d = only(rule(extra))
    expect(d.code).toBe('E025')
    expect(d.help).toMatch(help)
  })

  it.each([
    [{ operator: 'Lt' }, 'op', 'did you mean `op`?'],
    [{ threshold: 5 }, 'value', 'did you mean `value`?'],
    [{ key: 'a' }, 'field', 'did you mean `field`?'],
  ])('a NumericCheck key %j: one error, at the key written for `%s`', (written, missing, help) => {
    const body: Record<string, unknown> = { source: 'Arguments', field: 'amount', op: 'Lt', value: 5, ...written }
    delete body[missing]
    const d = only(policy({ NumericCheck: body }))
    expect(d.code).toBe('E021')
    expect(d.help).toBe(`${help.replace('?', '')} instead of \`${Object.keys(written)[0]}\`?`)
  })

  it('an unknown key with no close match says where notes go, at every level', () => {
    const body = { source: 'Arguments', field: 'amount', op: 'Lt', value: 5, currency: 'USD' }
    expect(only(policy({ NumericCheck: body })).help)
      .toBe('known keys here: `source`, `field`, `op`, `value`; notes go in `description`, `$comment` or a key starting with `x-`')
    expect(check(policy(null, { reviewed_by: 'sam' })).diagnostics.map((d) => d.help))
      .toEqual(['known keys here: `version`, `default_action`, `tools`, `roles`, `rules`; notes go in `description`, `$comment` or a key starting with `x-`'])
  })
})

describe('every alias answers a name that exists, and means what its table says', () => {
  const tables: [string, Aliases, readonly string[]][] = [
    ['NumericCheck op', NUMERIC_OP_ALIASES, NUMERIC_OPS],
    ['StringCheck op', STRING_OP_ALIASES, STRING_OPS],
    ['condition form', FORM_ALIASES, CONDITION_FORMS],
    ['default action', ACTION_ALIASES, ['Allow', 'Deny']],
    ['source', SOURCE_ALIASES, ['Arguments', 'AgentAttributes', 'ResourceAttributes']],
  ]
  it.each(tables)('%s', (_, table, names) => {
    for (const [spelling, alternatives] of table) {
      const first = alternatives[0]!
      if ('meant' in first) {
        expect(names, spelling).toContain(first.meant)
        // helpFor answers the alias (or the name itself when only the case differs), never edit distance.
        expect(helpFor(spelling, names, table), spelling).toMatch(new RegExp(`^did you mean \`${first.meant}\``))
      } else {
        expect(helpFor(spelling, names, table), spelling).toBe(first.help)
      }
    }
  })
})

describe('edit distance never crosses a negation', () => {
  it('tells the names that say "not"', () => {
    for (const name of ['Not', 'NotIn', 'NOTIN', 'not_in', 'Neq', 'Ne', 'Nin', '!=', '<>', 'NoneOf', 'nonempty', 'Missing']) expect(negates(name), name).toBe(true)
    for (const name of ['note', 'notes', 'Nothing', 'In', 'Eq', 'Lte', 'Any', 'FieldPresent', 'annotation', 'agent', 'description']) expect(negates(name), name).toBe(false)
  })

  it('never suggests across one', () => {
    expect(closest('Neq', ['Lt', 'Lte', 'Gt', 'Gte', 'Eq'])).toBeUndefined()
    expect(closest('note', CONDITION_FORMS)).toBeUndefined()
    expect(closest('Nin', ['In', 'NotIn'])).toBeUndefined()
    expect(closest('NotInn', ['In', 'NotIn'])).toBe('NotIn')
    expect(closest('Inn', ['In', 'NotIn'])).toBe('In')
    expect(closest('Nott', CONDITION_FORMS)).toBe('Not')
    expect(closest('agnet', ['agent', 'manager'])).toBe('agent')
  })

  it('a negation word added to or taken from a valid name is never answered with the other polarity', () => {
    const vocabularies: readonly (readonly string[])[] = [NUMERIC_OPS, STRING_OPS, CONDITION_FORMS]
    const prefixes = ['Not', 'not_', 'No', 'Non', 'N', 'Never']
    for (const names of vocabularies) {
      for (const name of names) {
        for (const prefix of prefixes) {
          const written = `${prefix}${name}`
          if (names.includes(written)) continue
          const help = helpFor(written, names)
          const suggested = /^did you mean `([^`]+)`/.exec(help)?.[1]
          if (suggested !== undefined) expect(negates(suggested), `${written} → ${suggested}`).toBe(negates(written))
        }
        if (name.startsWith('Not')) {
          const bare = name.slice(3)
          if (bare !== '' && !names.includes(bare)) expect(helpFor(bare, names)).not.toContain(`\`${name}\``)
        }
      }
    }
  })
})
