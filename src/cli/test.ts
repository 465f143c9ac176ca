// `perso test <file|dir>...`: run test suites (YAML or JSON) through the
// compiled artifacts of the policies they name. The work is in src/testing/.

import { type Command, InvalidArgumentError, Option } from 'commander'
import { EXIT_CODES_HELP, UsageError } from './io.js'
import type { VerbContext } from './verb.js'
import type { TestOptions } from '../testing/command.js'

const HELP = `
A suite names its policy (a .json policy, compiled once per run, or a .wasm
artifact) and lists cases: tool, role, args, agentAttributes,
resourceAttributes, expect (Allow or Deny), and optionally reason (a substring,
or /regex/). Cases are decided as hosts decide them, through the SDK: a
request the SDK cannot read, or an input error the artifact answers, counts as
Deny. A tool or role the policy never names is a warning (--strict: an error),
so suites can assert that unknown ones are denied. Directories
are searched for *.test.yaml, *.test.yml and *.test.json; schemas/suite.schema.json
describes the format.

Coverage items are: each rule that has a table entry (matched by some case),
each (tool, role) table entry (probed by some case), and each condition twice
(evaluated true by some case, and false by some case). The percentage is
covered items / all items. Rules with no table entry are listed as unreachable
and not counted.
`

export function define(command: Command, { io, exit, json }: VerbContext): void {
  command
    .argument('<paths...>', 'suite files, or directories to search for *.test.yaml, *.test.yml, *.test.json')
    .option('--filter <text>', 'run only the cases whose name contains <text> (case-insensitive)')
    .addOption(new Option('--reporter <kind>', 'how to print the results').choices(['human', 'json', 'junit']).default('human'))
    .addOption(new Option('--format <format>', 'human or json, as on every verb: --reporter human or json').choices(['human', 'json']))
    .option('--bail', 'stop at the first failed case or invalid suite')
    .option('--coverage', 'report rules, table entries and condition outcomes that no case exercised')
    .option('--min-coverage <percent>', 'fail (exit 3) when a policy\'s coverage is below <percent>; implies --coverage', percent)
    .option('--strict', 'compile policies with warnings as errors')
    .addHelpText('after', `${HELP}${EXIT_CODES_HELP}`)
    .action(async (paths: string[], options: TestOptions & { format?: 'human' | 'json' }, self: Command) => {
      const { format, ...rest } = options
      if (format !== undefined) {
        if (self.getOptionValueSource('reporter') === 'cli' && rest.reporter !== format) {
          throw new UsageError(`--format ${format} and --reporter ${rest.reporter} disagree: give one of them`)
        }
        rest.reporter = format
      }
      if (rest.reporter === 'json') json()
      const { runTests } = await import('../testing/command.js')
      exit(await runTests(io, paths, rest))
    })
}

function percent(text: string): number {
  const value = Number(text.replace(/%$/, ''))
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new InvalidArgumentError('expected a percentage from 0 to 100')
  }
  return value
}
