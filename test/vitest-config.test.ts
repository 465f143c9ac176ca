// The test configuration itself: a file that mocks a module must run isolated, or its mock
// reaches every file that shares its worker (isolate: false), and they fail for no reason of theirs.

import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MOCKING } from '../vitest.config.js'
import { root } from './support/cli.js'

describe('vitest.config.ts', () => {
  it('runs isolated exactly the test files that call vi.mock', () => {
    const mocking = readdirSync(join(root, 'test'))
      .filter((name) => name.endsWith('.test.ts') && /\bvi\.(do)?[mM]ock\(/.test(readFileSync(join(root, 'test', name), 'utf8').replace(/\/\/.*$/gm, '')))
      .map((name) => `test/${name}`)
    expect([...MOCKING].sort()).toEqual(mocking.sort())
  })
})
