// `npm run conformance`: the published MCP conformance server scenarios
// (@modelcontextprotocol/conformance) against the reference "everything"
// server in its Streamable HTTP mode, once directly and once through
// `perso guard --listen … --upstream URL` with a policy that allows every tool
// the server offers. Prints both runs side by side and fails when a scenario
// that passes directly does not pass through the guard. Everything listens on
// 127.0.0.1 and stops by itself.

import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const EVERYTHING = join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js')
const CONFORMANCE = join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js')
const PERSO = join(root, 'bin/perso.js')
const work = mkdtempSync(join(tmpdir(), 'perso-conformance-'))
const children = []

/** A port nothing listens on now. */
function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Starts `args`; resolves once its output matches `ready`. */
function start(args, ready, env = {}) {
  const child = spawn(process.execPath, args, { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 30 s: ${args.join(' ')}\n${output}`)), 30_000)
    const seen = (chunk) => {
      output += chunk
      const match = ready.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${args.join(' ')}\n${output}`)))
  })
}

/** The conformance server scenarios against `url`: scenario → 'pass' | 'fail', as the suite prints them. */
function scenarios(url) {
  const run = spawnSync(process.execPath, [CONFORMANCE, 'server', '--url', url], { cwd: work, encoding: 'utf8', timeout: 300_000 })
  const results = new Map()
  for (const line of run.stdout.split('\n')) {
    const match = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed/.exec(line)
    if (match) results.set(match[2], match[1] === '✓' ? 'pass' : 'fail')
  }
  if (results.size === 0) throw new Error(`the conformance suite printed no scenario against ${url}:\n${run.stdout}\n${run.stderr}`)
  return results
}

let failures = 0
try {
  const port = await freePort()
  await start([EVERYTHING, 'streamableHttp'], /listening on port/i, { PORT: String(port) })
  const direct = `http://127.0.0.1:${port}/mcp`

  // A policy that allows every tool the server offers, from its own list.
  const lock = join(work, 'tools.lock.json')
  const scan = spawnSync(process.execPath, [PERSO, 'scan', '-o', lock, '--url', direct], { encoding: 'utf8' })
  if (scan.status !== 0) throw new Error(`perso scan failed: ${scan.stderr}`)
  const tools = JSON.parse((await import('node:fs')).readFileSync(lock, 'utf8')).tools.map((t) => t.name)
  const policy = join(work, 'policy.json')
  writeFileSync(policy, JSON.stringify({ version: 'conformance-1', default_action: 'Deny', tools, roles: ['tester'], rules: [{ tool_name: '*', roles: ['tester'] }] }, null, 2))

  const [, guarded] = await start([PERSO, 'guard', policy, '--listen', '127.0.0.1:0', '--auth', 'none', '--role', 'tester', '--upstream', direct], /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)

  const alone = scenarios(direct)
  const through = scenarios(guarded)
  const names = [...new Set([...alone.keys(), ...through.keys()])]
  const width = Math.max(...names.map((n) => n.length), 'scenario'.length)
  console.log(`\nconformance (${tools.length} tools offered, all allowed)\n`)
  console.log(`${'scenario'.padEnd(width)}  direct  through perso guard`)
  console.log(`${'-'.repeat(width)}  ------  -------------------`)
  for (const name of names) {
    const a = alone.get(name) ?? '-'
    const b = through.get(name) ?? '-'
    const lost = a === 'pass' && b !== 'pass'
    if (lost) failures++
    console.log(`${name.padEnd(width)}  ${a.padEnd(6)}  ${b}${lost ? '   <- passes directly, not through the guard' : ''}`)
  }
  const passed = (m) => [...m.values()].filter((v) => v === 'pass').length
  console.log(`\ndirect: ${passed(alone)} of ${alone.size} pass; through perso guard: ${passed(through)} of ${through.size}`)
} catch (e) {
  console.error(`conformance: ${e instanceof Error ? e.message : String(e)}`)
  failures++
} finally {
  for (const child of children) child.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}
console.log(failures === 0 ? 'conformance: every scenario that passes directly passes through the guard' : `conformance: ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
