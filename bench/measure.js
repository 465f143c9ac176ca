// Side-by-side timing on a noisy machine: run every candidate in interleaved
// rounds and report each one's median ns per operation; and wall time of fresh
// processes.

import { execFileSync } from 'node:child_process'

/** Calls fn `batch` times per round; returns median ns/op over the rounds, candidates interleaved. */
export function compareMedians(candidates, { rounds = 31, batch = 20000, warmup = 3 } = {}) {
  const samples = new Map(Object.keys(candidates).map((name) => [name, []]))
  for (let round = -warmup; round < rounds; round++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < batch; i++) fn()
      const ns = Number(process.hrtime.bigint() - start) / batch
      if (round >= 0) samples.get(name).push(ns)
    }
  }
  const medians = {}
  for (const [name, list] of samples) medians[name] = median(list)
  return medians
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Prints rows as an aligned text table. */
export function printTable(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ')
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
}

/**
 * Median wall ms of a fresh `node` running `args` in `cwd`, over `runs`. An exit
 * code outside `exits` (e.g. [0, 1] for perso eval, whose Deny is 1) throws.
 */
export function freshProcessMs(args, { cwd, runs = 7, exits = [0] } = {}) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    try {
      execFileSync(process.execPath, args, { cwd, stdio: 'ignore' })
    } catch (e) {
      if (!exits.includes(e.status)) throw e
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return median(times)
}
