// A minimal host for runtime tests: instantiates an artifact and drives the raw
// ABI (alloc, write, evaluate, read the length-prefixed response, dealloc).

import type { ArtifactExports } from '../../packages/sdk/src/abi.js'

export type Input = string | Uint8Array

export type Exports = ArtifactExports

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const bytesOf = (input: Input): Uint8Array => (typeof input === 'string' ? encoder.encode(input) : input)

export class Host {
  constructor(readonly exports: Exports) {}

  static async load(wasm: Uint8Array): Promise<Host> {
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), {})
    return new Host(instance.exports as unknown as Exports)
  }

  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength
  }

  /** Copies `bytes` into a fresh `alloc` buffer; returns its pointer. */
  write(bytes: Uint8Array): number {
    const ptr = this.exports.alloc(bytes.length)
    if (ptr === 0) throw new Error(`alloc(${bytes.length}) failed`)
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes)
    return ptr
  }

  /** Reads and releases the response at `resp`; returns its JSON text. */
  readResponse(resp: number): string {
    const view = new DataView(this.exports.memory.buffer)
    const len = view.getUint32(resp, true)
    const text = decoder.decode(new Uint8Array(this.exports.memory.buffer, resp + 4, len))
    this.exports.dealloc(resp, 4 + len)
    return text
  }

  /** One evaluate call; `release` says whether the host deallocs its inputs afterwards. */
  evaluateText(tool: Input, args: Input, ctx: Input, release = true): string {
    const buffers = [tool, args, ctx].map(bytesOf)
    const ptrs = buffers.map((b) => this.write(b))
    const resp = this.exports.evaluate(ptrs[0]!, buffers[0]!.length, ptrs[1]!, buffers[1]!.length, ptrs[2]!, buffers[2]!.length)
    const text = this.readResponse(resp)
    if (release) ptrs.forEach((p, i) => this.exports.dealloc(p, buffers[i]!.length))
    return text
  }

  evaluate(tool: Input, args: Input, ctx: Input, release = true): Record<string, unknown> {
    return JSON.parse(this.evaluateText(tool, args, ctx, release)) as Record<string, unknown>
  }

  init(policy?: Input): Record<string, unknown> {
    if (policy === undefined) return JSON.parse(this.readResponse(this.exports.init(0, 0))) as Record<string, unknown>
    const bytes = bytesOf(policy)
    const ptr = this.write(bytes)
    return JSON.parse(this.readResponse(this.exports.init(ptr, bytes.length))) as Record<string, unknown>
  }
}

/**
 * Links `blob` into an instance of `template` the way emit.ts does, but at run
 * time: the blob is written at a fresh page past everything the template owns
 * and `__perso_policy` is set to it. No binaryen involved, so tests can check
 * codegen and emit separately.
 */
export function linkInMemory(template: WebAssembly.Module, codegen: (base: number) => Uint8Array): Host {
  const instance = new WebAssembly.Instance(template, {})
  const exports = instance.exports as unknown as Exports & { __perso_policy: WebAssembly.Global }
  const base = exports.memory.buffer.byteLength
  const blob = codegen(base)
  exports.memory.grow(Math.ceil(blob.length / 65536) + 1)
  new Uint8Array(exports.memory.buffer, base, blob.length).set(blob)
  exports.__perso_policy.value = base
  return new Host(exports)
}
