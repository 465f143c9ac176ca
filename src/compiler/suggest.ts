// "did you mean `Lte`?": the closest known name to a near miss.

/**
 * Edit distance counting a swap of two adjacent characters as one edit
 * (optimal string alignment), case-insensitive: `agnet` is one edit from `agent`.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  const rows: number[][] = [Array.from({ length: y.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1)
      row.push(best)
    }
    rows.push(row)
  }
  return rows[x.length]![y.length]!
}

/** The candidate closest to `name` when it is close enough to be a typo, else undefined. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate === name) continue
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const allowed = Math.max(1, Math.floor(name.length / 3))
  return best !== undefined && bestDistance <= allowed ? best : undefined
}

/** `did you mean \`x\`?` for a near miss, else the list of valid values. */
export function helpFor(name: string, candidates: readonly string[]): string {
  const near = closest(name, candidates)
  if (near !== undefined) return `did you mean \`${near}\`?`
  return `expected one of ${candidates.map((c) => `\`${c}\``).join(', ')}`
}
