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

/**
 * Views of a module's memory. Reading `memory.buffer` on every call costs; a
 * view is remade only after growth detached the buffer, which leaves it length 0.
 */
export class MemoryViews {
  bytes = new Uint8Array(0)
  words = new Int32Array(0)

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** The byte view, fresh; `words` is then fresh too. */
  current(): Uint8Array {
    if (this.bytes.length === 0) {
      const buffer = this.memory.buffer
      this.bytes = new Uint8Array(buffer)
      this.words = new Int32Array(buffer)
    }
    return this.bytes
  }

  /** The little-endian u32 at `at`: a response's length. */
  u32(at: number): number {
    const bytes = this.current()
    return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
  }
}

/**
 * A response text the artifact gave once, kept with what the host made of it
 * (the text decoded, a reason), to recognise the same bytes later: comparing
 * them 4 at a time costs a fraction of decoding them again.
 */
export class KnownText<T> {
  private bytes = new Uint8Array(0)
  private words = new Int32Array(0)
  length = 0

  constructor(views: MemoryViews, at: number, length: number, public value: T) {
    this.set(views, at, length, value)
  }

  /** Now knows the `length` bytes at `at` (a fresh `views`) as `value`; its buffer is reused when large enough. */
  set(views: MemoryViews, at: number, length: number, value: T): void {
    if (this.bytes.length < length) {
      this.bytes = new Uint8Array((length + 3) & ~3)
      this.words = new Int32Array(this.bytes.buffer)
    }
    if ((at & 3) === 0) {
      const words = views.words
      const w = at >> 2
      for (let i = 0; i < (length + 3) >> 2; i++) this.words[i] = words[w + i]!
    } else for (let i = 0; i < length; i++) this.bytes[i] = views.bytes[at + i]!
    this.length = length
    this.value = value
  }

  /** True when the `length` bytes at `at` (a fresh `views`) are this text. */
  matches(views: MemoryViews, at: number, length: number): boolean {
    if (length !== this.length) return false
    const full = length >> 2
    // Bytes past `length` in a reused buffer are stale: the word loop covers `full` words only.
    // Responses start 4-aligned (design.md "Memory model": scratch is 16-aligned); anything else is not recognised.
    if ((at & 3) !== 0) return false
    const words = views.words
    const mine = this.words
    const w = at >> 2
    // From the end: answers of one entry differ in their last words.
    for (let i = full - 1; i >= 0; i--) if (words[w + i] !== mine[i]) return false
    for (let i = full << 2; i < length; i++) if (views.bytes[at + i] !== this.bytes[i]) return false
    return true
  }
}

/**
 * Up to these many UTF-16 units a JS loop beats a call into the encoder (about
 * 80 ns fixed, then far less per unit than the loop; measured on Node 20).
 */
export const SHORT_TEXT = 32

/**
 * Writes `text` as UTF-8 at `at`, without escaping; the position after it, or -1
 * when it might pass `end` (room is needed for the worst case, 3 bytes per unit:
 * encodeInto stops short silently). Shared by this host and the SDK's fast path.
 */
export function writeText(bytes: Uint8Array, at: number, end: number, text: string): number {
  const length = text.length
  if (length <= SHORT_TEXT && at + length <= end) {
    let i = 0
    for (; i < length; i++) {
      const unit = text.charCodeAt(i)
      if (unit >= 0x80) break
      bytes[at + i] = unit
    }
    if (i === length) return at + length
  }
  if (at + length * 3 > end) return -1
  return at + encoder.encodeInto(text, bytes.subarray(at, at + length * 3)).written
}

/**
 * Distinct response texts kept per artifact to skip decoding repeats, cleared
 * when full; only short ones (an answer can echo a tool name of any length), so
 * the memory they hold stays small whatever the requests.
 */
const KNOWN_LIMIT = 64
const KNOWN_LENGTH = 1024

/**
 * The JSON text of the response at `resp`, recognised among `known` texts
 * when it repeats one (comparing bytes costs a fraction of decoding them).
 */
export function readResponse(views: MemoryViews, resp: number, known: Map<number, KnownText<string>>): string {
  const length = views.u32(resp)
  const text = resp + 4
  const seen = known.get(length)
  if (seen !== undefined && seen.matches(views, text, length)) return seen.value
  const decoded = decoder.decode(views.bytes.subarray(text, text + length))
  if (length > KNOWN_LENGTH) return decoded
  if (known.size >= KNOWN_LIMIT) known.clear()
  known.set(length, new KnownText(views, text, length, decoded))
  return decoded
}

/** Thrown for a module that is not a perso artifact; never for a request. */
export class ArtifactError extends Error {}

export class RawArtifact {
  readonly exports: ArtifactExports
  private readonly releaseInputs: boolean
  private readonly views: MemoryViews
  /** Response texts seen, by length, to recognise repeats (KnownText). */
  private readonly known = new Map<number, KnownText<string>>()

  constructor(instance: WebAssembly.Instance, options: HostOptions = {}) {
    const exports = instance.exports as Record<string, unknown>
    for (const name of EXPORTS) {
      if (!(name in exports)) throw new ArtifactError(`not a perso artifact: it does not export \`${name}\``)
    }
    this.exports = exports as unknown as ArtifactExports
    this.releaseInputs = options.releaseInputs ?? true
    this.views = new MemoryViews(this.exports.memory)
  }

  static async load(source: BufferSource | WebAssembly.Module, options: HostOptions = {}): Promise<RawArtifact> {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source)
    return new RawArtifact(await WebAssembly.instantiate(module, {}), options)
  }

  static loadSync(source: BufferSource | WebAssembly.Module, options: HostOptions = {}): RawArtifact {
    const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source)
    return new RawArtifact(new WebAssembly.Instance(module, {}), options)
  }

  /** Copies `bytes` into a fresh buffer of the module (`alloc` traps when memory cannot grow). */
  private write(bytes: Uint8Array): number {
    const ptr = this.exports.alloc(bytes.length)
    this.views.current().set(bytes, ptr)
    return ptr
  }

  /** The response at `resp`: its JSON text, read and then released (spec §6 "Lifetimes"). */
  private response(resp: number): string {
    const text = readResponse(this.views, resp, this.known)
    this.exports.dealloc(resp, 4 + this.views.u32(resp))
    return text
  }

  /** The raw JSON text the artifact answers for these three inputs. */
  evaluateBytes(tool: Uint8Array, args: Uint8Array, context: Uint8Array): string {
    const inputs = [tool, args, context]
    const ptrs = inputs.map((bytes) => this.write(bytes))
    const resp = this.exports.evaluate(ptrs[0]!, tool.length, ptrs[1]!, args.length, ptrs[2]!, context.length)
    const text = this.response(resp)
    if (this.releaseInputs) ptrs.forEach((ptr, i) => this.exports.dealloc(ptr, inputs[i]!.length))
    return text
  }

  /**
   * Memory from `ptr` on, for the encoder to write into. Kept while `alloc`
   * answers the same address (a host that releases its buffers gets the same
   * block back every call): making a view costs more than encoding a short text.
   */
  private destination(memory: Uint8Array, ptr: number, room: number): Uint8Array {
    // A view of memory that has grown since is detached: length 0.
    if (this.destPtr !== ptr || this.dest.length < room) {
      this.dest = memory.subarray(ptr)
      this.destPtr = ptr
    }
    return this.dest
  }
  private dest: Uint8Array = new Uint8Array(0)
  private destPtr = -1

  /**
   * The raw JSON text the artifact answers. The three strings are encoded
   * straight into one buffer of the module (the ABI lets the inputs share it).
   * Strings with lone surrogates are the caller's to refuse: UTF-8 cannot carry
   * them, and encodeInto would replace them.
   */
  evaluateStrings(tool: string, args: string, context: string): string {
    const room = (tool.length + args.length + context.length) * 3
    const ptr = this.exports.alloc(room)
    const memory = this.views.current()
    // The JSON texts first, at `ptr`, where a kept encoder destination starts. One
    // encoder call for both (its fixed cost is most of the cost of short texts): when
    // they are all ASCII, the split is where the arguments end. Else again, one at a time.
    let argsLen = args.length
    let ctxLen = context.length
    const both = args + context
    const dest = this.destination(memory, ptr, room)
    const end = ptr + room
    if ((both.length <= SHORT_TEXT ? writeText(memory, ptr, end, both) - ptr : encoder.encodeInto(both, dest).written) !== argsLen + ctxLen) {
      argsLen = writeText(memory, ptr, end, args) - ptr
      ctxLen = writeText(memory, ptr + argsLen, end, context) - ptr - argsLen
    }
    const ctxPtr = ptr + argsLen
    const toolPtr = ctxPtr + ctxLen
    const toolLen = writeText(memory, toolPtr, end, tool) - toolPtr
    const text = this.response(this.exports.evaluate(toolPtr, toolLen, ptr, argsLen, ctxPtr, ctxLen))
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
