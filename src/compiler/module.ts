// The one typed wrapper around binaryen: everything the compiler does to the
// runtime template goes through here, and only emit.ts imports it.

import binaryen from 'binaryen'

export interface Segment {
  offset: number
  data: Uint8Array
}

const PAGE = 65536

/**
 * What the runtime template may use: the WebAssembly 2.0 basics that Node,
 * browsers, Deno, Bun, wasmtime and wazero all run. Nothing newer.
 */
const FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt

/** Calls binaryen.js has but its typings miss. */
interface DataSegments {
  getNumDataSegments(): number
  getDataSegmentByIndex(index: number): number
  getDataSegmentInfo(segment: number): { offset: number; data: ArrayBuffer; passive: boolean }
}

export class WasmModule {
  private constructor(private readonly module: binaryen.Module) {}

  static read(bytes: Uint8Array): WasmModule {
    const module = binaryen.readBinary(bytes)
    module.setFeatures(FEATURES)
    return new WasmModule(module)
  }

  /** The module's active data segments, as placed in memory. */
  segments(): Segment[] {
    const segments: Segment[] = []
    const data = this.module as unknown as DataSegments
    for (let i = 0; i < data.getNumDataSegments(); i++) {
      const info = data.getDataSegmentInfo(data.getDataSegmentByIndex(i))
      if (info.passive) throw new Error('internal: the runtime template has a passive data segment')
      segments.push({ offset: info.offset, data: new Uint8Array(info.data) })
    }
    return segments
  }

  /** The constant i32 value of the global behind export `name`, which is then unexported. */
  takeExportedConstant(name: string): number {
    const exported = binaryen.getExportInfo(this.module.getExport(name))
    if (exported.kind !== binaryen.ExternalGlobal) throw new Error(`internal: export ${name} is not a global`)
    const init = binaryen.getGlobalInfo(this.module.getGlobal(exported.value)).init
    const value = (binaryen.getExpressionInfo(init) as { value?: unknown }).value
    if (typeof value !== 'number') throw new Error(`internal: global ${name} is not a constant`)
    this.module.removeExport(name)
    return value
  }

  /** Gives the global behind export `name` the constant `value`, makes it immutable, and unexports it. */
  bakeExportedGlobal(name: string, value: number): void {
    const exported = binaryen.getExportInfo(this.module.getExport(name))
    if (exported.kind !== binaryen.ExternalGlobal) throw new Error(`internal: export ${name} is not a global`)
    this.module.removeExport(name)
    this.module.removeGlobal(exported.value)
    this.module.addGlobal(exported.value, binaryen.i32, false, this.module.i32.const(value))
  }

  /** Replaces memory and data with `segments`, `pages` initial pages, exported as `memory`. */
  setMemory(segments: readonly Segment[], initialBytes: number, maximumPages: number): void {
    this.module.removeExport('memory')
    const pages = Math.ceil(initialBytes / PAGE)
    this.module.setMemory(
      pages,
      maximumPages,
      'memory',
      segments.map((s) => ({ offset: this.module.i32.const(s.offset), data: s.data, passive: false })),
    )
  }

  /**
   * Binaryen's memory-packing: drops the zero runs of the data segments into
   * fresh (zeroed) memory, so a blob's empty table slots and padding cost nothing.
   */
  packMemory(): void {
    this.module.runPasses(['memory-packing'])
  }

  addCustomSection(name: string, contents: Uint8Array): void {
    this.module.addCustomSection(name, contents)
  }

  optimize(level: number, shrink: number): void {
    binaryen.setOptimizeLevel(level)
    binaryen.setShrinkLevel(shrink)
    this.module.optimize()
  }

  validate(): void {
    if (!this.module.validate()) throw new Error('internal: the generated module does not validate')
  }

  emit(): Uint8Array<ArrayBuffer> {
    return this.module.emitBinary() as Uint8Array<ArrayBuffer>
  }

  dispose(): void {
    this.module.dispose()
  }
}
