// `perso check` and `perso compile` in-process on a few hundred seeded mutations
// of the fixtures (bytes flipped, deleted, duplicated, cut; keys and values
// swapped; wrong types; huge, deep and binary files): always a documented exit
// code (0 or 2 here, never 70), a diagnostic for every 2, never a stack trace,
// never a hang. Only a sample of the accepted mutants is compiled (binaryen is
// ~50 ms a policy). Reproduce with the printed seed: PERSO_SEED=<seed>.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { STACK_FRAME, root, runCli } from './support/cli.js'
import { prng } from './support/json-text.js'

const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
const MUTANTS = Number(process.env.PERSO_MUTANTS ?? 400)
/** Accepted mutants that also go through `perso compile`. */
const COMPILED = 12
/** One check of a mutant: far more than it takes, far less than a hang. */
const SLOW_MS = 5_000

type Rng = () => number
const enc = new TextEncoder()
const dec = new TextDecoder()
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!
const below = (rng: Rng, n: number): number => Math.floor(rng() * n)
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) (out.set(p, at), (at += p.length))
  return out
}

// ---------------------------------------------------------------------------
// Mutations of the file's bytes

function bytesMutation(bytes: Uint8Array, rng: Rng): [string, Uint8Array] {
  const at = below(rng, bytes.length + 1)
  const span = 1 + below(rng, 24)
  switch (below(rng, 6)) {
    case 0: {
      const out = bytes.slice()
      for (let n = 1 + below(rng, 4); n > 0; n--) out[below(rng, out.length)] = rng() < 0.5 ? below(rng, 256) : pick(rng, [...enc.encode('{}[]",:\\0-eE')])
      return ['flip', out]
    }
    case 1:
      return ['delete', concat(bytes.subarray(0, at), bytes.subarray(at + span))]
    case 2:
      return ['duplicate', concat(bytes.subarray(0, at + span), bytes.subarray(at, at + span), bytes.subarray(at + span))]
    case 3:
      return ['truncate', bytes.subarray(0, at)]
    case 4:
      return ['insert', concat(bytes.subarray(0, at), pick(rng, [enc.encode('\\ud800'), new Uint8Array([0xff]), new Uint8Array([0xed, 0xa0, 0x80]), enc.encode('1e400'), enc.encode('/* c */'), new Uint8Array([0])]), bytes.subarray(at))]
    default: {
      // Swap two spans.
      const other = below(rng, bytes.length + 1)
      const [a, b] = at < other ? [at, other] : [other, at]
      const len = Math.min(span, b - a)
      return ['swap', concat(bytes.subarray(0, a), bytes.subarray(b, b + len), bytes.subarray(a + len, b), bytes.subarray(a, a + len), bytes.subarray(b + len))]
    }
  }
}

// ---------------------------------------------------------------------------
// Mutations of the policy's structure (the file stays valid JSON)

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const WRONG: Json[] = [null, true, 0, -1.5, 1e308, '', 'Allow', 'NumericCheck', [], [1, 'a'], {}, { All: [] }, 'x'.repeat(5000)]
const KEYS = ['version', 'default_action', 'tools', 'roles', 'rules', 'tool_name', 'condition', 'source', 'field', 'op', 'value',
  'All', 'Any', 'Not', 'NumericCheck', 'StringCheck', 'FieldPresent', 'FieldEquals', 'source_a', 'field_b', 'Lte', 'roles ', 'Rules']

/** Every container in the tree, with a way to reach it. */
function containers(value: Json, out: (Json[] | { [key: string]: Json })[] = []): (Json[] | { [key: string]: Json })[] {
  if (Array.isArray(value)) (out.push(value), value.forEach((v) => containers(v, out)))
  else if (value !== null && typeof value === 'object') (out.push(value), Object.values(value).forEach((v) => containers(v, out)))
  return out
}

function treeMutation(text: string, rng: Rng): [string, Uint8Array] {
  const tree = JSON.parse(text) as Json
  const all = containers(tree)
  const count = 1 + below(rng, 3)
  const done: string[] = []
  for (let n = 0; n < count; n++) {
    const node = pick(rng, all)
    const keys = Object.keys(node)
    if (keys.length === 0) continue
    const key = pick(rng, keys)
    const get = (k: string): Json => (node as Record<string, Json>)[k]!
    const set = (k: string, v: Json): void => void ((node as Record<string, Json>)[k] = v)
    switch (below(rng, 7)) {
      case 0:
        set(key, pick(rng, WRONG))
        done.push('wrong-type')
        break
      case 1:
        if (Array.isArray(node)) node.splice(Number(key), 1)
        else delete (node as Record<string, Json>)[key]
        done.push('drop')
        break
      case 2: {
        // A key and its value change places: `"op": "Lte"` becomes `"Lte": "op"`.
        const value = get(key)
        if (!Array.isArray(node) && typeof value === 'string') {
          delete (node as Record<string, Json>)[key]
          set(value, key)
        } else set(key, key)
        done.push('swap-key-value')
        break
      }
      case 3:
        if (!Array.isArray(node)) {
          const value = get(key)
          delete (node as Record<string, Json>)[key]
          set(pick(rng, KEYS), value)
        }
        done.push('rename')
        break
      case 4:
        if (Array.isArray(node)) node.push(structuredClone(get(key)))
        else set(`${key}`, [structuredClone(get(key)), structuredClone(get(key))])
        done.push('duplicate')
        break
      case 5: {
        // Two values of the same container trade places.
        const other = pick(rng, keys)
        const a = get(key)
        set(key, get(other))
        set(other, a)
        done.push('swap-values')
        break
      }
      default: {
        const value = get(key)
        set(key, typeof value === 'number' ? pick(rng, [-value, value * 1e300, 0.1, -0, 2 ** 53 + 1]) : typeof value === 'string' ? pick(rng, [value + '*', '*', value.toUpperCase(), `${value}\u0000`, '\ud800']) : value)
        done.push('edit')
      }
    }
  }
  // Written as JSON.stringify would, or squeezed onto one line: spans must work either way.
  return [`tree:${done.join('+')}`, enc.encode(rng() < 0.5 ? JSON.stringify(tree, null, 2) : JSON.stringify(tree))]
}

// ---------------------------------------------------------------------------
// Whole files that are hostile by size or shape

function hostileFile(base: string, rng: Rng): [string, Uint8Array] {
  switch (below(rng, 6)) {
    case 0:
      return ['binary', Uint8Array.from({ length: 1 + below(rng, 8192) }, () => below(rng, 256))]
    case 1: {
      const depth = pick(rng, [129, 1000, 100_000])
      return ['deep-condition', enc.encode(base.replace('"condition": {', `"condition": ${'{"Not":'.repeat(depth)}{`).replace(/\n\s*\]\s*\}\s*$/, `${'}'.repeat(depth)}]}`))]
    }
    case 2: {
      const tools = Array.from({ length: 100_000 }, (_, i) => `"tool_${i}"`).join(',')
      return ['huge-tools', enc.encode(base.replace('"tools": [', `"tools": [${tools},`))]
    }
    case 3:
      return ['huge-string', enc.encode(base.replace('"version": "', `"version": "${'v'.repeat(4 << 20)}`))]
    case 4:
      return ['nested-arrays', enc.encode('['.repeat(200_000) + ']'.repeat(200_000))]
    default:
      return ['utf16', new Uint8Array([0xff, 0xfe, ...[...base.slice(0, 500)].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])])]
  }
}

// ---------------------------------------------------------------------------

interface Run { code: number; out: string; ms: number }

async function perso(argv: string[], file: Uint8Array): Promise<Run> {
  const run = await runCli(argv, { files: { 'm.json': file } })
  const wrote = [...run.written.values()].map((bytes) => `<wrote ${bytes.length} bytes>`).join('')
  return { code: run.code, out: run.stdout + run.stderr + wrote, ms: run.ms }
}

const FIXTURES = ['fixtures/crm.json', 'fixtures/file-ops.json'].map((p) => readFileSync(join(root, p), 'utf8'))

function mutant(index: number): { kind: string; bytes: Uint8Array } {
  const rng = prng(SEED * 7919 + index)
  const base = FIXTURES[index % FIXTURES.length]!
  const roll = rng()
  const [kind, bytes] = roll < 0.45 ? bytesMutation(enc.encode(base), rng) : roll < 0.95 ? treeMutation(base, rng) : hostileFile(base, rng)
  return { kind, bytes }
}

/** Why a run breaks the CLI's contract, or undefined. */
function contractBroken(run: Run): string | undefined {
  if (run.code !== 0 && run.code !== 2) return `exit code ${run.code}`
  if (STACK_FRAME.test(run.out)) return 'a stack trace'
  // A diagnostic as text (`error[E024]`), as JSON (`"severity":"error"`), or a one-line `perso: ` reason.
  if (run.code === 2 && !/error\[[EW]\d{3}\]|"severity":\s*"error"|^perso: /m.test(run.out)) return 'exit 2 without a diagnostic'
  if (run.ms > SLOW_MS) return `took ${run.ms.toFixed(0)} ms`
  return undefined
}

describe('perso check and compile on mutated policies', () => {
  it(`${MUTANTS} mutants of the fixtures (seed ${SEED})`, async () => {
    console.log(`mutation seed ${SEED}`)
    const accepted: { index: number; bytes: Uint8Array }[] = []
    const kinds = { accepted: 0, refused: 0 }
    for (let index = 0; index < MUTANTS; index++) {
      const { kind, bytes } = mutant(index)
      const flags = [index % 5 === 0 ? ['--strict'] : [], index % 3 === 0 ? ['--format', 'json'] : []].flat()
      const run = await perso(['check', ...flags, 'm.json'], bytes)
      const broken = contractBroken(run)
      const shown = dec.decode(bytes.subarray(0, 300))
      expect(broken, `seed ${SEED}, mutant ${index} (${kind}): ${broken}\n${run.out.slice(0, 2000)}\nfile starts: ${shown}`).toBeUndefined()
      if (flags.includes('json')) expect(() => JSON.parse(run.out), `mutant ${index}: --format json printed ${run.out.slice(0, 500)}`).not.toThrow()
      if (run.code === 0) (kinds.accepted++, accepted.push({ index, bytes }))
      else kinds.refused++
    }
    // The mix must reach both sides: mutants that still check, and many that do not.
    expect(kinds.accepted).toBeGreaterThan(MUTANTS / 20)
    expect(kinds.refused).toBeGreaterThan(MUTANTS / 2)

    // A spread-out sample of the accepted ones all the way to an artifact.
    const step = Math.max(1, Math.floor(accepted.length / COMPILED))
    for (const { index, bytes } of accepted.filter((_, i) => i % step === 0).slice(0, COMPILED)) {
      const run = await perso(['compile', 'm.json', '-o', 'm.wasm'], bytes)
      expect(contractBroken(run), `seed ${SEED}, mutant ${index}: compile\n${run.out.slice(0, 2000)}`).toBeUndefined()
      expect(run.code, `seed ${SEED}, mutant ${index}: check accepted it, compile refused it\n${run.out}`).toBe(0)
      expect(run.out).toMatch(/<wrote \d+ bytes>/)
    }
  }, 60_000)
})
