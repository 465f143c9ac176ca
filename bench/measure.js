// Side-by-side timing on a noisy machine: run every candidate in interleaved
// rounds and report each one's median ns per operation; and wall time of fresh
// processes.

import { execFileSync } from 'node:child_process'

/** Calls fn `batch` times per round; returns median ns/op over the rounds, candidates interleaved. */
export function compareMedians(candidates, options = {}) {
  const { stats } = compareRounds(candidates, options)
  return Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, s.median]))
}

/**
 * Interleaved rounds, each calling every candidate `batch` times. With
 * `calibrate`, each round also times a fixed piece of plain JavaScript, and
 * rounds whose calibration ran over 1.2× its median (the machine was throttled
 * or busy elsewhere) are discarded for every candidate alike. Returns each
 * candidate's p25 and median ns/op over the kept rounds, and how many were dropped.
 */
export function compareRounds(candidates, { rounds = 31, batch = 20000, warmup = 3, calibrate = false } = {}) {
  const samples = new Map(Object.keys(candidates).map((name) => [name, []]))
  const calibration = []
  for (let round = -warmup; round < rounds; round++) {
    const before = calibrate ? calibrationNs() : 0
    for (const [name, fn] of Object.entries(candidates)) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < batch; i++) fn()
      const ns = Number(process.hrtime.bigint() - start) / batch
      if (round >= 0) samples.get(name).push(ns)
    }
    // Before and after: a slow spell anywhere in the round shows in one of them.
    if (round >= 0 && calibrate) calibration.push(Math.max(before, calibrationNs()))
  }
  const limit = calibrate ? 1.2 * median(calibration) : Infinity
  const kept = calibration.length === 0 ? null : calibration.map((ns) => ns <= limit)
  const stats = {}
  for (const [name, list] of samples) {
    const used = kept === null ? list : list.filter((_, i) => kept[i])
    stats[name] = { median: median(used), p25: quantile(used, 0.25) }
  }
  return { stats, discarded: kept === null ? 0 : kept.filter((k) => !k).length, rounds }
}

let sink = 0
/** ns for a fixed loop of integer arithmetic: the same work every time, so a slow one means a slow machine. */
function calibrationNs() {
  const start = process.hrtime.bigint()
  let x = 1
  for (let i = 0; i < 200_000; i++) x = (x * 1103515245 + 12345) | 0
  sink ^= x
  return Number(process.hrtime.bigint() - start)
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]
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
