// A raw-ABI host for the fuzzer that trusts nothing the module answers: it
// checks the response pointer and length against memory, decodes strictly, and
// turns traps into findings. Four ways of passing inputs, as real hosts do.

import type { Exports } from '../support/host.js'
import type { Request } from './cases.js'

/**
 * - `release`: three `alloc`s, `dealloc` of everything after the call;
 * - `keep`: three `alloc`s, inputs never released (one widely used SDK);
 * - `shared`: one `alloc` holding the three inputs back to back;
 * - `reuse`: one buffer allocated once (and again only when too small), rewritten every call.
 */
export type HostPattern = 'release' | 'keep' | 'shared' | 'reuse'
export const HOST_PATTERNS: HostPattern[] = ['release', 'keep', 'shared', 'reuse']

/** The response text, or what went wrong at the ABI level (trap, bad pointer, bad UTF-8, failed alloc). */
export type Outcome = { text: string } | { problem: string }

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export class FuzzHost {
  readonly exports: Exports
  private reused = { ptr: 0, capacity: 0 }

  constructor(
    readonly module: WebAssembly.Module,
    readonly pattern: HostPattern,
  ) {
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as Exports
  }

  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength
  }

  evaluate(request: Request): Outcome {
    try {
      return this.call(request)
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) return { problem: `trap: ${e.message}` }
      throw e
    }
  }

  /** `evaluate` with pointers and lengths as given (out of bounds on purpose), no writing. */
  evaluateAt(ptrs: number[], lens: number[]): Outcome {
    try {
      return this.readResponse(this.exports.evaluate(ptrs[0]!, lens[0]!, ptrs[1]!, lens[1]!, ptrs[2]!, lens[2]!))
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) return { problem: `trap: ${e.message}` }
      throw e
    }
  }

  private call(request: Request): Outcome {
    const inputs = [request.tool, request.args, request.context]
    const lens = inputs.map((bytes) => bytes.length)
    let ptrs: number[]
    if (this.pattern === 'release' || this.pattern === 'keep') {
      ptrs = inputs.map((bytes) => this.exports.alloc(bytes.length))
      if (ptrs.some((p, i) => p === 0 && lens[i]! > 0)) return { problem: `alloc failed for inputs of ${lens.join(', ')} bytes` }
      inputs.forEach((bytes, i) => this.write(ptrs[i]!, bytes))
    } else {
      const total = lens[0]! + lens[1]! + lens[2]!
      let base: number
      if (this.pattern === 'shared') base = this.exports.alloc(total)
      else {
        if (total > this.reused.capacity || this.reused.ptr === 0) {
          const capacity = Math.max(total, 2 * this.reused.capacity, 64)
          this.reused = { ptr: this.exports.alloc(capacity), capacity }
        }
        base = this.reused.ptr
      }
      if (base === 0) return { problem: `alloc failed for ${total} bytes` }
      ptrs = [base, base + lens[0]!, base + lens[0]! + lens[1]!]
      inputs.forEach((bytes, i) => this.write(ptrs[i]!, bytes))
    }
    const outcome = this.readResponse(this.exports.evaluate(ptrs[0]!, lens[0]!, ptrs[1]!, lens[1]!, ptrs[2]!, lens[2]!))
    if (this.pattern === 'release') ptrs.forEach((p, i) => this.exports.dealloc(p, lens[i]!))
    if (this.pattern === 'shared') this.exports.dealloc(ptrs[0]!, lens[0]! + lens[1]! + lens[2]!)
    return outcome
  }

  private write(ptr: number, bytes: Uint8Array): void {
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes)
  }

  private readResponse(resp: number): Outcome {
    const size = this.memoryBytes
    const at = resp >>> 0
    if (at < 1024 || at + 4 > size) return { problem: `response pointer ${at} is outside memory (${size} bytes) or in the reserved first 1024` }
    const length = new DataView(this.exports.memory.buffer).getUint32(at, true)
    if (at + 4 + length > size) return { problem: `response length ${length} at ${at} runs past memory (${size} bytes)` }
    let text: string
    try {
      text = decoder.decode(new Uint8Array(this.exports.memory.buffer, at + 4, length))
    } catch {
      return { problem: 'the response is not valid UTF-8' }
    }
    this.exports.dealloc(at, 4 + length)
    return { text }
  }
}
