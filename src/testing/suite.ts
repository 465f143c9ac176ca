// Loading a test suite (YAML or JSON) into cases, with located diagnostics for
// every mistake, and the checks that need the policy: a `tool` or `role` the
// policy never mentions (a warning: the case runs, so a suite can show that an
// unknown tool is denied), a `reason` pattern that is not a regular expression.
//
// Diagnostic codes of suite files: E200 YAML syntax, E201 type, E202 unknown
// key, E203 missing key, E204 unknown decision, E205 empty, W206 unknown tool,
// W207 unknown role (E206/E207 before they were warnings), E208 bad reason
// pattern, E209 other schema errors, E210–E212 the policy under test
// (unreadable, invalid, not an artifact).

import { dirname, isAbsolute, join } from 'node:path'
import type { Diagnostic, Locate, Span } from '../compiler/diagnostics.js'
import { locator, toPlain, walk } from '../compiler/json-tree.js'
import type { JsonNode } from '../compiler/json-tree.js'
import { parse } from '../compiler/parse.js'
import { closest } from '../compiler/suggest.js'
import { firstInvalidUtf8 } from '../compiler/utf8.js'
import { diagnostic, validateSuite } from './suite-schema.js'
import { parseYaml } from './yaml-tree.js'

export type Decision = 'Allow' | 'Deny'

/** What a case's `reason` demands of the artifact's reason. */
export interface ReasonMatcher {
  /** As written: `condition failed` or `/amount = \d+/`. */
  text: string
  test: (reason: string) => boolean
}

export interface Case {
  /** Index in the suite's `cases`, for locating it. */
  index: number
  name: string
  tool: string
  role: string
  args: unknown
  agentAttributes: unknown
  resourceAttributes: unknown
  expect: Decision
  reason?: ReasonMatcher
}

export interface Suite {
  /** The suite's path as given or found. */
  file: string
  source: Uint8Array
  locate: Locate
  /** The policy path as written in the suite, and joined to the suite's directory. */
  policy: { written: string; path: string }
  cases: Case[]
}

export interface Loaded {
  /** Present once the suite has the schema's shape; its cases run only when `diagnostics` is empty. */
  suite?: Suite
  diagnostics: Diagnostic[]
}

const isYaml = (file: string): boolean => /\.ya?ml$/i.test(file)

export function loadSuite(file: string, source: Uint8Array): Loaded {
  const bad = firstInvalidUtf8(source)
  if (bad !== -1) {
    return { diagnostics: [diagnostic('E200', 'file is not valid UTF-8 text', { start: bad, end: bad + 1 }, 'a suite is YAML or JSON text in UTF-8')] }
  }
  let tree: JsonNode | undefined
  let diagnostics: Diagnostic[]
  if (isYaml(file)) ({ tree, diagnostics } = parseYaml(source))
  else ({ tree, diagnostics } = parse(source))
  if (tree === undefined || diagnostics.length > 0) return { diagnostics }
  const locate = locator(tree)
  diagnostics = validateSuite(tree, locate)
  if (diagnostics.length > 0) return { diagnostics }

  const plain = (path: (string | number)[]): unknown => {
    const { node, found } = walk(tree, path)
    return found ? toPlain(node) : undefined
  }
  const cases: Case[] = []
  const count = (plain(['cases']) as unknown[]).length
  for (let index = 0; index < count; index++) {
    const at = (key: string): unknown => plain(['cases', index, key])
    const c: Case = {
      index,
      name: at('name') as string,
      tool: at('tool') as string,
      role: at('role') as string,
      args: at('args') ?? {},
      agentAttributes: at('agentAttributes') ?? {},
      resourceAttributes: at('resourceAttributes') ?? {},
      expect: at('expect') as Decision,
    }
    const reason = at('reason')
    if (typeof reason === 'string') {
      const matcher = reasonMatcher(reason)
      if (matcher instanceof Error) {
        diagnostics.push(diagnostic('E208', `\`reason\` is not a valid regular expression: ${matcher.message}`,
          locate(['cases', index, 'reason']), 'to match the text itself, do not wrap it in `/`'))
      } else c.reason = matcher
    }
    cases.push(c)
  }
  const written = plain(['policy']) as string
  return { suite: { file, source, locate, policy: { written, path: isAbsolute(written) ? written : join(dirname(file), written) }, cases }, diagnostics }
}

/** `/…/flags` is a regular expression; anything else is a substring. */
function reasonMatcher(text: string): ReasonMatcher | Error {
  const regex = /^\/(.+)\/([dgimsuvy]*)$/s.exec(text)
  if (regex === null) return { text, test: (reason) => reason.includes(text) }
  try {
    const pattern = new RegExp(regex[1]!, regex[2]!.replace(/[gy]/g, ''))
    return { text, test: (reason) => pattern.test(reason) }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    return new Error(message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '').toLowerCase())
  }
}

/** The tools and roles a policy mentions, from its artifact's metadata. */
export interface Vocabulary {
  tools: readonly string[]
  roles: readonly string[]
}

/**
 * A case's `tool` or `role` that the policy never mentions: a warning, with
 * did-you-mean for a near miss. The case runs (no rule can match it, so the
 * policy's default decides): a typo shows, and a suite can still assert that
 * an unknown tool or role fails closed.
 */
export function checkVocabulary(suite: Suite, vocabulary: Vocabulary): Diagnostic[] {
  const out: Diagnostic[] = []
  const tools = new Set(vocabulary.tools)
  const roles = new Set(vocabulary.roles)
  for (const c of suite.cases) {
    if (!tools.has(c.tool)) {
      out.push(warning('W206', `tool \`${c.tool}\` is not in the policy`, suite.locate(['cases', c.index, 'tool']),
        unknownHelp(c.tool, vocabulary.tools)))
    }
    if (!roles.has(c.role)) {
      out.push(warning('W207', `role \`${c.role}\` is not declared by the policy`, suite.locate(['cases', c.index, 'role']),
        unknownHelp(c.role, vocabulary.roles)))
    }
  }
  return out
}

const warning = (code: string, message: string, span: Span, help: string): Diagnostic => ({ code, severity: 'warning', message, span, help })

/** `did you mean …?` for a near miss; otherwise what the case shows. */
function unknownHelp(name: string, known: readonly string[]): string {
  const near = closest(name, known)
  return near !== undefined ? `did you mean \`${near}\`? (the case runs as written)` : 'the case runs: no rule can match it, so `default_action` decides'
}
