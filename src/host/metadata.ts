// The `perso` custom section: what an artifact says about itself. Read by
// `perso inspect`, `perso eval` and the SDK's fast path; written by emit.ts.

import type { Read } from '../compiler/ir.js'

export const METADATA_SECTION = 'perso'
export const ABI_VERSION = 1

export interface Metadata {
  abi: number
  compiler: string
  /** The policy's own `version` label. */
  version: string
  /** Hex SHA-256 of the exact policy source bytes. */
  sha256: string
  defaultAction: 'Allow' | 'Deny'
  counts: { tools: number; roles: number; rules: number; entries: number }
  /** Tool names of the table (declared ones and undeclared exact ones). */
  tools: string[]
  /** Declared roles. */
  roles: string[]
  /** Per condition: the rule it came from and the fields it reads. */
  conditions: { rule: number; reads: Read[] }[]
  /** Per table entry: [tool index, role index, rule index, condition index or null]. */
  entries: [number, number, number, number | null][]
}

/** The metadata of a compiled artifact, or an Error saying why there is none. */
export function readMetadata(module: WebAssembly.Module): Metadata | Error {
  const sections = WebAssembly.Module.customSections(module, METADATA_SECTION)
  const section = sections[0]
  if (section === undefined) return new Error('not a perso artifact: it has no `perso` section')
  try {
    return JSON.parse(new TextDecoder().decode(section)) as Metadata
  } catch {
    return new Error('the `perso` section of this artifact is not valid JSON')
  }
}
