// Printing a policy's diagnostics the same way for every verb that compiles,
// and the `--format` option every verb takes.

import { Option } from 'commander'
import type { Diagnostic } from '../compiler/diagnostics.js'
import type { JsonDiagnostic } from '../compiler/render.js'
import { type Io, wantsColor } from './io.js'

export type Format = 'human' | 'json'

/** `--format human|json`, the same on every verb. */
export const formatOption = (what: string): Option =>
  new Option('--format <format>', `${what}; json: one JSON document on stdout, nothing else there`).choices(['human', 'json']).default('human')

/** Writes `diagnostics` in `format` through `write`; answers whether any is an error. */
export async function reportDiagnostics(
  io: Io,
  write: (s: string) => void,
  diagnostics: readonly Diagnostic[],
  source: Uint8Array,
  file: string,
  format: Format,
): Promise<boolean> {
  if (format === 'json') {
    write(JSON.stringify(await diagnosticsJson(diagnostics, source, file), null, 2) + '\n')
  } else if (diagnostics.length > 0) {
    const render = await import('../compiler/render.js')
    write(render.renderDiagnostics([...diagnostics], source, file, { color: wantsColor(io) }) + '\n')
  }
  return hasError(diagnostics)
}

/** The diagnostics as `--format json` writes them, for a verb that puts them inside its own document. */
export async function diagnosticsJson(diagnostics: readonly Diagnostic[], source: Uint8Array, file: string): Promise<JsonDiagnostic[]> {
  if (diagnostics.length === 0) return []
  const render = await import('../compiler/render.js')
  return render.diagnosticsToJson([...diagnostics], source, file)
}

export const hasError = (diagnostics: readonly Diagnostic[]): boolean => diagnostics.some((d) => d.severity === 'error')

/** How many of `diagnostics` are errors (under --strict, the warnings that became errors too). */
export const errorCount = (diagnostics: readonly Diagnostic[]): number => diagnostics.filter((d) => d.severity === 'error').length

/** One JSON document on stdout: the whole of `--format json`'s output. */
export const writeJson = (io: Io, value: unknown): void => io.stdout(JSON.stringify(value, null, 2) + '\n')
