// A clone that was not built (or a build in progress) has no runtime template: the CLI says so, and how to
// build, instead of calling it a bug in perso.

import { describe, expect, it, vi } from 'vitest'
import { STACK_FRAME, runCli } from './support/cli.js'

const MISSING = '/nonexistent/perso/dist/runtime/runtime.wasm'
vi.mock('../src/paths.js', async (original) => ({ ...(await original<typeof import('../src/paths.js')>()), templatePath: () => MISSING }))

describe('a copy of perso that is not built', () => {
  it('compile and eval of a policy name the missing file and `npm run build`, exit 70, no stack, no "bug"', async () => {
    for (const argv of [
      ['compile', 'fixtures/crm.json', '-o', 'out.wasm'],
      ['eval', 'fixtures/crm.json', '--tool', 'view_customer', '--role', 'agent'],
    ]) {
      const run = await runCli(argv)
      expect(run.code, argv.join(' ')).toBe(70)
      expect(run.stderr).toContain(`perso: \`${MISSING}\` is missing: this copy of perso is not built (in a clone, run \`npm run build\`)`)
      expect(run.stderr).not.toMatch(/this is a bug/)
      expect(run.stderr).not.toMatch(STACK_FRAME)
      expect(run.written.size).toBe(0)
    }
  })

  it('check does not need the build, and still answers', async () => {
    expect((await runCli(['check', 'fixtures/crm.json'])).code).toBe(0)
  })
})
