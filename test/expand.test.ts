// Expansion warnings (issue 2, point 4): each is produced where it applies, at
// the right place, and nowhere else; --strict turns them into errors.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { check } from '../src/compiler/compile.js'
import { globMatch } from '../src/compiler/expand.js'

const base = { version: 'v', default_action: 'Deny', tools: ['read', 'write'], roles: ['agent', 'admin'] }

/** Checks `policy` (pretty-printed, so spans are distinct) and answers its diagnostics with the text they point at. */
function diagnose(policy: object, strict = false) {
  const source = JSON.stringify(policy, null, 2)
  const bytes = new TextEncoder().encode(source)
  return check(bytes, { strict }).diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: d.message,
    at: new TextDecoder().decode(bytes.subarray(d.span.start, d.span.end)),
    related: d.related?.map((r) => new TextDecoder().decode(bytes.subarray(r.span.start, r.span.end))),
  }))
}

describe('each warning where it applies', () => {
  it('W101 a tool declared twice, at the second, related to the first', () => {
    expect(diagnose({ ...base, tools: ['read', 'write', 'read'], rules: [] })).toEqual([
      expect.objectContaining({ code: 'W101', severity: 'warning', at: '"read"', related: ['"read"'] }),
    ])
  })

  it('W102 a role declared twice', () => {
    expect(diagnose({ ...base, roles: ['agent', 'agent'], rules: [] }).map((d) => d.code)).toEqual(['W102'])
  })

  it('W103 a rule role not declared, with did-you-mean', () => {
    const [d, ...rest] = diagnose({ ...base, rules: [{ tool_name: 'read', roles: ['agnet'] }] })
    expect(rest).toEqual([])
    expect(d).toMatchObject({ code: 'W103', at: '"agnet"' })
    expect(check(JSON.stringify({ ...base, rules: [{ tool_name: 'read', roles: ['agnet'] }] })).diagnostics[0]!.help).toBe('did you mean `agent`?')
  })

  it('W104 a pattern that matches no declared tool', () => {
    expect(diagnose({ ...base, rules: [{ tool_name: 'export_*', roles: ['agent'] }] })).toEqual([
      expect.objectContaining({ code: 'W104', at: '"export_*"' }),
    ])
  })

  it('W105 an exact tool name that is not declared (it still gets its entry)', () => {
    const policy = { ...base, rules: [{ tool_name: 'reed', roles: ['agent'] }] }
    expect(diagnose(policy)).toEqual([expect.objectContaining({ code: 'W105', at: '"reed"' })])
    expect(check(JSON.stringify(policy)).table?.get('reed', 'agent')).toBe(0)
  })

  it('W106 a later rule replaces an earlier one where a decision changes: names both rules, their places and the pairs', () => {
    const policy = { ...base, rules: [{ tool_name: '*', roles: ['agent', 'admin'] }, { tool_name: 'write', roles: ['admin'], condition: { FieldPresent: { source: 'Arguments', field: 'ok' } } }] }
    const [d, ...rest] = diagnose(policy)
    expect(rest).toEqual([])
    expect(d).toMatchObject({ code: 'W106', at: '"write"', related: ['"*"'] })
    expect(d!.message).toBe('rules[1] replaces rules[0] for `write` for `admin`: its requests now need FieldPresent(Arguments.ok) (less permissive)')
  })

  it('W107 a rule with an empty roles list', () => {
    expect(diagnose({ ...base, rules: [{ tool_name: 'read', roles: [] }] })).toEqual([
      expect.objectContaining({ code: 'W107', at: '[]' }),
    ])
  })
})

describe('and nowhere else', () => {
  for (const fixture of ['crm.json', 'file-ops.json']) {
    it(`fixtures/${fixture} has no diagnostics at all`, () => {
      expect(check(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url))).diagnostics).toEqual([])
    })
  }

  it('a rule naming the same role twice does not replace itself', () => {
    expect(diagnose({ ...base, rules: [{ tool_name: 'read', roles: ['agent', 'agent'] }] })).toEqual([])
  })

  it('an undeclared role does not also warn about replacement or patterns', () => {
    const policy = { ...base, rules: [{ tool_name: 'read', roles: ['ghost'] }, { tool_name: 'read', roles: ['ghost'] }] }
    expect(diagnose(policy).map((d) => d.code)).toEqual(['W103', 'W103'])
  })
})

it('--strict turns every warning into an error and keeps no table', () => {
  const policy = JSON.stringify({ ...base, rules: [{ tool_name: 'export_*', roles: ['agent'] }] })
  const strict = check(policy, { strict: true })
  expect(strict.diagnostics.map((d) => d.severity)).toEqual(['error'])
  expect(strict.table).toBeUndefined()
})

describe('globMatch', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', true], ['*', 'anything', true], ['*_file', 'read_file', true], ['*_file', 'read_files', false],
    ['glob*a*', 'glob_tool_alpha', true], ['glob*a*', 'glob_tool_beta', true], ['glob*a*', 'glob_tool_x', false],
    ['a*b*c', 'abc', true], ['a*b*c', 'aXbYbZc', true], ['a*b*c', 'acb', false], ['a?c', 'abc', false], ['a?c', 'a?c', true],
    ['**', 'x', true], ['x*', 'x', true], ['*x', 'x', true], ['*x*', 'yyy', false],
  ]
  for (const [pattern, name, want] of cases) it(`${pattern} ${want ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => expect(globMatch(pattern, name)).toBe(want))

  it('stays fast on a pathological pattern', () => {
    // Backtracking regexes take exponential time on this; the two-pointer match is O(n·m).
    expect(globMatch('*a'.repeat(30) + 'b', 'a'.repeat(5000))).toBe(false)
  })
})
