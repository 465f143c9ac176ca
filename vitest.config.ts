// vitest: every test file runs after test/setup.ts, which fixes the seed of
// every random test (fast-check's and the project's own generators) and prints it.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { setupFiles: ['test/setup.ts'] },
})
