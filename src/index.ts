// perso's root entry: the SDK (@perso/sdk, re-exported whole, so that
// `import { Perso } from 'perso'` works as before) and `compile`, which loads
// the compiler only when it is called. Importing this module loads no
// compiler module; the compiler's synchronous API is `perso/compiler`.

export * from '@perso/sdk'
export type { CheckResult, CompileOptions, CompileResult } from './compiler/compile.js'

import type { CompileOptions, CompileResult } from './compiler/compile.js'

/** Checks a policy and, when it has no errors, builds its artifact (the compiler is loaded on the first call). */
export async function compile(source: string | Uint8Array, options: CompileOptions = {}): Promise<CompileResult> {
  const compiler = await import('./compiler/compile.js')
  return compiler.compile(source, options)
}
