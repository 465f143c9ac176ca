// `node --import ./test/support/no-binaryen.mjs …`: any import of binaryen in that
// process fails, so a command that succeeds under it never loaded the compiler's back end.
import { register } from 'node:module'

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === 'binaryen') throw new Error('binaryen was loaded')
  return next(specifier, context)
}`))
