// `perso init`: the files it writes check clean under --strict, their suite
// passes through `perso compile --test`, the schema reference resolves from
// where the policy is, and nothing is ever written over an existing file.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SCHEMA_URL, schemaRef } from '../src/cli/init.js'
import { root } from './support/cli.js'
import { tempDir } from './support/temp.js'

const perso = (args: string[], cwd = root) => spawnSync(process.execPath, [join(root, 'bin/perso.js'), ...args], { cwd, encoding: 'utf8' })

describe('perso init', () => {
  it('writes a policy that checks clean under --strict, a suite that passes, and a CI workflow', { timeout: 60_000 }, () => {
    const dir = tempDir('init-')
    const run = perso(['init', dir])
    expect(run.status, run.stderr).toBe(0)
    for (const file of ['policy.json', 'tests/policy.test.yaml', '.github/workflows/perso.yml']) expect(existsSync(join(dir, file)), file).toBe(true)
    const check = perso(['check', join(dir, 'policy.json'), '--strict'])
    expect(check.status, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toMatch(/ok \(5 rules, 7 table entries\)/)
    // The workflow's own commands, run where it runs them.
    const workflow = readFileSync(join(dir, '.github/workflows/perso.yml'), 'utf8')
    const commands = [...workflow.matchAll(/- run: npx perso (.*)$/gm)].map((m) => m[1]!.split(' '))
    expect(commands.length).toBe(2)
    for (const args of commands) {
      const step = perso(args, dir)
      expect(step.status, `${args.join(' ')}\n${step.stdout}${step.stderr}`).toBe(0)
      expect(step.stderr).not.toMatch(/warning/)
    }
    expect(readFileSync(join(dir, 'policy.wasm')).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]))
  })

  it('prints next steps that run as printed, from where init was run: in that directory and from its parent', { timeout: 60_000 }, () => {
    const parent = tempDir('init-')
    for (const [cwd, target] of [[join(parent, 'here'), '.'], [parent, 'sub']] as const) {
      mkdirSync(cwd, { recursive: true })
      const run = perso(['init', target], cwd)
      expect(run.status, run.stderr).toBe(0)
      const next = run.stdout.slice(run.stdout.indexOf('next:\n') + 'next:\n'.length).trim().split('\n')
      expect(next.length, run.stdout).toBe(2)
      for (const line of next) {
        expect(line.trim()).toMatch(/^npx perso /)
        const step = perso(line.trim().split(/\s+/).slice(2), cwd)
        expect(step.status, `${line}\n${step.stdout}${step.stderr}`).toBe(0)
      }
    }
  })

  it('never writes over a file: one existing file, and nothing is written', { timeout: 60_000 }, () => {
    const dir = tempDir('init-')
    mkdirSync(join(dir, 'tests'))
    writeFileSync(join(dir, 'tests/policy.test.yaml'), 'mine')
    const run = perso(['init', dir])
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/tests\/policy\.test\.yaml` already exists; perso init writes nothing over a file/)
    expect(readFileSync(join(dir, 'tests/policy.test.yaml'), 'utf8')).toBe('mine')
    expect(existsSync(join(dir, 'policy.json'))).toBe(false)
  })

  it('points $schema at the installed schema by a path that resolves from the policy, or at the published URL outside the project', { timeout: 60_000 }, () => {
    const inside = join(root, 'tmp', 'init-ref')
    const ref = schemaRef(inside)
    expect(ref).toBe('../../schemas/policy.schema.json')
    expect(existsSync(resolve(inside, ref))).toBe(true)
    expect(schemaRef(root)).toBe('./schemas/policy.schema.json')
    expect(schemaRef(tempDir('init-'))).toBe(SCHEMA_URL)
    // The published schema's $id is that URL.
    const schema = JSON.parse(readFileSync(join(root, 'schemas/policy.schema.json'), 'utf8')) as { $id: string }
    expect(schema.$id).toBe(SCHEMA_URL)
    expect(dirname(SCHEMA_URL)).toBe('https://unpkg.com/perso/schemas')
  })
})
