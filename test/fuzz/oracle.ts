// What every response must be (spec §4–§6), judged against the reference
// evaluator: well formed always; byte for byte the reference's answer when the
// inputs are valid; an error naming the same input when they are not.

import type { Policy } from '../../src/compiler/policy.js'
import { referenceEvaluate, responseJson } from '../support/reference.js'
import type { Request } from './cases.js'

const INPUTS = ['tool_name', 'arguments JSON', 'context JSON'] as const
export type InputName = (typeof INPUTS)[number]

const inputOf = (error: string): string => error.slice(0, error.indexOf(': '))

/**
 * Why `text` is not a well-formed response, or undefined: compact JSON that is
 * exactly `{"decision":"Allow"|"Deny","reason":string}` or `{"error":string}`
 * whose message starts with an input name and `: `.
 */
export function malformation(text: string): string | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'the response is not JSON'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the response is not a JSON object'
  const keys = Object.keys(value).join(',')
  const record = value as Record<string, unknown>
  if (keys === 'decision,reason') {
    if (record.decision !== 'Allow' && record.decision !== 'Deny') return 'decision is neither `Allow` nor `Deny`'
    if (typeof record.reason !== 'string') return 'reason is not a string'
  } else if (keys === 'error') {
    if (typeof record.error !== 'string') return 'error is not a string'
    if (!INPUTS.some((input) => (record.error as string).startsWith(`${input}: `))) return 'the error does not start with an input name'
  } else return `unexpected keys ${keys}`
  // Compact, serde-escaped JSON reads back to the same text through JSON.stringify.
  if (JSON.stringify(value) !== text) return 'the response is not compact, canonically escaped JSON'
  return undefined
}

/** The reference's answer for `request`: the exact response text, or just the input an error must name. */
export type Expectation = { exact: string } | { input: string; error: string }

export function expectation(policy: Policy, request: Request): Expectation {
  const want = referenceEvaluate(policy, request.tool, request.args, request.context)
  return 'error' in want ? { input: inputOf(want.error), error: want.error } : { exact: responseJson(want) }
}

/** Why `text` does not meet `want`, or undefined. `text` must already be well formed. */
export function disagreement(want: Expectation, text: string): string | undefined {
  if ('exact' in want) return text === want.exact ? undefined : `want ${clip(want.exact)}\n got ${clip(text)}`
  const got = JSON.parse(text) as { error?: string }
  if (got.error === undefined) return `want an error for \`${want.input}\` (${clip(want.error)}), got ${clip(text)}`
  const input = inputOf(got.error)
  return input === want.input ? undefined : `want an error for \`${want.input}\` (${clip(want.error)}), got ${clip(text)}`
}

export const clip = (text: string, max = 600): string => (text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`)
