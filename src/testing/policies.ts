// The policies under test, each loaded once per run however many suites name
// it: a `.json` policy is compiled (through an injectable compiler, so tests
// can count), a `.wasm` artifact is taken as it is. Cases then run through the
// artifact itself, loaded by the SDK as production hosts load it, never an
// interpreter.

import { resolve } from 'node:path'
import type { CompileOptions, CompileResult } from '../compiler/compile.js'
import type { Diagnostic } from '../compiler/diagnostics.js'
import type { Program } from '../compiler/ir.js'
import type { Metadata } from '@perso/sdk/internal/metadata'
import type { Perso } from '@perso/sdk/internal/perso'
import { type Io, isWasm, notAnArtifact } from '../cli/io.js'

export type Compiler = (source: Uint8Array, options: CompileOptions) => Promise<CompileResult>

/** How coverage names a rule and its condition. */
export interface RuleInfo {
  /** `` `process_refund` for `agent` `` or, for an artifact without its source, `` `process_refund` ``. */
  label: string
  /** `crm.json:22:5` when the policy source is at hand. */
  where?: string
  /** `NumericCheck(Arguments.amount Lte 500)`, or the fields it reads. */
  condition?: string
}

export interface PolicyUnderTest {
  /** The path as the first suite that named it wrote it (joined to the suite's directory). */
  path: string
  /** The artifact as a host loads it: `Perso.load` with the default options (the fast path). */
  perso?: Perso
  metadata?: Metadata
  rules: RuleInfo[]
  /**
   * The policy's own warnings, from compiling it here (a `.wasm` has none to
   * show; an artifact built by the caller, `perso compile --test`, had them
   * printed there).
   */
  warnings?: { diagnostics: Diagnostic[]; source: Uint8Array }
  /** The compiled policy, when it was compiled from its source: what explains a failing case. */
  program?: Program
  /** Why it could not be loaded: one line, plus the policy's own diagnostics when it has errors. */
  failure?: { code: string; message: string; diagnostics?: Diagnostic[]; source?: Uint8Array }
}

export class PolicyCache {
  private readonly loaded = new Map<string, Promise<PolicyUnderTest>>()

  constructor(
    private readonly io: Io,
    private readonly options: { strict: boolean; compiler?: Compiler },
  ) {}

  /** Registers an artifact built elsewhere (`perso compile --test`) under each of `paths`. */
  provide(paths: string[], wasm: Uint8Array, built?: CompileResult): void {
    const entry = fromArtifact(paths[0]!, wasm, built)
    for (const path of paths) this.loaded.set(resolve(path), entry)
  }

  get(path: string): Promise<PolicyUnderTest> {
    const key = resolve(path)
    let entry = this.loaded.get(key)
    if (entry === undefined) {
      entry = this.load(path)
      this.loaded.set(key, entry)
    }
    return entry
  }

  private async load(path: string): Promise<PolicyUnderTest> {
    let bytes: Uint8Array
    try {
      bytes = this.io.readFile(path)
    } catch (e) {
      const code = (e as { code?: unknown }).code
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : e instanceof Error ? e.message : String(e)
      return failed(path, 'E210', `cannot read the policy \`${path}\`: ${why}`)
    }
    const notWasm = notAnArtifact(path, bytes)
    if (notWasm !== undefined) return failed(path, 'E212', notWasm)
    if (isWasm(bytes)) return fromArtifact(path, bytes)
    const compile = this.options.compiler ?? (await import('../compiler/compile.js')).compile
    const result = await compile(bytes, { filename: path, strict: this.options.strict })
    if (result.wasm === undefined) {
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length
      const message = `the policy \`${path}\` has ${errors === 1 ? 'an error' : `${errors} errors`}`
      return { path, rules: [], failure: { code: 'E211', message, diagnostics: result.diagnostics, source: bytes } }
    }
    const loaded = await fromArtifact(path, result.wasm, result)
    if (loaded.failure === undefined && result.diagnostics.length > 0) loaded.warnings = { diagnostics: result.diagnostics, source: bytes }
    return loaded
  }
}

const failed = (path: string, code: string, message: string): PolicyUnderTest => ({ path, rules: [], failure: { code, message } })

/**
 * The artifact loaded by the SDK exactly as a host loads it (`Perso.load`,
 * default options), so cases decide on the path production takes. The
 * metadata names entries and rules for coverage; it never decides.
 */
async function fromArtifact(path: string, wasm: Uint8Array, built?: CompileResult): Promise<PolicyUnderTest> {
  const [{ Perso }, { readMetadata }] = await Promise.all([import('@perso/sdk/internal/perso'), import('@perso/sdk/internal/metadata')])
  const unusable = (e: unknown): PolicyUnderTest =>
    failed(path, 'E212', `\`${path}\` is not a usable perso artifact: ${(e instanceof Error ? e.message : String(e)).replace(/^perso: /, '')}`)
  let module: WebAssembly.Module
  try {
    module = await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>)
  } catch (e) {
    return unusable(e)
  }
  const metadata = readMetadata(module)
  if (metadata instanceof Error) return failed(path, 'E212', `\`${path}\` is ${metadata.message}`)
  let perso: Perso
  try {
    perso = await Perso.load(module)
  } catch (e) {
    return unusable(e)
  }
  const loaded: PolicyUnderTest = { path, perso, metadata, rules: built ? await rulesFromSource(path, built) : rulesFromMetadata(metadata) }
  if (built?.program !== undefined) loaded.program = built.program
  return loaded
}

/** Rule names from the policy itself: its `tool_name`, roles, position and condition label. */
async function rulesFromSource(path: string, built: CompileResult): Promise<RuleInfo[]> {
  const [{ parse }, { rulePlaces }, { label }] = await Promise.all([
    import('../compiler/parse.js'), import('../compiler/render.js'), import('../compiler/texts.js'),
  ])
  const where = rulePlaces(built.source, path, parse(built.source).locate)
  const conditions = new Map((built.program?.conditions ?? []).map((c) => [c.rule, label(c.root, c.reads)]))
  return (built.policy?.rules ?? []).map((rule, i): RuleInfo => {
    const info: RuleInfo = { label: `\`${rule.tool_name}\` for ${rule.roles.map((r) => `\`${r}\``).join(', ')}`, where: where(i) }
    const condition = conditions.get(i)
    if (condition !== undefined) info.condition = condition
    return info
  })
}

/** Rule names from an artifact alone: the tools its entries cover, the fields its condition reads. */
function rulesFromMetadata(metadata: Metadata): RuleInfo[] {
  return Array.from({ length: metadata.counts.rules }, (_, i): RuleInfo => {
    const entries = metadata.entries.filter(([, , rule]) => rule === i)
    const tools = [...new Set(entries.map(([tool]) => `\`${metadata.tools[tool]}\``))]
    const info: RuleInfo = { label: tools.length > 0 ? tools.join(', ') : '(no table entry)' }
    const condition = metadata.conditions.find((c) => c.rule === i)
    if (condition !== undefined) info.condition = `condition reading ${condition.reads.map((r) => `${r.source}.${r.field}`).join(', ') || 'nothing'}`
    return info
  })
}
