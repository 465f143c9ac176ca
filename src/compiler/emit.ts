// emit: links the runtime template with a policy blob into the artifact. The
// only phase that loads binaryen (through module.ts).

import type { Program } from './ir.js'
import { codegen } from './codegen.js'
import { WasmModule } from './module.js'
import { ABI_VERSION, METADATA_SECTION, type Metadata, metadataSection } from '@perso/sdk/internal/metadata'
import { Limit } from '@perso/sdk/internal/layout'
import { readBuilt, templatePath } from '../paths.js'
import { PERSO_VERSION } from '../version.js'

/** Where the template keeps the blob's address (docs/design.md). */
const POLICY_GLOBAL = '__perso_policy'
/** Where the template's static data ends, zeroed tables included (they have no data segment). */
const STATIC_END_GLOBAL = '__perso_static_end'
/** Head-room for the first calls' inputs, so small hosts never grow memory. */
const INITIAL_HEAP = 64 * 1024

let template: Uint8Array | undefined

function loadTemplate(): Uint8Array {
  template ??= readBuilt(templatePath())
  return template
}

export function metadataOf(program: Program): Metadata {
  const toolIndex = new Map<string, number>()
  const tools: string[] = []
  for (const tool of [...program.tools, ...program.entries.map((e) => e.tool)]) {
    if (!toolIndex.has(tool)) {
      toolIndex.set(tool, tools.length)
      tools.push(tool)
    }
  }
  const roleIndex = new Map(program.roles.map((role, i) => [role, i]))
  return {
    abi: ABI_VERSION,
    compiler: `perso ${PERSO_VERSION}`,
    version: program.version,
    sha256: program.sha256,
    defaultAction: program.defaultAction,
    counts: {
      tools: program.tools.length,
      roles: program.roles.length,
      rules: program.ruleCount,
      entries: program.entries.length,
    },
    tools,
    roles: program.roles,
    conditions: program.conditions.map((c) => ({ rule: c.rule, reads: c.reads })),
    entries: program.entries.map((e) => [toolIndex.get(e.tool)!, roleIndex.get(e.role)!, e.rule, e.condition]),
  }
}

/**
 * The artifact for `program`: template code, template data, the blob, the
 * metadata. `template` is the shipped runtime unless a caller (bench/phases.js)
 * links a variant build.
 */
export function emit(program: Program, template: Uint8Array = loadTemplate()): Uint8Array<ArrayBuffer> {
  const module = WasmModule.read(template)
  try {
    const segments = module.segments()
    const staticEnd = Math.max(1024, module.takeExportedConstant(STATIC_END_GLOBAL), ...segments.map((s) => s.offset + s.data.length))
    const base = Math.ceil(staticEnd / 16) * 16
    const blob = codegen(program, base)
    module.bakeExportedGlobal(POLICY_GLOBAL, base)
    module.setMemory([...segments, { offset: base, data: blob }], base + blob.length + INITIAL_HEAP, Limit.MemoryPages)
    // Memory-packing drops the zero runs of the blob (empty table slots, padding) in under 1 ms.
    // The template is optimised once at build time; a full module.optimize() here would add
    // 0.3-1 s to every compile for what the build already did.
    module.packMemory()
    module.addCustomSection(METADATA_SECTION, new TextEncoder().encode(JSON.stringify(metadataSection(metadataOf(program)))))
    module.validate()
    return module.emit()
  } finally {
    module.dispose()
  }
}
