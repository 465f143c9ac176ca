// `perso --version` and `-V`: `perso <version>` from package.json, exit 0.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { root, runCli } from './support/cli.js'

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }

describe('perso --version', () => {
  it.each([['--version'], ['-V']])('%s prints `perso <version>` and exits 0', async (flag) => {
    const run = await runCli([flag])
    expect(run).toMatchObject({ code: 0, stdout: `perso ${version}\n`, stderr: '' })
  })

  it('is listed in --help', async () => {
    expect((await runCli(['--help'])).stdout).toMatch(/-V, --version\s+print perso's version/)
  })
})
