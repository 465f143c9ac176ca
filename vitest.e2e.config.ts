// The end-to-end suites, slower than `npm test` and run as scripts of their
// own (.ci/run runs them all): `npm run test:guard` (perso guard over real
// stdio, in front of the reference MCP servers) and `npm run test:readme`
// (every example of the README, run as written).
import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/guard/**/*.test.ts', 'test/readme.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own processes; two cores.
    fileParallelism: false,
  },
})
