// The raw artifact ABI of spec §6 from a JavaScript host: write inputs with
// alloc, call, read the length-prefixed response. No compiler code here, so
// `perso eval x.wasm`, the SDK and browsers load only this.

export type Answer = { decision: 'Allow' | 'Deny'; reason: string } | { error: string }

export interface ArtifactExports {
  memory: WebAssembly.Memory
  alloc(len: number): number
  dealloc(ptr: number, len: number): void
  init(ptr: number, len: number): number
  evaluate(toolPtr: number, toolLen: number, argsPtr: number, argsLen: number, ctxPtr: number, ctxLen: number): number
}

const EXPORTS = ['memory', 'alloc', 'dealloc', 'init', 'evaluate'] as const

export interface HostOptions {
  /** Release the three input buffers after each call (some hosts do, one widely used SDK never does). */
  releaseInputs?: boolean
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: false })

/** Thrown for a module that is not a perso artifact; never for a request. */
export class ArtifactError extends Error {}

export class RawArtifact {
  readonly exports: ArtifactExports
  private readonly releaseInputs: boolean

  constructor(instance: WebAssembly.Instance, options: HostOptions = {}) {
    const exports = instance.exports as Record<string, unknown>
    for (const name of EXPORTS) {
      if (!(name in exports)) throw new ArtifactError(`not a perso artifact: it does not export \`${name}\``)
    }
    this.exports = exports as unknown as ArtifactExports
    this.releaseInputs = options.releaseInputs ?? true
  }

  static async load(source: BufferSource | WebAssembly.Module, options: HostOptions = {}): Promise<RawArtifact> {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source)
    return new RawArtifact(await WebAssembly.instantiate(module, {}), options)
  }

  static loadSync(source: BufferSource | WebAssembly.Module, options: HostOptions = {}): RawArtifact {
    const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source)
    return new RawArtifact(new WebAssembly.Instance(module, {}), options)
  }

  /** Copies `bytes` into a fresh buffer of the module; 0 when the module could not reserve it. */
  private write(bytes: Uint8Array): number {
    const ptr = this.exports.alloc(bytes.length)
    if (ptr !== 0 || bytes.length === 0) new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes)
    return ptr
  }

  /** Reads and releases the response at `resp`: its JSON text. */
  private response(resp: number): string {
    const memory = this.memoryView()
    const length = (memory[resp]! | (memory[resp + 1]! << 8) | (memory[resp + 2]! << 16) | (memory[resp + 3]! << 24)) >>> 0
    const text = decoder.decode(memory.subarray(resp + 4, resp + 4 + length))
    this.exports.dealloc(resp, 4 + length)
    return text
  }

  /** The raw JSON text the artifact answers for these three inputs. */
  evaluateBytes(tool: Uint8Array, args: Uint8Array, context: Uint8Array): string {
    const inputs = [tool, args, context]
    const ptrs = inputs.map((bytes) => this.write(bytes))
    if (ptrs.some((ptr, i) => ptr === 0 && inputs[i]!.length > 0)) {
      return JSON.stringify({ error: 'host: the artifact could not reserve memory for the inputs' })
    }
    const resp = this.exports.evaluate(ptrs[0]!, tool.length, ptrs[1]!, args.length, ptrs[2]!, context.length)
    const text = this.response(resp)
    if (this.releaseInputs) ptrs.forEach((ptr, i) => this.exports.dealloc(ptr, inputs[i]!.length))
    return text
  }

  /** A view of all of memory, remade only when growth has replaced the buffer. */
  private memoryView(): Uint8Array {
    const buffer = this.exports.memory.buffer
    if (this.view.buffer !== buffer) this.view = new Uint8Array(buffer)
    return this.view
  }
  private view = new Uint8Array(0)

  /**
   * The raw JSON text the artifact answers. The three strings are encoded
   * straight into one buffer of the module (the ABI lets the inputs share it).
   * Strings with lone surrogates are the caller's to refuse: UTF-8 cannot carry
   * them, and encodeInto would replace them.
   */
  evaluateStrings(tool: string, args: string, context: string): string {
    const room = (tool.length + args.length + context.length) * 3
    const ptr = this.exports.alloc(room)
    if (ptr === 0 && room > 0) return JSON.stringify({ error: 'host: the artifact could not reserve memory for the inputs' })
    const memory = this.memoryView()
    const toolLen = encoder.encodeInto(tool, memory.subarray(ptr, ptr + room)).written
    const argsPtr = ptr + toolLen
    const argsLen = encoder.encodeInto(args, memory.subarray(argsPtr, ptr + room)).written
    const ctxPtr = argsPtr + argsLen
    const ctxLen = encoder.encodeInto(context, memory.subarray(ctxPtr, ptr + room)).written
    const text = this.response(this.exports.evaluate(ptr, toolLen, argsPtr, argsLen, ctxPtr, ctxLen))
    if (this.releaseInputs) this.exports.dealloc(ptr, room)
    return text
  }

  evaluate(tool: string | Uint8Array, args: string | Uint8Array, context: string | Uint8Array): Answer {
    const bytes = (x: string | Uint8Array): Uint8Array => (typeof x === 'string' ? encoder.encode(x) : x)
    return JSON.parse(this.evaluateBytes(bytes(tool), bytes(args), bytes(context))) as Answer
  }

  /** `init` with the given policy source bytes, or `init(0, 0)` without. */
  init(policy?: Uint8Array): { ok: true; version: string } | { error: string } {
    const ptr = policy === undefined ? 0 : this.write(policy)
    const resp = this.exports.init(ptr, policy?.length ?? 0)
    const text = this.response(resp)
    if (policy !== undefined && this.releaseInputs) this.exports.dealloc(ptr, policy.length)
    return JSON.parse(text) as { ok: true; version: string } | { error: string }
  }
}
