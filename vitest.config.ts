// vitest: every test file runs after test/setup.ts, which fixes the seed of
// every random test (fast-check's and the project's own generators) and prints it.
// Most files share their workers' modules (isolate: false): each of 33 files
// loading binaryen and the compiler afresh took half of `npm test` (104 s -> 52 s
// on 2 cores); tests that change global state (a polluted Object.prototype)
// restore it in `finally`. Files that mock a module (vi.mock) need a module
// registry of their own, so they run isolated.
// The CLI imports the SDK as its package (`@perso/sdk`, `@perso/sdk/internal/*`);
// tests load it from source, so that both reach the one copy of each module.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const sdk = (file: string): string => fileURLToPath(new URL(`packages/sdk/src/${file}`, import.meta.url))

export const MOCKING = ['test/cli.check.test.ts', 'test/cli.not-built.test.ts', 'test/perso-test.test.ts']
/** The end-to-end suites: scripts of their own (vitest.e2e.config.ts). */
const E2E = ['test/guard/**', 'test/readme.test.ts']

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@perso\/sdk\/internal\/(.*)$/, replacement: sdk('$1.ts') },
      { find: /^@perso\/sdk\/browser$/, replacement: sdk('browser.ts') },
      { find: /^@perso\/sdk$/, replacement: sdk('index.ts') },
    ],
  },
  test: {
    setupFiles: ['test/setup.ts'],
    // A bound that only catches a hang: many tests start the CLI as a process, and this machine is shared.
    testTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...MOCKING, ...E2E], isolate: false } },
      { extends: true, test: { name: 'isolated', include: MOCKING, isolate: true } },
    ],
  },
})
