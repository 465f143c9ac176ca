// What each entry point loads, in a fresh process (a module-resolve hook lists
// every file Node loads): the SDK only its own files; perso's root no module of
// the compiler and none of its dependencies; `perso eval` on an artifact no
// compiler either (issue 16: fast entry points). Runs against the build.

import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { root } from './support/cli.js'
import { tempDir } from './support/temp.js'

const dir = tempDir('entries-')
const hook = join(dir, 'trace.mjs')
writeFileSync(
  hook,
  `import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx)
  if (r.url.startsWith('file:')) process.stderr.write('LOADED ' + r.url + '\\\\n')
  return r
}\`))
`,
)

/** The files (relative to the repository, node_modules shortened to the package) a fresh `node` loads for `args`. */
function loaded(args: string[]): string[] {
  const run = spawnSync(process.execPath, ['--import', pathToFileURL(hook).href, ...args], { cwd: root, encoding: 'utf8' })
  const base = pathToFileURL(root).href
  return [...new Set(run.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7).replace(base, '')))]
}

const COMPILER = /^dist\/src\/(compiler|analysis|testing)\/|node_modules\/(ajv|binaryen|wabt|yaml)\//

describe('entry points load what they need and no more', () => {
  it('@perso/sdk: only its own files', () => {
    const files = loaded(['--input-type=module', '-e', "await import('@perso/sdk')"])
    expect(files.length).toBeGreaterThan(5)
    expect(files.filter((f) => !f.startsWith('packages/sdk/dist/esm/'))).toEqual([])
  })

  it("perso's root: the SDK, and no module of the compiler or its dependencies", () => {
    const files = loaded(['--input-type=module', '-e', "await import('perso')"])
    expect(files.filter((f) => COMPILER.test(f) || f.includes('node_modules/chalk') || f.includes('node_modules/commander'))).toEqual([])
    expect(files.some((f) => f.startsWith('packages/sdk/dist/esm/'))).toBe(true)
  })

  it('perso/mcp: the SDK and the guard\'s decisions; no compiler, and not even the MCP SDK (the server brings its own)', () => {
    const files = loaded(['--input-type=module', '-e', "await import('perso/mcp')"])
    expect(files.some((f) => f === 'dist/src/guard/middleware.js')).toBe(true)
    expect(files.filter((f) => COMPILER.test(f) || f.includes('node_modules/@modelcontextprotocol/'))).toEqual([])
  })

  it('perso eval on an artifact: no module of the compiler, ajv, yaml, wabt or binaryen', () => {
    const wasm = join(dir, 'crm.wasm')
    const compiled = spawnSync(process.execPath, [join(root, 'bin/perso.js'), 'compile', 'fixtures/crm.json', '-o', wasm], { cwd: root })
    expect(compiled.status).toBe(0)
    const files = loaded([join(root, 'bin/perso.js'), 'eval', wasm, '--tool', 'view_customer', '--role', 'agent'])
    expect(files.some((f) => f.includes('dist/src/cli/eval.js'))).toBe(true)
    expect(files.filter((f) => COMPILER.test(f))).toEqual([])
  })
})
