// The stable text form of the IR: `perso compile --emit ir` prints it and the
// golden tests compare it. Strings are JSON-quoted so every byte is visible.

import type { Node, Program, Read } from './ir.js'

const q = (s: string): string => JSON.stringify(s)
const readName = (read: Read): string => `${read.source}.${q(read.field)}`

function printNode(node: Node, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth)
  switch (node.kind) {
    case 'all':
    case 'any':
      out.push(`${pad}${node.kind}${node.children.length === 0 ? ' (empty)' : ''}`)
      node.children.forEach((child) => printNode(child, depth + 1, out))
      return
    case 'not':
      out.push(`${pad}not`)
      printNode(node.child, depth + 1, out)
      return
    case 'numeric':
      out.push(`${pad}numeric r${node.read} ${node.op} ${String(node.value)}`)
      return
    case 'string_in':
      out.push(`${pad}${node.negate ? 'not_in' : 'in'} r${node.read} [${node.values.map(q).join(', ')}]`)
      return
    case 'present':
      out.push(`${pad}present r${node.read}`)
      return
    case 'equals':
      out.push(`${pad}equals r${node.a} r${node.b}`)
      return
  }
}

export function printProgram(program: Program): string {
  const out: string[] = [
    `version ${q(program.version)}`,
    `default ${program.defaultAction}`,
    `sha256 ${program.sha256}`,
    `digest ${program.digest}`,
    `tools ${program.tools.map(q).join(' ')}`,
    `roles ${program.roles.map(q).join(' ')}`,
    `rules ${program.ruleCount}`,
  ]
  program.conditions.forEach((condition, i) => {
    out.push(`condition c${i} from rules[${condition.rule}]`)
    condition.reads.forEach((read, r) => out.push(`  read r${r} ${readName(read)}`))
    printNode(condition.root, 1, out)
  })
  for (const entry of program.entries) {
    const decides = entry.condition === null ? 'allow' : `c${entry.condition}`
    out.push(`entry ${q(entry.tool)} ${q(entry.role)} rules[${entry.rule}] ${decides}`)
  }
  return out.join('\n') + '\n'
}
