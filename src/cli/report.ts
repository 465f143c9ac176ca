// Printing a policy's diagnostics the same way for every verb that compiles.

import type { Diagnostic } from '../compiler/diagnostics.js'
import { type Io, wantsColor } from './io.js'

export type Format = 'human' | 'json'

/** Writes `diagnostics` in `format` through `write`; answers whether any is an error. */
export async function reportDiagnostics(
  io: Io,
  write: (s: string) => void,
  diagnostics: readonly Diagnostic[],
  source: Uint8Array,
  file: string,
  format: Format,
): Promise<boolean> {
  const render = await import('../compiler/render.js')
  if (format === 'json') {
    write(JSON.stringify(render.diagnosticsToJson([...diagnostics], source, file), null, 2) + '\n')
  } else if (diagnostics.length > 0) {
    write(render.renderDiagnostics([...diagnostics], source, file, { color: wantsColor(io) }) + '\n')
  }
  return diagnostics.some((d) => d.severity === 'error')
}
