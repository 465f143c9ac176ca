// @perso/sdk for Node: load a perso artifact, decide tool calls, audit the
// decisions (to the console, a JSONL file or an HTTP collector). The browser
// entry (browser.ts) is the same without the Node-only transports.

export { Perso } from './perso.js'
export type { LoadOptions } from './perso.js'
export type { Decision, EvaluateRequest } from './request.js'
export type { AuditEvent, AuditOptions, Transport } from './audit.js'
export type { ArtifactSource, CompiledModule, UrlLike } from './load.js'
export type { Metadata } from './metadata.js'
export { consoleTransport } from './transports/console.js'
export { fileTransport, httpTransport } from './node/index.js'
export type { FileTransport, HttpTransport, HttpTransportOptions } from './node/index.js'
