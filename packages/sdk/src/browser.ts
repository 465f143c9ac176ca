// The package's entry for browsers (the `browser` export condition): the SDK
// core and the console transport; no compiler, no Node builtins.

export { Perso } from './perso.js'
export type { LoadOptions } from './perso.js'
export type { Decision, EvaluateRequest } from './request.js'
export type { AuditEvent, AuditOptions, Transport } from './audit.js'
export type { ArtifactSource, CompiledModule, UrlLike } from './load.js'
export type { Metadata } from './metadata.js'
export { consoleTransport } from './transports/console.js'
