// validate: JSON tree → typed Policy, checked against schemas/policy.schema.json
// with ajv, whose errors are turned into one human diagnostic per root cause.

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Ajv2020Module from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import type { Diagnostic, Locate, Span } from './diagnostics.js'
import { type JsonNode, toPlain, walk } from './json-tree.js'
import { CONDITION_FORMS, type Condition, type Policy, type Rule } from './policy.js'
import { ACTION_ALIASES, type Aliases, FORM_ALIASES, KEY_ALIASES, NUMERIC_OP_ALIASES, SOURCE_ALIASES, STRING_OP_ALIASES, aliasOf, closest, helpFor, keyHelp } from './suggest.js'

type Path = (string | number)[]
type Schema = Record<string, unknown>

export interface ValidateResult {
  /** Present when there is no error (warnings allowed). */
  policy?: Policy
  diagnostics: Diagnostic[]
}

export function validate(tree: JsonNode, locate: Locate): ValidateResult {
  const value = toPlain(tree)
  const check = schemaValidator()
  if (check(value)) return { policy: toPolicy(value as Policy), diagnostics: [] }
  const diagnostics = explain(check.errors ?? [], tree, locate)
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.code.localeCompare(b.code))
  const ok = !diagnostics.some((d) => d.severity === 'error')
  return ok ? { policy: toPolicy(value as Policy), diagnostics } : { diagnostics }
}

let compiled: ValidateFunction | undefined

function schemaValidator(): ValidateFunction {
  if (compiled === undefined) {
    const Ajv2020 = Ajv2020Module.default
    // verbose: errors carry their schema, which names what was expected.
    const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true })
    compiled = ajv.compile(JSON.parse(readFileSync(schemaPath(), 'utf8')) as Schema)
  }
  return compiled
}

/** The schema ships at the package root; this file runs from src/ (tests) or dist/src/ (built). */
function schemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, 'schemas', 'policy.schema.json')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error('schemas/policy.schema.json not found next to the perso package')
    dir = parent
  }
}

interface Issue {
  path: Path
  error: ErrorObject
}

function explain(errors: readonly ErrorObject[], tree: JsonNode, locate: Locate): Diagnostic[] {
  const issues = errors
    // A condition's exactly-one-form check fails as `if` (its `then`), as each branch of the `oneOf`
    // (one missing form each), and as the `oneOf` itself: the `oneOf` alone says it.
    .filter((e) => e.keyword !== 'if' && !(e.keyword === 'required' && e.schemaPath.includes('/oneOf/')))
    .map((error): Issue => ({ path: toPath(error.instancePath, tree), error }))
  const out: Diagnostic[] = []
  const seen = new Set<string>()
  const typeAt = new Set(issues.filter((i) => i.error.keyword === 'type').map((i) => key(i.path)))
  const unknownKeys = issues.filter((i) => i.error.keyword === 'additionalProperties')
  const unknownAt = new Set(unknownKeys.map((i) => key(i.path)))
  const absorbed = new Set<Issue>()

  for (const issue of issues) {
    const { error, path } = issue
    const here = key(path)
    // One type error per value; an enum or a second `type` at a mistyped value is noise.
    if (error.keyword === 'type' || error.keyword === 'enum') {
      if (seen.has(here) || (error.keyword === 'enum' && typeAt.has(here))) continue
      seen.add(here)
    }
    if (error.keyword === 'required') {
      const missing = String(error.params.missingProperty)
      // A misspelled required key is one mistake: report the missing key at the misspelling.
      const typo = unknownKeys.find((u) => key(u.path) === here && !absorbed.has(u) &&
        resembles(String(u.error.params.additionalProperty), missing))
      if (typo !== undefined) absorbed.add(typo)
      out.push(missingKey(issue, missing, typo, locate))
      continue
    }
    if (error.keyword === 'additionalProperties') continue
    // A condition without a form but with an unknown key: that key is the misspelled form (E023), said once.
    if (error.keyword === 'oneOf' && error.params.passingSchemas === null && unknownAt.has(here)) continue
    out.push(describe(issue, tree, locate))
  }
  for (const u of unknownKeys) if (!absorbed.has(u)) out.push(unknownKey(u, tree, locate))
  return out
}

function describe({ error, path }: Issue, tree: JsonNode, locate: Locate): Diagnostic {
  const schema = (error.parentSchema ?? {}) as Schema
  const span = locate(path)
  switch (error.keyword) {
    case 'type': {
      const node = nodeAt(tree, path)
      const d = diagnostic('E020', `${name(path)} must be ${expected(path, schema)}, found ${found(node)}`, span)
      const help = typeHelp(schema, node)
      if (help !== undefined) d.help = help
      return d
    }
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[]).map(String)
      const given = String(error.data)
      return diagnostic('E024', `unknown ${enumNoun(path)} \`${given}\``, span, helpFor(given, allowed, enumAliases(path)))
    }
    case 'oneOf': {
      // The schema's only `oneOf`: a condition object has exactly one form key (notes aside).
      const node = nodeAt(tree, path)
      const forms = formsIn(node)
      if (forms.length > 1) {
        return diagnostic('E022', `a condition must have exactly one form, found ${list(forms)}`, span,
          'to require several conditions, wrap them: `{"All": [{…}, {…}]}`')
      }
      const notesOnly = node?.kind === 'object' && node.members.length > 0
      return diagnostic('E022', 'a condition must have exactly one form, found none', span,
        `${notesOnly ? 'notes are not a condition: ' : ''}use one of ${list(CONDITION_FORMS)}` +
        (path.at(-1) === 'condition' ? ', or `null` for no condition' : ''))
    }
    default:
      // The schema uses only the keywords above; anything else is a schema change this code missed.
      return diagnostic('E029', `${name(path)} ${error.message ?? 'is invalid'}`, span)
  }
}

function missingKey({ error, path }: Issue, missing: string, typo: Issue | undefined, locate: Locate): Diagnostic {
  const what = String(((error.parentSchema ?? {}) as Schema).title ?? 'object')
  const owner = what === 'policy' ? 'the policy' : what === 'rule' ? 'rule' : `\`${what}\``
  const message = `${owner} is missing required key \`${missing}\``
  if (typo !== undefined) {
    const misspelled = String(typo.error.params.additionalProperty)
    return diagnostic('E021', message, locate([...path, misspelled], 'key'),
      `did you mean \`${missing}\` instead of \`${misspelled}\`?`)
  }
  // Point at the key that holds the object when there is one, not at a whole multi-line object.
  const span = typeof path.at(-1) === 'string' ? locate(path, 'key') : locate(path)
  return diagnostic('E021', message, span)
}

/**
 * An unknown top-level key is a warning (typo guard, spec §1); inside a rule or
 * a condition it is an error, so a misspelled `condition` never compiles into
 * a rule without one. Suggestions come only from the keys of that level.
 */
function unknownKey({ error, path }: Issue, tree: JsonNode, locate: Locate): Diagnostic {
  const unknown = String(error.params.additionalProperty)
  const schema = (error.parentSchema ?? {}) as Schema
  const span = locate([...path, unknown], 'key')
  const title = String(schema.title)
  const declared = Object.keys(schema.properties ?? {}).filter((k) => k !== '$schema')
  if (title === 'policy') {
    return { code: 'W001', severity: 'warning', message: `unknown key \`${unknown}\` is ignored`, span, help: unknownKeyHelp(unknown, declared, declared) }
  }
  if (title !== 'condition') {
    const where = title === 'rule' ? 'a rule' : `\`${title}\``
    return diagnostic('E025', `unknown key \`${unknown}\` in ${where}`, span, unknownKeyHelp(unknown, declared, declared))
  }
  const forms = formsIn(nodeAt(tree, path))
  if (forms.length === 0) {
    return diagnostic('E023', `unknown condition form \`${unknown}\``, span, helpFor(unknown, CONDITION_FORMS, FORM_ALIASES))
  }
  // Beside its form a condition takes only notes: never suggest a second form (`note` is one edit from `Not`).
  const notes = declared.filter((k) => !isForm(k))
  return diagnostic('E025', `unknown key \`${unknown}\` in a condition`, span, unknownKeyHelp(unknown, [...forms, ...notes], notes))
}

/** "did you mean" one of `candidates` (an alias, a typo, a key cut short), else the keys this level knows and where notes go. */
const unknownKeyHelp = (unknown: string, known: readonly string[], candidates: readonly string[]): string =>
  keyHelp(unknown, known, candidates, (k) => resembles(unknown, k))

/** The aliases of the values an enum at `path` takes: an op of either check, a source, the default action. */
function enumAliases(path: Path): Aliases | undefined {
  const last = String(path.at(-1))
  if (last === 'op') return path.at(-2) === 'StringCheck' ? STRING_OP_ALIASES : NUMERIC_OP_ALIASES
  if (last.startsWith('source')) return SOURCE_ALIASES
  return last === 'default_action' ? ACTION_ALIASES : undefined
}

const isForm = (k: string): boolean => (CONDITION_FORMS as readonly string[]).includes(k)

/** The form keys a condition object has, in order (one, when it is valid). */
function formsIn(node: JsonNode | undefined): string[] {
  return node?.kind === 'object' ? node.members.map((m) => m.key).filter(isForm) : []
}

function diagnostic(code: string, message: string, span: Span, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message, span } : { code, severity: 'error', message, span, help }
}

/** `tools`, `roles[1]`, `All[0]`: how a message names the value at a path. */
function name(path: Path): string {
  const last = path.at(-1)
  if (last === undefined) return 'the policy'
  if (typeof last === 'string') return `\`${last}\``
  const parent = path.at(-2)
  return `\`${parent === undefined ? '' : String(parent)}[${last}]\``
}

function expected(path: Path, schema: Schema): string {
  const type = schema.type
  if (path.length === 0) return 'a JSON object'
  if (Array.isArray(type)) return 'a condition object or `null`'
  if (type === 'object') return schema.title === 'condition' ? 'a condition object' : 'an object'
  if (type === 'array') {
    const items = (schema.items ?? {}) as Schema
    if (items.type === 'string') return 'an array of strings'
    if (typeof items.$ref === 'string') return `an array of ${items.$ref.endsWith('/rule') ? 'rules' : 'conditions'}`
    return 'an array'
  }
  return type === 'number' ? 'a number' : type === 'string' ? 'a string' : `of type ${String(type)}`
}

function found(node: JsonNode | undefined): string {
  switch (node?.kind) {
    case 'object': return 'an object'
    case 'array': return 'an array'
    case 'string': return 'a string'
    case 'number': return 'a number'
    case 'boolean': return `\`${node.value}\``
    default: return '`null`'
  }
}

function typeHelp(schema: Schema, node: JsonNode | undefined): string | undefined {
  if (schema.type === 'number' && node?.kind === 'string' && node.value.trim() !== '' && Number.isFinite(Number(node.value))) {
    return `write the number without quotes: \`${node.value.trim()}\``
  }
  if (schema.type === 'array' && node?.kind === 'string') return `write a list: \`["${node.value}"]\``
  if (schema.title === 'condition' && node?.kind === 'array') {
    return 'a list of conditions goes inside `{"All": […]}` or `{"Any": […]}`'
  }
  return undefined
}

function enumNoun(path: Path): string {
  const last = String(path.at(-1))
  if (last.startsWith('source')) return 'source'
  if (last === 'default_action') return 'default action'
  return last
}

/** A near miss, a known other name (`when` for `condition`), or one name cut short of the other (`tool` for `tool_name`). */
function resembles(written: string, meant: string): boolean {
  const a = written.toLowerCase()
  const b = meant.toLowerCase()
  const alias = aliasOf(written, KEY_ALIASES, [meant])
  return closest(written, [meant]) === meant || (alias !== undefined && 'meant' in alias) ||
    (Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a)))
}

const list = (names: readonly string[]): string => names.map((n) => `\`${n}\``).join(', ')

/** A path key that cannot collide between `["a/b"]` and `["a", "b"]`. */
const key = (path: Path): string => JSON.stringify(path)

/** ajv's instancePath (a JSON pointer) → path steps, numbers where the tree has arrays. */
function toPath(pointer: string, tree: JsonNode): Path {
  if (pointer === '') return []
  const path: Path = []
  let node: JsonNode | undefined = tree
  for (const raw of pointer.slice(1).split('/')) {
    const step = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (node?.kind === 'array') {
      const index = Number(step)
      path.push(index)
      node = node.items[index]
    } else {
      path.push(step)
      node = node?.kind === 'object' ? node.members.findLast((m) => m.key === step)?.value : undefined
    }
  }
  return path
}

function nodeAt(tree: JsonNode, path: Path): JsonNode | undefined {
  const reached = walk(tree, path)
  return reached.found ? reached.node : undefined
}

/** Keeps only what the spec defines, so notes and unknown top-level keys (warned about) go no further. */
function toPolicy(p: Policy): Policy {
  return {
    version: p.version,
    default_action: p.default_action,
    tools: p.tools,
    roles: p.roles,
    rules: p.rules.map((r): Rule => {
      const rule: Rule = { tool_name: r.tool_name, roles: r.roles }
      if (r.condition !== undefined) rule.condition = r.condition === null ? null : toCondition(r.condition)
      return rule
    }),
  }
}

function toCondition(c: Condition): Condition {
  if ('All' in c) return { All: c.All.map(toCondition) }
  if ('Any' in c) return { Any: c.Any.map(toCondition) }
  if ('Not' in c) return { Not: toCondition(c.Not) }
  if ('NumericCheck' in c) {
    const { source, field, op, value } = c.NumericCheck
    return { NumericCheck: { source, field, op, value } }
  }
  if ('StringCheck' in c) {
    const { source, field, op, value } = c.StringCheck
    return { StringCheck: { source, field, op, value } }
  }
  if ('FieldPresent' in c) return { FieldPresent: { source: c.FieldPresent.source, field: c.FieldPresent.field } }
  const { source_a, field_a, source_b, field_b } = c.FieldEquals
  return { FieldEquals: { source_a, field_a, source_b, field_b } }
}
