// `perso inspect <artifact.wasm>`: what an artifact decides by — its policy
// blob, read back from the bytes (src/host/blob.ts) — beside what its `perso`
// section says about it, with a warning wherever the two disagree; with --wat
// its disassembly.

import type { Command } from 'commander'
import type { Read } from '../compiler/ir.js'
import { type BlobEntry, BlobFormatError, type PolicyBlob } from '../host/blob.js'
import type { Metadata } from '@perso/sdk/internal/metadata'
import { EXIT, EXIT_CODES_HELP, type Io, STDIN, STDIN_NAME, UserError, readInput } from './io.js'
import type { VerbContext } from './verb.js'
import { type Format, formatOption, writeJson } from './report.js'

interface InspectOptions {
  wat?: boolean
  format: Format
}

const HELP = `
The entries are the policy blob's: what the artifact decides by. The \`perso\`
section (metadata for hosts and people) is checked against it: an entry it
lacks or adds, other reads, another version or default action is a warning.
Exit 0 with warnings; 2 when the blob cannot be read. With --format json,
stdout holds one document: the section's metadata, "artifact", "blob" (with
its entries), "warnings", and "wat" with --wat.
`

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<artifact>', 'a compiled .wasm artifact, or - for stdin')
    .option('--wat', 'also print the disassembly (WebAssembly text)')
    .addOption(formatOption('how to print what the artifact holds'))
    .option('--json', 'the same as --format json')
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (file: string, options: InspectOptions & { json?: boolean }) => {
      const format = options.json ? 'json' : options.format
      if (format === 'json') json()
      exit(await runInspect(io, file, { ...options, format }))
    })
}

/** What the entries say, one per blob entry, as both forms print them. */
interface EntryView {
  tool: string
  role: string
  /** The rule the section says the entry came from, when it lists the entry. */
  rule?: number
  /** Null: no condition. */
  reads: Read[] | null
  condition: string | null
}

export async function runInspect(io: Io, file: string, options: InspectOptions): Promise<number> {
  const bytes = await readInput(io, file)
  const name = file === STDIN ? STDIN_NAME : file
  let module: WebAssembly.Module
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>)
  } catch (e) {
    throw new UserError(`\`${name}\` is not a WebAssembly module: ${e instanceof Error ? e.message : String(e)}`)
  }
  const [{ readMetadata }, { readBlob }, { label }] = await Promise.all([
    import('@perso/sdk/internal/metadata'), import('../host/blob.js'), import('../compiler/texts.js'),
  ])
  const metadata = readMetadata(module)
  const blob = readBlob(bytes)
  const warnings: string[] = []
  if (blob instanceof BlobFormatError) {
    if (metadata instanceof Error) throw new UserError(`\`${name}\` is ${metadata.message}, and ${blob.message}`)
    warnings.push(`${blob.message}: the entries below are the \`perso\` section's, not checked against it`)
  } else if (blob instanceof Error) {
    throw new UserError(/^not a perso artifact/.test(blob.message) ? `\`${name}\` is ${blob.message}` : `the policy blob of \`${name}\` cannot be read: ${blob.message}`)
  }
  if (metadata instanceof Error) warnings.push(`${metadata.message}; what follows is the blob's alone`)
  const readable = blob instanceof Error ? undefined : blob
  const section = metadata instanceof Error ? undefined : metadata
  if (readable !== undefined && section !== undefined) warnings.push(...disagreements(section, readable))

  const sectionRule = new Map(section?.entries.map(([t, r, rule]) => [key(section.tools[t]!, section.roles[r]!), rule]))
  const entries: EntryView[] = readable !== undefined
    ? readable.entries.map((e) => {
      const condition = e.condition === null ? null : readable.conditions[e.condition]!
      const rule = sectionRule.get(key(e.tool, e.role))
      return { tool: e.tool, role: e.role, ...(rule !== undefined ? { rule } : {}), reads: condition?.reads ?? null, condition: condition === null ? null : label(condition.root, condition.reads) }
    })
    : section!.entries.map(([t, r, rule, c]) => ({ tool: section!.tools[t]!, role: section!.roles[r]!, rule, reads: c === null ? null : section!.conditions[c]!.reads, condition: null }))
  const exports = WebAssembly.Module.exports(module).map((e) => `${e.name} (${e.kind})`)
  const imports = WebAssembly.Module.imports(module).length
  const wat = options.wat ? await (await import('../host/wat.js')).disassemble(bytes) : undefined

  if (options.format === 'json') {
    writeJson(io, {
      ...section,
      artifact: { file: name, bytes: bytes.length, exports, imports },
      ...(readable !== undefined ? { blob: blobJson(readable, entries) } : {}),
      warnings,
      ...(wat !== undefined ? { wat } : {}),
    })
    return EXIT.ok
  }
  const lines = [
    `artifact   ${name} (${bytes.length} bytes)`,
    `policy     version ${JSON.stringify(readable?.version ?? section!.version)}, sha256 ${section?.sha256 ?? 'unknown (no perso section)'}`,
    ...(readable !== undefined ? [`blob       format ${readable.format}, ${readable.size} bytes at ${readable.address}, ${readable.slots} slots, digest ${readable.digest}`] : []),
    ...(section !== undefined ? [`compiler   ${section.compiler}, abi ${section.abi}`] : []),
    `default    ${readable?.defaultAction ?? section!.defaultAction}`,
    ...(section !== undefined
      ? [`counts     ${section.counts.tools} tools, ${section.counts.roles} roles, ${section.counts.rules} rules, ${entries.length} table entries`]
      : [`counts     ${entries.length} table entries`]),
    `exports    ${exports.join(', ')}`,
    `imports    ${imports === 0 ? 'none' : imports}`,
    ...shown(warnings).map((w) => `warning: ${w}`),
    'entries',
    ...entries.map((e) => `  ${JSON.stringify(e.tool)} × ${JSON.stringify(e.role)}  rules[${e.rule ?? '?'}]  ${readsText(e.reads)}${e.condition !== null ? `  ${e.condition}` : ''}`),
  ]
  io.stdout(lines.join('\n') + '\n')
  if (wat !== undefined) io.stdout(wat)
  return EXIT.ok
}

const key = (tool: string, role: string): string => JSON.stringify([tool, role])

const readsText = (reads: readonly Read[] | null): string =>
  reads === null ? 'no condition' : `reads ${reads.map((r) => `${r.source}.${r.field}`).join(', ') || 'nothing'}`

const entryName = (tool: string, role: string): string => `${JSON.stringify(tool)} × ${JSON.stringify(role)}`

/** Where the section says something the blob does not: version, default, and each entry missing, extra or reading other fields. */
export function disagreements(section: Metadata, blob: PolicyBlob): string[] {
  const out: string[] = []
  const says = 'the `perso` section'
  if (section.version !== blob.version) out.push(`${says} says version ${JSON.stringify(section.version)}, the blob ${JSON.stringify(blob.version)}`)
  if (section.defaultAction !== blob.defaultAction) out.push(`${says} says default ${section.defaultAction}, the blob ${blob.defaultAction}`)
  const listed = new Map<string, Read[] | null>()
  for (const [t, r, , c] of section.entries) listed.set(key(section.tools[t]!, section.roles[r]!), c === null ? null : section.conditions[c]!.reads)
  const held = new Set<string>()
  const readsOf = (e: BlobEntry): Read[] | null => (e.condition === null ? null : blob.conditions[e.condition]!.reads)
  for (const e of blob.entries) {
    const k = key(e.tool, e.role)
    held.add(k)
    if (!listed.has(k)) out.push(`${says} does not list the entry ${entryName(e.tool, e.role)}, which the blob has`)
    else if (readsText(listed.get(k)!) !== readsText(readsOf(e))) {
      out.push(`${says} says ${entryName(e.tool, e.role)} ${readsText(listed.get(k)!)}; the blob ${readsText(readsOf(e))}`)
    }
  }
  for (const [t, r] of section.entries) {
    const k = key(section.tools[t]!, section.roles[r]!)
    if (!held.has(k)) out.push(`${says} lists the entry ${entryName(section.tools[t]!, section.roles[r]!)}, which the blob does not have`)
  }
  return out
}

/** At most 20 warning lines for people; `--format json` has them all. */
function shown(warnings: readonly string[]): string[] {
  return warnings.length <= 20 ? [...warnings] : [...warnings.slice(0, 19), `… and ${warnings.length - 19} more (--format json lists them all)`]
}

function blobJson(blob: PolicyBlob, entries: readonly EntryView[]): Record<string, unknown> {
  const { format, address, size, version, defaultAction, digest, slots } = blob
  return { format, address, size, version, defaultAction, digest, slots, entries }
}
