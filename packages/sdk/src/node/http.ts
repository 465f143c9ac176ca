// The HTTP transport: audit events POSTed in batches in the background. emit()
// only queues (a bounded queue), so no decision waits on the network; what the
// queue cannot hold, and batches the server does not take, are counted as dropped.

import type { AuditEvent, Transport } from '../audit.js'
import type { UrlLike } from '../load.js'

export interface HttpTransportOptions {
  /** Extra request headers (authorization, for one). */
  headers?: Record<string, string>
  /** Per request; a batch not accepted in time is dropped. Default 5000. */
  timeoutMs?: number
  /** Events per POST (a JSON array). Default 100. */
  batchSize?: number
  /** Events held while the server is slow or down; more are dropped. Default 10000. */
  maxQueue?: number
}

export interface HttpTransport extends Transport {
  /** Events the server accepted (2xx). */
  readonly sent: number
  /** Events lost: queue full, network error, timeout or a non-2xx answer. */
  readonly dropped: number
  /** Events waiting to be sent. */
  readonly queued: number
  /** Sends what is queued and waits for every request in flight. */
  close(): Promise<void>
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`perso: httpTransport option \`${name}\` must be a positive integer`)
  }
  return value
}

export function httpTransport(url: string | UrlLike, options: HttpTransportOptions = {}): HttpTransport {
  const target = new URL(typeof url === 'string' ? url : url.href) // throws a TypeError for a URL that does not parse
  if (typeof options !== 'object' || options === null) throw new TypeError('perso: httpTransport options must be an object')
  const timeoutMs = positiveInteger(options.timeoutMs, 'timeoutMs', 5000)
  const batchSize = positiveInteger(options.batchSize, 'batchSize', 100)
  const maxQueue = positiveInteger(options.maxQueue, 'maxQueue', 10_000)
  const headers = { 'content-type': 'application/json', ...options.headers }

  // Events are serialized when queued, so a caller mutating its objects later changes nothing.
  let queue: string[] = []
  let sent = 0
  let dropped = 0
  let scheduled = false
  let sending: Promise<void> | undefined

  async function post(batch: string[]): Promise<void> {
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers,
        body: '[' + batch.join(',') + ']',
        signal: AbortSignal.timeout(timeoutMs),
      })
      await response.arrayBuffer().catch(() => undefined)
      if (response.ok) sent += batch.length
      else dropped += batch.length
    } catch {
      dropped += batch.length
    }
  }

  /** One batch in flight at a time, so events arrive in order. */
  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize)
      queue = queue.slice(batchSize)
      await post(batch)
    }
  }

  function start(): void {
    scheduled = false
    if (sending !== undefined || queue.length === 0) return
    sending = drain().finally(() => {
      sending = undefined
      // Events queued while the last batch settled.
      if (queue.length > 0 && !scheduled) {
        scheduled = true
        setTimeout(start, 0)
      }
    })
  }

  return {
    emit(event: AuditEvent): void {
      if (queue.length >= maxQueue) {
        dropped++
        return
      }
      queue.push(JSON.stringify(event))
      if (!scheduled && sending === undefined) {
        scheduled = true
        setTimeout(start, 0)
      }
    },
    get sent() {
      return sent
    },
    get dropped() {
      return dropped
    },
    get queued() {
      return queue.length
    },
    async close(): Promise<void> {
      while (sending !== undefined || queue.length > 0) {
        if (sending === undefined) start()
        await sending
      }
    },
  }
}
