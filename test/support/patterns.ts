// Raw-ABI hosts in the patterns real hosts use (spec §6 "Lifetimes"): release
// everything, never release inputs (like the published Python SDK), reuse
// buffers written once, read answers only after later calls, and inputs inside
// one buffer at offsets. Each runs a pool of requests against one instance,
// checks every answer against the reference and every address alloc or a
// response gives against what the host still holds, and records memory.

import { Limit } from '../../packages/sdk/src/layout.js'
import { disagreement, malformation, type Expectation } from '../fuzz/oracle.js'
import type { ArtifactExports } from '../../packages/sdk/src/abi.js'
import { prng } from './json-text.js'

export const MiB = 1 << 20

/**
 * The most memory an instance may use when its host never releases inputs:
 * `heapEnd` is the memory size right after instantiation, `largestCallInputBytes`
 * the largest tool + args + context of one call. The one place this bound is
 * written; scripts/soak-memory.js repeats it (plain JS on dist/) and points here.
 */
export function memoryBound(heapEnd: number, largestCallInputBytes: number): number {
  return heapEnd + 3 * (Limit.BufferBudget + largestCallInputBytes) + MiB
}

export interface Request {
  tool: Uint8Array
  args: Uint8Array
  context: Uint8Array
}

/** A request and what the reference says it must answer. */
export interface Job {
  label: string
  request: Request
  want: Expectation
}

export const inputBytes = (r: Request): number => r.tool.length + r.args.length + r.context.length

/**
 * True when a host that never releases the inputs of `passes` passes over `jobs`
 * (and holds `extra` bytes besides) stays within the budget, so that nothing it
 * allocated may be reclaimed. Each buffer is counted with 32 bytes more than
 * asked: the most a 16-byte header and 16-byte rounding add.
 */
export const withinBudget = (jobs: readonly Job[], passes: number, extra = 0): boolean =>
  passes * jobs.reduce((sum, j) => sum + inputBytes(j.request) + 3 * 32, 0) + extra < Limit.BufferBudget

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * `args` grown to about `size` bytes by a string member `"~pad"` put first, or
 * undefined when `args` does not start with `{` (there is no object to pad).
 * Malformed arguments stay malformed; the reference judges the padded bytes.
 */
export function padArgs(args: Uint8Array, size: number): Uint8Array | undefined {
  if (args[0] !== 0x7b) return undefined
  let i = 1
  while (i < args.length && (args[i] === 0x20 || args[i] === 0x0a || args[i] === 0x0d || args[i] === 0x09)) i++
  const empty = args[i] === 0x7d
  const head = encoder.encode('{"~pad":"')
  const tail = encoder.encode(empty ? '"' : '",')
  const fill = Math.max(0, size - args.length - head.length - tail.length)
  const out = new Uint8Array(head.length + fill + tail.length + args.length - 1)
  out.set(head, 0)
  // A sentence, so the filler is not one byte repeated (some scanners skip runs).
  const sentence = encoder.encode('pad the arguments of this call \\u00e9 ')
  for (let k = 0; k < fill; k++) out[head.length + k] = sentence[k % sentence.length]!
  // Never end inside an escape: the last filler bytes are plain letters.
  for (let k = Math.max(0, fill - 8); k < fill; k++) out[head.length + k] = 0x7a
  out.set(tail, head.length + fill)
  out.set(args.subarray(1), head.length + fill + tail.length)
  return out
}

// ---------------------------------------------------------------------------
// The host

/** `[ptr, len]` of bytes in module memory. */
export type Span = readonly [number, number]

/** Bytes the host writes where no input is (gaps, tails of reused buffers): they must never be read. */
const JUNK = encoder.encode('}]"\\,:{[\u00ff')

/**
 * One instance driven through the raw ABI. Every buffer it allocs is held until
 * released or abandoned, every answer until read; alloc and answers must never
 * land on anything held. What goes wrong is recorded, not thrown, so a run
 * reports all of it.
 */
export class PatternHost {
  readonly ex: ArtifactExports
  /** Memory size right after instantiation: the module's data and blob lie below. */
  readonly heapEnd: number
  readonly violations: string[] = []
  /** Regions the host owns and will use again: buffers (ptr → len) and unread answers (resp → 4 + n). */
  private readonly held = new Map<number, number>()
  calls = 0

  constructor(module: WebAssembly.Module) {
    this.ex = new WebAssembly.Instance(module, {}).exports as unknown as ArtifactExports
    this.heapEnd = this.memory
  }

  get memory(): number {
    return this.ex.memory.buffer.byteLength
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.ex.memory.buffer)
  }

  private violation(what: string): void {
    if (this.violations.length < 20) this.violations.push(`call ${this.calls}: ${what}`)
  }

  /** Where `[at, at + len)` overlaps something held, or undefined (empty regions overlap nothing). */
  private overlap(at: number, len: number): string | undefined {
    for (const [ptr, n] of this.held) if (at < ptr + n && ptr < at + len) return `[${ptr}, +${n})`
    return undefined
  }

  alloc(len: number): number {
    const ptr = this.ex.alloc(len)
    if (ptr === 0) this.violation(`alloc(${len}) answered 0`)
    else if (ptr < 1024) this.violation(`alloc(${len}) answered ${ptr}, below 1024`)
    if (ptr + len > this.memory) this.violation(`alloc(${len}) = ${ptr} runs past memory (${this.memory})`)
    const on = this.overlap(ptr, len)
    if (on !== undefined) this.violation(`alloc(${len}) = ${ptr} overlaps ${on}, which the host holds`)
    this.held.set(ptr, len)
    return ptr
  }

  /** A fresh buffer holding `bytes`. */
  put(bytes: Uint8Array): Span {
    const ptr = this.alloc(bytes.length)
    this.bytes().set(bytes, ptr)
    return [ptr, bytes.length]
  }

  /** A fresh buffer of `len` bytes, all junk. */
  junk(len: number): number {
    const ptr = this.alloc(len)
    const bytes = this.bytes()
    for (let i = 0; i < len; i++) bytes[ptr + i] = JUNK[i % JUNK.length]!
    return ptr
  }

  /** Writes `bytes` at `at` (inside a buffer the host holds). */
  write(at: number, bytes: Uint8Array): Span {
    this.bytes().set(bytes, at)
    return [at, bytes.length]
  }

  /** True when the bytes at `span` are `bytes`. */
  holds(span: Span, bytes: Uint8Array): boolean {
    const now = this.bytes().subarray(span[0], span[0] + span[1])
    return now.length === bytes.length && now.every((b, i) => b === bytes[i])
  }

  /** Releases a buffer. */
  free(ptr: number): void {
    const len = this.held.get(ptr)
    if (len === undefined) throw new Error(`harness: free(${ptr}) of a buffer it does not hold`)
    this.held.delete(ptr)
    this.ex.dealloc(ptr, len)
  }

  /** Forgets a buffer without releasing it, as hosts that never release inputs do. */
  abandon(ptr: number): void {
    this.held.delete(ptr)
  }

  /** One evaluate call; the answer is held until `take`. */
  evaluate(tool: Span, args: Span, ctx: Span): number {
    this.calls++
    const resp = this.ex.evaluate(tool[0], tool[1], args[0], args[1], ctx[0], ctx[1])
    if (resp < 1024 || resp + 4 > this.memory) {
      this.violation(`evaluate answered ${resp}`)
      return resp
    }
    const n = new DataView(this.ex.memory.buffer).getUint32(resp, true)
    if (resp + 4 + n > this.memory) this.violation(`the answer at ${resp} says ${n} bytes, past memory`)
    const on = this.overlap(resp, 4 + n)
    if (on !== undefined) this.violation(`the answer at [${resp}, +${4 + n}) overlaps ${on}, which the host holds`)
    this.held.set(resp, 4 + n)
    return resp
  }

  /** Reads the answer at `resp` and releases it; its text, or why there is none. */
  take(resp: number): { text: string } | { broken: string } {
    const kept = this.held.get(resp)
    this.held.delete(resp)
    if (resp < 1024 || resp + 4 > this.memory) return { broken: `answer pointer ${resp}` }
    const n = new DataView(this.ex.memory.buffer).getUint32(resp, true)
    if (kept !== 4 + n) return { broken: `the answer at ${resp} now says ${n} bytes, it said ${kept === undefined ? '?' : kept - 4} (overwritten)` }
    if (resp + 4 + n > this.memory) return { broken: `the answer at ${resp} says ${n} bytes, past memory` }
    let text: string
    try {
      text = decoder.decode(this.bytes().subarray(resp + 4, resp + 4 + n))
    } catch {
      return { broken: `the answer at ${resp} is not UTF-8 (overwritten?)` }
    }
    this.ex.dealloc(resp, 4 + n)
    return { text }
  }
}

// ---------------------------------------------------------------------------
// The patterns

export const PATTERNS = ['release', 'keep', 'reuse', 'batch', 'interior'] as const
export type PatternName = (typeof PATTERNS)[number]

/** Checks one answer against its job. */
type Judge = (job: Job, answer: { text: string } | { broken: string }) => void
/** One pass over the jobs; set up once per instance, called once per pass. */
type Pass = (jobs: readonly Job[], judge: Judge) => void

const putAll = (host: PatternHost, r: Request): [Span, Span, Span] => [host.put(r.tool), host.put(r.args), host.put(r.context)]

const setups: Record<PatternName, (host: PatternHost, jobs: readonly Job[], seed: number) => Pass> = {
  /** (b) Alloc three buffers, call, read, release the answer and the three inputs. */
  release: (host) => (jobs, judge) => {
    for (const job of jobs) {
      const spans = putAll(host, job.request)
      judge(job, host.take(host.evaluate(...spans)))
      for (const [ptr] of spans) host.free(ptr)
    }
  },

  /** (a) Like the published Python SDK: three buffers per call, only the answer is released. */
  keep: (host) => (jobs, judge) => {
    for (const job of jobs) {
      const spans = putAll(host, job.request)
      judge(job, host.take(host.evaluate(...spans)))
      for (const [ptr] of spans) host.abandon(ptr)
    }
  },

  /**
   * (c) Every distinct context written once before the first call and passed to
   * each call that has it; one tool and one arguments buffer of the largest size,
   * allocated once (full of junk) and rewritten per call.
   */
  reuse: (host, all) => {
    const contexts = new Map<string, Span>()
    for (const { request } of all) {
      const key = Buffer.from(request.context).toString('latin1')
      if (!contexts.has(key)) contexts.set(key, host.put(request.context))
    }
    const tool = host.junk(Math.max(1, ...all.map((j) => j.request.tool.length)))
    const args = host.junk(Math.max(1, ...all.map((j) => j.request.args.length)))
    return (jobs, judge) => {
      for (const job of jobs) {
        const ctx = contexts.get(Buffer.from(job.request.context).toString('latin1'))!
        judge(job, host.take(host.evaluate(host.write(tool, job.request.tool), host.write(args, job.request.args), ctx)))
      }
    }
  },

  /**
   * (d) Batches of 1–24 calls whose answers are all read (newest first) after
   * the batch; inputs released right after each call, so later calls reuse
   * their memory while earlier answers wait. The same batches every pass.
   */
  batch: (host, _all, seed) => (jobs, judge) => {
    const rng = prng(seed)
    for (let start = 0; start < jobs.length; ) {
      const batch = jobs.slice(start, start + 1 + Math.floor(rng() * 24))
      start += batch.length
      const answers = batch.map((job) => {
        const spans = putAll(host, job.request)
        const resp = host.evaluate(...spans)
        for (const [ptr] of spans) host.free(ptr)
        return resp
      })
      for (let i = batch.length - 1; i >= 0; i--) judge(batch[i]!, host.take(answers[i]!))
    }
  },

  /** (e) The three inputs inside one buffer, at odd offsets with junk between them; released after the call. */
  interior: (host) => (jobs, judge) => {
    jobs.forEach((job, i) => {
      const { tool, args, context } = job.request
      const gaps = [i % 5, (i * 3) % 7, (i * 5) % 3, i % 2]
      const ptr = host.junk(gaps[0]! + tool.length + gaps[1]! + args.length + gaps[2]! + context.length + gaps[3]!)
      let at = ptr + gaps[0]!
      const t = host.write(at, tool)
      at += tool.length + gaps[1]!
      const a = host.write(at, args)
      at += args.length + gaps[2]!
      const c = host.write(at, context)
      judge(job, host.take(host.evaluate(t, a, c)))
      host.free(ptr)
    })
  },
}

export interface RunOptions {
  /** Passes over the jobs; the first is warm-up. */
  passes: number
  seed: number
  /** Written into three buffers before the first call and decided after the last: it must be intact. */
  sentinel?: Job
}

export interface Report {
  pattern: PatternName
  calls: number
  /** Answers that are not the reference's (the first few), and how many. */
  wrong: string[]
  wrongCount: number
  /** Addresses that land on held memory, answers that say they run past memory, a trap. */
  violations: string[]
  heapEnd: number
  /** Memory after the warm-up pass, and at the end (memory never shrinks: the most it reached). */
  warm: number
  end: number
  largestCall: number
  /** Input bytes the host never released (pattern keep). */
  keptBytes: number
  /** Undefined without a sentinel; else whether its bytes and its answer were intact at the end. */
  sentinel?: string | 'intact'
}

/** Runs `jobs` `passes` times through a fresh instance of `module` in `pattern`. */
export function runPattern(module: WebAssembly.Module, pattern: PatternName, jobs: readonly Job[], options: RunOptions): Report {
  const host = new PatternHost(module)
  const report: Report = {
    pattern, calls: 0, wrong: [], wrongCount: 0, violations: host.violations, heapEnd: host.heapEnd,
    warm: 0, end: 0, largestCall: Math.max(0, ...jobs.map((j) => inputBytes(j.request))), keptBytes: 0,
  }
  const judge: Judge = (job, answer) => {
    const why = 'broken' in answer ? answer.broken : (malformation(answer.text) ?? disagreement(job.want, answer.text))
    if (why === undefined) return
    report.wrongCount++
    if (report.wrong.length < 5) report.wrong.push(`call ${host.calls}, ${job.label}: ${why}`)
  }
  const sentinel = options.sentinel && { job: options.sentinel, spans: putAll(host, options.sentinel.request) }
  try {
    const pass = setups[pattern](host, jobs, options.seed)
    for (let p = 0; p < options.passes; p++) {
      pass(jobs, judge)
      if (p === 0) report.warm = host.memory
    }
    if (sentinel !== undefined) {
      const { job, spans } = sentinel
      const intact = host.holds(spans[0], job.request.tool) && host.holds(spans[1], job.request.args) && host.holds(spans[2], job.request.context)
      const answer = host.take(host.evaluate(...spans))
      const why = 'broken' in answer ? answer.broken : (malformation(answer.text) ?? disagreement(job.want, answer.text))
      report.sentinel = !intact ? `the buffers written before the first call changed (${job.label})` : (why ?? 'intact')
    }
  } catch (e) {
    host.violations.push(`call ${host.calls}: trapped: ${(e as Error).message}`)
  }
  if (pattern === 'keep') report.keptBytes = jobs.reduce((sum, j) => sum + inputBytes(j.request), 0) * options.passes
  report.calls = host.calls
  report.end = host.memory
  return report
}
