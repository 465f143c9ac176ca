// The package's public API: a plain list of re-exports.

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

// The SDK (src/sdk): what hosts import. src/browser.ts is the same without the compiler and the Node-only transports.
export { Perso } from './sdk/perso.js'
export type { LoadOptions } from './sdk/perso.js'
export type { Decision, EvaluateRequest } from './sdk/request.js'
export type { AuditEvent, AuditOptions, Transport } from './sdk/audit.js'
export type { ArtifactSource } from './sdk/load.js'
export type { Metadata } from './host/metadata.js'
export { consoleTransport } from './sdk/transports/console.js'
export { fileTransport, httpTransport } from './sdk/node/index.js'
export type { FileTransport, HttpTransport, HttpTransportOptions } from './sdk/node/index.js'
