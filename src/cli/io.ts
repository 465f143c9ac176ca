// What every verb shares: the Io a verb talks through (streams and file system
// as parameters, so tests run the CLI in-process) and the exit codes.

export interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  readFile: (path: string) => Uint8Array
  writeFile: (path: string, bytes: Uint8Array) => void
  isTTY: boolean
  env: Record<string, string | undefined>
}

/** Exit codes; documented in `perso --help` and every verb's `--help`. */
export const EXIT = {
  ok: 0,
  deny: 1,
  invalid: 2,
  testsFailed: 3,
  usage: 64,
  internal: 70,
} as const

export const EXIT_CODES_HELP = `
Exit codes:
  0   ok (warnings allowed)
  1   deny (perso eval decided Deny)
  2   invalid policy or input
  3   tests failed
  64  usage error
  70  internal error (a bug in perso)`

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export const wantsColor = (io: Io): boolean => io.isTTY && (io.env.NO_COLOR ?? '') === ''

/** A file the user named could not be read: a one-line reason, no stack trace. */
export class UserError extends Error {}

export function readInput(io: Io, path: string): Uint8Array {
  try {
    return io.readFile(path)
  } catch (e) {
    throw new UserError(`cannot read \`${path}\`: ${reason(e)}`)
  }
}

function reason(e: unknown): string {
  const code = (e as { code?: unknown }).code
  switch (code) {
    case 'ENOENT': return 'no such file'
    case 'EISDIR': return 'it is a directory'
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    default: return e instanceof Error ? e.message : String(e)
  }
}

/** `1 error`, `2 warnings`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
