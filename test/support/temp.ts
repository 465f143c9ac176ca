// Temporary directories for a test file, removed when the file's tests are done.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory under the system's temp dir, named `perso-<prefix>…`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `perso-${prefix}`))
  made.push(dir)
  return dir
}
