// The CLI in-process, the way every CLI test drives it: main(argv, io) with
// captured streams, files read from the repository (or given), writes kept.

import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli/main.js'
import type { Io } from '../../src/cli/io.js'

export const root = fileURLToPath(new URL('../..', import.meta.url))
/** A line of a JavaScript stack trace: never in what perso prints. */
export const STACK_FRAME = /\n\s+at /

export interface Run {
  code: number
  stdout: string
  stderr: string
  /** Files the command wrote, by the path it was given. */
  written: Map<string, Uint8Array>
  ms: number
}

export interface RunOptions {
  /** Files that exist only for this run, by path; other paths are read relative to the repository root. */
  files?: Record<string, Uint8Array | string>
  /** Overrides of the Io (a terminal, an environment, a failing reader). */
  io?: Partial<Io>
}

export async function runCli(argv: string[], options: RunOptions = {}): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const written = new Map<string, Uint8Array>()
  const io: Io = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => {
      const given = options.files?.[p] ?? written.get(p)
      if (given !== undefined) return typeof given === 'string' ? new TextEncoder().encode(given) : given
      return readFileSync(isAbsolute(p) ? p : join(root, p))
    },
    writeFile: (p, bytes) => void written.set(p, bytes),
    isTTY: false,
    env: {},
    ...options.io,
  }
  const start = performance.now()
  const code = await main(argv, io)
  return { code, stdout, stderr, written, ms: performance.now() - start }
}
