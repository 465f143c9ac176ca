// `perso/compiler`: the compiler's API — check a policy, parse and validate
// it, render diagnostics, compile it. Importing it loads the compiler's front
// end (ajv included); binaryen loads only when `compile` is called.

export { check, compile } from './compiler/compile.js'
export type { CheckResult, CompileOptions, CompileResult } from './compiler/compile.js'
export { parse } from './compiler/parse.js'
export type { JsonMember, JsonNode, ParseResult } from './compiler/parse.js'
export { validate } from './compiler/validate.js'
export type { ValidateResult } from './compiler/validate.js'
export { diagnosticsToJson, renderDiagnostics } from './compiler/render.js'
export type { JsonDiagnostic, RenderOptions } from './compiler/render.js'
export { hasErrors } from './compiler/diagnostics.js'
export type { Diagnostic, Locate, Related, Severity, Span } from './compiler/diagnostics.js'
export type { Action, Condition, NumericOp, Policy, Rule, Source, StringOp } from './compiler/policy.js'
