// `npm run test:packaging`: both packages as a user gets them. Packs
// @perso/sdk and perso, lists what the tarballs ship, installs them into new
// projects (the SDK alone, offline; perso with its registry dependencies),
// and uses them as the README says: the CLI through npx, the SDK from ESM and
// CommonJS, and the SDK's types from TypeScript under node16, bundler and
// node10 resolution with skipLibCheck off. Also holds the packages to what
// the README claims of them: the SDK's installed size, and no install-time
// script in either manifest. Prints what it measured; exits 1 if any check
// failed.

import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'perso-packaging-'))
const MiB = 1024 * 1024
/** The README's "under N kB installed" for @perso/sdk, in npm's unit (1 kB = 1,000 bytes, as npm's "unpacked size"). */
const SDK_INSTALLED_KB = 250
/** The scripts npm may run when a project installs a package (prepare only from a git, folder or tarball source), and that its `install-scripts` warning names. */
const INSTALL_TIME_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']
let failures = 0

function check(ok, what, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`)
  if (!ok) failures++
}

function run(command, args, cwd, options = {}) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', ...options.env } })
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}

function npm(args, cwd, options) {
  return run('npm', args, cwd, options)
}

/** Bytes of everything under `dir`, and how many package.json files name packages in node_modules. */
function sizeOf(dir) {
  let bytes = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath ?? entry.path, entry.name)).size
  }
  return bytes
}

function packagesIn(nodeModules) {
  const names = []
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue
    if (entry.startsWith('@')) for (const sub of readdirSync(join(nodeModules, entry))) names.push(`${entry}/${sub}`)
    else names.push(entry)
  }
  return names
}

/** The install-time scripts an installed package's manifest carries, as `name: command`. */
function installTimeScripts(packageDir) {
  const { scripts = {} } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
  return INSTALL_TIME_SCRIPTS.filter((name) => name in scripts).map((name) => `${name}: ${scripts[name]}`)
}

/** npm's `install-scripts` warnings in an install's output (npm 11 lists each package whose install-time scripts would run). */
function installScriptWarnings(out) {
  return out.split('\n').filter((line) => /^npm warn install-scripts/i.test(line))
}

function tarList(tarball) {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''))
}

try {
  // 1. Pack both (perso's prepack builds both; the SDK, packed first, ships the build already in packages/sdk/dist).
  const packs = join(work, 'packs')
  mkdirSync(packs)
  for (const args of [['pack', '--workspace', '@perso/sdk', '--pack-destination', packs], ['pack', '--pack-destination', packs]]) {
    const r = npm(args, root)
    check(r.status === 0, `npm ${args.join(' ')}`, r.status === 0 ? '' : r.out.slice(-2000))
  }
  const tarballs = readdirSync(packs)
  const sdkTar = join(packs, tarballs.find((t) => t.startsWith('perso-sdk-')))
  const persoTar = join(packs, tarballs.find((t) => /^perso-\d/.test(t)))

  for (const [name, tarball] of [['@perso/sdk', sdkTar], ['perso', persoTar]]) {
    const files = tarList(tarball)
    console.log(`\n${name} tarball: ${(statSync(tarball).size / 1024).toFixed(1)} KiB packed, ${files.length} files`)
    const dirs = new Map()
    for (const f of files) dirs.set(f.split('/').slice(0, 2).join('/'), (dirs.get(f.split('/').slice(0, 2).join('/')) ?? 0) + 1)
    for (const [dir, n] of [...dirs].sort()) console.log(`  ${dir}${n > 1 ? ` (${n} files)` : ''}`)
    check(!files.some((f) => f.endsWith('.map')), `${name}: no source maps`)
    check(!files.some((f) => f.endsWith('.wat')), `${name}: no .wat`)
    check(files.includes('LICENSE'), `${name}: LICENSE`)
    check(files.includes('README.md'), `${name}: README.md`)
  }
  check(tarList(persoTar).includes('dist/runtime/runtime.wasm'), 'perso: the runtime template ships')
  check(tarList(persoTar).includes('schemas/policy.schema.json'), 'perso: the schema ships')

  // A compiled artifact to decide with, and the README's policy and suite.
  const artifact = join(work, 'crm.wasm')
  execFileSync(process.execPath, [join(root, 'bin/perso.js'), 'compile', join(root, 'fixtures/crm.json'), '-o', artifact])
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const policy = /```json\n(\{\n  "\$schema"[^]*?)```/.exec(readme)[1]
  const suite = /```yaml\n(# tests\/policy\.test\.yaml[^]*?)```/.exec(readme)[1]

  // 2. The SDK alone, offline: nothing but the tarball.
  const sdkOnly = join(work, 'sdk-only')
  mkdirSync(sdkOnly)
  writeFileSync(join(sdkOnly, 'package.json'), JSON.stringify({ name: 'sdk-only', private: true }))
  cpSync(artifact, join(sdkOnly, 'crm.wasm'))
  let r = npm(['install', '--offline', sdkTar], sdkOnly)
  check(r.status === 0, 'SDK alone: npm install --offline <tarball>', r.status === 0 ? '' : r.out.slice(-1500))
  check(installScriptWarnings(r.out).length === 0, 'SDK alone: no install-scripts warning', installScriptWarnings(r.out).join(' | '))
  const sdkDir = join(sdkOnly, 'node_modules/@perso/sdk')
  check(installTimeScripts(sdkDir).length === 0, '@perso/sdk: the installed manifest has no install-time script', installTimeScripts(sdkDir).join(', '))
  const installed = sizeOf(sdkDir)
  const packages = packagesIn(join(sdkOnly, 'node_modules'))
  console.log(`\nSDK alone: ${installed} bytes in node_modules/@perso/sdk; packages: ${packages.join(', ')}`)
  check(new RegExp(`under\\s+${SDK_INSTALLED_KB} kB installed`).test(readme), `README: @perso/sdk "under ${SDK_INSTALLED_KB} kB installed"`)
  check(installed < SDK_INSTALLED_KB * 1000, `SDK alone: under ${SDK_INSTALLED_KB} kB installed, as the README says`, `${installed} bytes`)
  check(packages.length === 1 && packages[0] === '@perso/sdk', 'SDK alone: no third-party package', packages.join(', '))
  check(readdirSync(join(sdkOnly, 'node_modules')).filter((f) => f === '.bin').every((bin) => readdirSync(join(sdkOnly, 'node_modules', bin)).length === 0), 'SDK alone: no command-line tools in node_modules/.bin')

  const decide = `perso.evaluateSync({ tool: 'process_refund', role: 'agent', args: { amount: 800 } })`
  const esm = `import { Perso } from '@perso/sdk'\nconst perso = await Perso.load('crm.wasm')\nconsole.log(${decide}.decision)`
  writeFileSync(join(sdkOnly, 'esm.mjs'), esm)
  r = run(process.execPath, ['esm.mjs'], sdkOnly)
  check(r.status === 0 && r.out.trim() === 'Deny', 'SDK from ESM decides', r.out.trim())
  writeFileSync(join(sdkOnly, 'cjs.cjs'), `const { Perso } = require('@perso/sdk')\nPerso.load('crm.wasm').then((perso) => console.log(${decide}.decision))`)
  r = run(process.execPath, ['cjs.cjs'], sdkOnly)
  check(r.status === 0 && r.out.trim() === 'Deny', 'SDK from CommonJS decides', r.out.trim())
  r = run(process.execPath, ['--input-type=module', '-e', "import { Perso } from '@perso/sdk/browser'; console.log(typeof Perso.load)"], sdkOnly)
  check(r.status === 0 && r.out.trim() === 'function', 'SDK browser entry loads', r.out.trim())

  // Types: a consumer with neither the DOM lib nor @types/node, skipLibCheck off, three resolutions.
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const consumer = `import { Perso, type Decision, type EvaluateRequest } from '@perso/sdk'\nconst request: EvaluateRequest = { tool: 'view_customer', role: 'agent' }\nexport async function ask(bytes: Uint8Array): Promise<Decision> {\n  const perso = await Perso.load(bytes)\n  return perso.evaluateSync(request)\n}\n`
  for (const [name, options, type] of [
    ['node16 (a CommonJS project)', { module: 'node16', moduleResolution: 'node16' }, undefined],
    ['node16 (an ESM project)', { module: 'node16', moduleResolution: 'node16' }, 'module'],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, undefined],
    ['node10', { module: 'commonjs', moduleResolution: 'node10' }, undefined],
  ]) {
    const dir = join(sdkOnly, `types-${name.replace(/\W+/g, '-')}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, ...(type ? { type } : {}) }))
    writeFileSync(join(dir, 'index.ts'), consumer)
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...options, target: 'es2022', lib: ['es2022'], types: [], strict: true, noEmit: true, skipLibCheck: false, ignoreDeprecations: '5.0' }, files: ['index.ts'] }))
    r = run(process.execPath, [tsc, '-p', dir], dir)
    check(r.status === 0, `SDK types under ${name}, no DOM lib, no @types/node, skipLibCheck false`, r.out.trim().slice(0, 1500))
  }

  // 3. perso, as the README installs it: the CLI through npx, on the README's policy and suite.
  const cli = join(work, 'cli')
  mkdirSync(join(cli, 'tests'), { recursive: true })
  writeFileSync(join(cli, 'package.json'), JSON.stringify({ name: 'cli', private: true }))
  writeFileSync(join(cli, 'policy.json'), policy)
  writeFileSync(join(cli, 'tests', 'policy.test.yaml'), suite)
  r = npm(['install', '--save-dev', sdkTar, persoTar], cli)
  check(r.status === 0, 'perso: npm install --save-dev <tarballs>', r.status === 0 ? '' : r.out.slice(-2000))
  check(installScriptWarnings(r.out).length === 0, 'perso: no install-scripts warning', installScriptWarnings(r.out).join(' | '))
  const persoDir = join(cli, 'node_modules/perso')
  check(installTimeScripts(persoDir).length === 0, 'perso: the installed manifest has no install-time script', installTimeScripts(persoDir).join(', '))
  console.log(`\nperso installed: ${(sizeOf(join(cli, 'node_modules')) / MiB).toFixed(1)} MiB; packages: ${packagesIn(join(cli, 'node_modules')).length}`)
  for (const [args, exit, expect] of [
    [['--version'], 0, /^perso \d+\.\d+\.\d+/],
    [['check', 'policy.json', '--strict'], 0, /ok \(4 rules/],
    [['compile', 'policy.json', '-o', 'policy.wasm'], 0, /policy\.wasm: \d+ bytes/],
    [['eval', 'policy.wasm', '--tool', 'process_refund', '--role', 'agent', '--args', '{"amount":800}'], 1, /^Deny {2}rule matched tool 'process_refund'/],
    [['test', 'tests/'], 0, /3 passed, 0 failed/],
    [['compile', 'policy.json', '--test', 'tests/'], 0, /3 passed, 0 failed/],
  ]) {
    r = npm(['exec', '--offline', '--', 'perso', ...args], cli)
    check(r.status === exit && expect.test(r.out), `npx perso ${args.join(' ')}`, `exit ${r.status}: ${r.out.trim().split('\n').slice(0, 3).join(' | ')}`)
  }
  r = run(process.execPath, ['--input-type=module', '-e', "const { Perso, compile } = await import('perso'); const c = await compile(JSON.stringify({version:'v',default_action:'Deny',tools:['t'],roles:['r'],rules:[{tool_name:'t',roles:['r']}]})); console.log((await Perso.load(c.wasm)).evaluateSync({ tool: 't', role: 'r' }).decision)"], cli)
  check(r.status === 0 && r.out.trim() === 'Allow', "import('perso'): the SDK and compile", r.out.trim())
  // perso/mcp in a server of the user's own: a denied call never reaches its tool.
  writeFileSync(
    join(cli, 'server.mjs'),
    `import { Perso } from 'perso'
import { guard } from 'perso/mcp'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
const ran = []
const server = new McpServer({ name: 'crm', version: '1' })
for (const name of ['view_customer', 'delete_customer']) server.registerTool(name, {}, async () => (ran.push(name), { content: [] }))
guard(server, { policy: await Perso.load('policy.wasm'), identity: () => ({ role: 'agent' }) })
const [a, b] = InMemoryTransport.createLinkedPair()
await server.connect(b)
const client = new Client({ name: 'c', version: '1' })
await client.connect(a)
const listed = (await client.listTools()).tools.map((t) => t.name)
const denied = (await client.callTool({ name: 'delete_customer', arguments: {} })).isError
await client.callTool({ name: 'view_customer', arguments: {} })
console.log(JSON.stringify({ listed, denied, ran }))
await client.close()
`,
  )
  r = run(process.execPath, ['server.mjs'], cli)
  check(r.status === 0 && r.out.trim() === '{"listed":["view_customer"],"denied":true,"ran":["view_customer"]}', "import { guard } from 'perso/mcp' in the user's McpServer", r.out.trim())
  r = run(process.execPath, ['-e', "const { Perso } = require('perso'); Perso.load('policy.wasm').then((p) => console.log(p.evaluateSync({ tool: 'view_customer', role: 'agent' }).decision))"], cli)
  check(r.status === 0 && r.out.trim() === 'Allow', "require('perso'): the SDK", r.out.trim())
} finally {
  rmSync(work, { recursive: true, force: true })
}

console.log(failures === 0 ? '\npackaging: all passed' : `\npackaging: ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
