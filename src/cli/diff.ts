// `perso diff <old.json> <new.json>`: what a policy change allows that was
// denied, and denies that was allowed, for every (tool, role) pair — decided
// exactly (src/analysis/diff.ts), each witness request checked against both
// compiled artifacts before it is printed.

import type { Command } from 'commander'
import { Option } from 'commander'
import type { PairDiff, Verdict, Witness } from '../analysis/diff.js'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, UserError, claimStdin, plural, readInput } from './io.js'
import type { VerbContext } from './verb.js'
import { diagnosticsJson, reportDiagnostics, writeJson } from './report.js'

type Format = 'human' | 'json' | 'markdown'
type FailOn = 'more-permissive' | 'change'

interface DiffOptions {
  format: Format
  failOn?: FailOn
  budget?: string
}

const HELP = `
For every (tool, role) pair either policy has a rule for, and for every other
pair at once, perso diff says whether the new policy is the same, more
permissive (allows a request the old one denied), less permissive, or both
ways, with one witness request for each direction, checked against both
compiled artifacts. A pair it cannot decide within the budget is unknown.
Either policy may be read from stdin (-), e.g.
  git show main:policy.json | perso diff - policy.json
--fail-on more-permissive exits 1 when any pair gains a request (or is
unknown); --fail-on change exits 1 when any pair changes (or is unknown).
`

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<old>', 'the policy before the change (JSON), or - for stdin')
    .argument('<new>', 'the policy after the change (JSON), or - for stdin')
    .addOption(new Option('--format <format>', 'human, json (one document on stdout) or markdown (a pull-request comment)').choices(['human', 'json', 'markdown']).default('human'))
    .addOption(new Option('--fail-on <change>', 'exit 1 when the change includes this').choices(['more-permissive', 'change']))
    .addOption(new Option('--budget <requests>', 'most requests examined for one pair before it is unknown').default('1000000'))
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (before: string, after: string, options: DiffOptions) => {
      if (options.format === 'json') json()
      exit(await runDiff(io, before, after, options))
    })
}

export async function runDiff(io: Io, before: string, after: string, options: DiffOptions): Promise<number> {
  claimStdin([before === STDIN && '<old> -', after === STDIN && '<new> -'])
  const budget = Number(options.budget ?? '1000000')
  if (!Number.isSafeInteger(budget) || budget < 1) throw new UserError(`--budget must be a positive whole number (got \`${options.budget}\`)`)
  const [oldName, newName] = [before, after].map((f) => (f === STDIN ? STDIN_NAME : f)) as [string, string]
  const sources = [await readInput(io, before), await readInput(io, after)]
  const { check, compile } = await import('../compiler/compile.js')
  const checked = [check(sources[0]!, { filename: oldName }), check(sources[1]!, { filename: newName })]
  const invalid = [...checked.entries()].filter(([, result]) => result.program === undefined)
  if (invalid.length > 0) {
    const located = invalid.map(([i, result]) => ({
      errors: result.diagnostics.filter((d) => d.severity === 'error'),
      source: sources[i]!,
      name: i === 0 ? oldName : newName,
    }))
    const error = 'cannot compare policies that do not compile'
    if (options.format !== 'json') {
      // Diagnostics go to stderr: stdout is the diff's alone.
      for (const { errors, source, name } of located) await reportDiagnostics(io, io.stderr, errors, source, name, 'human')
      throw new UserError(error)
    }
    // One JSON document on stdout, the diagnostics of both policies in it, as check and eval write them.
    const diagnostics = (await Promise.all(located.map(({ errors, source, name }) => diagnosticsJson(errors, source, name)))).flat()
    writeJson(io, { error, diagnostics })
    return EXIT.invalid
  }
  const { diffPrograms, confirm } = await import('../analysis/diff.js')
  const diffs = diffPrograms(checked[0]!.program!, checked[1]!.program!, { budget })
  const { RawArtifact } = await import('@perso/sdk/internal/abi')
  const artifacts = await Promise.all(sources.map(async (s, i) => RawArtifact.loadSync((await compile(s, { filename: i === 0 ? oldName : newName })).wasm!)))
  const ask = (artifact: InstanceType<typeof RawArtifact>) => (tool: string, args: string, context: string) => artifact.evaluateStrings(tool, args, context)
  const wrong = confirm(diffs, ask(artifacts[0]!), ask(artifacts[1]!))
  if (options.format === 'json') writeJson(io, jsonDocument(oldName, newName, diffs))
  else if (options.format === 'markdown') io.stdout(markdown(oldName, newName, diffs))
  else io.stdout(human(oldName, newName, diffs))
  if (wrong > 0) {
    io.stderr(`perso: internal error: ${plural(wrong, 'witness')} disagreed with the artifacts (this is a bug in perso; please report it)\n`)
    return EXIT.internal
  }
  return fails(diffs, options.failOn) ? EXIT.deny : EXIT.ok
}

function fails(diffs: readonly PairDiff[], failOn: FailOn | undefined): boolean {
  if (failOn === undefined) return false
  const failing: Verdict[] = failOn === 'change' ? ['more permissive', 'less permissive', 'both ways', 'unknown'] : ['more permissive', 'both ways', 'unknown']
  return diffs.some((d) => failing.includes(d.verdict))
}

const VERDICTS: Verdict[] = ['more permissive', 'less permissive', 'both ways', 'unknown', 'same']

function counts(diffs: readonly PairDiff[]): Record<Verdict, number> {
  const out = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>
  for (const d of diffs) if (d.tool !== undefined) out[d.verdict]++
  return out
}

/** `2 of 21 pairs change: 1 more permissive, 1 less permissive`. */
function headline(diffs: readonly PairDiff[]): string {
  const c = counts(diffs)
  const pairs = diffs.length - 1
  const changed = pairs - c.same
  const parts = VERDICTS.filter((v) => v !== 'same' && c[v] > 0).map((v) => `${c[v]} ${v}`)
  const listed = changed === 0 ? `no pair changes (${plural(pairs, 'pair')})` : `${changed} of ${plural(pairs, 'pair')} change: ${parts.join(', ')}`
  const other = diffs.find((d) => d.tool === undefined)!
  return other.verdict === 'same' ? listed : `${listed}; every other pair: ${other.verdict}`
}

const pairName = (d: PairDiff): string => (d.tool === undefined ? 'every other (tool, role) pair' : `${d.tool} × ${d.role}`)

/** A witness as the request a host would send: `process_refund as agent, args {"amount":625}`. */
function request(w: Witness): string {
  const parts = [`${w.tool} as ${w.role}`]
  if (Object.keys(w.args).length > 0) parts.push(`args ${JSON.stringify(w.args)}`)
  if (Object.keys(w.agent_attrs).length > 0) parts.push(`agent_attrs ${JSON.stringify(w.agent_attrs)}`)
  if (Object.keys(w.resource_attrs).length > 0) parts.push(`resource_attrs ${JSON.stringify(w.resource_attrs)}`)
  return parts.length === 1 ? `${parts[0]}, no arguments or attributes` : parts.join(', ')
}

/** Changed pairs of one tool with the same change and the same rules on both sides, as one group (the first pair's witnesses). */
interface Group {
  first: PairDiff
  roles: string[]
}

function groups(diffs: readonly PairDiff[]): Group[] {
  const out: Group[] = []
  const byKey = new Map<string, Group>()
  for (const d of diffs) {
    if (d.verdict === 'same') continue
    if (d.tool === undefined) {
      out.push({ first: d, roles: [] })
      continue
    }
    const key = JSON.stringify([d.tool, d.verdict, d.was, d.now, d.unknown])
    const group = byKey.get(key)
    if (group !== undefined) group.roles.push(d.role!)
    else {
      const made = { first: d, roles: [d.role!] }
      byKey.set(key, made)
      out.push(made)
    }
  }
  return out
}

const groupName = (g: Group): string => (g.first.tool === undefined ? pairName(g.first) : `${g.first.tool} × ${g.roles.join(', ')}`)

function human(oldName: string, newName: string, diffs: readonly PairDiff[]): string {
  const lines = [`${oldName} → ${newName}: ${headline(diffs)}`]
  for (const g of groups(diffs)) {
    const d = g.first
    lines.push('', `${d.verdict}: ${groupName(g)}`, `  was  ${d.was}`, `  now  ${d.now}`)
    if (d.gained !== undefined) lines.push(`  now allowed: ${request(d.gained)}`)
    if (d.lost !== undefined) lines.push(`  now denied:  ${request(d.lost)}`)
    if (d.unknown !== undefined) lines.push(`  unknown: ${d.unknown}`)
  }
  return lines.join('\n') + '\n'
}

/** Text inside a markdown table cell: code spans, `|` escaped. */
const cell = (text: string): string => '`' + text.replaceAll('|', '\\|').replaceAll('`', "'") + '`'

function markdown(oldName: string, newName: string, diffs: readonly PairDiff[]): string {
  const lines = [`### perso diff: \`${oldName}\` → \`${newName}\``, '', `**${headline(diffs)}**`]
  const changed = groups(diffs)
  if (changed.length > 0) {
    lines.push('', '| pairs | change | was | now | witness |', '|---|---|---|---|---|')
    for (const g of changed) {
      const d = g.first
      const witness = [
        ...(d.gained !== undefined ? [`now allowed: ${cell(request(d.gained))}`] : []),
        ...(d.lost !== undefined ? [`now denied: ${cell(request(d.lost))}`] : []),
        ...(d.unknown !== undefined ? [d.unknown] : []),
      ].join('<br>')
      lines.push(`| ${cell(groupName(g))} | **${d.verdict}** | ${cell(d.was)} | ${cell(d.now)} | ${witness} |`)
    }
  }
  return lines.join('\n') + '\n'
}

function jsonDocument(oldName: string, newName: string, diffs: readonly PairDiff[]): unknown {
  const pairs = diffs.filter((d) => d.tool !== undefined)
  const other = diffs.find((d) => d.tool === undefined)!
  return { old: oldName, new: newName, summary: counts(diffs), pairs, other_pairs: { verdict: other.verdict, was: other.was, now: other.now, gained: other.gained, lost: other.lost } }
}
