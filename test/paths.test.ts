// One corpus, every path: the spec corpus (test/spec/*.json) through every path
// that decides, with the same expected answers and no difference between them.
// (a) the raw ABI `evaluate` answers each case's bytes and is the reference:
// every other path must meet the case's `want` and answer what (a) answers on
// the same request, byte for byte where it answers bytes, field for field where
// it answers a decision. (b) `evaluate_values` through a raw host that builds
// values tables from the artifact's metadata; (c) the SDK's fast path and (d)
// its text path; (f) `perso eval`; (g) `perso test` on a suite generated from
// each spec file. (e), the browser entry, is in test/browser.test.ts.
//
// A case is sent to (c), (d), (f) and (g) only when it is a request an SDK user
// can send (test/support/spec-corpus.ts `requestOf`); the others are counted by
// why, and the matrix of cases run and skipped per path is printed.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compile } from '../src/compiler/compile.js'
import { RawArtifact } from '../packages/sdk/src/abi.js'
import { type Metadata, readMetadata } from '../packages/sdk/src/metadata.js'
import { Perso } from '../packages/sdk/src/perso.js'
import type { EvaluateRequest } from '../packages/sdk/src/request.js'
import { runCli } from './support/cli.js'
import { decodeUtf8, type JsonValue, lastMember, readJson } from './support/ref-json.js'
import {
  type Case, decidedOf, type Decided, inputs, missesWant, readSpec, requestOf, type RequestForm, type Skip, SKIPS, specFiles, type SpecFile,
} from './support/spec-corpus.js'
import { claimOf, LAYOUTS, readsOf, ValuesHost } from './support/values-host.js'

interface Built {
  file: string
  spec: SpecFile
  wasm: Uint8Array
  module: WebAssembly.Module
  metadata: Metadata
  /** (a)'s answer to each case, on the case's own bytes. */
  answers: string[]
}

const PATHS = {
  a: '(a) raw ABI evaluate',
  b: '(b) evaluate_values',
  c: '(c) SDK fast path',
  d: '(d) SDK text path',
  f: '(f) perso eval',
  g: '(g) perso test',
} as const
type Path = keyof typeof PATHS

/** Why (b) cannot ask about a case: a values host sends no whole text, so an input error of the text is not its to make. */
const VALUES_SKIPS = {
  json: SKIPS.json,
  context: SKIPS.context,
  repeated: 'the context repeats `role`, `agent_attrs` or `resource_attrs` (an input error of the whole text)',
} as const
/** Why (g) cannot hold a request (beyond (c)'s reasons): what a suite file cannot spell. */
const SUITE_SKIPS = {
  attributes: 'agent_attrs or resource_attrs is not an object (a suite\'s are mappings)',
  deep: 'a value nests too deep for a suite, which holds it 3 levels down (suites are read to 127 levels)',
} as const

const matrix = new Map<Path, { run: number; skipped: Map<string, number> }>()
const tally = (path: Path, skip?: string): void => {
  const row = matrix.get(path) ?? { run: 0, skipped: new Map() }
  matrix.set(path, row)
  if (skip === undefined) row.run++
  else row.skipped.set(skip, (row.skipped.get(skip) ?? 0) + 1)
}

const corpus: Built[] = []
const forms = new Map<Case, RequestForm | { skip: Skip }>()

beforeAll(async () => {
  for (const file of specFiles) {
    const spec = readSpec(file)
    const { wasm } = await compile(JSON.stringify(spec.policy), { filename: file })
    if (wasm === undefined) throw new Error(`${file} does not compile`)
    const module = await WebAssembly.compile(wasm)
    const metadata = readMetadata(module)
    if (metadata instanceof Error) throw metadata
    const raw = await RawArtifact.load(module)
    corpus.push({ file, spec, wasm, module, metadata, answers: spec.cases.map((c) => raw.evaluateBytes(...inputs(c))) })
    for (const c of spec.cases) forms.set(c, requestOf(c))
  }
})

afterAll(() => {
  const lines = [...matrix].map(([path, { run, skipped }]) => {
    const skips = [...skipped].map(([why, n]) => `${n} ${why}`)
    return `${PATHS[path].padEnd(22)} ${String(run).padStart(4)} run, ${String(skips.reduce((n, s) => n + Number.parseInt(s), 0)).padStart(3)} skipped${skips.length > 0 ? `: ${skips.join('; ')}` : ''}`
  })
  console.log(`spec corpus × paths (${corpus.reduce((n, b) => n + b.spec.cases.length, 0)} cases in ${corpus.length} files):\n${lines.join('\n')}`)
})

const where = (b: Built, i: number): string => `${b.file} #${i + 1} ${b.spec.cases[i]!.note ?? ''}`

/** Each case through `decide` (undefined when the path cannot take it); the differences from `want` and from (a). */
function differences(path: Path, decide: (b: Built, c: Case, i: number) => Decided | string | { skip: string }): string[] {
  const out: string[] = []
  for (const b of corpus) {
    b.spec.cases.forEach((c, i) => {
      const got = decide(b, c, i)
      if (typeof got === 'object' && 'skip' in got) return tally(path, got.skip)
      tally(path)
      const reference = b.answers[i]!
      // Bytes where the path answers bytes, fields where it answers a decision.
      if (typeof got === 'string' ? got !== reference : JSON.stringify(got) !== JSON.stringify(decidedOf(reference))) {
        out.push(`${where(b, i)}: (a) answers ${reference}, ${PATHS[path]} ${typeof got === 'string' ? got : JSON.stringify(got)}`)
      }
      const missed = missesWant(typeof got === 'string' ? decidedOf(got) : got, c.want)
      if (missed !== undefined) out.push(`${where(b, i)}: ${missed}`)
    })
  }
  return out
}

const skipOf = (c: Case): { skip: string } | RequestForm => {
  const form = forms.get(c)!
  return 'skip' in form ? { skip: SKIPS[form.skip] } : form
}

describe('the spec corpus through every path that decides', () => {
  it('has the corpus', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(9)
    expect([...forms.values()].filter((f) => !('skip' in f)).length).toBeGreaterThan(100)
  })

  it(PATHS.a, () => {
    expect(differences('a', (b, _c, i) => b.answers[i]!)).toEqual([])
  })

  it(PATHS.b, () => {
    expect(differences('b', (b, c, i) => {
      const host = hosts.get(b) ?? hosts.set(b, new ValuesHost(b.module)).get(b)!
      return askValues(host, b.metadata, c, i)
    })).toEqual([])
  })

  it(PATHS.c, async () => {
    await sdkPath('c', {})
  })

  it(PATHS.d, async () => {
    await sdkPath('d', { fastPath: false })
  })

  it(PATHS.f, async () => {
    const out: string[] = []
    for (const b of corpus) {
      for (const [i, c] of b.spec.cases.entries()) {
        const form = skipOf(c)
        if ('skip' in form) {
          tally('f', form.skip)
          continue
        }
        tally('f')
        const { request, texts } = form
        const run = await runCli(['eval', `${b.file}.wasm`, `--tool=${request.tool}`, `--role=${request.role}`, `--args=${texts.args}`,
          `--agent=${texts.agent ?? '{}'}`, `--resource=${texts.resource ?? '{}'}`, '--format', 'json'], { files: { [`${b.file}.wasm`]: b.wasm } })
        const reference = b.answers[i]!
        const code = 'error' in JSON.parse(reference) ? 2 : decidedOf(reference).decision === 'Allow' ? 0 : 1
        if (run.stdout !== `${reference}\n` || run.code !== code || run.stderr !== '') {
          out.push(`${where(b, i)}: (a) answers ${reference} (exit ${code}), perso eval ${JSON.stringify(run)}`)
        }
        const missed = missesWant(decidedOf(run.stdout), c.want)
        if (missed !== undefined) out.push(`${where(b, i)}: ${missed}`)
      }
    }
    expect(out).toEqual([])
  })

  it(PATHS.g, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perso-paths-'))
    try {
      const suites = corpus.map((b) => suiteOf(b, dir))
      const run = await runCli(['test', dir, '--reporter', 'json'])
      const report = JSON.parse(run.stdout) as {
        passed: number; failed: number; invalid: number
        suites: { file: string; cases: { name: string; decision: string; reason: string; passed: boolean }[] }[]
      }
      const out: string[] = []
      for (const [s, suite] of suites.entries()) {
        const got = report.suites.find((r) => r.file === suite.file)?.cases ?? []
        expect(got.map((c) => c.name), suite.file).toEqual(suite.cases.map((c) => c.name))
        got.forEach((c, k) => {
          const i = suite.indexes[k]!
          const want = decidedOf(corpus[s]!.answers[i]!)
          if (!c.passed || c.decision !== want.decision || c.reason !== want.reason) {
            out.push(`${where(corpus[s]!, i)}: (a) answers ${JSON.stringify(want)}, perso test ${JSON.stringify(c)}`)
          }
        })
      }
      expect(out).toEqual([])
      expect([run.code, report.failed, report.invalid]).toEqual([0, 0, 0])
      expect(report.passed).toBe(suites.reduce((n, s) => n + s.cases.length, 0))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

const hosts = new Map<Built, ValuesHost>()

/**
 * (b): the tool's bytes, the role, and a claim per read of the entry the
 * metadata names, each with the value's text as the case wrote it (the last
 * of repeated keys, as spec §3 reads them). The layouts rotate.
 */
function askValues(host: ValuesHost, metadata: Metadata, c: Case, i: number): string | { skip: string } {
  const [tool, argsBytes, contextBytes] = inputs(c)
  const args = readJson(argsBytes)
  const context = readJson(contextBytes)
  if ('error' in args || 'error' in context) return { skip: VALUES_SKIPS.json }
  const role = lastMember(context.value, 'role')
  if (context.value.kind !== 'object' || role?.kind !== 'string') return { skip: VALUES_SKIPS.context }
  const keys = context.value.members.map((m) => m.key).filter((k) => k === 'role' || k === 'agent_attrs' || k === 'resource_attrs')
  if (new Set(keys).size < keys.length) return { skip: VALUES_SKIPS.repeated }

  const sources: Record<string, [JsonValue | undefined, Uint8Array]> = {
    Arguments: [args.value, argsBytes],
    AgentAttributes: [lastMember(context.value, 'agent_attrs'), contextBytes],
    ResourceAttributes: [lastMember(context.value, 'resource_attrs'), contextBytes],
  }
  const toolName = decodeUtf8(tool)
  const reads = (toolName !== undefined ? readsOf(metadata, toolName, role.value) : undefined) ?? []
  const claims = reads.map((read) => {
    const [object, bytes] = sources[read.source]!
    const value = object === undefined ? undefined : lastMember(object, read.field)
    return claimOf(read, value === undefined ? undefined : bytes.subarray(value.start, value.end))
  })
  return host.ask(tool, role.value, claims, LAYOUTS[i % LAYOUTS.length])
}

/** (c), (d): one Perso per artifact and path, asked as a host asks, every case in turn. */
async function sdkPath(path: Path, options: { fastPath?: boolean }): Promise<void> {
  const perso = new Map<Built, Perso>()
  for (const b of corpus) perso.set(b, await Perso.load(b.module, options))
  expect(differences(path, (b, c) => {
    const form = skipOf(c)
    return 'skip' in form ? form : perso.get(b)!.evaluateSync(form.request)
  })).toEqual([])
}

interface GeneratedSuite {
  file: string
  cases: { name: string }[]
  /** The spec case of each suite case. */
  indexes: number[]
}

/** (g): the spec file's policy and a suite of its requests, each expecting (a)'s decision and exactly its reason. */
function suiteOf(b: Built, dir: string): GeneratedSuite {
  const stem = b.file.replace(/\.json$/, '')
  writeFileSync(join(dir, `${stem}.policy.json`), JSON.stringify(b.spec.policy))
  const cases: Record<string, unknown>[] = []
  const indexes: number[] = []
  b.spec.cases.forEach((c, i) => {
    const form = skipOf(c)
    if ('skip' in form) return tally('g', form.skip)
    const skip = unsuitable(form.request)
    if (skip !== undefined) return tally('g', skip)
    tally('g')
    const { reason } = decidedOf(b.answers[i]!)
    const { tool, role, args, agentAttributes, resourceAttributes } = form.request
    cases.push({
      name: `#${i + 1} ${c.note ?? ''}`.trim(), tool, role, args,
      ...(agentAttributes !== undefined ? { agentAttributes } : {}),
      ...(resourceAttributes !== undefined ? { resourceAttributes } : {}),
      // The case's own want decides `expect`; the reason must be (a)'s, exactly.
      expect: 'error' in c.want ? 'Deny' : c.want.decision,
      reason: `/^${reason.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$/`,
    })
    indexes.push(i)
  })
  const file = join(dir, `${stem}.test.json`)
  writeFileSync(file, JSON.stringify({ policy: `${stem}.policy.json`, cases }, null, 1))
  return { file, cases: cases as { name: string }[], indexes }
}

const depth = (v: unknown): number =>
  typeof v !== 'object' || v === null ? 0 : 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(depth))

function unsuitable(request: EvaluateRequest): string | undefined {
  const { agentAttributes: agent, resourceAttributes: resource } = request
  const isObject = (v: unknown): boolean => v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v))
  if (!isObject(agent) || !isObject(resource)) return SUITE_SKIPS.attributes
  if (Math.max(depth(request.args), depth(agent), depth(resource)) + 3 > 127) return SUITE_SKIPS.deep
  return undefined
}
