// Generates a realistic policy with a given number of table entries, for the
// scale benchmark (bench/scale.js) and for trying perso on big policies.
//
//   node scripts/gen-policy.js --entries N [--seed S] [-o policy.json]
//
// Shape: tools in families of ten (`svc12_op3`) × roles. Each family grants its
// first half of the roles through one pattern rule (`svc12_op*`), the other half
// through one exact rule per tool; conditions are a mix of every form, with
// thresholds, lists and fields that vary by rule. Pattern and exact rules never
// overlap, so the policy checks without warnings and has exactly
// tools × roles entries (N rounded to a multiple of the role count).

import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/** Deterministic PRNG (mulberry32). */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FAMILY = 10

/** Roles for a policy of `entries` entries: 2 for tiny policies, up to 10. */
export const roleCount = (entries) => Math.max(2, Math.min(10, Math.floor(entries / 5)))

const toolName = (i) => `svc${Math.floor(i / FAMILY)}_op${i % FAMILY}`
export const roleName = (j) => ['viewer', 'agent', 'support', 'analyst', 'manager', 'auditor', 'admin', 'owner', 'ops', 'root'][j] ?? `role${j}`

/** A condition of the mix for rule `r`; about a third of rules have none. */
function conditionFor(r, rng) {
  const amount = { NumericCheck: { source: 'Arguments', field: 'amount', op: rng() < 0.5 ? 'Lte' : 'Lt', value: 100 + Math.floor(rng() * 5000) } }
  const paths = ['/etc', '/root', '/var/secret', `/data/t${r % 97}`, `/home/u${r % 31}`].slice(0, 2 + Math.floor(rng() * 3))
  const path = { StringCheck: { source: 'Arguments', field: 'path', op: 'NotIn', value: paths } }
  const env = { StringCheck: { source: 'ResourceAttributes', field: 'env', op: 'In', value: rng() < 0.5 ? ['production'] : ['production', 'staging'] } }
  const mfa = { FieldPresent: { source: 'AgentAttributes', field: 'mfa_verified_at' } }
  const owner = { FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' } }
  const forced = { Not: { FieldPresent: { source: 'Arguments', field: 'force' } } }
  switch (Math.floor(rng() * 10)) {
    case 0: case 1: case 2: return null
    case 3: return amount
    case 4: return path
    case 5: return mfa
    case 6: return owner
    case 7: return { All: [mfa, env] }
    case 8: return { All: [path, forced, { Any: [owner, amount] }] }
    default: return { Any: [env, { All: [mfa, amount] }] }
  }
}

/** The policy object with about `entries` table entries. */
export function generatePolicy(entries, seed = 1) {
  const rng = prng(seed)
  const roles = Array.from({ length: roleCount(entries) }, (_, j) => roleName(j))
  const toolCount = Math.max(1, Math.round(entries / roles.length))
  const tools = Array.from({ length: toolCount }, (_, i) => toolName(i))
  const patternRoles = roles.slice(0, roles.length >> 1)
  const exactRoles = roles.slice(roles.length >> 1)
  const rules = []
  for (let family = 0; family * FAMILY < toolCount; family++) {
    const rule = { tool_name: `svc${family}_op*`, roles: patternRoles }
    const condition = conditionFor(rules.length, rng)
    if (condition !== null) rule.condition = condition
    rules.push(rule)
    for (let i = family * FAMILY; i < Math.min(toolCount, (family + 1) * FAMILY); i++) {
      const exact = { tool_name: tools[i], roles: exactRoles }
      const c = conditionFor(rules.length, rng)
      if (c !== null) exact.condition = c
      rules.push(exact)
    }
  }
  return { version: `scale-${toolCount * roles.length}`, default_action: 'Deny', tools, roles, rules }
}

function main(argv) {
  let entries = 1000
  let seed = 1
  let out
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--entries') entries = Number(argv[i + 1])
    else if (argv[i] === '--seed') seed = Number(argv[i + 1])
    else if (argv[i] === '-o') out = argv[i + 1]
    else {
      console.error('usage: node scripts/gen-policy.js --entries N [--seed S] [-o policy.json]')
      process.exit(64)
    }
  }
  if (!Number.isInteger(entries) || entries < 1) {
    console.error('--entries must be a positive integer')
    process.exit(64)
  }
  const text = JSON.stringify(generatePolicy(entries, seed), null, 1) + '\n'
  if (out === undefined) process.stdout.write(text)
  else writeFileSync(out, text)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2))
