// The only place the compiler's phases are wired together:
// parse → validate → expand → semantics → lower (check), then → codegen → emit (compile).

import type { Diagnostic } from './diagnostics.js'
import { hasErrors } from './diagnostics.js'
import { expand, type Table } from './expand.js'
import { semanticWarnings } from './semantics.js'
import { type ServerTool, toolWarnings } from './tools.js'
import type { Program } from './ir.js'
import { lower } from './lower.js'
import { parse } from './parse.js'
import type { Policy } from './policy.js'
import { validate } from './validate.js'
import { canonicalText } from './canonical.js'
import { sha256Hex } from './codegen.js'

export interface CompileOptions {
  /** Shown in diagnostics; defaults to `policy.json`. */
  filename?: string
  /** Turn every warning into an error. */
  strict?: boolean
  /** The tools the MCP server offers (a tools.lock.json's): check the policy against them too (tools.ts). */
  tools?: readonly ServerTool[]
}

export interface CheckResult {
  /** Every diagnostic of the policy, sorted by position. */
  diagnostics: Diagnostic[]
  /** The exact bytes that were checked (what `init` and the metadata hash). */
  source: Uint8Array
  policy?: Policy
  table?: Table
  program?: Program
}

export interface CompileResult extends CheckResult {
  /** The artifact; absent when the policy has errors. */
  wasm?: Uint8Array<ArrayBuffer>
}

const toBytes = (source: string | Uint8Array): Uint8Array =>
  typeof source === 'string' ? new TextEncoder().encode(source) : source

const strictly = (diagnostics: Diagnostic[]): Diagnostic[] =>
  diagnostics.map((d) => (d.severity === 'warning' ? { ...d, severity: 'error' as const } : d))

/** Validates and expands a policy without generating code (and without loading binaryen). */
export function check(source: string | Uint8Array, options: CompileOptions = {}): CheckResult {
  const bytes = toBytes(source)
  const parsed = parse(bytes)
  const diagnostics = [...parsed.diagnostics]
  const finish = (result: Omit<CheckResult, 'diagnostics' | 'source'>): CheckResult => {
    const sorted = diagnostics.sort((a, b) => a.span.start - b.span.start || a.code.localeCompare(b.code))
    const all = options.strict ? strictly(sorted) : sorted
    return hasErrors(all) ? { diagnostics: all, source: bytes } : { diagnostics: all, source: bytes, ...result }
  }
  if (parsed.tree === undefined || hasErrors(parsed.diagnostics)) return finish({})
  const validated = validate(parsed.tree, parsed.locate)
  diagnostics.push(...validated.diagnostics)
  if (validated.policy === undefined || hasErrors(validated.diagnostics)) return finish({})
  const policy = validated.policy
  const expanded = expand(policy, parsed.locate)
  diagnostics.push(...expanded.diagnostics, ...semanticWarnings(policy, expanded.replacements, parsed.locate))
  if (options.tools !== undefined) diagnostics.push(...toolWarnings(policy, options.tools, parsed.locate))
  const program = lower(policy, expanded.table, sha256Hex(bytes), sha256Hex(canonicalText(parsed.tree, bytes)))
  return finish({ policy, table: expanded.table, program })
}

/** Checks a policy and, when it has no errors, builds its artifact. */
export async function compile(source: string | Uint8Array, options: CompileOptions = {}): Promise<CompileResult> {
  const checked = check(source, options)
  if (checked.program === undefined) return checked
  const { emit } = await import('./emit.js')
  return { ...checked, wasm: emit(checked.program) }
}
