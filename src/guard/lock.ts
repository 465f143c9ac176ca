// tools.lock.json: the tools an MCP server offered when it was scanned
// (`perso scan`), each with a hash of its whole definition. `perso check
// --tools` checks a policy against their input schemas; `perso guard --pin`
// hides and denies a tool whose definition no longer hashes the same (a
// server that silently changes what a tool says it does: a "rug pull").

import { createHash } from 'node:crypto'
import { canonicalJson } from '@perso/sdk/internal/audit'

export const LOCKFILE_VERSION = 1

export interface LockedTool {
  name: string
  description?: string
  inputSchema: Record<string, unknown>
  /** `sha256:` and the hex of the definition's canonical JSON (RFC 8785), all of it but `_meta`. */
  hash: string
}

export interface ToolsLock {
  lockfileVersion: typeof LOCKFILE_VERSION
  /** The server's name and version, as it introduced itself. */
  server?: { name: string; version: string }
  tools: LockedTool[]
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The hash of a tool definition as a server lists it: every member but
 * `_meta` (the protocol's slot for data that may change from one listing to
 * the next), in canonical JSON, so that key order and white space never
 * count and every word of the description and the schema does.
 */
export function toolHash(definition: Record<string, unknown>): string {
  const { _meta: _, ...rest } = definition
  return `sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`
}

/** The lock of a server's tool list (`tools/list` results, pages joined), sorted by name. */
export function lockOf(tools: readonly Record<string, unknown>[], server?: { name: string; version: string }): ToolsLock {
  const locked = tools.map((tool) => ({
    name: String(tool.name),
    ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
    inputSchema: isObject(tool.inputSchema) ? tool.inputSchema : {},
    hash: toolHash(tool),
  }))
  locked.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { lockfileVersion: LOCKFILE_VERSION, ...(server ? { server } : {}), tools: locked }
}

/** A lock file that cannot be read: the message says where. */
export class LockError extends Error {}

/** Reads a tools.lock.json; anything it does not understand is an error, never a default. */
export function parseLock(text: string, name: string): ToolsLock {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new LockError(`${name} is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  const fail = (where: string, what: string): never => {
    throw new LockError(`${name}: ${where} ${what} (write it with \`perso scan\`)`)
  }
  if (!isObject(data)) return fail('the document', 'is not a JSON object')
  if (data.lockfileVersion !== LOCKFILE_VERSION) fail('lockfileVersion', `is ${JSON.stringify(data.lockfileVersion)}; this perso reads version ${LOCKFILE_VERSION}`)
  if (!Array.isArray(data.tools)) return fail('tools', 'is not an array')
  const seen = new Set<string>()
  data.tools.forEach((tool: unknown, i) => {
    if (!isObject(tool)) return fail(`tools[${i}]`, 'is not an object')
    if (typeof tool.name !== 'string' || tool.name === '') fail(`tools[${i}].name`, 'is not a tool name')
    if (seen.has(tool.name as string)) fail(`tools[${i}].name`, `repeats \`${String(tool.name)}\``)
    seen.add(tool.name as string)
    if (!isObject(tool.inputSchema)) fail(`tools[${i}].inputSchema`, 'is not an object')
    if (typeof tool.hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(tool.hash)) fail(`tools[${i}].hash`, 'is not sha256: and 64 hex digits')
  })
  return data as unknown as ToolsLock
}
