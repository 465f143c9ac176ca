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
