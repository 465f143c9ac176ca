// The JSON tree parse.ts builds (every value and key with its byte span), and
// the walks over it that later phases share: path lookup and plain values.

import type { Locate, Span } from './diagnostics.js'

export type JsonNode =
  | { kind: 'object'; span: Span; members: JsonMember[] }
  | { kind: 'array'; span: Span; items: JsonNode[] }
  | { kind: 'string'; span: Span; value: string }
  | { kind: 'number'; span: Span; value: number }
  | { kind: 'boolean'; span: Span; value: boolean }
  | { kind: 'null'; span: Span }

/** One `"key": value` of an object; objects keep member order (and duplicates). */
export interface JsonMember {
  key: string
  keySpan: Span
  value: JsonNode
}

type Path = readonly (string | number)[]

/**
 * Walks a path as far as the tree goes: the node reached, the key span of the
 * last member stepped into, and whether the whole path was found. A repeated
 * key's last occurrence is the one that counts (spec §3).
 */
export function walk(tree: JsonNode, path: Path): { node: JsonNode; keySpan?: Span; found: boolean } {
  let node = tree
  let keySpan: Span | undefined
  for (const step of path) {
    let next: JsonNode | undefined
    keySpan = undefined
    if (typeof step === 'number' && node.kind === 'array') {
      next = node.items[step]
    } else if (typeof step === 'string' && node.kind === 'object') {
      const member = node.members.findLast((m) => m.key === step)
      next = member?.value
      keySpan = member?.keySpan
    }
    if (next === undefined) return { node, found: false }
    node = next
  }
  return keySpan === undefined ? { node, found: true } : { node, keySpan, found: true }
}

/** A path that leaves the tree answers the span of the deepest node reached, so a diagnostic still points somewhere. */
export function locator(tree: JsonNode | undefined): Locate {
  return (path, part = 'value') => {
    if (tree === undefined) return { start: 0, end: 0 }
    const { node, keySpan, found } = walk(tree, path)
    return part === 'key' && found && keySpan !== undefined ? keySpan : node.span
  }
}

/** The tree as a plain JSON value; a repeated key's last value wins, as in the older engine's reader. */
export function toPlain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = {}
      // defineProperty, so a key named `__proto__` is data, not a prototype change.
      for (const m of node.members) {
        Object.defineProperty(out, m.key, { value: toPlain(m.value), enumerable: true, writable: true, configurable: true })
      }
      return out
    }
    case 'array': return node.items.map(toPlain)
    case 'null': return null
    default: return node.value
  }
}
