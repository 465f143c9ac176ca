// Writes perso's CommonJS entry (dist/src/index.cjs and its types): the SDK
// through its own CommonJS build, and `compile`, which imports the ESM
// compiler when called (import() works from CommonJS on every Node 20).
import { writeFileSync } from 'node:fs'

writeFileSync(
  'dist/src/index.cjs',
  `'use strict'
// perso for require(): the SDK, and compile() loading the compiler on first use.
const sdk = require('@perso/sdk')
module.exports = {
  ...sdk,
  compile: async (source, options) => (await import('./compiler/compile.js')).compile(source, options),
}
`,
)
writeFileSync(
  'dist/src/index.d.cts',
  `export * from '@perso/sdk'
import type { CompileOptions, CompileResult } from './compiler/compile.js'
export type { CheckResult, CompileOptions, CompileResult } from './compiler/compile.js'
export declare function compile(source: string | Uint8Array, options?: CompileOptions): Promise<CompileResult>
`,
)
