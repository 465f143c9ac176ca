// The compiled form of a policy: the flat (tool, role) table and the condition
// IR the runtime interprets. Types only; the printer is ir-print.ts and the
// binary encoding of this IR is codegen.ts (layout in docs/design.md).

import type { Action, NumericOp, Source } from './policy.js'

/** A field a condition reads: one top-level key of one source object. */
export interface Read {
  source: Source
  field: string
}

/** One condition node; `read`, `a` and `b` index the owning Condition's `reads`. */
export type Node =
  /** Holds when every child holds; an empty `all` holds. */
  | { kind: 'all'; children: Node[] }
  /** Holds when some child holds; an empty `any` does not hold. */
  | { kind: 'any'; children: Node[] }
  /** Holds when its child does not. */
  | { kind: 'not'; child: Node }
  /** The read is a JSON number and `actual op value` holds in double arithmetic. */
  | { kind: 'numeric'; read: number; op: NumericOp; value: number }
  /** The read is a JSON string and is one of `values` (`negate`: is none of them). */
  | { kind: 'string_in'; read: number; values: string[]; negate: boolean }
  /** The read is present and not null. */
  | { kind: 'present'; read: number }
  /** Both reads are present, neither is null, and they are equal JSON values. */
  | { kind: 'equals'; a: number; b: number }

/** A rule's condition, lowered once and shared by every entry the rule produced. */
export interface Condition {
  /** Index of the rule in the policy's `rules`. */
  rule: number
  /** The distinct fields the condition reads, in first-use order. */
  reads: Read[]
  root: Node
}

/** One row of the flat table: what decides `tool` for `role`. */
export interface Entry {
  tool: string
  role: string
  /** Index of the rule in the policy's `rules` that this entry came from. */
  rule: number
  /** Index into Program.conditions, or null when the rule has no condition. */
  condition: number | null
}

/** Everything codegen needs; nothing in it depends on the source text's layout. */
export interface Program {
  version: string
  defaultAction: Action
  /** Hex SHA-256 of the exact policy source bytes (the metadata's, for people: `sha256sum` agrees). */
  sha256: string
  /** Hex SHA-256 of the policy's canonical text (the blob's, for `init`: docs/design.md "Canonical JSON"). */
  digest: string
  /** Declared tools, de-duplicated, in declaration order. */
  tools: string[]
  /** Declared roles, de-duplicated, in declaration order. */
  roles: string[]
  ruleCount: number
  conditions: Condition[]
  /** Sorted by (tool, role) in code-unit order, so output does not depend on rule order. */
  entries: Entry[]
}
