// The types of where an artifact comes from: bytes, a compiled module, a URL
// (fetched), or a file path. Types only, so that they reach hosts' type
// checks without the DOM lib; loading is module.ts's.

/**
 * A compiled WebAssembly module (`WebAssembly.Module`), and a URL (`URL`), by
 * types of their own: the SDK's types then need neither the DOM lib nor
 * @types/node (any `WebAssembly.Module` and `URL` fit them).
 */
export type CompiledModule = object
export interface UrlLike {
  readonly href: string
}

export type ArtifactSource = string | UrlLike | Uint8Array | ArrayBuffer | ArrayBufferView | CompiledModule
