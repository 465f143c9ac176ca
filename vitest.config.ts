// vitest: every test file runs after test/setup.ts, which fixes the seed of
// every random test (fast-check's and the project's own generators) and prints it.
// Most files share their workers' modules (isolate: false): each of 33 files
// loading binaryen and the compiler afresh took half of `npm test` (104 s -> 52 s
// on 2 cores); tests that change global state (a polluted Object.prototype)
// restore it in `finally`. Files that mock a module (vi.mock) need a module
// registry of their own, so they run isolated.
import { defineConfig } from 'vitest/config'

const MOCKING = ['test/cli.check.test.ts', 'test/perso-test.test.ts']

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: MOCKING, isolate: false } },
      { extends: true, test: { name: 'isolated', include: MOCKING, isolate: true } },
    ],
  },
})
