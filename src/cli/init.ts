// `perso init [dir]`: a starter policy whose `$schema` works where it is
// written, a test suite for it, and a CI workflow that checks and tests it.
// Never overwrites: if any of the files exists, nothing is written.

import type { Command } from 'commander'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { packageRoot } from '../paths.js'
import { EXIT, EXIT_CODES_HELP, type Io, UserError, writeOutput } from './io.js'
import type { VerbContext } from './verb.js'

const HELP = `
Writes, in <dir> (default: the current directory):
  policy.json                  a starter policy ($schema points at the installed schema)
  tests/policy.test.yaml       its test suite (perso test)
  .github/workflows/perso.yml  CI: perso check --strict, perso compile --test
Existing files are never overwritten: if one exists, nothing is written (exit 2).
`

/** Where the schema is published, for a policy written where no installed perso is in reach. */
export const SCHEMA_URL = 'https://unpkg.com/perso/schemas/policy.schema.json'

export function define(command: Command, { io, exit }: VerbContext): void {
  command
    .argument('[dir]', 'where to write the files', '.')
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action((dir: string) => exit(runInit(io, dir)))
}

/**
 * The `$schema` of a policy written in `dir`: the schema of this perso, by a
 * path relative to `dir` when this perso is installed in (or is) a project
 * that contains `dir`; else its published URL (`npx perso init` run from a
 * cache, whose files do not stay).
 */
export function schemaRef(dir: string): string {
  const root = packageRoot()
  const schema = join(root, 'schemas', 'policy.schema.json')
  const project = root.includes(`${sep}node_modules${sep}`) ? root.slice(0, root.lastIndexOf(`${sep}node_modules${sep}`)) : root
  const inside = relative(project, dir)
  if (inside.startsWith('..') || root.includes(`${sep}_npx${sep}`)) return SCHEMA_URL
  const ref = relative(dir, schema).split(sep).join('/')
  return ref.startsWith('.') ? ref : `./${ref}`
}

export function runInit(io: Io, dir: string): number {
  const files: [string, string][] = [
    ['policy.json', policy(schemaRef(dir))],
    [join('tests', 'policy.test.yaml'), SUITE],
    [join('.github', 'workflows', 'perso.yml'), WORKFLOW],
  ]
  const taken = files.map(([name]) => join(dir, name)).filter((path) => existsSync(path))
  if (taken.length > 0) {
    throw new UserError(`${taken.map((p) => `\`${p}\``).join(', ')} already ${taken.length === 1 ? 'exists' : 'exist'}; perso init writes nothing over a file (move ${taken.length === 1 ? 'it' : 'them'} away, or choose another directory)`)
  }
  const encoder = new TextEncoder()
  for (const [name, text] of files) {
    const path = join(dir, name)
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch {
      // writeOutput says why the file cannot be written.
    }
    writeOutput(io, path, encoder.encode(text))
    io.stdout(`wrote ${path}\n`)
  }
  // Both commands name what they read: `check` needs the policy's path.
  io.stdout(`\nnext:\n  npx perso check ${join(dir, 'policy.json')} --strict\n  npx perso test ${dir === '.' ? 'tests/' : join(dir, 'tests')}\n`)
  return EXIT.ok
}

/** A small policy that shows each kind of rule: open, a numeric guard, an ownership check. */
function policy(schema: string): string {
  return `${JSON.stringify(
    {
      $schema: schema,
      version: '1.0.0',
      default_action: 'Deny',
      tools: ['search_docs', 'create_ticket', 'issue_refund', 'delete_ticket'],
      roles: ['agent', 'supervisor'],
      rules: [
        { description: 'anyone may search and open tickets', tool_name: 'search_docs', roles: ['agent', 'supervisor'] },
        { tool_name: 'create_ticket', roles: ['agent', 'supervisor'] },
        {
          description: 'agents refund up to 100',
          tool_name: 'issue_refund',
          roles: ['agent'],
          condition: { NumericCheck: { source: 'Arguments', field: 'amount', op: 'Lte', value: 100 } },
        },
        { tool_name: 'issue_refund', roles: ['supervisor'] },
        {
          description: 'supervisors delete only the tickets they own',
          tool_name: 'delete_ticket',
          roles: ['supervisor'],
          condition: { FieldEquals: { source_a: 'AgentAttributes', field_a: 'user_id', source_b: 'ResourceAttributes', field_b: 'owner_id' } },
        },
      ],
    },
    null,
    2,
  )}\n`
}

const SUITE = `# perso test tests/ — each case is decided by the compiled artifact.
policy: ../policy.json
cases:
  - { name: an agent searches the docs, tool: search_docs, role: agent, expect: Allow }
  - name: an agent refunds 80
    tool: issue_refund
    role: agent
    args: { amount: 80 }
    expect: Allow
  - name: an agent refunds 250
    tool: issue_refund
    role: agent
    args: { amount: 250 }
    expect: Deny
    reason: condition failed
  - { name: a supervisor refunds 250, tool: issue_refund, role: supervisor, args: { amount: 250 }, expect: Allow }
  - name: a supervisor deletes their own ticket
    tool: delete_ticket
    role: supervisor
    agentAttributes: { user_id: u-7 }
    resourceAttributes: { owner_id: u-7 }
    expect: Allow
  - name: a supervisor deletes another's ticket
    tool: delete_ticket
    role: supervisor
    agentAttributes: { user_id: u-7 }
    resourceAttributes: { owner_id: u-8 }
    expect: Deny
  - { name: an agent deletes a ticket, tool: delete_ticket, role: agent, expect: Deny }
`

const WORKFLOW = `# Checks and tests the perso policy on every push and pull request.
name: perso
on: [push, pull_request]
jobs:
  policy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with: { node-version: 20 }
      - run: npm ci
      - run: npx perso check policy.json --strict
      - run: npx perso compile policy.json --test tests/ -o policy.wasm
`
