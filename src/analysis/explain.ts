// `perso explain` (and `perso eval --explain`, and a failing case of `perso
// test`): for one request, which rule decided and why — each condition with
// the value it read and whether it held, the All/Any/Not tree shown as such.
// Computed from the policy with the runtime's semantics (spec §3); the CLI
// checks its decision against the artifact's before printing it.

import { canonicalText } from '../compiler/canonical.js'
import { compare } from '../compiler/decisions.js'
import type { Condition, Node, Program, Read } from '../compiler/ir.js'
import { type JsonNode, walk } from '../compiler/json-tree.js'
import { parse } from '../compiler/parse.js'
import { label } from '../compiler/texts.js'

/** One node of the condition tree, as this request meets it. */
export interface Step {
  /** The node's summary: `NumericCheck(Arguments.amount Lte 500)`, `All`, `Any`, `Not`. */
  text: string
  holds: boolean
  /** What a leaf read: `Arguments.amount = 800`, `AgentAttributes.user_id is missing`. */
  read?: string[]
  children?: Step[]
}

export interface Explanation {
  tool: string
  role: string
  decision: 'Allow' | 'Deny'
  /** The rule that decided (index into the policy's rules), absent when default_action did. */
  rule?: number
  /** The decision's ground, in words. */
  because: string
  /** The condition, when the rule has one. */
  condition?: Step
}

/** Values longer than this are shown cut, with `…`. */
const SHOWN = 64

/**
 * The explanation of a request given as the artifact's inputs (tool name,
 * arguments and context JSON texts), or the input error that keeps it from
 * being decided (the artifact answers it; the CLI shows the artifact's words).
 */
export function explain(program: Program, tool: string, argsText: Uint8Array, contextText: Uint8Array): Explanation | { error: string } {
  // A policy may not repeat a key, but a request may (the last counts): only a syntax error stops the reading.
  const args = parse(argsText)
  if (args.tree === undefined) return { error: 'the arguments are not valid JSON' }
  const context = parse(contextText)
  if (context.tree === undefined) return { error: 'the context is not valid JSON' }
  if (context.tree.kind !== 'object') return { error: 'the context is not an object' }
  const role = member(context.tree, 'role')
  if (role?.kind !== 'string') return { error: 'the context has no role string' }
  const sources = {
    Arguments: { tree: args.tree, bytes: argsText },
    AgentAttributes: { tree: member(context.tree, 'agent_attrs'), bytes: contextText },
    ResourceAttributes: { tree: member(context.tree, 'resource_attrs'), bytes: contextText },
  }
  const entry = program.entries.find((e) => e.tool === tool && e.role === role.value)
  const base = { tool, role: role.value }
  if (entry === undefined) {
    return { ...base, decision: program.defaultAction, because: `no rule for this tool and role: default_action ${program.defaultAction}` }
  }
  if (entry.condition === null) return { ...base, decision: 'Allow', rule: entry.rule, because: 'the rule has no condition' }
  const condition = program.conditions[entry.condition]!
  const valueOf = (read: Read): { node: JsonNode; bytes: Uint8Array } | undefined => {
    const source = sources[read.source]
    if (source.tree?.kind !== 'object') return undefined
    const node = member(source.tree, read.field)
    return node === undefined ? undefined : { node, bytes: source.bytes }
  }
  const step = evaluate(condition.root, condition, valueOf)
  return { ...base, decision: step.holds ? 'Allow' : 'Deny', rule: entry.rule, because: step.holds ? 'its condition holds' : 'its condition fails', condition: step }
}

/** The last member named `key` (spec §3: of repeated keys the last counts). */
function member(object: JsonNode | undefined, key: string): JsonNode | undefined {
  if (object?.kind !== 'object') return undefined
  const { node, found } = walk(object, [key])
  return found ? node : undefined
}

type Lookup = (read: Read) => { node: JsonNode; bytes: Uint8Array } | undefined

function evaluate(node: Node, condition: Condition, valueOf: Lookup): Step {
  const reads = condition.reads
  switch (node.kind) {
    case 'all':
    case 'any': {
      const children = node.children.map((c) => evaluate(c, condition, valueOf))
      const holds = node.kind === 'all' ? children.every((c) => c.holds) : children.some((c) => c.holds)
      return { text: node.kind === 'all' ? 'All' : 'Any', holds, children }
    }
    case 'not': {
      const child = evaluate(node.child, condition, valueOf)
      return { text: 'Not', holds: !child.holds, children: [child] }
    }
    case 'numeric': {
      const v = valueOf(reads[node.read]!)
      const holds = v?.node.kind === 'number' && compare(v.node.value, node.op, node.value)
      return { text: label(node, reads), holds, read: [shown(reads[node.read]!, v)] }
    }
    case 'string_in': {
      const v = valueOf(reads[node.read]!)
      const holds = v?.node.kind === 'string' && node.values.includes(v.node.value) !== node.negate
      return { text: label(node, reads), holds, read: [shown(reads[node.read]!, v)] }
    }
    case 'present': {
      const v = valueOf(reads[node.read]!)
      return { text: label(node, reads), holds: v !== undefined && v.node.kind !== 'null', read: [shown(reads[node.read]!, v)] }
    }
    case 'equals': {
      const [a, b] = [valueOf(reads[node.a]!), valueOf(reads[node.b]!)]
      const present = (v: typeof a): v is NonNullable<typeof a> => v !== undefined && v.node.kind !== 'null'
      const holds = present(a) && present(b) && canonicalText(a.node, a.bytes) === canonicalText(b.node, b.bytes)
      return { text: label(node, reads), holds, read: [shown(reads[node.a]!, a), shown(reads[node.b]!, b)] }
    }
    default:
      throw new Error(`internal: unknown condition node ${(node satisfies never as { kind: string }).kind}`)
  }
}

const decoder = new TextDecoder()

/** `Arguments.amount = 800`, its raw text cut at 64 characters; `… is missing`. */
function shown(read: Read, value: { node: JsonNode; bytes: Uint8Array } | undefined): string {
  const name = `${read.source}.${read.field}`
  if (value === undefined) return `${name} is missing`
  const raw = decoder.decode(value.bytes.subarray(value.node.span.start, value.node.span.end))
  const chars = [...raw]
  return `${name} = ${chars.length > SHOWN ? chars.slice(0, SHOWN).join('') + '…' : raw}`
}

/** The explanation as lines of text: the rule (`where` names its place), then the condition tree, indented. */
export function explanationLines(e: Explanation, where: (rule: number) => string): string[] {
  const pair = `${e.tool} for ${e.role}`
  const lines = [e.rule === undefined ? `why: ${e.because} (${pair})` : `why: rules[${e.rule}] (${where(e.rule)}) decides ${pair}; ${e.because}`]
  const walk = (step: Step, depth: number): void => {
    const mark = step.holds ? '✓' : '✗'
    lines.push(`${'  '.repeat(depth)}${mark} ${step.text}${step.read !== undefined ? `   ${step.read.join(', ')}` : ''}`)
    for (const child of step.children ?? []) walk(child, depth + 1)
  }
  if (e.condition !== undefined) walk(e.condition, 1)
  return lines
}
