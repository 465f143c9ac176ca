// The perso command line: finds the verb, loads only that verb's module, and
// turns every way out (usage error, user error, bug) into an exit code.

import { Command, CommanderError } from 'commander'
import { EXIT, EXIT_CODES_HELP, type Io, UsageError, UserError } from './io.js'
import { PERSO_VERSION } from '../version.js'
import { NotBuilt } from '../paths.js'

export type { Io } from './io.js'
export type { Verb, VerbContext } from './verb.js'
import type { Verb } from './verb.js'

/**
 * The verbs, one line each. A verb's module is imported only when it is the
 * one named, so `perso eval` never loads the compiler and `perso check` never
 * loads binaryen.
 */
const VERBS: { name: string; summary: string; load: () => Promise<Verb> }[] = [
  { name: 'check', summary: 'validate a policy and report every problem in it', load: () => import('./check.js') },
  { name: 'compile', summary: 'compile a policy into a self-contained .wasm artifact', load: () => import('./compile.js') },
  { name: 'diff', summary: 'what a policy change allows or denies that the old policy did not, with witnesses', load: () => import('./diff.js') },
  { name: 'eval', summary: 'decide one tool call with an artifact (or a policy, compiled first)', load: () => import('./eval.js') },
  { name: 'explain', summary: 'eval --explain: which rule decided a tool call, each condition with the value it read', load: async () => ({ define: (await import('./eval.js')).defineExplain }) },
  { name: 'guard', summary: 'put a policy in front of an MCP server (stdio): filter its tools, decide every call', load: () => import('./guard.js') },
  { name: 'init', summary: 'write a starter policy, its test suite and a CI workflow', load: () => import('./init.js') },
  { name: 'inspect', summary: "print an artifact's metadata, and with --wat its disassembly", load: () => import('./inspect.js') },
  { name: 'scan', summary: "write an MCP server's tools, each with the hash of its definition, to tools.lock.json", load: () => import('./scan.js') },
  { name: 'test', summary: 'run test suites against the compiled artifacts of their policies', load: () => import('./test.js') },
]

export async function main(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.ok
  let json = false
  /** The one line of an error on stderr and, under `--format json`, the document on stdout. */
  const fail = (line: string): void => {
    io.stderr(`perso: ${line}\n`)
    if (json) io.stdout(JSON.stringify({ error: line }, null, 2) + '\n')
  }
  try {
    const program = new Command('perso')
      .description('compile JSON access policies for AI-agent tool calls into tiny WebAssembly deciders')
      .version(`perso ${PERSO_VERSION}`, '-V, --version', "print perso's version")
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
      .showHelpAfterError('(run `perso --help` for usage)')
      .addHelpText('after', EXIT_CODES_HELP)
    const named = argv[0] === 'help' ? argv[1] : argv[0]
    for (const verb of VERBS) {
      // Subcommands inherit exitOverride, the output redirection and the usage hint.
      const command = program.command(verb.name).description(verb.summary)
      if (verb.name === named) (await verb.load()).define(command, { io, exit: (c) => (code = c), json: () => (json = true) })
    }
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage
    if (e instanceof UsageError) {
      io.stderr(`perso: ${e.message}\n(run \`perso --help\` for usage)\n`)
      return EXIT.usage
    }
    if (e instanceof UserError) {
      fail(e.message)
      return EXIT.invalid
    }
    if (e instanceof NotBuilt) {
      fail(e.message)
      return EXIT.internal
    }
    const message = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim()
    fail(`internal error: ${message} (this is a bug in perso; please report it)`)
    return EXIT.internal
  }
}
