// Reading a tools.lock.json named on the command line (`check --tools`,
// `guard --pin`): an unreadable or malformed file is a user error that says
// where, never a default.

import type { ToolsLock } from '../guard/lock.js'
import { type Io, UserError, readInput } from './io.js'

export async function readLock(io: Io, path: string): Promise<ToolsLock> {
  const { parseLock, LockError } = await import('../guard/lock.js')
  try {
    return parseLock(new TextDecoder().decode(await readInput(io, path)), path)
  } catch (e) {
    if (e instanceof LockError) throw new UserError(e.message)
    throw e
  }
}
