// A suite's JSON tree checked against schemas/suite.schema.json (ajv), each
// problem turned into one located diagnostic. Unknown keys are errors here:
// a typo in `expect` must not make a case pass silently.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Ajv2020Module from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import type { Diagnostic, Locate, Span } from '../compiler/diagnostics.js'
import { type JsonNode, toPlain, walk } from '../compiler/json-tree.js'
import { closest, helpFor } from '../compiler/suggest.js'
import { packageRoot } from '../paths.js'

type Path = (string | number)[]
type Schema = Record<string, unknown>

let compiled: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv2020Module.default({ allErrors: true, verbose: true })
    compiled = ajv.compile(JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'suite.schema.json'), 'utf8')) as Schema)
  }
  return compiled
}

/** Every schema problem of the suite, sorted by position; [] when it conforms. */
export function validateSuite(tree: JsonNode, locate: Locate): Diagnostic[] {
  const check = validator()
  if (check(toPlain(tree))) return []
  const issues = (check.errors ?? []).map((error) => ({ error, path: toPath(error.instancePath, tree) }))
  const unknown = issues.filter((i) => i.error.keyword === 'additionalProperties')
  const absorbed = new Set<ErrorObject>()
  const out: Diagnostic[] = []
  for (const { error, path } of issues) {
    const schema = (error.parentSchema ?? {}) as Schema
    switch (error.keyword) {
      case 'required': {
        const missing = String(error.params.missingProperty)
        const owner = schema.title === 'case' ? 'case' : 'the suite'
        // A misspelled required key is one mistake: report it at the misspelling.
        const typo = unknown.find((u) => key(u.path) === key(path) && !absorbed.has(u.error) &&
          closest(String(u.error.params.additionalProperty), [missing]) === missing)
        if (typo !== undefined) {
          absorbed.add(typo.error)
          const written = String(typo.error.params.additionalProperty)
          out.push(diagnostic('E203', `${owner} is missing required key \`${missing}\``, locate([...path, written], 'key'),
            `did you mean \`${missing}\` instead of \`${written}\`?`))
        } else {
          out.push(diagnostic('E203', `${owner}${caseName(tree, path)} is missing required key \`${missing}\``, head(locate, path)))
        }
        break
      }
      case 'additionalProperties':
        break
      case 'type':
        out.push(diagnostic('E201', `${name(path)} must be ${expected(schema)}, found ${found(walk(tree, path).node)}`, locate(path)))
        break
      case 'enum': {
        const given = String(error.data)
        out.push(diagnostic('E204', `unknown decision \`${given}\``, locate(path), helpFor(given, ['Allow', 'Deny'])))
        break
      }
      case 'minItems':
        out.push(diagnostic('E205', 'the suite has no cases', locate(path), 'add at least one case: `- name: …`'))
        break
      case 'minLength':
        out.push(diagnostic('E205', `${name(path)} must not be empty`, locate(path)))
        break
      default:
        out.push(diagnostic('E209', `${name(path)} ${error.message ?? 'is invalid'}`, locate(path)))
    }
  }
  for (const { error, path } of unknown) {
    if (absorbed.has(error)) continue
    const written = String(error.params.additionalProperty)
    const known = Object.keys(((error.parentSchema ?? {}) as Schema).properties ?? {}).filter((k) => k !== '$schema')
    const near = closest(written, known)
    out.push(diagnostic('E202', `unknown key \`${written}\``, locate([...path, written], 'key'),
      near !== undefined ? `did you mean \`${near}\`?` : `known keys here: ${known.map((k) => `\`${k}\``).join(', ')}`))
  }
  return out.sort((a, b) => a.span.start - b.span.start || a.code.localeCompare(b.code))
}

export function diagnostic(code: string, message: string, span: Span, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message, span } : { code, severity: 'error', message, span, help }
}

/** ` \`agent refunds 800\``: names the case when it has a name, so a missing key is easy to find. */
function caseName(tree: JsonNode, path: Path): string {
  const named = walk(tree, [...path, 'name'])
  return named.found && named.node.kind === 'string' ? ` \`${named.node.value}\`` : ''
}

/** The start of an object, not all of it: its key when it has one, else its first line. */
function head(locate: Locate, path: Path): Span {
  if (typeof path.at(-1) === 'string') return locate(path, 'key')
  const span = locate(path)
  return { start: span.start, end: span.start + 1 }
}

function name(path: Path): string {
  const last = path.at(-1)
  if (last === undefined) return 'the suite'
  if (typeof last === 'string') return `\`${last}\``
  return `\`${String(path.at(-2) ?? '')}[${last}]\``
}

function expected(schema: Schema): string {
  switch (schema.type) {
    case 'object': return schema.title === 'case' ? 'a case (a mapping of `name`, `tool`, `role`, `expect`, …)' : 'a mapping'
    case 'array': return 'a list'
    case 'string': return 'a string'
    default: return `of type ${String(schema.type)}`
  }
}

function found(node: JsonNode): string {
  switch (node.kind) {
    case 'object': return 'a mapping'
    case 'array': return 'a list'
    case 'string': return 'a string'
    case 'number': return 'a number'
    case 'boolean': return `\`${node.value}\``
    case 'null': return '`null`'
  }
}

const key = (path: Path): string => JSON.stringify(path)

/** ajv's instancePath (a JSON pointer) → path steps, numbers where the tree has arrays. */
function toPath(pointer: string, tree: JsonNode): Path {
  const path: Path = []
  let node: JsonNode | undefined = tree
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const step = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (node?.kind === 'array') {
      path.push(Number(step))
      node = node.items[Number(step)]
    } else {
      path.push(step)
      node = node?.kind === 'object' ? node.members.findLast((m) => m.key === step)?.value : undefined
    }
  }
  return path
}
