// The `perso` custom section: what an artifact says about itself. Read by
// `perso inspect`, `perso eval` and the SDK's fast path; written by emit.ts.
// The section is dense JSON (MetadataSection, every byte counts in a 16 KB
// artifact); `readMetadata` expands it into the `Metadata` readers use.

import type { Read } from '../compiler/ir.js'
import type { Source } from '../compiler/policy.js'

export const METADATA_SECTION = 'perso'
export const ABI_VERSION = 1

/** Source of a read, by its index in the section (the order of the blob's reads, docs/design.md). */
export const SOURCE_NAMES: readonly Source[] = ['Arguments', 'AgentAttributes', 'ResourceAttributes']

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

/**
 * The section's JSON, as emit writes it: `Metadata` without what can be
 * derived (role and entry counts are array lengths) and with conditions as
 * `[rule, [[source index, field], …]]` (0 Arguments, 1 AgentAttributes, 2
 * ResourceAttributes), and an entry without condition as `[tool, role, rule]`.
 */
export interface MetadataSection {
  abi: number
  compiler: string
  version: string
  /** Base64 (hex, in sections written before). */
  sha256: string
  defaultAction: 'Allow' | 'Deny'
  /** Declared tools: the first `declaredTools` of `tools`. */
  declaredTools: number
  rules: number
  tools: string[]
  roles: string[]
  conditions: [number, [number, string][]][]
  entries: ([number, number, number] | [number, number, number, number])[]
}

/** Hex digits as base64 (44 characters for a SHA-256, not 64). */
function base64OfHex(hex: string): string {
  let binary = ''
  for (let i = 0; i < hex.length; i += 2) binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16))
  return btoa(binary)
}

function hexOfBase64(base64: string): string {
  let hex = ''
  for (const c of atob(base64)) hex += c.charCodeAt(0).toString(16).padStart(2, '0')
  return hex
}

/** The section for a table and its conditions (emit.ts). */
export function metadataSection(metadata: Metadata): MetadataSection {
  const { abi, compiler, version, sha256, defaultAction, counts, tools, roles, conditions, entries } = metadata
  return {
    abi,
    compiler,
    version,
    sha256: base64OfHex(sha256),
    defaultAction,
    declaredTools: counts.tools,
    rules: counts.rules,
    tools,
    roles,
    conditions: conditions.map(({ rule, reads }) => [rule, reads.map((r): [number, string] => [SOURCE_NAMES.indexOf(r.source), r.field])]),
    entries: entries.map(([tool, role, rule, condition]) => (condition === null ? [tool, role, rule] : [tool, role, rule, condition])),
  }
}

/** The metadata a section holds. Artifacts from before the dense section (with `counts`) are read as they are. */
export function expandSection(section: MetadataSection | Metadata): Metadata {
  if ('counts' in section) return section
  const { abi, compiler, version, sha256, defaultAction, declaredTools, rules, tools, roles, conditions, entries } = section
  return {
    abi,
    compiler,
    version,
    // Sections before base64 held it in hex, 64 digits.
    sha256: sha256.length === 64 ? sha256 : hexOfBase64(sha256),
    defaultAction,
    counts: { tools: declaredTools, roles: roles.length, rules, entries: entries.length },
    tools,
    roles,
    conditions: conditions.map(([rule, reads]) => ({ rule, reads: reads.map(([source, field]) => ({ source: SOURCE_NAMES[source]!, field })) })),
    entries: entries.map(([tool, role, rule, condition]) => [tool, role, rule, condition ?? null]),
  }
}

/** The metadata of a compiled artifact, or an Error saying why there is none. */
export function readMetadata(module: WebAssembly.Module): Metadata | Error {
  const sections = WebAssembly.Module.customSections(module, METADATA_SECTION)
  const section = sections[0]
  if (section === undefined) return new Error('not a perso artifact: it has no `perso` section')
  let parsed: MetadataSection | Metadata
  try {
    parsed = JSON.parse(new TextDecoder().decode(section)) as MetadataSection | Metadata
  } catch {
    return new Error('the `perso` section of this artifact is not valid JSON')
  }
  try {
    return expandSection(parsed)
  } catch {
    return new Error('the `perso` section of this artifact is not perso metadata')
  }
}
