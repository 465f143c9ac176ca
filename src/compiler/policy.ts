// The policy document as the spec (§1, §3) defines it, once it has passed validation.
// Types only: reading and checking live in parse.ts and validate.ts.

import { Cmp, SOURCES, type SourceName } from '@perso/sdk/internal/layout'

/** Where a condition reads a field (src/layout.ts holds the list, and the codes the blob uses). */
export type Source = SourceName
export { SOURCES }

export type NumericOp = keyof typeof Cmp
export const NUMERIC_OPS = Object.keys(Cmp) as NumericOp[]

export type StringOp = 'In' | 'NotIn'
export const STRING_OPS: readonly StringOp[] = ['In', 'NotIn']

export type Action = 'Allow' | 'Deny'

export type Condition =
  | { All: Condition[] }
  | { Any: Condition[] }
  | { Not: Condition }
  | { NumericCheck: { source: Source; field: string; op: NumericOp; value: number } }
  | { StringCheck: { source: Source; field: string; op: StringOp; value: string[] } }
  | { FieldPresent: { source: Source; field: string } }
  | { FieldEquals: { source_a: Source; field_a: string; source_b: Source; field_b: string } }

export const CONDITION_FORMS = ['All', 'Any', 'Not', 'NumericCheck', 'StringCheck', 'FieldPresent', 'FieldEquals'] as const

export interface Rule {
  tool_name: string
  roles: string[]
  condition?: Condition | null
}

export interface Policy {
  version: string
  default_action: Action
  tools: string[]
  roles: string[]
  rules: Rule[]
}
