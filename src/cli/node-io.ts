// The Io of the installed `perso` command: the process's streams, the real file
// system, and writes that never leave half a file behind.

import { chmodSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { Io } from './io.js'

/**
 * Writes `bytes` to `path` whole or not at all: into a fresh file beside it,
 * then renamed over it, so a failed write (a full disk, a signal) leaves what
 * was there before. A path that is a device or a pipe (`/dev/stdout`) is
 * written directly; a symbolic link is written through.
 */
export function writeFileWhole(path: string, bytes: Uint8Array): void {
  const existing = statSync(path, { throwIfNoEntry: false })
  if (existing?.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR' })
  if (existing !== undefined && !existing.isFile()) return writeFileSync(path, bytes)
  const target = existing === undefined ? path : realpathSync(path)
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`)
  try {
    writeFileSync(temporary, bytes, { flag: 'wx' })
    if (existing !== undefined) chmodSync(temporary, existing.mode & 0o7777)
    renameSync(temporary, target)
  } catch (e) {
    rmSync(temporary, { force: true })
    throw e
  }
}

/** Everything of stdin, read once. */
async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export function nodeIo(): Io {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    readFile: (path) => readFileSync(path),
    writeFile: writeFileWhole,
    readStdin,
    isTTY: process.stdout.isTTY === true,
    env: process.env,
  }
}
