// `perso test` in-process: passing and failing suites, goldens for malformed
// suites and for coverage, the reporters, --filter/--bail, compiling each
// policy once per run, and `perso compile --test`. Goldens regenerate with
// PERSO_UPDATE_GOLDEN=1 (npm run test:update).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { type Run, STACK_FRAME, root, runCli } from './support/cli.js'

const compiled = vi.hoisted(() => ({ count: 0 }))
vi.mock('../src/compiler/compile.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/compiler/compile.js')>()
  return { ...real, compile: (...args: Parameters<typeof real.compile>) => (compiled.count++, real.compile(...args)) }
})

const update = process.env.PERSO_UPDATE_GOLDEN === '1'

/** Paths are relative to the repository root, as the goldens show them. */
async function perso(argv: string[]): Promise<Run> {
  expect(process.cwd()).toBe(root.replace(/\/$/, ''))
  const run = await runCli(argv)
  expect(run.stdout + run.stderr).not.toMatch(STACK_FRAME)
  return run
}

function golden(file: string, actual: string): void {
  const path = join(root, file)
  if (update) writeFileSync(path, actual)
  expect(existsSync(path), `${file} is missing; run npm run test:update`).toBe(true)
  expect(actual).toBe(readFileSync(path, 'utf8'))
}

const scratchDirs: string[] = []
afterAll(() => {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A temporary directory with these files, for suites the fixtures do not hold; removed after the tests. */
function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'perso-test-'))
  scratchDirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const CRM = join(root, 'fixtures/crm.json')

describe('perso test', () => {
  it('passes the CRM suite and says so', async () => {
    const { code, stdout, stderr } = await perso(['test', 'fixtures/crm.test.yaml'])
    expect(stderr).toBe('')
    expect(stdout).toMatch(/^fixtures\/crm\.test\.yaml\n {2}✓ agent views a customer\n/)
    expect(stdout).toMatch(/\n29 passed, 0 failed\n$/)
    expect(code).toBe(0)
  })

  it('fails a wrong expectation with the case, expected and actual, and the reason', async () => {
    const { code, stdout } = await perso(['test', 'fixtures/testing/failing.yaml'])
    expect(code).toBe(3)
    expect(stdout).toContain('  ✗ agent refunds 800\n      expected Allow, got Deny\n' +
      "      reason: rule matched tool 'process_refund' for role 'agent'; condition failed: Arguments.amount = 800 is not Lte 500\n")
    expect(stdout).toMatch(/\n1 passed, 3 failed\n$/)
    golden('fixtures/testing/failing.expected.txt', stdout)
  })

  it('searches directories for *.test.yaml, *.test.yml and *.test.json only', async () => {
    const { code, stdout } = await perso(['test', 'fixtures/'])
    expect(code).toBe(0)
    // Suite headers: the lines that are one path (diagnostics and the summary have spaces).
    expect(stdout.split('\n').filter((l) => /^\S+$/.test(l)))
      .toEqual(['fixtures/crm.test.yaml', 'fixtures/testing/coverage/docs.test.yaml'])
    expect(stdout).toMatch(/\n35 passed, 0 failed\n$/)
  })

  it('counts a request the SDK cannot read as Deny, with the error as reason', async () => {
    const dir = scratch({
      'lone.test.yaml': `policy: ${CRM}\ncases:\n` +
        '  - { name: lone surrogate, tool: view_customer, role: agent, args: { a: "\\uD800" }, expect: Deny, reason: "request: args.a is a string with a lone surrogate" }\n',
    })
    const { code, stdout } = await perso(['test', dir])
    expect(stdout).toMatch(/✓ lone surrogate\n/)
    expect(code).toBe(0)
  })

  it('decides every case through the SDK as a host does: Perso.load with the default options, evaluateSync', async () => {
    const { Perso } = await import('../packages/sdk/src/perso.js')
    const load = vi.spyOn(Perso, 'load')
    const decide = vi.spyOn(Perso.prototype, 'evaluateSync')
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
    const cases: Record<string, unknown>[] = [
      { name: 'allowed', tool: 'process_refund', role: 'agent', args: { amount: 120 }, expect: 'Allow' },
      { name: 'condition failed', tool: 'process_refund', role: 'agent', args: { amount: 800 }, expect: 'Deny' },
      { name: 'owner', tool: 'delete_customer', role: 'manager', agentAttributes: { user_id: 'm' }, resourceAttributes: { owner_id: 'm' }, expect: 'Allow' },
      { name: 'no rule', tool: 'delete_customer', role: 'agent', expect: 'Deny' },
      // Requests the SDK refuses itself, before the artifact: the raw ABI words these differently.
      { name: 'lone surrogate', tool: 'process_refund', role: 'agent', args: { amount: 'a\ud800' }, expect: 'Deny' },
      { name: 'too deep', tool: 'process_refund', role: 'agent', args: JSON.parse(deep(128)) as unknown, expect: 'Deny' },
      { name: 'deep enough', tool: 'process_refund', role: 'agent', args: JSON.parse(deep(127)) as unknown, expect: 'Deny' },
    ]
    // YAML, which can spell a lone surrogate (JSON suites refuse one); JSON text is YAML.
    const dir = scratch({ 'sdk.test.yaml': `policy: ${JSON.stringify(CRM)}\ncases: ${JSON.stringify(cases)}\n` })
    try {
      const { code, stdout } = await perso(['test', dir, '--reporter', 'json'])
      expect(code, stdout).toBe(0)
      expect(load).toHaveBeenCalledTimes(1)
      expect(load.mock.calls[0]![1]).toBeUndefined()
      expect(decide).toHaveBeenCalledTimes(cases.length)

      const { compile } = await import('../src/compiler/compile.js')
      const host = await Perso.load((await compile(readFileSync(CRM))).wasm!)
      const report = JSON.parse(stdout) as { suites: { cases: { name: string; decision: string; reason: string; inputError: boolean }[] }[] }
      const got = report.suites[0]!.cases
      expect(got.map((c) => ({ decision: c.decision, reason: c.reason }))).toEqual(cases.map((c) => host.evaluateSync(c as never)))
      expect(got.map((c) => c.inputError)).toEqual([false, false, false, false, true, true, false])
      expect(got[4]!.reason).toBe('request: args.amount is a string with a lone surrogate')
    } finally {
      load.mockRestore()
      decide.mockRestore()
    }
  })

  it('runs a suite against a .wasm artifact, and JSON suites', async () => {
    const built = await perso(['compile', 'fixtures/crm.json', '-o', 'crm.wasm'])
    const dir = scratch({})
    writeFileSync(join(dir, 'crm.wasm'), built.written.get('crm.wasm')!)
    writeFileSync(join(dir, 'wasm.test.json'), JSON.stringify({
      policy: 'crm.wasm',
      cases: [{ name: 'agent refunds 800', tool: 'process_refund', role: 'agent', args: { amount: 800 }, expect: 'Deny', reason: '/is not Lte 500$/' }],
    }))
    const { code, stdout } = await perso(['test', dir, '--coverage'])
    expect(stdout).toContain('✓ agent refunds 800')
    expect(stdout).toContain('rule never matched     rules[0] `view_customer`\n')
    expect(stdout).toContain('condition never true   rules[2] condition reading Arguments.amount\n')
    expect(code).toBe(0)
  })

  it('--filter runs only matching cases; --bail stops at the first failure', async () => {
    const filtered = await perso(['test', 'fixtures/crm.test.yaml', '--filter', 'REFUND'])
    expect(filtered.stdout).toMatch(/\n6 passed, 0 failed, 23 skipped\n$/)
    const bail = await perso(['test', 'fixtures/testing/failing.yaml', 'fixtures/crm.test.yaml', '--bail'])
    expect(bail.code).toBe(3)
    expect(bail.stdout).not.toContain('crm.test.yaml')
    expect(bail.stdout).toMatch(/stopped at the first failure \(--bail\)\n1 passed, 1 failed\n$/)
  })

  it('compiles each policy once per run, however many suites name it', async () => {
    const dir = scratch({
      'a.test.yaml': `policy: ${CRM}\ncases:\n  - { name: a, tool: view_customer, role: agent, expect: Allow }\n`,
      'b.test.yml': `policy: ${CRM}\ncases:\n  - { name: b, tool: view_customer, role: admin, expect: Allow }\n`,
    })
    compiled.count = 0
    const { code } = await perso(['test', 'fixtures/crm.test.yaml', 'fixtures/testing/failing.yaml', dir])
    expect(code).toBe(3)
    expect(compiled.count).toBe(1)
  })

  it('usage errors exit 64', async () => {
    expect((await perso(['test'])).code).toBe(64)
    expect((await perso(['test', 'fixtures/crm.test.yaml', '--reporter', 'tap'])).code).toBe(64)
    expect((await perso(['test', 'fixtures/crm.test.yaml', '--min-coverage', 'most'])).code).toBe(64)
  })

  it('a missing path or a directory without suites is invalid', async () => {
    const missing = await perso(['test', 'no/such/dir'])
    expect(missing.code).toBe(2)
    expect(missing.stdout).toContain('error: cannot read `no/such/dir`: no such file or directory')
    const empty = await perso(['test', 'fixtures/invalid'])
    expect(empty.code).toBe(2)
    expect(empty.stdout).toContain('no test suites (*.test.yaml, *.test.yml, *.test.json) in `fixtures/invalid`')
  })
})

describe('malformed suites give located diagnostics (goldens)', () => {
  const dir = 'fixtures/testing/malformed'
  const suites = readdirSync(join(root, dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()

  it('has fixtures', () => expect(suites.length).toBeGreaterThan(5))

  it.each(suites)('%s', async (name) => {
    const { code, stdout, stderr } = await perso(['test', `${dir}/${name}`])
    expect(code).toBe(2)
    expect(stderr).toBe('')
    expect(stdout).toMatch(/:\d+:\d+: error\[E\d{3}\]: /)
    golden(`${dir}/${name.replace(/\.(ya?ml|json)$/, '.expected.txt')}`, stdout)
  })

  it('survives hostile YAML: alias cycles, alias bombs, binary, tabs', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) =>
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)]
    const files = {
      'cycle.test.yaml': 'policy: x.json\ncases: &c\n  - *c\n',
      'bomb.test.yaml': bomb.join('\n') + '\n',
      'binary.test.yaml': '\u0000\u0001\u0002',
      'tabs.test.yaml': 'policy: x\ncases:\n\t- a\n',
      'keys.test.yaml': '? [a, b]\n: c\n',
      'inf.test.yaml': `policy: ${CRM}\ncases:\n  - { name: x, tool: view_customer, role: agent, args: { a: .inf }, expect: Allow }\n`,
    }
    const dir = scratch(files)
    for (const name of Object.keys(files)) {
      const { code, stdout } = await perso(['test', join(dir, name)])
      expect(code, name).toBe(2)
      expect(stdout, name).toMatch(/error\[E2\d\d\]/)
    }
    const bad = scratch({ 'bad.test.yaml': '' })
    writeFileSync(join(bad, 'bad.test.yaml'), new Uint8Array([0x70, 0x3a, 0x20, 0xff, 0x0a]))
    expect((await perso(['test', bad])).stdout).toContain('error[E200]: file is not valid UTF-8 text')
  })
})

describe('coverage', () => {
  it('names exactly the rules, entries and condition outcomes left unexercised (golden)', async () => {
    const { code, stdout } = await perso(['test', 'fixtures/testing/coverage/docs.test.yaml', '--coverage'])
    expect(code).toBe(0)
    expect(stdout).toContain('coverage of fixtures/testing/coverage/docs.json: 58.8% (10/17 rules, entries and condition outcomes)')
    golden('fixtures/testing/coverage/docs.coverage.expected.txt', stdout)
  })

  it('covers every CRM rule, entry and condition outcome', async () => {
    const { code, stdout } = await perso(['test', 'fixtures/crm.test.yaml', '--min-coverage', '100'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/\ncoverage of fixtures\/crm\.json: 100% \(38\/38 rules, entries and condition outcomes\)\n$/)
  })

  it('--min-coverage gates', async () => {
    const suite = 'fixtures/testing/coverage/docs.test.yaml'
    expect((await perso(['test', suite, '--min-coverage', '58'])).code).toBe(0)
    const below = await perso(['test', suite, '--min-coverage', '59%'])
    expect(below.code).toBe(3)
    expect(below.stdout).toMatch(/coverage of fixtures\/testing\/coverage\/docs\.json is 58\.8%, below --min-coverage 59%\n$/)
  })
})

describe('reporters', () => {
  const mixed = ['fixtures/crm.test.yaml', 'fixtures/testing/failing.yaml', 'fixtures/testing/malformed/01-unknown-keys.yaml']

  it('junit: well-formed, test and failure counts match the cases', async () => {
    const { code, stdout } = await perso(['test', ...mixed, '--reporter', 'junit'])
    expect(code).toBe(2)
    expect(stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true)
    expect(wellFormed(stdout)).toBe(true)
    const root = /<testsuites [^>]*tests="(\d+)" failures="(\d+)" errors="(\d+)">/.exec(stdout)!
    expect(root.slice(1).map(Number)).toEqual([29 + 4 + 1, 3, 1])
    expect(stdout.match(/<testcase /g)).toHaveLength(34)
    expect(stdout.match(/<failure /g)).toHaveLength(3)
    expect(stdout.match(/<error /g)).toHaveLength(1)
    const suites = [...stdout.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)"/g)]
      .map((m) => [m[1], Number(m[2]), Number(m[3]), Number(m[4])])
    expect(suites).toEqual([
      ['fixtures/crm.test.yaml', 29, 0, 0],
      ['fixtures/testing/failing.yaml', 4, 3, 0],
      ['fixtures/testing/malformed/01-unknown-keys.yaml', 1, 0, 1],
    ])
    expect(stdout).toContain('<failure message="expected Allow, got Deny" type="WrongDecision">')
  })

  it('json: counts, cases and diagnostics', async () => {
    const { code, stdout } = await perso(['test', ...mixed, '--reporter', 'json', '--coverage'])
    expect(code).toBe(2)
    const report = JSON.parse(stdout) as {
      passed: number; failed: number; invalid: number
      suites: { file: string; diagnostics: { code: string; line: number }[]; cases: { name: string; passed: boolean; decision: string }[] }[]
      coverage: { policy: string; percent: number }[]
    }
    expect([report.passed, report.failed, report.invalid]).toEqual([30, 3, 1])
    expect(report.suites[1]!.cases[1]).toMatchObject({ name: 'agent refunds 800', passed: false, decision: 'Deny', expect: 'Allow' })
    expect(report.suites[2]!.diagnostics.map((d) => [d.code, d.line])).toEqual([['E202', 6], ['E203', 7], ['E204', 11], ['E202', 12]])
    expect(report.coverage.map((c) => c.policy)).toEqual(['fixtures/crm.json'])
  })
})

describe('perso compile --test', () => {
  it('writes the artifact when the suites pass', async () => {
    const { code, stdout, written } = await perso(['compile', 'fixtures/crm.json', '-o', 'out.wasm', '--test', 'fixtures/crm.test.yaml'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/29 passed, 0 failed\nout\.wasm: \d+ bytes, 17 table entries\n$/)
    expect(written.has('out.wasm')).toBe(true)
  })

  it('refuses to write it when a case fails, testing the artifact it just built', async () => {
    compiled.count = 0
    const { code, stdout, stderr, written } = await perso(['compile', 'fixtures/crm.json', '-o', 'out.wasm', '--test', 'fixtures/testing/failing.yaml'])
    expect(code).toBe(3)
    expect(stdout).toContain('1 passed, 3 failed')
    expect(stderr).toBe('perso: nothing written: the tests did not pass\n')
    expect(written.size).toBe(0)
    expect(compiled.count).toBe(1)
  })
})

describe('tools and roles the policy never names are warnings: the case runs', () => {
  const suite = `policy: ${CRM}\ncases:\n` +
    '  - { name: unknown tool fails closed, tool: drop_database, role: agent, expect: Deny, reason: no rule matched }\n' +
    '  - { name: undeclared role fails closed, tool: view_customer, role: intern, expect: Deny }\n' +
    '  - { name: near miss, tool: view_customers, role: agent, expect: Allow }\n'

  it('prints each as a located warning, runs the case and checks its expectation', async () => {
    const dir = scratch({ 'closed.test.yaml': suite })
    const { code, stdout } = await perso(['test', dir])
    expect(code).toBe(3)
    expect(stdout).toContain('closed.test.yaml:3:46: warning[W206]: tool `drop_database` is not in the policy\n')
    expect(stdout).toContain('= help: the case runs: no rule can match it, so `default_action` decides\n')
    expect(stdout).toContain('closed.test.yaml:4:70: warning[W207]: role `intern` is not declared by the policy\n')
    expect(stdout).toContain('warning[W206]: tool `view_customers` is not in the policy\n')
    expect(stdout).toContain('= help: did you mean `view_customer`? (the case runs as written)\n')
    expect(stdout).toContain('  ✓ unknown tool fails closed\n  ✓ undeclared role fails closed\n  ✗ near miss\n      expected Allow, got Deny\n')
    expect(stdout).toMatch(/\n2 passed, 1 failed\n$/)
  })

  it('json and junit carry the warnings', async () => {
    const dir = scratch({ 'closed.test.yaml': suite })
    const json = JSON.parse((await perso(['test', dir, '--reporter', 'json'])).stdout) as {
      warnings: number; invalid: number; suites: { diagnostics: { code: string; severity: string; line: number }[] }[]
    }
    expect(json.invalid).toBe(0)
    expect(json.warnings).toBe(3)
    expect(json.suites[0]!.diagnostics.map((d) => [d.code, d.severity, d.line])).toEqual([['W206', 'warning', 3], ['W207', 'warning', 4], ['W206', 'warning', 5]])
    const { stdout } = await perso(['test', dir, '--reporter', 'junit'])
    expect(wellFormed(stdout)).toBe(true)
    expect(stdout).toMatch(/<testsuite name="[^"]+" tests="3" failures="1" errors="0" skipped="0">/)
    expect(stdout).toMatch(/<system-err>[^<]*warning\[W206\]: tool `drop_database` is not in the policy[^<]*<\/system-err>/)
  })

  it('--strict makes them errors: the suite is invalid', async () => {
    const dir = scratch({ 'closed.test.yaml': suite })
    const { code, stdout } = await perso(['test', dir, '--strict'])
    expect(code).toBe(2)
    expect(stdout).toContain('error[W206]: tool `drop_database` is not in the policy')
    expect(stdout).not.toContain('✓')
  })

  it("prints the policy's own warnings once per policy, however many suites name it", async () => {
    const docs = join(root, 'fixtures/testing/coverage/docs.json')
    const dir = scratch({
      'a.test.yaml': `policy: ${docs}\ncases:\n  - { name: a, tool: read_doc, role: viewer, expect: Allow }\n`,
      'b.test.yaml': `policy: ${docs}\ncases:\n  - { name: b, tool: read_doc, role: editor, expect: Allow }\n`,
    })
    const { code, stdout } = await perso(['test', dir])
    expect(code, stdout).toBe(0)
    expect(stdout.match(/docs\.json:18:20: warning\[W106\]: rules\[3\] replaces rules\[2\] for `delete_doc` for `editor`/g)).toHaveLength(1)
    const json = JSON.parse((await perso(['test', dir, '--reporter', 'json'])).stdout) as { warnings: number; suites: { diagnostics: { code: string; file: string }[] }[] }
    expect(json.warnings).toBe(1)
    expect(json.suites.map((s) => s.diagnostics.map((d) => d.code))).toEqual([['W106'], []])
    expect(json.suites[0]!.diagnostics[0]!.file).toBe(docs)
  })
})

describe('perso compile --test counts only the suites of the policy it compiles', () => {
  const policy = (version: string, tool: string): string => JSON.stringify({
    version, default_action: 'Deny', tools: [tool], roles: ['agent'], rules: [{ tool_name: tool, roles: ['agent'] }],
  })
  const suite = (policy: string, tool: string, expect: string): string =>
    `policy: ${policy}\ncases:\n  - { name: ${tool} for agent, tool: ${tool}, role: agent, expect: ${expect} }\n`

  it('fails, writing nothing, when no suite names the policy being compiled', async () => {
    const dir = scratch({ 'a.json': policy('a-1', 'read'), 'b.json': policy('b-1', 'write'), 'a.test.yaml': suite('a.json', 'read', 'Allow') })
    compiled.count = 0
    const { code, stdout, stderr, written } = await perso(['compile', join(dir, 'b.json'), '-o', 'b.wasm', '--test', dir])
    expect(code).toBe(2)
    expect(stdout).toContain(`error: no test suite names \`${join(dir, 'b.json')}\`, the policy being compiled (1 suite names another policy)`)
    expect(stdout).toContain(`${join(dir, 'a.test.yaml')}: not run: it tests \`${join(dir, 'a.json')}\`, not \`${join(dir, 'b.json')}\``)
    expect(stdout).toMatch(/\n0 passed, 0 failed\n$/)
    expect(stderr).toBe('perso: nothing written: the tests did not pass\n')
    expect(written.size).toBe(0)
    expect(compiled.count).toBe(1)
  })

  it("runs the suites that name it (by its path or its artifact's) and not the others, whose failures are not its own", async () => {
    const dir = scratch({
      'a.json': policy('a-1', 'read'), 'b.json': policy('b-1', 'write'),
      'a.test.yaml': suite('a.json', 'read', 'Deny'), // fails, but tests another policy
      'b.test.yaml': suite('b.json', 'write', 'Allow'),
      'b-wasm.test.yaml': suite('b.wasm', 'write', 'Allow'),
    })
    compiled.count = 0
    const { code, stdout, written } = await perso(['compile', join(dir, 'b.json'), '-o', join(dir, 'b.wasm'), '--test', dir])
    expect(code, stdout).toBe(0)
    expect(stdout).toContain(`${join(dir, 'a.test.yaml')}: not run: it tests \`${join(dir, 'a.json')}\``)
    expect(stdout).toMatch(/\n2 passed, 0 failed\n/)
    expect(written.has(join(dir, 'b.wasm'))).toBe(true)
    expect(compiled.count).toBe(1)
  })

  it('a suite that cannot be read may be this policy\'s: the run is invalid', async () => {
    const dir = scratch({ 'b.json': policy('b-1', 'write'), 'b.test.yaml': suite('b.json', 'write', 'Allow'), 'x.test.yaml': 'policy: [\n' })
    const { code, stdout, written } = await perso(['compile', join(dir, 'b.json'), '-o', 'b.wasm', '--test', dir])
    expect(code).toBe(2)
    expect(stdout).toContain('error[E200]')
    expect(written.size).toBe(0)
  })
})

/** Every tag closed in order, one root: enough to know CI's XML parser will read it. */
function wellFormed(text: string): boolean {
  const stack: string[] = []
  let roots = 0
  for (const m of text.replace(/^<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>|&(?!(amp|lt|gt|quot|apos|#\d+);)/g)) {
    if (m[0].startsWith('&')) return false
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false
    } else if (m[3] !== '/') {
      if (stack.length === 0) roots++
      stack.push(m[2]!)
    } else if (stack.length === 0) roots++
  }
  return stack.length === 0 && roots === 1
}
