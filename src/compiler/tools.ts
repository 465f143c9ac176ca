// A policy checked against the tools an MCP server really has (`perso check
// --tools tools.lock.json`, docs/cli.md): tools the policy names that the
// server does not offer, tools the server offers that a default_action Allow
// opens to every role, argument fields a tool's inputSchema does not define,
// and checks whose type the schema contradicts. Warnings only: the policy
// format is unchanged, and a policy the older engine accepts still compiles.

import type { Diagnostic, Locate } from './diagnostics.js'
import { globMatch } from './expand.js'
import type { Condition, Policy } from './policy.js'
import { closest } from './suggest.js'

/** What the checks need of one server tool (guard/lock.ts reads the whole lock file). */
export interface ServerTool {
  name: string
  inputSchema?: unknown
}

type Path = (string | number)[]

/** A check of an `Arguments` field in a condition: the field, the type the check needs, where it is, and whether a `Not` is above it. */
interface ArgumentRead {
  field: string
  /** `number` for NumericCheck, `string` for StringCheck, undefined for a check of any type. */
  type: 'number' | 'string' | undefined
  path: Path
  negated: boolean
}

function argumentReads(condition: Condition, path: Path, negated: boolean, out: ArgumentRead[]): void {
  if ('All' in condition) condition.All.forEach((c, i) => argumentReads(c, [...path, 'All', i], negated, out))
  else if ('Any' in condition) condition.Any.forEach((c, i) => argumentReads(c, [...path, 'Any', i], negated, out))
  else if ('Not' in condition) argumentReads(condition.Not, [...path, 'Not'], !negated, out)
  else if ('NumericCheck' in condition) {
    const c = condition.NumericCheck
    if (c.source === 'Arguments') out.push({ field: c.field, type: 'number', path: [...path, 'NumericCheck', 'field'], negated })
  } else if ('StringCheck' in condition) {
    const c = condition.StringCheck
    if (c.source === 'Arguments') out.push({ field: c.field, type: 'string', path: [...path, 'StringCheck', 'field'], negated })
  } else if ('FieldPresent' in condition) {
    const c = condition.FieldPresent
    if (c.source === 'Arguments') out.push({ field: c.field, type: undefined, path: [...path, 'FieldPresent', 'field'], negated })
  } else if ('FieldEquals' in condition) {
    const c = condition.FieldEquals
    if (c.source_a === 'Arguments') out.push({ field: c.field_a, type: undefined, path: [...path, 'FieldEquals', 'field_a'], negated })
    if (c.source_b === 'Arguments') out.push({ field: c.field_b, type: undefined, path: [...path, 'FieldEquals', 'field_b'], negated })
  } else {
    const never: never = condition
    throw new Error(`unknown condition form: ${JSON.stringify(never)}`)
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The top-level properties an inputSchema defines, and whether it lets a call carry others. */
function propertiesOf(schema: unknown): { properties: Map<string, unknown>; closed: boolean } {
  const properties = new Map<string, unknown>()
  if (!isObject(schema)) return { properties, closed: false }
  if (isObject(schema.properties)) for (const [name, property] of Object.entries(schema.properties)) properties.set(name, property)
  return { properties, closed: schema.additionalProperties === false }
}

/** The JSON types a property's schema allows (`integer` counts as `number`), or undefined when it does not say. */
function typesOf(property: unknown): Set<string> | undefined {
  if (!isObject(property)) return undefined
  const type = property.type
  const list = typeof type === 'string' ? [type] : Array.isArray(type) && type.every((t) => typeof t === 'string') ? (type as string[]) : undefined
  return list === undefined ? undefined : new Set(list.map((t) => (t === 'integer' ? 'number' : t)))
}

const list = (names: readonly string[]): string => names.map((n) => `\`${n}\``).join(', ')

/** The server's tools the policy does not name: hidden and denied under default_action Deny, open to every role under Allow. */
export function unnamedTools(policy: Policy, tools: readonly ServerTool[]): string[] {
  const named = new Set(policy.tools)
  return tools.map((t) => t.name).filter((name) => !named.has(name))
}

export function toolWarnings(policy: Policy, tools: readonly ServerTool[], locate: Locate): Diagnostic[] {
  const diagnostics: Diagnostic[] = []
  const offered = new Map(tools.map((t) => [t.name, t]))

  policy.tools.forEach((name, i) => {
    if (offered.has(name)) return
    const near = closest(name, offered.keys())
    diagnostics.push({
      code: 'W301',
      severity: 'warning',
      message: `the server does not offer the tool \`${name}\``,
      span: locate(['tools', i]),
      help: near !== undefined ? `did you mean \`${near}\`?` : `its tools are ${list([...offered.keys()])}`,
    })
  })

  const unnamed = unnamedTools(policy, tools)
  if (unnamed.length > 0 && policy.default_action === 'Allow') {
    diagnostics.push({
      code: 'W302',
      severity: 'warning',
      message: `default_action Allow lets every role call ${unnamed.length === 1 ? 'a server tool' : `${unnamed.length} server tools`} the policy does not name: ${list(unnamed)}`,
      span: locate(['default_action']),
      help: 'name them in `tools` and give them rules, or make default_action Deny',
    })
  }

  policy.rules.forEach((rule, r) => {
    if (rule.condition === undefined || rule.condition === null) return
    const matched = policy.tools.filter((t) => globMatch(rule.tool_name, t)).flatMap((t) => offered.get(t) ?? [])
    if (matched.length === 0) return
    const reads: ArgumentRead[] = []
    argumentReads(rule.condition, ['rules', r, 'condition'], false, reads)
    const schemas = matched.map((tool) => ({ tool, ...propertiesOf(tool.inputSchema) }))
    for (const read of reads) {
      const defining = schemas.filter((s) => s.properties.has(read.field))
      if (defining.length === 0) {
        const near = closest(read.field, new Set(schemas.flatMap((s) => [...s.properties.keys()])))
        const names = list(matched.map((t) => t.name))
        const consequence = !schemas.every((s) => s.closed)
          ? ''
          : `: no call can carry it, so this check never holds${read.negated ? ' (and it sits under a `Not`)' : ''}`
        diagnostics.push({
          code: 'W303',
          severity: 'warning',
          message: `rules[${r}] reads Arguments.${read.field}, which the inputSchema of ${names} does not define${consequence}`,
          span: locate(read.path),
          help: near !== undefined ? `did you mean \`${near}\`?` : `the fields it defines: ${list([...new Set(schemas.flatMap((s) => [...s.properties.keys()]))])}`,
        })
        continue
      }
      if (read.type === undefined) continue
      const contradicted = defining.filter((s) => {
        const types = typesOf(s.properties.get(read.field))
        return types !== undefined && !types.has(read.type!)
      })
      if (contradicted.length === 0) continue
      const form = read.type === 'number' ? 'NumericCheck' : 'StringCheck'
      const said = contradicted.map((s) => `${s.tool.name}: ${[...typesOf(s.properties.get(read.field))!].join(' or ')}`).join('; ')
      diagnostics.push({
        code: 'W304',
        severity: 'warning',
        message: `rules[${r}] compares Arguments.${read.field} with a ${form}, but the inputSchema says it is not a ${read.type} (${said}), so the check fails on every call that follows the schema`,
        span: locate(read.path),
        help: read.type === 'number' ? 'compare a string field with a StringCheck' : 'compare a number field with a NumericCheck',
      })
    }
  })
  return diagnostics
}
