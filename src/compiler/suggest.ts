// "did you mean `Lte`?": the closest known name to a near miss.

/** Levenshtein distance, case-insensitive. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const current = [i]
    for (let j = 1; j <= y.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[y.length] ?? 0
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
