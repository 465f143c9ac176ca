// The package's entry for browsers (the `browser` export condition): the SDK
// core and the console transport; no compiler, no Node builtins.

export { Perso } from './sdk/perso.js'
export type { LoadOptions } from './sdk/perso.js'
export type { Decision, EvaluateRequest } from './sdk/request.js'
export type { AuditEvent, AuditOptions, Transport } from './sdk/audit.js'
export type { ArtifactSource } from './sdk/load.js'
export type { Metadata } from './host/metadata.js'
export { consoleTransport } from './sdk/transports/console.js'
