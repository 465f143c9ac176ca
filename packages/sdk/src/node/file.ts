// The file transport: audit events appended to a JSONL file. Lines are
// buffered and written whole, one write(2) per batch on a file opened for
// append, so no line is ever split or interleaved with another, and nothing
// buffered is lost on close() or when the process exits.

import { closeSync, openSync, writeSync } from 'node:fs'
import type { AuditEvent, Transport } from '../audit.js'

/** Batches larger than this are written at once instead of at the next turn of the event loop. */
const FLUSH_BYTES = 1 << 20

export interface FileTransport extends Transport {
  /** Writes every buffered line now. */
  flush(): void
  close(): void
}

export function fileTransport(path: string): FileTransport {
  if (typeof path !== 'string' || path === '') throw new TypeError('perso: fileTransport(path) takes a file path')
  // Opened at once, so a path that cannot be written is an error here, not a lost event later.
  let fd: number | undefined = openSync(path, 'a')
  let pending: string[] = []
  let pendingBytes = 0
  let scheduled = false

  const flush = (): void => {
    scheduled = false
    if (pending.length === 0 || fd === undefined) return
    const text = pending.join('')
    pending = []
    pendingBytes = 0
    const bytes = Buffer.from(text, 'utf8')
    // writeSync may write less than asked (a signal, a full disk that recovers): finish the batch.
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset)
  }
  const onExit = (): void => flush()
  process.on('exit', onExit)

  return {
    emit(event: AuditEvent): void {
      if (fd === undefined) throw new Error(`perso: fileTransport(${JSON.stringify(path)}) is closed`)
      const line = JSON.stringify(event) + '\n'
      pending.push(line)
      pendingBytes += line.length
      if (pendingBytes >= FLUSH_BYTES) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush,
    close(): void {
      if (fd === undefined) return
      flush()
      closeSync(fd)
      fd = undefined
      process.off('exit', onExit)
    },
  }
}
