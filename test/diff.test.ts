// `perso diff` (src/analysis/diff.ts, src/cli/diff.ts, docs/analysis.md):
// ten hand-made pairs with known answers and golden output, and a property
// test over random policy pairs — every difference a request finds between the
// two artifacts is one the analysis predicted, in its direction, and every
// witness it prints differs on the two artifacts.
//
// seed: PERSO_SEED=<seed>; more: PERSO_DIFF_PAIRS=<policy pairs>, PERSO_DIFF_REQUESTS=<requests per pair>

import fc from 'fast-check'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { confirm, diffPrograms, type PairDiff, witnessOf, witnessTexts } from '../src/analysis/diff.js'
import { type FieldValue, forEachAssignment, spaceOf } from '../src/compiler/space.js'
import { check, compile } from '../src/compiler/compile.js'
import type { Condition, Policy } from '../src/compiler/policy.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { policyArb, policySource, requestArb } from './support/arbitraries.js'
import { root, runCli } from './support/cli.js'
import { prng } from './support/json-text.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const PAIRS = Number(process.env.PERSO_DIFF_PAIRS ?? 30)
const REQUESTS = Number(process.env.PERSO_DIFF_REQUESTS ?? 300)
/** Aimed requests are costly to generate: at most this many per pair; the partition takes the rest. */
const AIMED = Math.min(REQUESTS, 2000)
const PARTITION = REQUESTS
const update = process.env.PERSO_UPDATE_GOLDEN === '1'

const FIXTURES = join(root, 'fixtures', 'diff')

/** The known answer of each hand-made pair: its changed pairs' verdicts (every other listed pair is `same`). */
const KNOWN: Record<string, Record<string, string>> = {
  '01-refund-limit-raised': { 'process_refund × agent': 'more permissive' },
  '02-reformatted': {},
  '03-default-allow': { 'every other pair': 'more permissive' },
  '04-role-added': { 'delete_customer × agent': 'more permissive' },
  '05-rule-removed': { 'access_pii × admin': 'less permissive', 'access_pii × agent': 'less permissive', 'access_pii × manager': 'less permissive' },
  '06-not-wrapped': { 'export_data × admin': 'both ways', 'export_data × manager': 'both ways' },
  '07-lte-to-lt': { 'process_refund × agent': 'less permissive' },
  '08-string-lists': { 'deploy × dev': 'less permissive', 'deploy × ops': 'more permissive' },
  '09-glob-gains-a-tool': { 'delete_file × writer': 'more permissive' },
  '10-rewrites': { 'refund × agent': 'more permissive' },
}

const name = (d: PairDiff): string => (d.tool === undefined ? 'every other pair' : `${d.tool} × ${d.role}`)

describe('ten hand-made pairs with known answers', () => {
  const cases = readdirSync(FIXTURES).sort()

  it('are all here', () => {
    expect(cases).toEqual(Object.keys(KNOWN))
  })

  it.each(cases)('%s: the known verdicts, witnesses that hold on the artifacts, and the golden output', async (fixture) => {
    const dir = join('fixtures', 'diff', fixture)
    const run = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--format', 'json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const doc = JSON.parse(run.stdout) as { pairs: PairDiff[]; other_pairs: PairDiff }
    const changed = Object.fromEntries(
      [...doc.pairs, { ...doc.other_pairs, tool: undefined, role: undefined }].filter((d) => d.verdict !== 'same').map((d) => [name(d), d.verdict]),
    )
    expect(changed).toEqual(KNOWN[fixture])
    for (const format of ['human', 'markdown']) {
      const out = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--format', format])
      const golden = join(FIXTURES, fixture, format === 'human' ? 'expected.txt' : 'expected.md')
      if (update) writeFileSync(golden, out.stdout)
      expect(out.stdout).toBe(readFileSync(golden, 'utf8'))
    }
  })

  it('--fail-on more-permissive exits 1 exactly where a pair gains; --fail-on change wherever one changes', async () => {
    for (const fixture of cases) {
      const dir = join('fixtures', 'diff', fixture)
      const verdicts = Object.values(KNOWN[fixture]!)
      const gains = verdicts.some((v) => v === 'more permissive' || v === 'both ways')
      const more = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--fail-on', 'more-permissive'])
      expect(more.code, fixture).toBe(gains ? 1 : 0)
      const any = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.json'), '--fail-on', 'change'])
      expect(any.code, fixture).toBe(verdicts.length > 0 ? 1 : 0)
    }
  })

  it('the README and docs/cli.md show what perso diff prints', async () => {
    for (const doc of ['README.md', 'docs/cli.md']) {
      const text = readFileSync(join(root, doc), 'utf8')
      const block = /```\n\$ perso diff (\S+) (\S+)\n([^]*?)```/.exec(text)
      expect(block, doc).not.toBeNull()
      const [, before, after, shown] = block!
      expect((await runCli(['diff', before!, after!])).stdout, doc).toBe(shown)
    }
  })

  it('reads one policy from stdin, and refuses two; an invalid policy is a located error (exit 2)', async () => {
    const old = readFileSync(join(FIXTURES, '07-lte-to-lt', 'old.json'))
    const stdin = { io: { readStdin: async () => old } }
    const piped = await runCli(['diff', '-', 'fixtures/diff/07-lte-to-lt/new.json'], stdin)
    expect(piped.code).toBe(0)
    expect(piped.stdout).toMatch(/^<stdin> → fixtures\/diff\/07-lte-to-lt\/new.json: 1 of 17 pairs change: 1 less permissive/)
    expect((await runCli(['diff', '-', '-'], stdin)).code).toBe(64)
    const invalid = await runCli(['diff', 'bad.json', 'fixtures/crm.json'], { files: { 'bad.json': '{"version": "v", "default_action": "Maybe"}' } })
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toMatch(/bad\.json:1:/)
    expect(invalid.stdout).toBe('')
  })

  it('with --format json, policies that do not compile are one JSON document on stdout, every error of both located in it', async () => {
    const files = { 'bad.json': '{"version": "v", "default_action": "Maybe"}', 'worse.json': '{"version": 1}' }
    const run = await runCli(['diff', 'bad.json', 'worse.json', '--format', 'json'], { files })
    expect(run.code).toBe(2)
    expect(run.stderr).toBe('')
    const doc = JSON.parse(run.stdout) as { error: string; diagnostics: { file: string; line: number; severity: string; code: string }[] }
    expect(doc.error).toBe('cannot compare policies that do not compile')
    expect(new Set(doc.diagnostics.map((d) => d.file))).toEqual(new Set(['bad.json', 'worse.json']))
    expect(doc.diagnostics.every((d) => d.severity === 'error' && d.line >= 1 && /^E\d{3}$/.test(d.code))).toBe(true)
    // The same errors as human text on stderr without --format json.
    const human = await runCli(['diff', 'bad.json', 'worse.json'], { files })
    expect(human.stderr.match(/error\[E\d{3}\]/g)?.length).toBe(doc.diagnostics.length)
  })

  it('a pair past the budget is unknown, and --fail-on fails on it', async () => {
    const run = await runCli(['diff', 'fixtures/diff/01-refund-limit-raised/old.json', 'fixtures/diff/01-refund-limit-raised/new.json', '--budget', '3', '--fail-on', 'more-permissive'])
    expect(run.stdout).toMatch(/unknown: process_refund × agent\n[^]*over the budget of 3/)
    expect(run.code).toBe(1)
  })
})

// ---------------------------------------------------------------------------
// Random pairs

type Edit = (policy: Policy, pick: number) => Policy

/** Every condition of a policy's rules, with a way to put another in its place. */
function conditionSlots(policy: Policy): { get: () => Condition; set: (c: Condition) => void }[] {
  const slots: { get: () => Condition; set: (c: Condition) => void }[] = []
  const visit = (get: () => Condition, set: (c: Condition) => void): void => {
    slots.push({ get, set })
    const c = get()
    if ('All' in c) c.All.forEach((_, i) => visit(() => c.All[i]!, (n) => (c.All[i] = n)))
    if ('Any' in c) c.Any.forEach((_, i) => visit(() => c.Any[i]!, (n) => (c.Any[i] = n)))
    if ('Not' in c) visit(() => c.Not, (n) => (c.Not = n))
  }
  for (const rule of policy.rules) if (rule.condition) visit(() => rule.condition!, (n) => (rule.condition = n))
  return slots
}

const EDITS: Record<string, Edit> = {
  'a constant moved': (p, pick) => {
    const numeric = conditionSlots(p).filter((s) => 'NumericCheck' in s.get())
    const slot = numeric[pick % Math.max(1, numeric.length)]
    if (slot !== undefined) {
      const check = (slot.get() as { NumericCheck: { value: number } }).NumericCheck
      check.value = [check.value + 1, check.value - 1, check.value * 2, 0, 500][pick % 5]!
    }
    return p
  },
  'a role added': (p, pick) => {
    const rule = p.rules[pick % Math.max(1, p.rules.length)]
    const role = p.roles[pick % p.roles.length]
    if (rule !== undefined && role !== undefined && !rule.roles.includes(role)) rule.roles.push(role)
    return p
  },
  'a rule removed': (p, pick) => {
    if (p.rules.length > 0) p.rules.splice(pick % p.rules.length, 1)
    return p
  },
  'a condition wrapped in Not': (p, pick) => {
    const slots = conditionSlots(p)
    const slot = slots[pick % Math.max(1, slots.length)]
    if (slot !== undefined) slot.set({ Not: slot.get() })
    return p
  },
  'a string list changed': (p, pick) => {
    const lists = conditionSlots(p).filter((s) => 'StringCheck' in s.get())
    const slot = lists[pick % Math.max(1, lists.length)]
    if (slot !== undefined) {
      const check = (slot.get() as { StringCheck: { value: string[] } }).StringCheck
      if (pick % 2 === 0 && check.value.length > 0) check.value.pop()
      else check.value.push(['a', '/etc', 'other-0', ''][pick % 4]!)
    }
    return p
  },
  'default_action flipped': (p) => ({ ...p, default_action: p.default_action === 'Allow' ? 'Deny' : 'Allow' }),
  'a tool declared': (p, pick) => ({ ...p, tools: [...p.tools, ['write_file', 'globa', 'glob_c', 'new_tool'][pick % 4]!] }),
}

/** A policy pair: a random policy and one edit of it, or two random policies. */
const pairArb: fc.Arbitrary<{ before: Policy; after: Policy; how: string }> = policyArb.chain((before) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...Object.keys(EDITS)), fc.nat()).map(([how, pick]) => ({ before, after: EDITS[how]!(structuredClone(before), pick), how })) },
    { weight: 1, arbitrary: fc.constant({ before, after: structuredClone(before), how: 'unchanged' }) },
    { weight: 1, arbitrary: policyArb.map((after) => ({ before, after, how: 'another policy' })) },
  ),
)

const decisionOf = (answer: string): string => {
  const parsed = JSON.parse(answer) as { decision?: string; error?: string }
  return parsed.decision ?? 'error'
}

describe(`random policy pairs (seed ${SEED})`, () => {
  it(`${PAIRS} pairs: every difference a request finds was predicted, in its direction; every witness differs on the artifacts`, { timeout: process.env.PERSO_DIFF_REQUESTS === undefined ? 120_000 : 3_600_000 }, async () => {
    console.log(`diff: seed ${SEED}, ${PAIRS} pairs, ${AIMED} aimed requests each and up to ${PARTITION} from each pair's partition`)
    const random = prng(SEED)
    const tally = { pairs: 0, verdicts: {} as Record<string, number>, requests: 0, differences: 0, partition: 0 }
    const cases = fc.sample(pairArb, { numRuns: PAIRS, seed: SEED })
    for (const [n, { before, after, how }] of cases.entries()) {
      const [a, b] = [check(policySource(before)), check(policySource(after))]
      if (a.program === undefined || b.program === undefined) continue
      const where = `seed ${SEED}, case ${n} (${how}):\n${policySource(before)}\n→\n${policySource(after)}`
      const diffs = diffPrograms(a.program, b.program)
      const [oldArtifact, newArtifact] = [
        RawArtifact.loadSync((await compile(policySource(before))).wasm!),
        RawArtifact.loadSync((await compile(policySource(after))).wasm!),
      ]
      const askOld = (t: string, x: string, c: string): string => oldArtifact.evaluateStrings(t, x, c)
      const askNew = (t: string, x: string, c: string): string => newArtifact.evaluateStrings(t, x, c)
      expect(confirm(diffs, askOld, askNew), where).toBe(0)
      tally.pairs++
      for (const d of diffs) tally.verdicts[d.verdict] = (tally.verdicts[d.verdict] ?? 0) + 1

      const byPair = new Map(diffs.filter((d) => d.tool !== undefined).map((d) => [`${d.tool}\u0000${d.role}`, d]))
      const other = diffs.find((d) => d.tool === undefined)!
      /** A difference on (tool, role) must be predicted: not `same`, and in the direction found. */
      const expectPredicted = (tool: string, role: string, old: string, now: string, request: string): void => {
        const d = byPair.get(`${tool}\u0000${role}`) ?? other
        const allowed = now === 'Allow' ? ['more permissive', 'both ways', 'unknown'] : ['less permissive', 'both ways', 'unknown']
        expect(allowed, `${where}\n${request}: ${old} → ${now}, but the diff says ${d.verdict} for ${name(d)}`).toContain(d.verdict)
        tally.differences++
      }

      // Requests aimed at either policy (values near their constants, malformed ones too).
      const decoder = new TextDecoder()
      const requests = [...fc.sample(requestArb(before), { numRuns: AIMED / 2, seed: SEED + n }), ...fc.sample(requestArb(after), { numRuns: AIMED / 2, seed: SEED + n })]
      for (const r of requests) {
        const [tool, args, context] = [r.tool, r.args, r.context].map((bytes) => decoder.decode(bytes)) as [string, string, string]
        const [old, now] = [decisionOf(askOld(tool, args, context)), decisionOf(askNew(tool, args, context))]
        tally.requests++
        if (old === now || old === 'error' || now === 'error') continue
        const role = (JSON.parse(context) as { role: string }).role
        expectPredicted(tool, role, old, now, `${tool} ${args} ${context}`)
      }

      // Requests built from the partition of every pair (all of it when it is small, else a random
      // sample): a pair called `same` never decides differently, any other only in its direction.
      for (const d of diffs) {
        if (d.tool === undefined) continue
        const conditions = [a.program, b.program].flatMap((p) => {
          const entry = p.entries.find((e) => e.tool === d.tool && e.role === d.role)
          return entry === undefined || entry.condition === null ? [] : [p.conditions[entry.condition]!]
        })
        const space = spaceOf(conditions)
        const ask = (values: readonly FieldValue[]): void => {
          // The request as a witness would be written (its decisions are the artifacts' to give here).
          const { args, context } = witnessTexts(witnessOf(d.tool!, d.role!, space.fields, values, 'Allow', 'Allow'))
          const [old, now] = [decisionOf(askOld(d.tool!, args, context)), decisionOf(askNew(d.tool!, args, context))]
          tally.partition++
          if (old !== now) expectPredicted(d.tool!, d.role!, old, now, `${args} ${context}`)
        }
        if (space.size <= PARTITION) forEachAssignment(space, (values) => (ask(values), true))
        else for (let i = 0; i < PARTITION; i++) ask(space.values.map((v) => v[Math.floor(random() * v.length)]!))
      }
    }
    console.log(`diff: ${JSON.stringify(tally)}`)
    expect(tally.pairs).toBeGreaterThan(PAIRS / 2)
    expect(tally.differences).toBeGreaterThan(0)
    expect(tally.verdicts['same']).toBeGreaterThan(0)
    expect((tally.verdicts['more permissive'] ?? 0) + (tally.verdicts['less permissive'] ?? 0)).toBeGreaterThan(0)
  })
})
