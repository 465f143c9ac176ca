// The `perso` custom section: what an artifact says about itself, as JSON.
// Read by `perso inspect`, `perso test` and the SDK's fast path; written by
// emit.ts. Nothing in it decides: the artifact checks every claim a host makes
// from it against its own blob (docs/design.md "The values export").

import type { Read } from '../compiler/ir.js'
import { SOURCES } from '../layout.js'

export const METADATA_SECTION = 'perso'
export const ABI_VERSION = 1

/** An artifact's metadata as readers see it. */
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
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(section))
  } catch {
    return new Error('the `perso` section of this artifact is not valid JSON')
  }
  return isMetadata(parsed) ? parsed : new Error('the `perso` section of this artifact is not perso metadata')
}

const isString = (x: unknown): x is string => typeof x === 'string'
const isIndex = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0

/** The shape readers rely on; what the entries say is the artifact's to confirm, not this check's. */
function isMetadata(x: unknown): x is Metadata {
  if (typeof x !== 'object' || x === null) return false
  const m = x as Record<string, unknown>
  const counts = m.counts as Record<string, unknown> | undefined
  return (
    typeof m.abi === 'number' && isString(m.compiler) && isString(m.version) && isString(m.sha256) &&
    (m.defaultAction === 'Allow' || m.defaultAction === 'Deny') &&
    typeof counts === 'object' && counts !== null && ['tools', 'roles', 'rules', 'entries'].every((k) => isIndex(counts[k])) &&
    Array.isArray(m.tools) && m.tools.every(isString) && Array.isArray(m.roles) && m.roles.every(isString) &&
    Array.isArray(m.conditions) && m.conditions.every((c: { rule?: unknown; reads?: unknown }) =>
      isIndex(c?.rule) && Array.isArray(c.reads) && c.reads.every((r: { source?: unknown; field?: unknown }) =>
        (SOURCES as readonly unknown[]).includes(r?.source) && isString(r.field))) &&
    Array.isArray(m.entries) && m.entries.every((e: unknown) =>
      Array.isArray(e) && e.length === 4 && isIndex(e[0]) && isIndex(e[1]) && isIndex(e[2]) && (e[3] === null || isIndex(e[3])) &&
      e[0] < (m.tools as unknown[]).length && e[1] < (m.roles as unknown[]).length &&
      (e[3] === null || e[3] < (m.conditions as unknown[]).length))
  )
}
