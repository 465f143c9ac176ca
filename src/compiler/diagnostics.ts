// Diagnostics: what the compiler tells a policy's author. Byte offsets are kept
// throughout; they become file:line:col only when printed (render.ts).

export type Severity = 'error' | 'warning'

/** A half-open byte range [start, end) in the policy source. */
export interface Span {
  start: number
  end: number
}

export interface Related {
  message: string
  span: Span
}

export interface Diagnostic {
  /** Stable code: `E` + 3 digits for errors, `W` + 3 digits for warnings. */
  code: string
  severity: Severity
  /** One line, lowercase, no final period, user input in backticks. */
  message: string
  span: Span
  /** "did you mean `Lte`?" or the list of valid values. */
  help?: string
  /** Other places that explain this one (the earlier rule a rule replaces). */
  related?: Related[]
}

export const hasErrors = (diagnostics: readonly Diagnostic[]): boolean =>
  diagnostics.some((d) => d.severity === 'error')

/**
 * The span of the value (or, with `part: 'key'`, of the key) at a JSON path in
 * the policy source, e.g. `['rules', 3, 'tool_name']`. Made by parse.ts; later
 * phases use it to point at what they complain about.
 */
export type Locate = (path: readonly (string | number)[], part?: 'key' | 'value') => Span

// Code ranges, so phases written in parallel do not collide:
//   E001–E019 parse.ts (JSON syntax), E020–E039 validate.ts (schema),
//   W001–W009 validate.ts (unknown top-level keys); expand.ts uses W101 and up;
//   E200–E212, W206–W207 suite files of `perso test` (src/testing/);
//   W301–W304 tools.ts (the policy against a server's tools.lock.json).
