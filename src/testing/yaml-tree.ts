// A YAML suite file → the same JSON tree (byte spans on every value and key)
// that parse.ts builds for JSON, so validation, locating and rendering are
// shared by both formats. YAML 1.2 core schema: `yes`/`on` stay strings.

import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml'
import type { Diagnostic, Span } from '../compiler/diagnostics.js'
import type { JsonMember, JsonNode } from '../compiler/json-tree.js'

export interface YamlResult {
  tree?: JsonNode
  diagnostics: Diagnostic[]
}

/** Aliases may repeat a node; this bounds the tree an alias bomb could build. */
const MAX_NODES = 200_000

class Stop extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message)
  }
}

export function parseYaml(bytes: Uint8Array): YamlResult {
  const text = new TextDecoder('utf-8').decode(bytes)
  const toByte = byteOffsets(text)
  const span = (start: number, end: number): Span => ({ start: toByte(start), end: toByte(Math.max(start, end)) })
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: new LineCounter() })
  const errors = doc.errors.map((e): Diagnostic => ({
    code: 'E200', severity: 'error', message: yamlMessage(e.message), span: span(e.pos[0], e.pos[1]),
  }))
  if (errors.length > 0) return { diagnostics: errors }
  if (doc.contents === null) {
    return { diagnostics: [error('file is empty', span(0, 0), 'a suite is a mapping: `policy: …` and `cases: [ … ]`')] }
  }
  try {
    return { tree: new Converter(doc, span).node(doc.contents, []), diagnostics: [] }
  } catch (e) {
    if (e instanceof Stop) return { diagnostics: [e.diagnostic] }
    throw e
  }
}

class Converter {
  private count = 0

  constructor(
    private readonly doc: Document,
    private readonly span: (start: number, end: number) => Span,
  ) {}

  /** `active`: the aliased nodes being converted, so an alias to its own ancestor is refused, not followed forever. */
  node(node: Node | null, active: Node[], at?: Span): JsonNode {
    if (++this.count > MAX_NODES) throw new Stop(error('file is too large once its aliases are expanded', at ?? this.span(0, 0)))
    if (node === null) return { kind: 'null', span: at ?? this.span(0, 0) }
    const span = node.range ? this.span(node.range[0], node.range[1]) : (at ?? this.span(0, 0))
    if (isAlias(node)) {
      const target = node.resolve(this.doc)
      if (target === undefined) throw new Stop(error(`unknown alias \`*${node.source}\``, span))
      if (active.includes(target)) throw new Stop(error(`alias \`*${node.source}\` refers to a value that contains it`, span))
      const resolved = this.node(target, [...active, target], span)
      return { ...resolved, span }
    }
    if (isMap(node)) {
      const members: JsonMember[] = node.items.map((pair) => {
        const key = pair.key as Node | null
        if (!isScalar(key) || typeof key.value === 'object') {
          const where = key?.range ? this.span(key.range[0], key.range[1]) : span
          throw new Stop(error('a key must be a plain name', where))
        }
        const keySpan = key.range ? this.span(key.range[0], key.range[1]) : span
        const value = this.node(pair.value as Node | null, active, { start: keySpan.end, end: keySpan.end })
        return { key: String(key.value), keySpan, value }
      })
      return { kind: 'object', span, members }
    }
    if (isSeq(node)) return { kind: 'array', span, items: node.items.map((item) => this.node(item as Node | null, active, span)) }
    if (isScalar(node)) return scalar(node.value, node.source, span)
    throw new Stop(error('unsupported YAML value', span))
  }
}

function scalar(value: unknown, source: string | undefined, span: Span): JsonNode {
  switch (typeof value) {
    case 'string': return { kind: 'string', span, value }
    case 'boolean': return { kind: 'boolean', span, value }
    case 'number':
      if (!Number.isFinite(value)) {
        throw new Stop(error(`\`${source ?? String(value)}\` is not a JSON number`, span, 'JSON has no infinities or NaN; quote it to make it a string'))
      }
      return { kind: 'number', span, value }
    case 'bigint': return { kind: 'number', span, value: Number(value) }
    default:
      if (value === null || value === undefined) return { kind: 'null', span }
      throw new Stop(error('unsupported YAML value', span))
  }
}

function error(message: string, span: Span, help?: string): Diagnostic {
  return help === undefined ? { code: 'E200', severity: 'error', message, span } : { code: 'E200', severity: 'error', message, span, help }
}

/** `Map keys must be unique at line 5, column 19:…` → `map keys must be unique` (the position is shown by the renderer). */
function yamlMessage(message: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').replace(/[.:]$/, '')
  return first.charAt(0).toLowerCase() + first.slice(1)
}

/** UTF-16 index → UTF-8 byte offset (yaml counts in string indexes; diagnostics in bytes). */
function byteOffsets(text: string): (index: number) => number {
  const offsets = new Uint32Array(text.length + 1)
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    offsets[i] = bytes
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      offsets[++i] = bytes - 2 // inside a surrogate pair: never a boundary yaml reports
    } else bytes += 3
  }
  offsets[text.length] = bytes
  return (index) => offsets[Math.max(0, Math.min(index, text.length))]!
}
