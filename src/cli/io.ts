// What every verb shares: the Io a verb talks through (streams and file system
// as parameters, so tests run the CLI in-process) and the exit codes.

export interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  readFile: (path: string) => Uint8Array
  /** Writes the whole file or nothing (src/cli/node-io.ts); throws Node's errors (`code` ENOENT, EISDIR, …). */
  writeFile: (path: string, bytes: Uint8Array) => void
  /** All of stdin, for `-` and `@-`; absent where there is none to read. */
  readStdin?: () => Promise<Uint8Array>
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
  1   deny (perso eval decided Deny); perso diff --fail-on found the change
  2   invalid policy, input or artifact; a file that cannot be read or written
  3   tests failed
  64  usage error
  70  internal error (a bug in perso), or a copy of perso that is not built`

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export const wantsColor = (io: Io): boolean => io.isTTY && (io.env.NO_COLOR ?? '') === ''

/** A file the user named could not be read or written: a one-line reason, no stack trace (exit 2). */
export class UserError extends Error {}

/** The command line asks for something impossible (exit 64). */
export class UsageError extends Error {}

/** True when `bytes` start as a WebAssembly module does (an artifact, not a policy). */
export const isWasm = (bytes: Uint8Array): boolean => bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d

/**
 * Why `bytes`, read from `name`, cannot be the artifact a `.wasm` name promises; undefined when they can, or the
 * name does not end in `.wasm`. Such a file is never read as a policy, which would answer with JSON syntax errors.
 */
export function notAnArtifact(name: string, bytes: Uint8Array): string | undefined {
  if (!/\.wasm$/i.test(name) || isWasm(bytes)) return undefined
  return `\`${name}\` is not a WebAssembly module: it does not start with the bytes 00 61 73 6d; compile the policy's .json with \`perso compile\`, or give the .json itself`
}

/** `-` in place of a file, and `@-` in place of `@file`: stdin. */
export const STDIN = '-'
/** How diagnostics name stdin. */
export const STDIN_NAME = '<stdin>'

/** The bytes of `path`, or of stdin for `-`. */
export async function readInput(io: Io, path: string): Promise<Uint8Array> {
  if (path === STDIN) {
    if (io.readStdin === undefined) throw new UserError('cannot read stdin: there is none')
    try {
      return await io.readStdin()
    } catch (e) {
      throw new UserError(`cannot read stdin: ${reason(e, 'read')}`)
    }
  }
  try {
    return io.readFile(path)
  } catch (e) {
    throw new UserError(`cannot read \`${path}\`: ${reason(e, 'read')}`)
  }
}

/** Writes `bytes` to `path`; a failure is the user's to fix (a missing directory, a full disk), never a bug. */
export function writeOutput(io: Io, path: string, bytes: Uint8Array): void {
  try {
    io.writeFile(path, bytes)
  } catch (e) {
    throw new UserError(`cannot write \`${path}\`: ${reason(e, 'write')}`)
  }
}

/** Stdin can be read once: a usage error when more than one of `uses` (`--args @-`, the policy `-`) would read it. */
export function claimStdin(uses: readonly (string | false)[]): void {
  const claimed = uses.filter((u): u is string => u !== false)
  if (claimed.length > 1) throw new UsageError(`stdin can be read only once, but ${claimed.map((u) => `\`${u}\``).join(' and ')} both read it`)
}

/** The operating system's reason, in a few words. */
function reason(e: unknown, doing: 'read' | 'write'): string {
  const code = (e as { code?: unknown } | null)?.code
  switch (code) {
    case 'ENOENT': return doing === 'read' ? 'no such file' : 'no such directory'
    case 'ENOTDIR': return 'a part of the path is not a directory'
    case 'EISDIR': return 'it is a directory'
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EROFS': return 'read-only file system'
    case 'ENOSPC': return 'no space left on the device'
    case 'EDQUOT': return 'disk quota exceeded'
    case 'ENAMETOOLONG': return 'the name is too long'
    case 'ELOOP': return 'too many symbolic links'
    case 'EBUSY': return 'the file is busy'
    default: return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim()
  }
}

/** `1 error`, `2 warnings`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** `Name: value` with `$VAR` and `${VAR}` from the environment; an unset variable is an error, not an empty string. */
export function headersOf(io: Io, option: string, headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const header of headers) {
    const colon = header.indexOf(':')
    if (colon <= 0) throw new UsageError(`${option} \`${header}\` is not 'Name: value'`)
    out[header.slice(0, colon).trim()] = header.slice(colon + 1).trim().replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!
      const value = io.env[name]
      if (value === undefined) throw new UsageError(`${option} \`${header}\` names $${name}, which is not set`)
      return value
    })
  }
  return out
}

/** The URL an option gives, or a usage error naming the option. */
export function urlOption(option: string, value: string): URL {
  try {
    return new URL(value)
  } catch {
    throw new UsageError(`${option} \`${value}\` is not a URL`)
  }
}
