// Finds files shipped with the package (the runtime template, package.json),
// whether running from src/ under vitest or from dist/ after the build.

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

/** The package's root directory: the nearest ancestor with perso's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'perso') {
      root = dir
      return dir
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('internal: cannot find the perso package root')
    dir = parent
  }
}

export const templatePath = (): string => join(packageRoot(), 'dist', 'runtime', 'runtime.wasm')

/** A file the build makes is missing: a clone that was not built, or a build in progress; not a bug in perso. */
export class NotBuilt extends Error {}

/** The bytes of `path`, a file the build makes; NotBuilt when it is not there. */
export function readBuilt(path: string): Uint8Array {
  try {
    return readFileSync(path)
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e
    throw new NotBuilt(`\`${path}\` is missing: this copy of perso is not built (in a clone, run \`npm run build\`)`)
  }
}
