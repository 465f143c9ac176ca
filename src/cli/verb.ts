// What every verb module is given and provides: its place in the command line,
// apart from main.ts, so that main loads the verbs and no verb imports main.

import type { Command } from 'commander'
import type { Io } from './io.js'

export interface VerbContext {
  io: Io
  /** Sets the exit code the verb finished with. */
  exit: (code: number) => void
  /** Says the verb writes JSON on stdout (`--format json`): an error that ends it is written there too, as `{"error": "…"}`. */
  json: () => void
}

/** A verb module (`src/cli/<verb>.ts`): declares its arguments, options, action, and `EXIT_CODES_HELP` after its help. */
export interface Verb {
  define(command: Command, context: VerbContext): void
}
