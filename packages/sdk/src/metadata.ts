// The `perso` custom section: what an artifact says about itself, as dense
// JSON (MetadataSection, the form released artifacts hold); `readMetadata`
// expands it into the `Metadata` readers use. Read by `perso inspect`, `perso
// test` and the SDK's fast path; written by emit.ts. Nothing in it decides: the
// artifact checks every claim a host makes from it against its own blob
// (docs/design.md "The values export").

import { Source, SOURCES, type SourceName } from './layout.js'
import type { CompiledModule } from './load.js'

/** A field a condition reads: one top-level key of one source (the compiler's `Read`, by the same shape). */
export interface Read {
  source: SourceName
  field: string
}

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

/**
 * The section's JSON, as emit writes it and as released artifacts hold it:
 * `Metadata` without what can be derived (role and entry counts are array
 * lengths), the SHA-256 in base64, conditions as `[rule, [[source code,
 * field], …]]` (layout.ts `Source`), and an entry without condition as
 * `[tool, role, rule]`.
 */
export interface MetadataSection {
  abi: number
  compiler: string
  version: string
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

/** The section for an artifact's metadata (emit.ts). */
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
    conditions: conditions.map(({ rule, reads }) => [rule, reads.map((r): [number, string] => [Source[r.source], r.field])]),
    entries: entries.map(([tool, role, rule, condition]) => (condition === null ? [tool, role, rule] : [tool, role, rule, condition])),
  }
}

/** The metadata a section holds; an Error when it is not such a section. */
export function expandSection(section: unknown): Metadata | Error {
  if (!isSection(section)) return new Error('the `perso` section of this artifact is not perso metadata')
  const { abi, compiler, version, sha256, defaultAction, declaredTools, rules, tools, roles, conditions, entries } = section
  return {
    abi,
    compiler,
    version,
    sha256: hexOfBase64(sha256),
    defaultAction,
    counts: { tools: declaredTools, roles: roles.length, rules, entries: entries.length },
    tools,
    roles,
    conditions: conditions.map(([rule, reads]) => ({ rule, reads: reads.map(([source, field]) => ({ source: SOURCES[source]!, field })) })),
    entries: entries.map(([tool, role, rule, condition]) => [tool, role, rule, condition ?? null]),
  }
}

/** The metadata of a compiled artifact, or an Error saying why there is none. */
export function readMetadata(module: CompiledModule): Metadata | Error {
  const sections = WebAssembly.Module.customSections(module as WebAssembly.Module, METADATA_SECTION)
  const section = sections[0]
  if (section === undefined) return new Error('not a perso artifact: it has no `perso` section')
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(section))
  } catch {
    return new Error('the `perso` section of this artifact is not valid JSON')
  }
  return expandSection(parsed)
}

const isString = (x: unknown): x is string => typeof x === 'string'
const isIndex = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0
const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/

/** The shape readers rely on; what the entries say is the artifact's to confirm, not this check's. */
function isSection(x: unknown): x is MetadataSection {
  if (typeof x !== 'object' || x === null) return false
  const m = x as Record<string, unknown>
  const tools = m.tools
  const roles = m.roles
  const conditions = m.conditions
  return (
    typeof m.abi === 'number' && isString(m.compiler) && isString(m.version) &&
    isString(m.sha256) && SHA256_BASE64.test(m.sha256) &&
    (m.defaultAction === 'Allow' || m.defaultAction === 'Deny') && isIndex(m.declaredTools) && isIndex(m.rules) &&
    Array.isArray(tools) && tools.every(isString) && Array.isArray(roles) && roles.every(isString) &&
    Array.isArray(conditions) && conditions.every((c: unknown) =>
      Array.isArray(c) && c.length === 2 && isIndex(c[0]) && Array.isArray(c[1]) && c[1].every((r: unknown) =>
        Array.isArray(r) && r.length === 2 && isIndex(r[0]) && r[0] < SOURCES.length && isString(r[1]))) &&
    Array.isArray(m.entries) && m.entries.every((e: unknown) =>
      Array.isArray(e) && (e.length === 3 || e.length === 4) && e.every(isIndex) &&
      e[0]! < tools.length && e[1]! < roles.length && (e.length === 3 || e[3]! < conditions.length))
  )
}
