// `npm run load`: perso guard --listen under load. SESSIONS concurrent MCP
// sessions (default 50), each its own subject and role with a JWT signed here,
// make CALLS tool calls each (default 200), allowed and denied, through the
// gateway to an HTTP server that records what reaches it, while the policy is
// reloaded several times. Then every call is checked: its answer is its own
// (a nonce in its arguments), its decision is the SDK's for that identity and
// those arguments under the policy version its audit record names, no denied
// call reached the server, and each session's tool list is its role's. It
// reports throughput, p50/p99 latency added over the same calls made to the
// server directly, and the gateway's memory before and after. 127.0.0.1 only;
// it stops by itself.
//
// SESSIONS=<n> CALLS=<n> LOAD_TIMEOUT=<seconds> npm run load

import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const { Perso, compile } = await import(join(root, 'dist/src/index.js'))
const SESSIONS = Number(process.env.SESSIONS ?? 50)
const CALLS = Number(process.env.CALLS ?? 200)
const LOAD_TIMEOUT_S = Number(process.env.LOAD_TIMEOUT ?? 300)
const RELOADS = 4
const work = mkdtempSync(join(tmpdir(), 'perso-load-'))
const children = []

const TOOLS = ['view', 'refund', 'export', 'drop']
const ROLES = ['agent', 'manager', 'admin']
/** Two policies the run alternates between: the second takes `export` from managers and lowers the refund cap. */
const policies = [
  { version: 'load-a', cap: 500, managerExport: true },
  { version: 'load-b', cap: 100, managerExport: false },
].map(({ version, cap, managerExport }) => ({
  version,
  default_action: 'Deny',
  tools: TOOLS,
  roles: ROLES,
  rules: [
    { tool_name: 'view', roles: ROLES },
    { tool_name: 'refund', roles: ['agent', 'manager'], condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: cap } } },
    ...(managerExport ? [{ tool_name: 'export', roles: ['manager'] }] : []),
    { tool_name: '*', roles: ['admin'], condition: { FieldEquals: { source_a: 'AgentAttributes', field_a: 'team', source_b: 'Arguments', field_b: 'team' } } },
  ],
}))

function start(args, ready, env = {}) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.tail = () => output.slice(-1500)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 30 s: ${output}`)), 30_000)
    const seen = (chunk) => {
      output += chunk
      const match = ready.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ child, match, output: () => output })
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
  })
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const percentile = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
/** A seeded generator: the run's calls are the same every time. */
function random(seed) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32)
}

/** The calls of session `i`: tool, amount and team vary so that both policies allow some and deny others. */
function callsOf(i) {
  const next = random(20261204 + i)
  return Array.from({ length: CALLS }, (_, c) => ({
    name: TOOLS[Math.floor(next() * TOOLS.length)],
    arguments: { amount: Math.floor(next() * 800), team: next() < 0.5 ? 'blue' : 'red', nonce: `s${i}-c${c}` },
  }))
}

/** A client session; `end()` closes it as a well-behaved client does (DELETE, then close). */
async function session(url, headers) {
  const client = new Client({ name: 'load', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } })
  await client.connect(transport)
  client.end = async () => {
    await transport.terminateSession().catch(() => {})
    await client.close()
  }
  return client
}

let failures = 0
let health = { sessions: -1 }
/** Where the run is, for the watchdog's message. */
let phase = 'starting'
// The run stops by itself: past LOAD_TIMEOUT seconds (default 300) it fails, saying where it was.
const watchdog = setTimeout(() => {
  console.error(`FAIL load: still ${phase} after ${LOAD_TIMEOUT_S} s; stopping`)
  for (const child of children) console.error(`--- the last output of ${child.spawnargs.slice(1, 3).join(' ')}:\n${child.tail()}`)
  for (const child of children) child.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
  process.exit(1)
}, LOAD_TIMEOUT_S * 1000)
const fail = (message) => {
  failures++
  if (failures <= 20) console.error(`FAIL ${message}`)
}

try {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
  const jwks = join(work, 'jwks.json')
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] }))
  const token = (i) =>
    new SignJWT({ role: ROLES[i % ROLES.length], team: i % 2 === 0 ? 'blue' : 'red' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setSubject(`user-${i}`)
      .setIssuer('https://idp.load')
      .setAudience('perso-load')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey)

  const record = join(work, 'upstream.jsonl')
  const upstream = await start([join(root, 'test/guard/recording-http-server.mjs')], /listening (\d+)/, { PERSO_TEST_TOOLS: JSON.stringify(TOOLS), PERSO_TEST_RECORD: record })
  const direct = `http://127.0.0.1:${upstream.match[1]}/mcp`
  const policyPath = join(work, 'policy.json')
  writeFileSync(policyPath, JSON.stringify(policies[0]))
  const audit = join(work, 'audit.jsonl')
  const gateway = await start(
    [join(root, 'bin/perso.js'), 'guard', policyPath, '--listen', '127.0.0.1:0', '--jwks', jwks, '--issuer', 'https://idp.load', '--audience', 'perso-load', '--agent-claims', 'team', '--upstream', direct, '--audit', audit, '--audit-args', '--max-sessions', String(SESSIONS + 10)],
    /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/,
    { NODE_OPTIONS: `--expose-gc --import ${pathToFileURL(join(root, 'scripts/heap-report.mjs')).href}` },
  )
  const guarded = gateway.match[1]
  /** The gateway's heap in use (and external memory) after a full collection, in bytes (scripts/heap-report.mjs). */
  const heapOf = async () => {
    const seen = gateway.output().split('heap-report').length
    gateway.child.kill('SIGUSR2')
    for (let waited = 0; gateway.output().split('heap-report').length === seen; waited += 50) {
      if (waited > 10_000) throw new Error('the gateway did not report its heap within 10 s')
      await new Promise((r) => setTimeout(r, 50))
    }
    const [used, external] = gateway.output().split('heap-report').at(-1).trim().split(/\s+/).map(Number)
    return { used, external }
  }
  const deciders = Object.fromEntries(await Promise.all(policies.map(async (p) => [p.version, await Perso.load((await compile(JSON.stringify(p))).wasm)])))

  // Direct first: the same calls, for the latency the gateway adds.
  phase = 'making the calls directly'
  const directMs = []
  {
    const clients = await Promise.all(Array.from({ length: SESSIONS }, () => session(direct, {})))
    await Promise.all(clients.map(async (client, i) => {
      for (const call of callsOf(i)) {
        const t = performance.now()
        await client.callTool(call)
        directMs.push(performance.now() - t)
      }
      await client.end()
    }))
  }
  writeFileSync(record, '')

  phase = 'in the warm-up round'
  // A warm-up round of as many sessions (a tenth of the calls), so that memory is measured warm.
  {
    const warm = await Promise.all(Array.from({ length: SESSIONS }, async (_, i) => session(guarded, { authorization: `Bearer ${await token(i)}` })))
    await Promise.all(warm.map(async (client, i) => {
      for (const call of callsOf(i).slice(0, Math.ceil(CALLS / 10))) await client.callTool({ ...call, arguments: { ...call.arguments, nonce: `warm-${call.arguments.nonce}` } })
      await client.end()
    }))
  }
  await new Promise((r) => setTimeout(r, 1000))
  const rssBefore = rssOf(gateway.child.pid)
  const heapBefore = await heapOf()
  phase = 'in the measured run'
  let ended = 0
  const guardedMs = []
  const answers = new Map()
  const lists = []
  const began = performance.now()
  // Reloads spread over the run: after each (RELOADS + 1)th of the calls, the other policy.
  let reloads = 0
  let done = 0
  const made = () => {
    done++
    if (reloads < RELOADS && done >= ((reloads + 1) * SESSIONS * CALLS) / (RELOADS + 1)) {
      reloads++
      writeFileSync(policyPath, JSON.stringify(policies[reloads % 2]))
      gateway.child.kill('SIGHUP')
    }
  }
  const clients = await Promise.all(Array.from({ length: SESSIONS }, async (_, i) => session(guarded, { authorization: `Bearer ${await token(i)}` })))
  await Promise.all(clients.map(async (client, i) => {
    lists.push({ i, tools: (await client.listTools()).tools.map((t) => t.name) })
    for (const call of callsOf(i)) {
      const t = performance.now()
      const result = await client.callTool(call)
      guardedMs.push(performance.now() - t)
      answers.set(call.arguments.nonce, { i, call, result })
      made()
    }
    await client.end()
    phase = `in the measured run (${++ended} of ${SESSIONS} sessions ended, ${done} calls answered)`
  }))
  const seconds = (performance.now() - began) / 1000
  phase = 'measuring the gateway after the run'
  await new Promise((r) => setTimeout(r, 1000))
  health = await (await fetch(guarded.replace(/\/mcp$/, '/healthz'), { signal: AbortSignal.timeout(10_000) })).json()
  if (health.sessions !== 0) fail(`${health.sessions} sessions still open after every client ended its own`)
  const rssAfter = rssOf(gateway.child.pid)
  const heapAfter = await heapOf()
  gateway.child.kill('SIGTERM')
  phase = 'waiting for the gateway to exit on SIGTERM'
  const exited = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000)
    gateway.child.once('exit', () => resolve(clearTimeout(timer) ?? true))
  })
  if (!exited) {
    gateway.child.kill('SIGKILL')
    fail('the gateway did not exit within 10 s of SIGTERM')
  }

  phase = 'checking the calls'
  // Every call against its audit record, the SDK, and the upstream's record.
  const records = new Map(readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => !String(e.args?.nonce).startsWith('warm-')).map((e) => [e.args?.nonce, e]))
  const forwarded = new Set(readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.rpc === 'tools/call' && !String(r.nonce).startsWith('warm-')).map((r) => r.nonce))
  const versions = new Map()
  for (const [nonce, { i, call, result }] of answers) {
    const event = records.get(nonce)
    if (event === undefined) {
      fail(`${nonce}: no audit record`)
      continue
    }
    versions.set(event.policyVersion, (versions.get(event.policyVersion) ?? 0) + 1)
    const role = ROLES[i % ROLES.length]
    const want = deciders[event.policyVersion].evaluateSync({ tool: call.name, args: call.arguments, role, agentAttributes: { sub: `user-${i}`, team: i % 2 === 0 ? 'blue' : 'red' } })
    if (event.decision !== want.decision || event.reason !== want.reason) fail(`${nonce}: audited ${event.decision} (${event.reason}), the SDK says ${want.decision} (${want.reason}) under ${event.policyVersion}`)
    if (event.role !== role || event.agentAttributes?.sub !== `user-${i}`) fail(`${nonce}: audited for ${event.role}/${event.agentAttributes?.sub}, made by ${role}/user-${i}`)
    const text = result.content?.[0]?.text ?? ''
    const allowed = result.isError !== true
    if (allowed !== (event.decision === 'Allow')) fail(`${nonce}: answered ${allowed ? 'allowed' : 'denied'}, audited ${event.decision}`)
    if (allowed && text !== `called ${call.name}`) fail(`${nonce}: answered ${text}`)
    if (!allowed && !text.startsWith(`perso denied ${call.name}: `)) fail(`${nonce}: answered ${text}`)
    if (forwarded.has(nonce) !== allowed) fail(`${nonce}: ${allowed ? 'allowed but not' : 'denied but'} forwarded`)
  }
  if (answers.size !== SESSIONS * CALLS) fail(`${answers.size} answers for ${SESSIONS * CALLS} calls`)
  for (const { i, tools } of lists) {
    const role = ROLES[i % ROLES.length]
    const fits = Object.values(deciders).some((perso) => tools.join() === TOOLS.filter((t) => perso.mayAllow(t, role)).join())
    if (!fits) fail(`session ${i} (${role}) was shown ${tools.join(', ')}`)
  }
  const allowed = [...answers.values()].filter((a) => a.result.isError !== true).length
  const p = (xs, q) => percentile(xs, q).toFixed(2)
  console.log(`\nload: ${SESSIONS} sessions × ${CALLS} calls = ${answers.size} calls (${allowed} allowed, ${answers.size - allowed} denied), ${reloads} reloads; decided by ${[...versions].map(([v, n]) => `${v} ${n}`).join(', ')}`)
  console.log(`throughput through the gateway: ${(answers.size / seconds).toFixed(0)} calls/s over ${seconds.toFixed(1)} s`)
  console.log(`latency per call, ms:       p50    p99`)
  console.log(`  direct                 ${p(directMs, 50).padStart(6)} ${p(directMs, 99).padStart(6)}`)
  console.log(`  through perso guard    ${p(guardedMs, 50).padStart(6)} ${p(guardedMs, 99).padStart(6)}`)
  console.log(`  added                  ${(percentile(guardedMs, 50) - percentile(directMs, 50)).toFixed(2).padStart(6)} ${(percentile(guardedMs, 99) - percentile(directMs, 99)).toFixed(2).padStart(6)}`)
  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
  console.log(`gateway memory after a warm-up round → after the run (${health.sessions} sessions open):`)
  console.log(`  heap in use after a full GC  ${mib(heapBefore.used)} → ${mib(heapAfter.used)}; external ${mib(heapBefore.external)} → ${mib(heapAfter.external)}`)
  console.log(`  RSS                          ${mib(rssBefore)} → ${mib(rssAfter)} (what V8 has not yet given back counts here)`)
  // Flat: what a run of SESSIONS × CALLS leaves behind stays within a tenth of the warm heap and 4 MiB.
  const kept = heapAfter.used + heapAfter.external - (heapBefore.used + heapBefore.external)
  if (kept > 0.1 * (heapBefore.used + heapBefore.external) + 4 * 2 ** 20) fail(`the gateway kept ${mib(kept)} more after the run than after the warm-up round`)
  if (versions.size < 2) fail(`every call was decided by one policy version (${[...versions.keys()].join()}): the reloads did not land during the run`)
} catch (e) {
  fail(e instanceof Error ? e.stack ?? e.message : String(e))
} finally {
  clearTimeout(watchdog)
  for (const child of children) child.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}
console.log(failures === 0 ? 'load: every check passed' : `load: ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
