// vitest: every test file runs after test/setup.ts, which fixes the seed of
// every random test (fast-check's and the project's own generators) and prints it.
// Files share their workers' modules (isolate: false): each of 33 files loading
// binaryen and the compiler afresh took half of `npm test` (104 s -> 52 s, 2 cores).
// Tests that change global state (a polluted Object.prototype) restore it in `finally`.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { setupFiles: ['test/setup.ts'], isolate: false },
})
