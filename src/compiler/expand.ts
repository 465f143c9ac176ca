// expand: turns the rules into the flat (tool, role) → rule table of spec §2,
// and warns where the result is probably not what the author meant.

import type { Diagnostic, Locate } from './diagnostics.js'
import type { Policy } from './policy.js'
import { closest } from './suggest.js'

/** The flat table: for each (tool, role) pair, the index of the rule that decides it. */
export class Table {
  private readonly rows = new Map<string, Map<string, number>>()

  get(tool: string, role: string): number | undefined {
    return this.rows.get(tool)?.get(role)
  }

  /** Sets the pair's rule, answering the rule it replaces, if any. */
  set(tool: string, role: string, rule: number): number | undefined {
    let roles = this.rows.get(tool)
    if (roles === undefined) {
      roles = new Map()
      this.rows.set(tool, roles)
    }
    const previous = roles.get(role)
    roles.set(role, rule)
    return previous
  }

  /** Every entry, sorted by tool then role (code-unit order), so output never depends on rule order. */
  entries(): { tool: string; role: string; rule: number }[] {
    const out: { tool: string; role: string; rule: number }[] = []
    for (const [tool, roles] of this.rows) for (const [role, rule] of roles) out.push({ tool, role, rule })
    return out.sort((a, b) => compare(a.tool, b.tool) || compare(a.role, b.role))
  }

  get size(): number {
    let n = 0
    for (const roles of this.rows.values()) n += roles.size
    return n
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Does glob `pattern` (only `*` is special: any run, including none) match `name`? */
export function globMatch(pattern: string, name: string): boolean {
  // Greedy match with backtracking to the last star: O(len(pattern) × len(name)) at worst.
  let p = 0
  let n = 0
  let star = -1
  let resume = 0
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++
      resume = n
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++
      n++
    } else if (star >= 0) {
      p = star + 1
      n = ++resume
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++
  return p === pattern.length
}

const isPattern = (toolName: string): boolean => toolName.includes('*')

/**
 * The declared tools, sorted, so that a pattern is matched only against the
 * tools that share its literal prefix: a policy with a pattern per tool family
 * would otherwise cost patterns × tools glob matches.
 */
class DeclaredTools {
  private readonly sorted: { tool: string; index: number }[]

  constructor(private readonly declared: readonly string[]) {
    this.sorted = declared.map((tool, index) => ({ tool, index })).sort((a, b) => compare(a.tool, b.tool))
  }

  /** Tools a rule's `tool_name` stands for, in declaration order. */
  of(toolName: string): string[] {
    if (!isPattern(toolName)) return [toolName]
    const prefix = toolName.slice(0, toolName.indexOf('*'))
    if (prefix === '') return this.declared.filter((tool) => globMatch(toolName, tool))
    // Strings sharing a prefix are contiguous in code-unit order: find the first, walk while they share it.
    let low = 0
    let high = this.sorted.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (this.sorted[mid]!.tool < prefix) low = mid + 1
      else high = mid
    }
    const matched: number[] = []
    for (let i = low; i < this.sorted.length && this.sorted[i]!.tool.startsWith(prefix); i++) {
      if (globMatch(toolName, this.sorted[i]!.tool)) matched.push(this.sorted[i]!.index)
    }
    return matched.sort((a, b) => a - b).map((i) => this.declared[i]!)
  }
}

/** Warnings for names listed twice in `tools` or `roles`; answers the distinct names in order. */
function distinct(names: readonly string[], key: 'tools' | 'roles', locate: Locate, out: Diagnostic[]): string[] {
  const first = new Map<string, number>()
  names.forEach((name, i) => {
    const earlier = first.get(name)
    if (earlier === undefined) {
      first.set(name, i)
      return
    }
    out.push({
      code: key === 'tools' ? 'W101' : 'W102',
      severity: 'warning',
      message: `${key === 'tools' ? 'tool' : 'role'} \`${name}\` is declared twice in \`${key}\``,
      span: locate([key, i]),
      help: 'remove the repeated entry',
      related: [{ message: 'first declared here', span: locate([key, earlier]) }],
    })
  })
  return [...first.keys()]
}

const PAIRS_SHOWN = 4

export function expand(policy: Policy, locate: Locate): { table: Table; diagnostics: Diagnostic[]; replacements: Replacement[] } {
  const diagnostics: Diagnostic[] = []
  const replacements: Replacement[] = []
  const tools = distinct(policy.tools, 'tools', locate, diagnostics)
  const roles = distinct(policy.roles, 'roles', locate, diagnostics)
  const declaredTools = new Set(tools)
  const declaredRoles = new Set(roles)
  const toolsOf = new DeclaredTools(tools)
  const table = new Table()

  policy.rules.forEach((rule, r) => {
    const toolSpan = locate(['rules', r, 'tool_name'])
    const ruleTools = toolsOf.of(rule.tool_name)
    if (rule.roles.length === 0) {
      diagnostics.push({
        code: 'W107',
        severity: 'warning',
        message: `rules[${r}] has an empty \`roles\` list, so it grants nothing`,
        span: locate(['rules', r, 'roles']),
      })
    }
    if (isPattern(rule.tool_name) && ruleTools.length === 0) {
      diagnostics.push({
        code: 'W104',
        severity: 'warning',
        message: `pattern \`${rule.tool_name}\` matches no declared tool, so rules[${r}] grants nothing`,
        span: toolSpan,
        help: 'patterns expand against `tools` only; declare the tools it should cover',
      })
    }
    if (!isPattern(rule.tool_name) && !declaredTools.has(rule.tool_name)) {
      const near = closest(rule.tool_name, tools)
      diagnostics.push({
        code: 'W105',
        severity: 'warning',
        message: `tool \`${rule.tool_name}\` is not declared in \`tools\``,
        span: toolSpan,
        help: near !== undefined ? `did you mean \`${near}\`?` : 'the rule still applies to it; declare it to silence this warning',
      })
    }
    // Which earlier rule each pair replaces, grouped so one warning names both rules once.
    const replaced = new Map<number, string[]>()
    rule.roles.forEach((role, j) => {
      if (!declaredRoles.has(role)) {
        const near = closest(role, roles)
        diagnostics.push({
          code: 'W103',
          severity: 'warning',
          message: `role \`${role}\` is not declared in \`roles\`, so rules[${r}] grants it nothing`,
          span: locate(['rules', r, 'roles', j]),
          ...(near !== undefined ? { help: `did you mean \`${near}\`?` } : {}),
        })
        return
      }
      for (const tool of ruleTools) {
        const previous = table.set(tool, role, r)
        if (previous !== undefined && previous !== r) {
          const pairs = replaced.get(previous) ?? []
          pairs.push(`\`${tool}\` for \`${role}\``)
          replaced.set(previous, pairs)
        }
      }
    })
    for (const [previous, pairs] of replaced) replacements.push({ rule: r, previous, pairs })
  })
  return { table, diagnostics, replacements }
}

/** A later rule that replaces an earlier one for some pairs; whether that changes a decision is semantics.ts's to say (W106). */
export interface Replacement {
  rule: number
  previous: number
  /** The pairs, as `` `tool` for `role` ``. */
  pairs: string[]
}

/** `a, b, c, d and 3 more`. */
export function pairList(pairs: readonly string[]): string {
  const shown = pairs.slice(0, PAIRS_SHOWN).join(', ')
  return pairs.length > PAIRS_SHOWN ? `${shown} and ${pairs.length - PAIRS_SHOWN} more` : shown
}
