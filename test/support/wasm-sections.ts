// Rewriting an artifact's `perso` custom section, for tests of what readers
// make of a section that lies or is missing.

/** Unsigned LEB128, as wasm writes sizes. */
export const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(Math.floor(n / 128))])

/** A custom section named `perso` holding `contents`. */
function persoSection(contents: string): number[] {
  const name = new TextEncoder().encode('perso')
  const body = new TextEncoder().encode(contents)
  return [0, ...leb(1 + name.length + body.length), name.length, ...name, ...body]
}

/** `wasm` with its `perso` custom section replaced by `json` as JSON text (or removed, for undefined), every other section as it was. */
export function withPersoSection(wasm: Uint8Array, json: unknown): Uint8Array {
  const out: number[] = [...wasm.subarray(0, 8)]
  for (let at = 8; at < wasm.length; ) {
    const id = wasm[at]!
    let size = 0
    let i = at + 1
    for (let shift = 0; ; shift += 7, i++) {
      size += (wasm[i]! & 0x7f) * 2 ** shift
      if (!(wasm[i]! & 0x80)) break
    }
    const body = wasm.subarray(i + 1, i + 1 + size)
    const isPerso = id === 0 && new TextDecoder().decode(body.subarray(1, 1 + body[0]!)) === 'perso'
    if (!isPerso) out.push(...wasm.subarray(at, i + 1 + size))
    at = i + 1 + size
  }
  if (json !== undefined) out.push(...persoSection(typeof json === 'string' ? json : JSON.stringify(json)))
  return Uint8Array.from(out)
}

/** A module of nothing but a `perso` section holding `text` (not necessarily JSON). */
export const moduleWithSection = (text: string): WebAssembly.Module =>
  new WebAssembly.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...persoSection(text)]))
