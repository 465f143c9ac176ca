// Loading an artifact from where it comes from (load.ts's `ArtifactSource`).
// Reading files is Node-only, so the Node entry registers a reader
// (node/index.ts) and the core never imports a Node builtin.

import type { ArtifactSource } from './load.js'

type FileReader = (path: string | URL) => Promise<Uint8Array<ArrayBuffer>>
let readFile: FileReader | undefined

/** Called by the Node entry: how to read a path or `file:` URL. */
export function setFileReader(reader: FileReader): void {
  readFile = reader
}

// A scheme of two or more letters: one letter is a Windows drive (`C:\policy.wasm`).
const URL_SCHEME = /^[a-z][a-z0-9+.-]+:/i

async function fetchBytes(url: string | URL): Promise<ArrayBuffer> {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`perso: could not fetch the artifact at ${String(url)}: HTTP ${response.status}`)
  return response.arrayBuffer()
}

async function bytesOf(source: string | URL): Promise<BufferSource> {
  const isFile = source instanceof URL ? source.protocol === 'file:' : /^file:/i.test(source) || !URL_SCHEME.test(source)
  // Without a file reader (browsers), a path is relative to the page: fetch resolves it.
  if (isFile && readFile !== undefined) return readFile(typeof source === 'string' && /^file:/i.test(source) ? new URL(source) : source)
  return fetchBytes(source)
}

export async function loadModule(source: ArtifactSource): Promise<WebAssembly.Module> {
  if (source === null || source === undefined) throw new TypeError('perso: Perso.load() takes a path, a URL, a Uint8Array, an ArrayBuffer or a WebAssembly.Module')
  if (source instanceof WebAssembly.Module) return source
  if (typeof source === 'string' || source instanceof URL) return WebAssembly.compile(await bytesOf(source))
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source as BufferSource)
  throw new TypeError('perso: Perso.load() takes a path, a URL, a Uint8Array, an ArrayBuffer or a WebAssembly.Module')
}
